-- mart.metrics, complaints and opt-outs (period = month of the local received date):
-- complaints (all, category=<given or classified>, source=<source>),
-- complaints_per_10k_active, sms_complaints_per_100k_sms, opt_outs,
-- opt_outs_per_1k_marketing_sms, complaint_resolution_hours_p50.
-- Scaled rates keep the raw counts: numerator = complaints (or opt-outs), denominator = the
-- base, value = scale * numerator / denominator. A rate row exists for every month whose
-- denominator is positive, with value 0 when nothing was counted.
-- The median carries a null numerator and the number of resolved complaints as denominator.
insert into mart.metrics
with
complaints as (
    select
        cast(date_trunc('month', local_date) as date) as period,
        category,
        source,
        is_sms,
        resolution_hours
    from mart.complaints_classified
),

complaint_counts as (
    select 'all' as segment, period from complaints
    union all
    select 'category=' || category, period from complaints
    union all
    select 'source=' || source, period from complaints
),

monthly_complaints as (
    select
        period,
        count(*) as complaints,
        sum(case when is_sms then 1 else 0 end) as sms_complaints
    from complaints
    group by period
),

resolution as (
    select
        period,
        median(resolution_hours) as median_hours,
        count(*) as resolved
    from complaints
    where resolution_hours is not null
    group by period
),

monthly_messages as (
    select
        cast(date_trunc('month', local_date) as date) as period,
        count(*) as messages,
        sum(case when purpose = 'marketing' and delivery_status = 'delivered' then 1 else 0 end)
            as delivered_marketing
    from mart.sms_message_flags
    where purpose <> 'verification'
    group by 1
),

monthly_opt_outs as (
    select
        cast(date_trunc('month', cast(received_at at time zone 'Asia/Shanghai' as date)) as date)
            as period,
        count(*) as opt_outs
    from core.opt_outs
    group by 1
),

final as (
    select 'complaints' as metric, period, segment,
        cast(count(*) as double) as numerator, cast(null as double) as denominator,
        cast(count(*) as double) as value
    from complaint_counts
    group by period, segment
    union all
    select 'complaints_per_10k_active', active.period, 'all',
        cast(coalesce(monthly_complaints.complaints, 0) as double),
        cast(active.active_accounts as double),
        coalesce(monthly_complaints.complaints, 0) * 10000.0 / active.active_accounts
    from mart.active_accounts as active
    left join monthly_complaints
        on monthly_complaints.period = active.period
    where active.active_accounts > 0
    union all
    select 'sms_complaints_per_100k_sms', monthly_messages.period, 'all',
        cast(coalesce(monthly_complaints.sms_complaints, 0) as double),
        cast(monthly_messages.messages as double),
        coalesce(monthly_complaints.sms_complaints, 0) * 100000.0 / monthly_messages.messages
    from monthly_messages
    left join monthly_complaints
        on monthly_complaints.period = monthly_messages.period
    where monthly_messages.messages > 0
    union all
    select 'opt_outs', period, 'all',
        cast(opt_outs as double), cast(null as double), cast(opt_outs as double)
    from monthly_opt_outs
    union all
    select 'opt_outs_per_1k_marketing_sms', monthly_messages.period, 'all',
        cast(coalesce(monthly_opt_outs.opt_outs, 0) as double),
        cast(monthly_messages.delivered_marketing as double),
        coalesce(monthly_opt_outs.opt_outs, 0) * 1000.0 / monthly_messages.delivered_marketing
    from monthly_messages
    left join monthly_opt_outs
        on monthly_opt_outs.period = monthly_messages.period
    where monthly_messages.delivered_marketing > 0
    union all
    select 'complaint_resolution_hours_p50', period, 'all',
        cast(null as double), cast(resolved as double), median_hours
    from resolution
)

select
    metric,
    'month' as grain,
    period,
    segment,
    value,
    numerator,
    denominator
from final
