-- Bills due in scope per calendar month of the due date, score band, experiment arm ('' =
-- not in an experiment arm) and delivered pre-due messages (bill notice + due reminders),
-- with each outcome's non-null count and true count (mart.user_cycle_summary).
select
    strftime(due_date, '%Y-%m') as month,
    coalesce(score_band, '?') as band_key,
    coalesce(experiment_id, '') as experiment_id,
    coalesce(arm, '') as arm,
    pre_due_reminders,
    sum(cycles) as bills,
    sum(on_time_n) as on_time_n,
    sum(on_time_sum) as on_time_sum,
    sum(dpd30_n) as dpd30_n,
    sum(dpd30_sum) as dpd30_sum,
    sum(complained_n) as complained_n,
    sum(complained_sum) as complained_sum,
    sum(opted_out_n) as opted_out_n,
    sum(opted_out_sum) as opted_out_sum
from mart.user_cycle_summary
where due_date between $start and $end
    and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], score_band))
    and ($experiment is null or experiment_id = $experiment)
group by all
order by all
