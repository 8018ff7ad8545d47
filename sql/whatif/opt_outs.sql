-- Opt-outs in scope per calendar month (of received_at, local date).
select
    strftime(local_date, '%Y-%m') as month,
    sum(opt_outs) as opt_outs
from mart.opt_outs_daily
where local_date between $start and $end
    and experiment_id = coalesce($experiment, '*')
    and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], score_band))
group by all
order by all
