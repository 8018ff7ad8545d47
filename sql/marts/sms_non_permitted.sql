-- mart.sms_non_permitted: the marketing messages sent without permission (after the user's
-- opt-out or without marketing consent), for the dashboard's list of them: a small slice of
-- mart.sms_message_flags with the user's score band and experiment scope ('*' for every user
-- plus one row per experiment the user is assigned to).
create or replace table mart.sms_non_permitted as
with
scope_experiments as (
    select distinct
        user_id,
        experiment_id
    from core.experiment_assignments
),

messages as (
    select
        f.message_id,
        f.user_id,
        f.template_code,
        f.sent_at,
        f.local_date,
        f.is_after_opt_out,
        f.is_marketing_without_consent,
        u.score_band
    from mart.sms_message_flags as f
    left join core.users as u
        on u.user_id = f.user_id
    where f.is_after_opt_out or f.is_marketing_without_consent
),

final as (
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
)

select * from final
order by local_date
