-- mart.sms_day_hour: messages (verification left out) per local day and local hour, the
-- user's score band and experiment scope ('*' for every user plus one row per experiment the
-- user is assigned to), for the dashboard's hour x weekday heat map over any period and scope.
create or replace table mart.sms_day_hour as
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
        f.local_hour,
        u.score_band
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
        local_hour,
        score_band,
        experiment_id,
        count(*) as messages
    from scoped
    group by local_date, local_hour, score_band, experiment_id
)

select * from final
order by local_date
