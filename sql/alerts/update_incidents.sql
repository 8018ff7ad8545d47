-- The incidents this evaluation touched: times widened, counts recomputed from their messages.
update alerts.incidents as incidents
set
    first_seen = least(incidents.first_seen, touched.first_seen),
    last_seen = greatest(incidents.last_seen, touched.last_seen),
    messages = coalesce(members.messages, 0),
    users = coalesce(members.users, 0),
    templates = coalesce(members.templates, []),
    provider = members.provider,
    hours = coalesce(members.hours, 0),
    updated_at = $now::TIMESTAMPTZ
from (
    select
        incident_id,
        min(first_seen) as first_seen,
        max(last_seen) as last_seen
    from alert_episodes
    group by incident_id
) as touched
left join (
    select
        incident_id,
        count(*) as messages,
        count(distinct user_id) as users,
        list(distinct template_code order by template_code) as templates,
        mode(provider) as provider,
        count(distinct date_trunc('hour', sent_at)) as hours
    from alerts.incident_messages
    where incident_id in (select incident_id from alert_episodes)
    group by incident_id
) as members
    on members.incident_id = touched.incident_id
where incidents.incident_id = touched.incident_id
