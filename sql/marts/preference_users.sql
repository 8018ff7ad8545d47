-- mart.preference_users: one row per user who saved their message settings at least once,
-- for the dashboard's preference centre: when they first chose, what is in force now (their
-- latest row), and their messages, messages against their settings, complaints and opt-outs
-- in the 30 local days before the day they first chose ([d - 30, d - 1]) and the 30 after
-- it ([d + 1, d + 30]); the day itself is in neither. `after_complete`: d + 30 <= as_of;
-- `before_complete`: d - 30 is on or after the first day with messages. Small, rebuilt in
-- full.
create or replace table mart.preference_users as
with
context as (
    select as_of
    from mart.run_context
),

first_day as (
    select min(local_date) as first_date
    from mart_int.sms_user_days
),

ordered as (
    select
        user_id,
        updated_at,
        marketing,
        reminders,
        max_per_day,
        quiet_start_hour,
        quiet_end_hour,
        row_number() over (partition by user_id order by updated_at desc) as recency,
        count(*) over (partition by user_id) as changes,
        min(updated_at) over (partition by user_id) as first_chosen_at
    from core.sms_preferences
),

chosen as (
    select
        user_id,
        first_chosen_at,
        cast(first_chosen_at at time zone 'Asia/Shanghai' as date) as chosen_date,
        changes,
        updated_at as latest_updated_at,
        marketing,
        reminders,
        max_per_day,
        quiet_start_hour,
        quiet_end_hour
    from ordered
    where recency = 1
),

messages as (
    select
        chosen.user_id,
        sum(days.total_sms) filter (where days.local_date < chosen.chosen_date)
            as messages_before,
        sum(days.total_sms) filter (where days.local_date > chosen.chosen_date)
            as messages_after,
        sum(days.against_preference_sms) filter (where days.local_date > chosen.chosen_date)
            as against_preference_after
    from chosen
    inner join mart_int.sms_user_days as days
        on days.user_id = chosen.user_id
        and days.local_date between chosen.chosen_date - 30 and chosen.chosen_date + 30
    group by chosen.user_id
),

complaints as (
    select
        chosen.user_id,
        count(*) filter (where c.local_date < chosen.chosen_date) as complaints_before,
        count(*) filter (where c.local_date > chosen.chosen_date) as complaints_after,
        count(*) filter (where c.local_date < chosen.chosen_date and c.is_sms)
            as sms_complaints_before,
        count(*) filter (where c.local_date > chosen.chosen_date and c.is_sms)
            as sms_complaints_after
    from chosen
    inner join mart.complaints_classified as c
        on c.user_id = chosen.user_id
        and c.local_date between chosen.chosen_date - 30 and chosen.chosen_date + 30
    group by chosen.user_id
),

opt_out_days as (
    select
        user_id,
        cast(received_at at time zone 'Asia/Shanghai' as date) as local_date
    from core.opt_outs
),

opt_outs as (
    select
        chosen.user_id,
        count(*) filter (where o.local_date < chosen.chosen_date) as opt_outs_before,
        count(*) filter (where o.local_date > chosen.chosen_date) as opt_outs_after
    from chosen
    inner join opt_out_days as o
        on o.user_id = chosen.user_id
        and o.local_date between chosen.chosen_date - 30 and chosen.chosen_date + 30
    group by chosen.user_id
),

final as (
    select
        chosen.user_id,
        users.score_band,
        chosen.first_chosen_at,
        chosen.chosen_date,
        chosen.changes,
        chosen.latest_updated_at,
        chosen.marketing,
        chosen.reminders,
        chosen.max_per_day,
        chosen.quiet_start_hour,
        chosen.quiet_end_hour,
        coalesce(chosen.chosen_date - 30 >= first_day.first_date, false) as before_complete,
        chosen.chosen_date + 30 <= context.as_of as after_complete,
        coalesce(messages.messages_before, 0) as messages_before,
        coalesce(messages.messages_after, 0) as messages_after,
        coalesce(messages.against_preference_after, 0) as against_preference_after,
        coalesce(complaints.complaints_before, 0) as complaints_before,
        coalesce(complaints.complaints_after, 0) as complaints_after,
        coalesce(complaints.sms_complaints_before, 0) as sms_complaints_before,
        coalesce(complaints.sms_complaints_after, 0) as sms_complaints_after,
        coalesce(opt_outs.opt_outs_before, 0) as opt_outs_before,
        coalesce(opt_outs.opt_outs_after, 0) as opt_outs_after
    from chosen
    cross join context
    cross join first_day
    left join core.users as users
        on users.user_id = chosen.user_id
    left join messages
        on messages.user_id = chosen.user_id
    left join complaints
        on complaints.user_id = chosen.user_id
    left join opt_outs
        on opt_outs.user_id = chosen.user_id
)

select * from final
order by chosen_date, user_id
