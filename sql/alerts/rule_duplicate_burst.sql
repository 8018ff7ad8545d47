-- duplicate_burst (per provider): a duplicate send ending a rolling hour with at least
-- $duplicate_min duplicates and more than $duplicate_multiple times the trailing 7-day hourly
-- average (duplicates in the 168 hours before that hour / 168). Its messages: the duplicates
-- of every such rolling hour.
insert into alert_hits
with
dups as (
    select * from alert_flagged where is_duplicate
),

rolling as (
    select
        provider,
        sent_at,
        in_window,
        count(*) over (
            partition by provider order by sent_at
            range between interval 1 hour preceding and current row
        ) as last_hour,
        count(*) over (
            partition by provider order by sent_at
            range between interval 169 hours preceding and interval 1 hour preceding
        ) as trailing_week
    from dups
),

burst_ends as (
    select distinct
        provider,
        sent_at as end_at
    from rolling
    where
        in_window
        and last_hour >= $duplicate_min
        and last_hour > $duplicate_multiple * trailing_week / 168.0
)

-- a duplicate belongs to a burst when the first burst end at or after it (of its provider) is
-- within the hour: one as-of lookup per duplicate (a range join against every burst end cost
-- 4.9 CPU-s at scale m on a full run, with thousands of ends per provider)
select distinct
    'duplicate_burst' as kind,
    dups.provider as subject,
    dups.message_id,
    dups.sent_at,
    dups.user_id,
    dups.template_code,
    dups.provider
from dups
asof inner join burst_ends
    on burst_ends.provider = dups.provider
    and burst_ends.end_at >= dups.sent_at
where burst_ends.end_at <= dups.sent_at + interval 1 hour
