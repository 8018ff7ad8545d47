-- mart.metrics, BNPL family (period = month of the order's local created date):
-- bnpl_active_users, bnpl_orders, bnpl_gmv, bnpl_repeat_rate (buyers of m who buy again in
-- m + 1, only when m + 1 is complete) and dau_mau_ratio (mean over the month's days <= as_of,
-- days without a buyer counting as 0, of daily distinct buyers, over bnpl_active_users).
insert into mart.metrics
with
context as (
    select as_of
    from mart.run_context
),

orders as (
    select
        user_id,
        local_date,
        period,
        amount
    from mart.bnpl_orders
),

monthly as (
    select
        period,
        count(distinct user_id) as active_users,
        count(*) as orders,
        sum(amount) as gmv
    from orders
    group by period
),

buyer_months as (
    select distinct
        user_id,
        period
    from orders
),

repeat_buyers as (
    select
        this_month.period,
        count(*) as buyers,
        count(next_month.user_id) as repeat_buyers
    from buyer_months as this_month
    cross join context
    left join buyer_months as next_month
        on next_month.user_id = this_month.user_id
        and next_month.period = cast(this_month.period + interval 1 month as date)
    where last_day(cast(this_month.period + interval 1 month as date)) <= context.as_of
    group by this_month.period
),

daily_buyers as (
    select
        orders.period,
        orders.local_date,
        count(distinct orders.user_id) as buyers
    from orders
    cross join context
    where orders.local_date <= context.as_of
    group by orders.period, orders.local_date
),

dau as (
    select
        monthly.period,
        -- calendar days of the month up to as_of
        date_diff('day', monthly.period, least(last_day(monthly.period), context.as_of)) + 1
            as days,
        coalesce(sum(daily_buyers.buyers), 0) as buyer_days,
        monthly.active_users
    from monthly
    cross join context
    left join daily_buyers
        on daily_buyers.period = monthly.period
    where monthly.period <= context.as_of
    group by monthly.period, monthly.active_users, context.as_of
),

final as (
    select 'bnpl_active_users' as metric, period,
        cast(active_users as double) as numerator, cast(null as double) as denominator
    from monthly
    union all
    select 'bnpl_orders', period, cast(orders as double), cast(null as double)
    from monthly
    union all
    select 'bnpl_gmv', period, cast(gmv as double), cast(null as double)
    from monthly
    union all
    select 'bnpl_repeat_rate', period, cast(repeat_buyers as double), cast(buyers as double)
    from repeat_buyers where buyers > 0
    union all
    select 'dau_mau_ratio', period, cast(buyer_days as double) / days,
        cast(active_users as double)
    from dau where active_users > 0
)

select
    metric,
    'month' as grain,
    period,
    'all' as segment,
    case
        when denominator is null then numerator
        else numerator / denominator
    end as value,
    numerator,
    denominator
from final
