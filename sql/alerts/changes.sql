-- What this evaluation opened and resolved (opens first), for the notifications.
select
    incident_id,
    kind,
    subject,
    event,
    first_seen,
    last_seen,
    messages,
    users,
    templates,
    provider,
    hours,
    notify
from (
    select *, 'open' as event, 0 as event_order
    from alerts.incidents
    where opened_by = $evaluation_id
    union all
    select *, 'resolved' as event, 1 as event_order
    from alerts.incidents
    where resolved_by = $evaluation_id
)
order by event_order, incident_id
