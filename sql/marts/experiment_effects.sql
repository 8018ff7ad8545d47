-- mart.experiment_effects: each non-control arm of each experiment against its control, per
-- user_cycle outcome. Wald 95 % interval of the difference; two-sided z-test with the pooled
-- proportion (p_value 1.0 when the pooled variance is 0). The normal tail uses the
-- Numerical Recipes erfc approximation (relative error < 1.2e-7):
-- p = erfc(|z| / sqrt 2), erfc(x) ≈ t · exp(−x² − 1.26551223 + t(1.00002368 + …)),
-- t = 1 / (1 + x/2). Plain arithmetic, so it runs on any engine.
-- avg_total_sms_* average total_sms over all of the arm's rows of that experiment.
create or replace table mart.experiment_effects as
with
cycles as (
    select
        experiment_id,
        arm,
        total_sms,
        on_time,
        dpd30,
        complained,
        sms_complained,
        opted_out,
        active_next_cycle
    from mart.user_cycle
    where experiment_id is not null
),

arm_volume as (
    select
        experiment_id,
        arm,
        avg(cast(total_sms as double)) as avg_total_sms
    from cycles
    group by experiment_id, arm
),

outcomes as (
    select
        cycles.experiment_id,
        cycles.arm,
        outcome_names.outcome,
        case outcome_names.outcome
            when 'on_time' then cycles.on_time
            when 'dpd30' then cycles.dpd30
            when 'complained' then cycles.complained
            when 'sms_complained' then cycles.sms_complained
            when 'opted_out' then cycles.opted_out
            when 'active_next_cycle' then cycles.active_next_cycle
        end as outcome_value
    from cycles
    cross join (
        values ('on_time'), ('dpd30'), ('complained'), ('sms_complained'), ('opted_out'),
        ('active_next_cycle')
    ) as outcome_names (outcome)
),

arm_rates as (
    select
        experiment_id,
        arm,
        outcome,
        count(outcome_value) as n,
        sum(case when outcome_value then 1 else 0 end) as successes
    from outcomes
    group by experiment_id, arm, outcome
),

paired as (
    select
        treated.experiment_id,
        treated.arm,
        treated.outcome,
        treated.n as n_arm,
        cast(treated.successes as double) / treated.n as rate_arm,
        control.n as n_control,
        cast(control.successes as double) / control.n as rate_control,
        cast(treated.successes + control.successes as double) / (treated.n + control.n)
            as pooled_rate
    from arm_rates as treated
    inner join arm_rates as control
        on control.experiment_id = treated.experiment_id
        and control.outcome = treated.outcome
        and control.arm = 'control'
    where treated.arm <> 'control'
        and treated.n > 0
        and control.n > 0
),

tested as (
    select
        paired.*,
        rate_arm - rate_control as diff,
        sqrt(
            rate_arm * (1 - rate_arm) / n_arm + rate_control * (1 - rate_control) / n_control
        ) as wald_se,
        pooled_rate * (1 - pooled_rate) * (1.0 / n_arm + 1.0 / n_control) as pooled_variance
    from paired
),

z_scores as (
    select
        tested.*,
        case
            when pooled_variance > 0 then abs(diff) / sqrt(pooled_variance) / sqrt(2.0)
        end as x
    from tested
),

tails as (
    select
        z_scores.*,
        1.0 / (1.0 + 0.5 * x) as t
    from z_scores
),

final as (
    select
        tails.experiment_id,
        tails.arm,
        tails.outcome,
        tails.n_arm,
        tails.rate_arm,
        tails.n_control,
        tails.rate_control,
        tails.diff,
        tails.diff - 1.959964 * tails.wald_se as ci_low,
        tails.diff + 1.959964 * tails.wald_se as ci_high,
        case
            when tails.x is null then 1.0
            else least(1.0, t * exp(
                -x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277))))))))
            ))
        end as p_value,
        treated_volume.avg_total_sms as avg_total_sms_arm,
        control_volume.avg_total_sms as avg_total_sms_control
    from tails
    left join arm_volume as treated_volume
        on treated_volume.experiment_id = tails.experiment_id
        and treated_volume.arm = tails.arm
    left join arm_volume as control_volume
        on control_volume.experiment_id = tails.experiment_id
        and control_volume.arm = 'control'
)

select * from final
