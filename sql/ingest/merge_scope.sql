-- Run state, not data: the files whose rows the latest core merge of each source touched,
-- which the core checks of that run look at. Kept when a later merge has nothing to do. It
-- lives in `main`, outside the ingest/staging/core schemas, because it follows the history of
-- runs rather than the landing files (two warehouses loaded from the same files differ here
-- only), and publishing drops it.
create table if not exists main.merge_scope (
    source varchar not null,
    path varchar not null
)
