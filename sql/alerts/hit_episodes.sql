-- Hits of one kind and subject closer together than the quiet interval form one episode.
create or replace temp table alert_hit_episodes as
with
hits as (
    select distinct * from alert_hits
),

starts as (
    select
        hits.*,
        case
            when lag(sent_at) over (
                partition by kind, subject order by sent_at, message_id
            ) >= sent_at - $quiet_minutes * interval 1 minute
                then 0
            else 1
        end as starts_episode
    from hits
)

select
    starts.* exclude (starts_episode),
    sum(starts_episode) over (
        partition by kind, subject order by sent_at, message_id
        rows between unbounded preceding and current row
    ) as episode
from starts
