-- mart.sms_never_sent: the messages that should never have gone out (after their bill was
-- settled, collection before the due date, against the user's own settings), for the
-- dashboard's drill-down list: a small slice of mart.sms_message_flags with the user's score
-- band and experiment scope ('*' for every user plus one row per experiment the user is
-- assigned to).
create or replace table mart.sms_never_sent as
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
        f.purpose,
        f.template_code,
        f.bill_id,
        f.sent_at,
        f.local_date,
        f.is_after_settlement,
        f.is_collection_before_due,
        f.is_against_preference,
        u.score_band
    from mart.sms_message_flags as f
    left join core.users as u
        on u.user_id = f.user_id
    where f.is_after_settlement or f.is_collection_before_due or f.is_against_preference
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
