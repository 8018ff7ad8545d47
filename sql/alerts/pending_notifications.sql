-- Notifications not delivered yet, oldest first.
select
    notification_id,
    incident_id,
    event,
    endpoint,
    endpoint_hash,
    body,
    attempts,
    created_at
from alerts.notifications
where status = 'pending'
order by notification_id
