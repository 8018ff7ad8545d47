-- mart.sms_day_hour: messages (verification left out) per local day and local hour, the
-- user's score band and experiment scope ('*' for every user plus one row per experiment the
-- user is assigned to: mart_int.user_scopes), for the dashboard's hour x weekday heat map
-- over any period and scope.
create or replace table mart.sms_day_hour as
with
scoped as (
    select
        f.local_date,
        f.local_hour,
        s.score_band,
        coalesce(s.experiment_id, '*') as experiment_id
    from mart.sms_message_flags as f
    left join mart_int.user_scopes as s
        on s.user_id = f.user_id
    where f.purpose <> 'verification'
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
