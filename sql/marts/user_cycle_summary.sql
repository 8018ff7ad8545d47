-- mart.user_cycle_summary: mart.user_cycle summed per due date, score band, experiment, arm
-- and number of pre-due reminders, for the dashboard's trade-off views (frontier, arms,
-- baseline, bills by reminders). Each outcome keeps its non-null count (`_n`) and its true
-- count (`_sum`), so a rate over any selection is sum(_sum) / sum(_n), as avg() over rows.
create or replace table mart.user_cycle_summary as
select
    due_date,
    score_band,
    experiment_id,
    arm,
    pre_due_reminders,
    count(*) as cycles,
    count(total_sms) as total_sms_n,
    cast(sum(total_sms) as bigint) as total_sms,
    count(on_time) as on_time_n,
    cast(sum(case when on_time then 1 else 0 end) as bigint) as on_time_sum,
    count(dpd30) as dpd30_n,
    cast(sum(case when dpd30 then 1 else 0 end) as bigint) as dpd30_sum,
    count(complained) as complained_n,
    cast(sum(case when complained then 1 else 0 end) as bigint) as complained_sum,
    count(opted_out) as opted_out_n,
    cast(sum(case when opted_out then 1 else 0 end) as bigint) as opted_out_sum
from mart.user_cycle
group by due_date, score_band, experiment_id, arm, pre_due_reminders
