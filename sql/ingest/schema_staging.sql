-- The staging schema: every valid row of every loaded file, typed, with lineage.
create schema if not exists staging
