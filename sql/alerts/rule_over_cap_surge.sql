-- over_cap_surge: messages over a user's daily cap within one local clock hour, at least
-- $over_cap_min and more than $over_cap_multiple times the trailing 7-day hourly average.
insert into alert_hits
with
capped as (
    select * from alert_flagged where is_over_daily_cap
),

hourly as (
    select
        date_trunc('hour', sent_at) as hour,
        count(*) as n,
        bool_or(in_window) as in_window
    from capped
    group by all
),

rolling as (
    select
        hour,
        n,
        in_window,
        coalesce(sum(n) over (
            order by hour
            range between interval 168 hours preceding and interval 1 hour preceding
        ), 0) as trailing_week
    from hourly
),

surge_hours as (
    select hour
    from rolling
    where
        in_window
        and n >= $over_cap_min
        and n > $over_cap_multiple * trailing_week / 168.0
)

select
    'over_cap_surge' as kind,
    'all' as subject,
    capped.message_id,
    capped.sent_at,
    capped.user_id,
    capped.template_code,
    capped.provider
from capped
inner join surge_hours
    on surge_hours.hour = date_trunc('hour', capped.sent_at)
