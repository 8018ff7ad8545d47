-- mart.bnpl_orders: the BNPL orders of metrics.md (payment_method bnpl or bnpl_installment,
-- status not cancelled) with their local date and month. Helper for the metrics, user_cycle
-- and cohort retention; published for analysts.
create or replace table mart.bnpl_orders as
with
source as (
    select
        order_id,
        user_id,
        created_at,
        amount,
        payment_method,
        installments,
        status
    from core.orders
    where payment_method in ('bnpl', 'bnpl_installment')
        and status <> 'cancelled'
),

localised as (
    select
        source.*,
        cast(created_at at time zone 'Asia/Shanghai' as date) as local_date
    from source
),

final as (
    select
        order_id,
        user_id,
        created_at,
        local_date,
        cast(date_trunc('month', local_date) as date) as period,
        amount,
        payment_method,
        installments,
        status
    from localised
)

select * from final
