-- stale_source: a source whose newest loaded file arrived longer ago than its expected
-- interval ($stale_sources / $stale_hours, wall clock at $now).
insert into alert_hits
with
latest as (
    select
        source,
        max(loaded_at) as last_file_at
    from ingest.file_ledger
    where status = 'loaded'
    group by source
),

expected as (
    select
        unnest($stale_sources::VARCHAR[]) as source,
        unnest($stale_hours::DOUBLE[]) as hours
)

select
    'stale_source' as kind,
    latest.source as subject,
    null as message_id,
    $now::TIMESTAMPTZ as sent_at,
    null as user_id,
    null as template_code,
    null as provider
from latest
inner join expected
    on expected.source = latest.source
where $now::TIMESTAMPTZ - latest.last_file_at > to_seconds(expected.hours * 3600)
