-- mart.vintage_curve: ever-30+-days-past-due share by statement cohort and months on book.
-- A bill of cohort c counts as 30+ DPD at months_on_book k when, by the evaluation date
-- e = last day of month (c + k), it has matured for 30 days (due_date + 30 <= e) and was not
-- settled before due_date + 30. Only complete months (e <= as_of) are shown; bills = all
-- bills (amount_due > 0) of the cohort, so the curve is cumulative and never falls.
-- DuckDB idioms: unnest(generate_series(...)) for months on book (sqlglot: explode(sequence))
-- and strftime for the 'YYYY-MM' label (sqlglot: date_format).
create or replace table mart.vintage_curve as
with
context as (
    select as_of
    from mart.run_context
),

bills as (
    select
        cast(date_trunc('month', statement_date) as date) as cohort_month,
        score_band,
        due_date,
        settled_date
    from mart.bill_state
),

month_span as (
    select
        cast(date_diff('month', min(bills.cohort_month), max(context.as_of)) as integer)
            as last_offset
    from bills
    cross join context
),

month_offsets as (
    select unnest(generate_series(0, last_offset)) as months_on_book
    from month_span
),

evaluated as (
    select
        bills.cohort_month,
        bills.score_band,
        month_offsets.months_on_book,
        bills.due_date + 30 <= last_day(
            cast(bills.cohort_month + month_offsets.months_on_book * interval 1 month as date)
        )
        and coalesce(bills.settled_date >= bills.due_date + 30, true) as is_dpd30
    from bills
    cross join month_offsets
    cross join context
    where last_day(
        cast(bills.cohort_month + month_offsets.months_on_book * interval 1 month as date)
    ) <= context.as_of
),

banded as (
    select 'all' as band, evaluated.* from evaluated
    union all
    select score_band as band, evaluated.* from evaluated
    where score_band is not null
),

final as (
    select
        strftime(cohort_month, '%Y-%m') as cohort,
        cast(months_on_book as integer) as months_on_book,
        band as score_band,
        count(*) as bills,
        sum(case when is_dpd30 then 1 else 0 end) as dpd30_bills,
        cast(sum(case when is_dpd30 then 1 else 0 end) as double) / count(*) as dpd30_rate
    from banded
    group by cohort_month, months_on_book, band
)

select * from final
