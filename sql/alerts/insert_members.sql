-- The messages behind each incident, each once.
insert into alerts.incident_messages
select distinct
    alert_episodes.incident_id,
    hits.message_id,
    hits.sent_at,
    hits.user_id,
    hits.template_code,
    hits.provider
from alert_hit_episodes as hits
inner join alert_episodes
    on alert_episodes.kind = hits.kind
    and alert_episodes.subject = hits.subject
    and alert_episodes.episode = hits.episode
where
    hits.message_id is not null
    and not exists (
        select 1
        from alerts.incident_messages as known
        where
            known.incident_id = alert_episodes.incident_id
            and known.message_id = hits.message_id
    )
