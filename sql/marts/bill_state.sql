-- mart.bill_state: one row per bill with amount_due > 0 and its repayment state
-- (settled_at / settled_date, on_time, dpd7 / dpd30 / dpd90, first bill of the user).
-- Helper for user_cycle, the bill metrics and the vintage curve; published for analysts.
create or replace table mart.bill_state as
with
context as (
    select as_of
    from mart.run_context
),

bills as (
    select
        bill_id,
        user_id,
        cycle,
        statement_date,
        due_date,
        amount_due
    from core.bills
    where amount_due > 0
),

successful_repayments as (
    select
        bill_id,
        repayment_id,
        paid_at,
        amount
    from core.repayments
    where status = 'success'
),

running_paid as (
    select
        successful_repayments.bill_id,
        successful_repayments.paid_at,
        bills.amount_due,
        sum(successful_repayments.amount) over (
            partition by successful_repayments.bill_id
            order by successful_repayments.paid_at, successful_repayments.repayment_id
            rows between unbounded preceding and current row
        ) as paid_so_far
    from successful_repayments
    inner join bills
        on bills.bill_id = successful_repayments.bill_id
),

-- the running sum only grows, so the first repayment that reaches the amount is the one
-- with the smallest paid_at among those that have reached it
settlement as (
    select
        bill_id,
        min(paid_at) as settled_at
    from running_paid
    where paid_so_far >= amount_due - 0.005
    group by bill_id
),

users as (
    select
        user_id,
        score_band
    from core.users
),

joined as (
    select
        bills.bill_id,
        bills.user_id,
        bills.cycle,
        bills.statement_date,
        bills.due_date,
        bills.amount_due,
        users.score_band,
        settlement.settled_at,
        cast(settlement.settled_at at time zone 'Asia/Shanghai' as date) as settled_date,
        context.as_of,
        row_number() over (
            partition by bills.user_id
            order by bills.due_date, bills.bill_id
        ) = 1 as is_first_bill
    from bills
    cross join context
    left join settlement
        on settlement.bill_id = bills.bill_id
    left join users
        on users.user_id = bills.user_id
),

final as (
    select
        bill_id,
        user_id,
        cycle,
        statement_date,
        due_date,
        amount_due,
        score_band,
        settled_at,
        settled_date,
        case
            when due_date < as_of then coalesce(settled_date <= due_date, false)
        end as on_time,
        case
            when due_date + 7 <= as_of then coalesce(settled_date >= due_date + 7, true)
        end as dpd7,
        case
            when due_date + 30 <= as_of then coalesce(settled_date >= due_date + 30, true)
        end as dpd30,
        case
            when due_date + 90 <= as_of then coalesce(settled_date >= due_date + 90, true)
        end as dpd90,
        is_first_bill
    from joined
)

select * from final
