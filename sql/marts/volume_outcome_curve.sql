-- mart.volume_outcome_curve: outcome rates of user_cycle by score band ('all' and each band)
-- and pre-due reminder bucket ('0'..'4', '5+'), with the Wilson 95 % interval
-- (z = 1.959964): centre (p + z²/2n) / (1 + z²/n), half-width
-- z / (1 + z²/n) · sqrt(p(1 − p)/n + z²/4n²). n counts the rows where the outcome is not
-- null; groups with n = 0 are omitted.
create or replace table mart.volume_outcome_curve as
with
cycles as (
    select
        score_band,
        case when pre_due_reminders >= 5 then '5+' else cast(pre_due_reminders as varchar) end
            as reminders_bucket,
        on_time,
        dpd30,
        complained,
        sms_complained,
        opted_out,
        active_next_cycle
    from mart.user_cycle
),

banded as (
    select 'all' as band, cycles.* from cycles
    union all
    select score_band as band, cycles.* from cycles
    where score_band is not null
),

outcomes as (
    select
        banded.band,
        banded.reminders_bucket,
        outcome_names.outcome,
        case outcome_names.outcome
            when 'on_time' then banded.on_time
            when 'dpd30' then banded.dpd30
            when 'complained' then banded.complained
            when 'sms_complained' then banded.sms_complained
            when 'opted_out' then banded.opted_out
            when 'active_next_cycle' then banded.active_next_cycle
        end as outcome_value
    from banded
    cross join (
        values ('on_time'), ('dpd30'), ('complained'), ('sms_complained'), ('opted_out'),
        ('active_next_cycle')
    ) as outcome_names (outcome)
),

aggregated as (
    select
        band,
        reminders_bucket,
        outcome,
        count(outcome_value) as n,
        avg(case when outcome_value then 1.0 when not outcome_value then 0.0 end) as rate
    from outcomes
    group by band, reminders_bucket, outcome
),

wilson as (
    select
        aggregated.*,
        1.959964 * 1.959964 as z2
    from aggregated
    where n > 0
),

final as (
    select
        band as score_band,
        reminders_bucket,
        outcome,
        n,
        rate,
        (rate + z2 / (2 * n)) / (1 + z2 / n)
        - 1.959964 / (1 + z2 / n) * sqrt(rate * (1 - rate) / n + z2 / (4.0 * n * n))
            as ci_low,
        (rate + z2 / (2 * n)) / (1 + z2 / n)
        + 1.959964 / (1 + z2 / n) * sqrt(rate * (1 - rate) / n + z2 / (4.0 * n * n))
            as ci_high
    from wilson
)

select * from final
