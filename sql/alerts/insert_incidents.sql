-- New incidents open. On a first load only those active in the last $history_hours hours of
-- the data are notified; older ones are kept as history (notify = false).
insert into alerts.incidents
select
    incident_id,
    kind,
    subject,
    'open' as status,
    min(first_seen) as first_seen,
    max(last_seen) as last_seen,
    0 as messages,
    0 as users,
    [] as templates,
    null as provider,
    0 as hours,
    coalesce(
        not $first_load
        or max(last_seen) >= $data_now::TIMESTAMPTZ - $history_hours * interval 1 hour,
        true
    ) as notify,
    $now::TIMESTAMPTZ as opened_at,
    $now::TIMESTAMPTZ as updated_at,
    null as resolved_at,
    $evaluation_id as opened_by,
    null as resolved_by
from alert_episodes
where is_new
group by incident_id, kind, subject
