-- mart.active_accounts: active accounts per month (metrics.md): distinct users with a bill
-- (amount_due > 0) whose statement_date is in the month, or a BNPL order created in the
-- month (local date). Denominator of sms_per_active_account and complaints_per_10k_active.
create or replace table mart.active_accounts as
with
bill_activity as (
    select
        user_id,
        cast(date_trunc('month', statement_date) as date) as period
    from core.bills
    where amount_due > 0
),

order_activity as (
    select
        user_id,
        period
    from mart.bnpl_orders
),

activity as (
    select user_id, period from bill_activity
    union all
    select user_id, period from order_activity
),

final as (
    select
        period,
        count(distinct user_id) as active_accounts
    from activity
    group by period
)

select * from final
