-- mart.metrics, checkout family (period = local day of started_at): checkout_sessions and
-- checkout_conversion_rate (segments all, bnpl_offered=true/false), bnpl_take_rate (all).
-- The counts per day and segment are in mart_int.checkout_days.
insert into mart.metrics
with
aggregated as (
    select
        local_date as period,
        segment,
        sessions,
        completed,
        offered_completions,
        bnpl_takes
    from mart_int.checkout_days
),

final as (
    select 'checkout_sessions' as metric, period, segment,
        sessions as numerator, cast(null as bigint) as denominator
    from aggregated
    union all
    select 'checkout_conversion_rate', period, segment, completed, sessions
    from aggregated
    union all
    select 'bnpl_take_rate', period, segment, bnpl_takes, offered_completions
    from aggregated where segment = 'all' and offered_completions > 0
)

select
    metric,
    'day' as grain,
    period,
    segment,
    case
        when denominator is null then cast(numerator as double)
        else cast(numerator as double) / denominator
    end as value,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator
from final
