-- The daily flag counts of mart.metrics (segment all) equal the flagged messages of
-- mart.sms_message_flags on that local date, verification messages left out; a day with
-- messages and no flag has a 0 row, a day without messages has no row. Returns the number of
-- (metric, day) pairs that differ or are missing on one side.
with
flags as (
    select
        local_date as period,
        count(*) filter (where is_duplicate) as sms_duplicate,
        count(*) filter (where is_quiet_hours) as sms_quiet_hours,
        count(*) filter (where is_after_opt_out) as sms_after_opt_out,
        count(*) filter (where is_over_daily_cap) as sms_over_daily_cap,
        count(*) filter (where is_marketing_in_service) as sms_marketing_in_service,
        count(*) filter (where is_marketing_without_consent) as sms_marketing_without_consent
    from mart.sms_message_flags
    where purpose <> 'verification'
    group by local_date
),

expected as (
    unpivot flags
    on sms_duplicate, sms_quiet_hours, sms_after_opt_out, sms_over_daily_cap,
        sms_marketing_in_service, sms_marketing_without_consent
    into name metric value messages
),

published as (
    select metric, period, value
    from mart.metrics
    where
        grain = 'day'
        and segment = 'all'
        and metric in (
            'sms_duplicate', 'sms_quiet_hours', 'sms_after_opt_out', 'sms_over_daily_cap',
            'sms_marketing_in_service', 'sms_marketing_without_consent'
        )
)

select count(*) as mismatched_days
from expected
full outer join published
    on published.metric = expected.metric and published.period = expected.period
where published.value is distinct from cast(expected.messages as double)
