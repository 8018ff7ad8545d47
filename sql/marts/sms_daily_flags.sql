-- mart.sms_daily_flags: messages (verification left out) per local day, purpose, template,
-- delivery status, the user's score band, experiment scope and combination of the nine flags.
-- The dashboard's SMS-health page and the filter part of the messaging what-if sum it instead
-- of scanning mart.sms_message_flags. score_band of the user (null: unknown user);
-- experiment_id '*' for every user plus one row per experiment the user is assigned to, so
-- the dashboard's experiment filter is one equality.
create or replace table mart.sms_daily_flags as
with
scope_experiments as (
    select distinct
        user_id,
        experiment_id
    from core.experiment_assignments
),

messages as (
    select
        f.user_id,
        f.local_date,
        f.purpose,
        f.template_code,
        f.delivery_status,
        u.score_band,
        f.is_duplicate,
        f.is_quiet_hours,
        f.is_after_opt_out,
        f.is_over_daily_cap,
        f.is_marketing_in_service,
        f.is_marketing_without_consent,
        f.is_after_settlement,
        f.is_collection_before_due,
        f.is_against_preference
    from mart.sms_message_flags as f
    left join core.users as u
        on u.user_id = f.user_id
    where f.purpose <> 'verification'
),

scoped as (
    select
        messages.*,
        '*' as experiment_id
    from messages
    union all
    select
        messages.*,
        scope_experiments.experiment_id
    from messages
    inner join scope_experiments
        on scope_experiments.user_id = messages.user_id
),

final as (
    select
        local_date,
        score_band,
        experiment_id,
        purpose,
        template_code,
        delivery_status,
        is_duplicate,
        is_quiet_hours,
        is_after_opt_out,
        is_over_daily_cap,
        is_marketing_in_service,
        is_marketing_without_consent,
        is_after_settlement,
        is_collection_before_due,
        is_against_preference,
        count(*) as messages
    from scoped
    group by
        local_date,
        score_band,
        experiment_id,
        purpose,
        template_code,
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
)

select * from final
order by local_date
