-- mart.metrics, SMS family. Day grain (local date of sent_at): sms_sent (all = every purpose
-- but verification; purpose=<p> for each of the five purposes), sms_delivery_rate, and the
-- nine flag counts (one row for every day with messages, zero included). Month grain:
-- sms_per_active_account (messages over active accounts of the month of sent_at).
insert into mart.metrics
with
messages as (
    select
        local_date as period,
        purpose,
        delivery_status,
        is_duplicate,
        is_quiet_hours,
        is_after_opt_out,
        is_over_daily_cap,
        is_marketing_in_service,
        is_marketing_without_consent,
        is_after_settlement,
        is_collection_before_due,
        is_against_preference
    from mart.sms_message_flags
),

daily as (
    select
        period,
        count(*) as messages,
        sum(case when delivery_status = 'delivered' then 1 else 0 end) as delivered,
        sum(case when is_duplicate then 1 else 0 end) as duplicates,
        sum(case when is_quiet_hours then 1 else 0 end) as quiet_hours,
        sum(case when is_after_opt_out then 1 else 0 end) as after_opt_out,
        sum(case when is_over_daily_cap then 1 else 0 end) as over_daily_cap,
        sum(case when is_marketing_in_service then 1 else 0 end) as marketing_in_service,
        sum(case when is_marketing_without_consent then 1 else 0 end)
            as marketing_without_consent,
        sum(case when is_after_settlement then 1 else 0 end) as after_settlement,
        sum(case when is_collection_before_due then 1 else 0 end) as collection_before_due,
        sum(case when is_against_preference then 1 else 0 end) as against_preference
    from messages
    where purpose <> 'verification'
    group by period
),

by_purpose as (
    select
        period,
        'purpose=' || purpose as segment,
        count(*) as messages
    from messages
    group by period, purpose
),

monthly_messages as (
    select
        cast(date_trunc('month', period) as date) as month,
        sum(messages) as messages
    from daily
    group by 1
),

per_account as (
    select
        active.period,
        coalesce(monthly_messages.messages, 0) as messages,
        active.active_accounts
    from mart.active_accounts as active
    left join monthly_messages
        on monthly_messages.month = active.period
    where active.active_accounts > 0
),

final as (
    select 'sms_sent' as metric, 'day' as grain, period, 'all' as segment,
        messages as numerator, cast(null as bigint) as denominator
    from daily
    union all
    select 'sms_sent', 'day', period, segment, messages, cast(null as bigint)
    from by_purpose
    union all
    select 'sms_delivery_rate', 'day', period, 'all', delivered, messages
    from daily
    union all
    select 'sms_duplicate', 'day', period, 'all', duplicates, cast(null as bigint)
    from daily
    union all
    select 'sms_quiet_hours', 'day', period, 'all', quiet_hours, cast(null as bigint)
    from daily
    union all
    select 'sms_after_opt_out', 'day', period, 'all', after_opt_out, cast(null as bigint)
    from daily
    union all
    select 'sms_over_daily_cap', 'day', period, 'all', over_daily_cap, cast(null as bigint)
    from daily
    union all
    select 'sms_marketing_in_service', 'day', period, 'all', marketing_in_service,
        cast(null as bigint)
    from daily
    union all
    select 'sms_marketing_without_consent', 'day', period, 'all', marketing_without_consent,
        cast(null as bigint)
    from daily
    union all
    select 'sms_after_settlement', 'day', period, 'all', after_settlement, cast(null as bigint)
    from daily
    union all
    select 'sms_collection_before_due', 'day', period, 'all', collection_before_due,
        cast(null as bigint)
    from daily
    union all
    select 'sms_against_preference', 'day', period, 'all', against_preference,
        cast(null as bigint)
    from daily
    union all
    select 'sms_per_active_account', 'month', period, 'all', messages, active_accounts
    from per_account
)

select
    metric,
    grain,
    period,
    segment,
    case
        when denominator is null then cast(numerator as double)
        else cast(numerator as double) / denominator
    end as value,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator
from final
