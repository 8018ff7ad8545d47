-- mart.metrics, marketing_sms_conversion_72h (period = local day of sent_at): delivered
-- marketing messages whose local date + 3 <= as_of, share followed by a BNPL order of the
-- same user created in (sent_at, sent_at + 72 h]. The per-day counts come from
-- mart_int.sms_conversion_days (a range join per user, one flag per message); this file
-- applies the as_of cut.
insert into mart.metrics
with
context as (
    select as_of
    from mart.run_context
),

aggregated as (
    select
        days.local_date as period,
        days.messages,
        days.conversions
    from mart_int.sms_conversion_days as days
    cross join context
    where days.local_date + 3 <= context.as_of
)

select
    'marketing_sms_conversion_72h' as metric,
    'day' as grain,
    period,
    'all' as segment,
    cast(conversions as double) / messages as value,
    cast(conversions as double) as numerator,
    cast(messages as double) as denominator
from aggregated
