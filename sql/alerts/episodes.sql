-- Each episode joins the incident of the same kind and subject it overlaps (an open one
-- first), within the quiet interval; an open stale_source incident takes every later episode.
-- Episodes that join none become new incidents, numbered after the largest id.
create or replace temp table alert_episodes as
with
episodes as (
    select
        kind,
        subject,
        episode,
        min(sent_at) as first_seen,
        max(sent_at) as last_seen
    from alert_hit_episodes
    group by all
),

matches as (
    select
        episodes.kind,
        episodes.subject,
        episodes.episode,
        incidents.incident_id
    from episodes
    inner join alerts.incidents as incidents
        on incidents.kind = episodes.kind
        and incidents.subject = episodes.subject
        and (
            (
                episodes.first_seen <= incidents.last_seen + $quiet_minutes * interval 1 minute
                and episodes.last_seen >= incidents.first_seen - $quiet_minutes * interval 1 minute
            )
            or (incidents.kind = 'stale_source' and incidents.status = 'open')
        )
    qualify row_number() over (
        partition by episodes.kind, episodes.subject, episodes.episode
        order by incidents.status = 'open' desc, incidents.last_seen desc
    ) = 1
),

numbered as (
    select
        episodes.*,
        matches.incident_id as matched_id,
        row_number() over (
            partition by matches.incident_id is null
            order by episodes.first_seen, episodes.kind, episodes.subject, episodes.episode
        ) as new_rank
    from episodes
    left join matches
        on matches.kind = episodes.kind
        and matches.subject = episodes.subject
        and matches.episode = episodes.episode
)

select
    kind,
    subject,
    episode,
    first_seen,
    last_seen,
    matched_id is null as is_new,
    coalesce(
        matched_id,
        (select coalesce(max(incident_id), 0) from alerts.incidents) + new_rank
    ) as incident_id
from numbered
