-- One ledger row per file of the batch (temp table new_files), counts from the checked rows.
-- Until the core merge settles winners, every valid row counts as loaded.
with
counts as (
    select
        _file as path,
        count(*) as rows_read,
        count(*) filter (where reason_code is not null) as rows_quarantined
    from checked
    group by _file
)

insert into ingest.file_ledger
select
    $source as source,
    f.dt,
    f.path,
    f.size,
    f.content_hash,
    f.format,
    f.encoding,
    coalesce(c.rows_read, 0) as rows_read,
    coalesce(c.rows_read, 0) - coalesce(c.rows_quarantined, 0) as rows_loaded,
    coalesce(c.rows_quarantined, 0) as rows_quarantined,
    0 as rows_superseded,
    f.dropped_columns,
    f.status,
    f.error,
    now() as loaded_at,
    $run_id as run_id
from new_files as f
left join counts as c using (path)
