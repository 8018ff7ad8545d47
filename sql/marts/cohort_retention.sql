-- mart.cohort_retention: BNPL buyers by the month of their first BNPL order (cohort_month)
-- and the share of them who place a BNPL order months_since months later. Only months that
-- are complete (last day <= as_of) are shown; months_since 0 is 1.0 by construction.
-- DuckDB idiom: unnest(generate_series(...)) for the offsets (sqlglot: explode(sequence)).
create or replace table mart.cohort_retention as
with
context as (
    select as_of
    from mart.run_context
),

buyer_months as (
    select distinct
        user_id,
        period
    from mart.bnpl_orders
),

first_months as (
    select
        user_id,
        min(period) as cohort_month
    from buyer_months
    group by user_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_users
    from first_months
    group by cohort_month
),

activity as (
    select
        first_months.cohort_month,
        cast(date_diff('month', first_months.cohort_month, buyer_months.period) as integer)
            as months_since,
        count(*) as active_users
    from buyer_months
    inner join first_months
        on first_months.user_id = buyer_months.user_id
    group by 1, 2
),

month_span as (
    select
        cast(date_diff('month', min(cohort_sizes.cohort_month), max(context.as_of)) as integer)
            as last_offset
    from cohort_sizes
    cross join context
),

month_offsets as (
    select unnest(generate_series(0, last_offset)) as months_since
    from month_span
),

grid as (
    select
        cohort_sizes.cohort_month,
        cast(month_offsets.months_since as integer) as months_since,
        cohort_sizes.cohort_users
    from cohort_sizes
    cross join month_offsets
    cross join context
    where last_day(
        cast(cohort_sizes.cohort_month + month_offsets.months_since * interval 1 month as date)
    ) <= context.as_of
),

final as (
    select
        grid.cohort_month,
        grid.months_since,
        grid.cohort_users,
        coalesce(activity.active_users, 0) as active_users,
        cast(coalesce(activity.active_users, 0) as double) / grid.cohort_users as retention
    from grid
    left join activity
        on activity.cohort_month = grid.cohort_month
        and activity.months_since = grid.months_since
)

select * from final
