-- mart.metrics, checkout family (period = local day of started_at): checkout_sessions and
-- checkout_conversion_rate (segments all, bnpl_offered=true/false), bnpl_take_rate (all).
insert into mart.metrics
with
source as (
    select
        started_at,
        bnpl_offered,
        status,
        payment_method
    from core.checkout_sessions
),

renamed as (
    select
        cast(started_at at time zone 'Asia/Shanghai' as date) as period,
        bnpl_offered,
        status = 'completed' as is_completed,
        status = 'completed' and bnpl_offered as is_offered_completion,
        status = 'completed' and bnpl_offered
        and payment_method in ('bnpl', 'bnpl_installment') as is_bnpl_take
    from source
),

segmented as (
    select 'all' as segment, renamed.* from renamed
    union all
    select
        case when bnpl_offered then 'bnpl_offered=true' else 'bnpl_offered=false' end,
        renamed.*
    from renamed
    where bnpl_offered is not null
),

aggregated as (
    select
        period,
        segment,
        count(*) as sessions,
        sum(case when is_completed then 1 else 0 end) as completed,
        sum(case when is_offered_completion then 1 else 0 end) as offered_completions,
        sum(case when is_bnpl_take then 1 else 0 end) as bnpl_takes
    from segmented
    group by period, segment
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
