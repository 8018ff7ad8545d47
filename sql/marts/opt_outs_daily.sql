-- mart.opt_outs_daily: opt-outs per local day of received_at, the user's score band and
-- experiment scope ('*' for every user plus one row per experiment the user is assigned to),
-- for the dashboard's what-if baseline over any period and scope.
create or replace table mart.opt_outs_daily as
with
scope_experiments as (
    select distinct
        user_id,
        experiment_id
    from core.experiment_assignments
),

opt_outs as (
    select
        o.user_id,
        cast(o.received_at at time zone 'Asia/Shanghai' as date) as local_date,
        u.score_band
    from core.opt_outs as o
    left join core.users as u
        on u.user_id = o.user_id
),

scoped as (
    select
        opt_outs.*,
        '*' as experiment_id
    from opt_outs
    union all
    select
        opt_outs.*,
        scope_experiments.experiment_id
    from opt_outs
    inner join scope_experiments
        on scope_experiments.user_id = opt_outs.user_id
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
