-- One row per landing file currently known (docs/architecture.md).
-- For every file: rows_read = rows_loaded + rows_quarantined + rows_superseded.
create table if not exists ingest.file_ledger (
    source varchar not null,
    dt date not null,
    path varchar not null,
    size bigint,
    content_hash varchar,
    format varchar,
    encoding varchar,
    rows_read bigint,
    rows_loaded bigint,
    rows_quarantined bigint,
    rows_superseded bigint,
    dropped_columns varchar[],
    status varchar not null,
    error varchar,
    loaded_at timestamptz,
    run_id varchar
)
