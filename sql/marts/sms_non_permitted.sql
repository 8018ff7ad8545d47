-- mart.sms_non_permitted: the marketing messages sent without permission (after the user's
-- opt-out or without marketing consent), for the dashboard's list of them: a small slice of
-- mart.sms_message_flags with the user's score band and experiment scope ('*' for every user
-- plus one row per experiment the user is assigned to: mart_int.user_scopes).
create or replace table mart.sms_non_permitted as
with
final as (
    select
        f.message_id,
        f.user_id,
        f.template_code,
        f.sent_at,
        f.local_date,
        f.is_after_opt_out,
        f.is_marketing_without_consent,
        s.score_band,
        coalesce(s.experiment_id, '*') as experiment_id
    from mart.sms_message_flags as f
    left join mart_int.user_scopes as s
        on s.user_id = f.user_id
    where f.is_after_opt_out or f.is_marketing_without_consent
)

select * from final
order by local_date
