-- Open incidents, newest activity first (Dagster metadata).
select
    incident_id,
    kind,
    subject,
    first_seen,
    last_seen,
    messages,
    users,
    templates
from alerts.incidents
where status = 'open'
order by last_seen desc, incident_id
