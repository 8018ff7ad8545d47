-- mart.metrics, dpd30_balance_ratio (period = month m with first day <= as_of, evaluated at
-- d = min(last day of m, as_of)): outstanding balance of bills 30+ days past due at d over
-- the outstanding balance of all bills stated by d. outstanding(b, d) = max(0, amount_due -
-- successful repayments with local date <= d); only bill-months with a positive outstanding
-- balance can contribute, i.e. bills not yet settled on d.
-- DuckDB idiom: unnest(generate_series(...)) for the month list (sqlglot: explode(sequence)).
insert into mart.metrics
with
context as (
    select as_of
    from mart.run_context
),

bills as (
    select
        bill_id,
        statement_date,
        due_date,
        amount_due,
        settled_date
    from mart.bill_state
),

month_bounds as (
    select
        cast(date_trunc('month', min(bills.statement_date)) as date) as first_month,
        cast(date_trunc('month', max(context.as_of)) as date) as last_month
    from bills
    cross join context
),

month_series as (
    select unnest(generate_series(first_month, last_month, interval 1 month)) as month_start
    from month_bounds
),

month_starts as (
    select cast(month_start as date) as period
    from month_series
),

evaluation as (
    select
        month_starts.period,
        least(last_day(month_starts.period), context.as_of) as eval_date
    from month_starts
    cross join context
    where month_starts.period <= context.as_of
),

open_bills as (
    select
        evaluation.period,
        evaluation.eval_date,
        bills.bill_id,
        bills.due_date,
        bills.amount_due
    from bills
    inner join evaluation
        on bills.statement_date <= evaluation.eval_date
        and (bills.settled_date is null or bills.settled_date > evaluation.eval_date)
),

repaid as (
    select
        open_bills.period,
        open_bills.bill_id,
        sum(repayments.amount) as repaid
    from open_bills
    inner join core.repayments as repayments
        on repayments.bill_id = open_bills.bill_id
        and repayments.status = 'success'
        and cast(repayments.paid_at at time zone 'Asia/Shanghai' as date)
        <= open_bills.eval_date
    group by open_bills.period, open_bills.bill_id
),

outstanding as (
    select
        open_bills.period,
        open_bills.eval_date,
        open_bills.due_date,
        greatest(open_bills.amount_due - coalesce(repaid.repaid, 0), 0) as outstanding
    from open_bills
    left join repaid
        on repaid.period = open_bills.period
        and repaid.bill_id = open_bills.bill_id
),

aggregated as (
    select
        period,
        sum(case when due_date + 30 <= eval_date then outstanding else 0 end) as numerator,
        sum(outstanding) as denominator
    from outstanding
    group by period
)

select
    'dpd30_balance_ratio' as metric,
    'month' as grain,
    period,
    'all' as segment,
    cast(numerator as double) / cast(denominator as double) as value,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator
from aggregated
where denominator > 0
