-- mart.opt_outs_daily: opt-outs per local day of received_at, the user's score band and
-- experiment scope ('*' for every user plus one row per experiment the user is assigned to:
-- mart_int.user_scopes), for the dashboard's what-if baseline over any period and scope.
create or replace table mart.opt_outs_daily as
with
scoped as (
    select
        cast(o.received_at at time zone 'Asia/Shanghai' as date) as local_date,
        s.score_band,
        coalesce(s.experiment_id, '*') as experiment_id
    from core.opt_outs as o
    left join mart_int.user_scopes as s
        on s.user_id = o.user_id
),

final as (
    select
        local_date,
        score_band,
        experiment_id,
        count(*) as opt_outs
    from scoped
    group by local_date, score_band, experiment_id
)

select * from final
order by local_date
