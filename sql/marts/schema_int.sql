-- The schema of the intermediate tables: built by the marts and read only by other marts
-- (publish leaves it out of serve.duckdb; see docs/architecture.md).
create schema if not exists mart_int
