-- mart.sms_daily_flags: messages (verification left out) per local day, purpose, template,
-- delivery status, the user's score band, experiment scope and combination of the nine flags.
-- The dashboard's SMS-health page and the filter part of the messaging what-if sum it instead
-- of scanning mart.sms_message_flags. score_band of the user (null: unknown user);
-- experiment_id '*' for every user plus one row per experiment the user is assigned to
-- (mart_int.user_scopes), so the dashboard's experiment filter is one equality.
create or replace table mart.sms_daily_flags as
with
scoped as (
    select
        f.local_date,
        f.purpose,
        f.template_code,
        f.delivery_status,
        s.score_band,
        coalesce(s.experiment_id, '*') as experiment_id,
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
    left join mart_int.user_scopes as s
        on s.user_id = f.user_id
    where f.purpose <> 'verification'
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
