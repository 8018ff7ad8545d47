-- What the ledger and the stat cache know about one source's files in a dt range.
with
ledger as (
    select path, dt, size, content_hash, status
    from ingest.file_ledger
    where source = $source and dt between $start and $end
),

stat as (
    select path, size as stat_size, mtime_ns, content_hash as stat_hash
    from ingest.file_stat
)

select
    ledger.path,
    ledger.dt,
    ledger.size,
    ledger.content_hash,
    ledger.status,
    stat.stat_size,
    stat.mtime_ns,
    stat.stat_hash
from ledger
left join stat using (path)
