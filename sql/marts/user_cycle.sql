-- mart.user_cycle: one row per bill (amount_due > 0) with what happened around it.
-- W = [statement_date, statement_date + 1 month), N = [statement_date + 1 month, + 2 months).
-- Activity is first summed per user and local day, then each bill sums the days of its
-- user inside its window: an equi-join on user_id with a date-range condition, then a
-- group by bill. A user has a few bills, so the join emits (user-days x bills of the user)
-- rows and needs one hash table; no sort of the whole activity history.
create or replace table mart.user_cycle as
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
        score_band,
        on_time,
        dpd30
    from mart.bill_state
),

assignment_candidates as (
    select
        bills.bill_id,
        assignments.experiment_id,
        assignments.arm,
        row_number() over (
            partition by bills.bill_id
            order by assignments.assigned_at desc, assignments.experiment_id
        ) as recency_rank
    from bills
    inner join core.experiment_assignments as assignments
        on assignments.user_id = bills.user_id
        and cast(assignments.assigned_at at time zone 'Asia/Shanghai' as date)
        < bills.statement_date
),

assignment as (
    select
        bill_id,
        experiment_id,
        arm
    from assignment_candidates
    where recency_rank = 1
),

reminders as (
    select
        bills.bill_id,
        cast(sum(sent.reminders) as bigint) as pre_due_reminders
    from bills
    inner join mart_int.sms_bill_reminders as sent
        on sent.bill_id = bills.bill_id
    where sent.local_date <= bills.due_date
    group by bills.bill_id
),

bill_windows as (
    select
        bill_id,
        user_id,
        statement_date as w_start,
        cast(statement_date + interval 1 month as date) as n_start,
        cast(statement_date + interval 2 month as date) as n_end
    from bills
),

sms_days as (
    select
        user_id,
        local_date as event_date,
        total_sms,
        marketing_sms,
        duplicate_sms,
        quiet_hours_sms
    from mart_int.sms_user_days
),

sms_in_w as (
    select
        bill_windows.bill_id,
        sum(sms_days.total_sms) as total_sms,
        sum(sms_days.marketing_sms) as marketing_sms,
        sum(sms_days.duplicate_sms) as duplicate_sms,
        sum(sms_days.quiet_hours_sms) as quiet_hours_sms
    from bill_windows
    inner join sms_days
        on sms_days.user_id = bill_windows.user_id
        and sms_days.event_date >= bill_windows.w_start
        and sms_days.event_date < bill_windows.n_start
    group by bill_windows.bill_id
),

complaint_days as (
    select
        user_id,
        local_date as event_date,
        count(*) as complaints,
        sum(case when is_sms then 1 else 0 end) as sms_complaints
    from mart.complaints_classified
    where user_id is not null
    group by user_id, local_date
),

complaints_in_w as (
    select
        bill_windows.bill_id,
        sum(complaint_days.complaints) as complaints,
        sum(complaint_days.sms_complaints) as sms_complaints
    from bill_windows
    inner join complaint_days
        on complaint_days.user_id = bill_windows.user_id
        and complaint_days.event_date >= bill_windows.w_start
        and complaint_days.event_date < bill_windows.n_start
    group by bill_windows.bill_id
),

opt_out_days as (
    select
        user_id,
        cast(received_at at time zone 'Asia/Shanghai' as date) as event_date,
        count(*) as opt_outs
    from core.opt_outs
    group by 1, 2
),

opt_outs_in_w as (
    select
        bill_windows.bill_id,
        sum(opt_out_days.opt_outs) as opt_outs
    from bill_windows
    inner join opt_out_days
        on opt_out_days.user_id = bill_windows.user_id
        and opt_out_days.event_date >= bill_windows.w_start
        and opt_out_days.event_date < bill_windows.n_start
    group by bill_windows.bill_id
),

order_days as (
    select
        user_id,
        local_date as event_date,
        count(*) as bnpl_orders
    from mart.bnpl_orders
    group by user_id, local_date
),

orders_in_n as (
    select
        bill_windows.bill_id,
        sum(order_days.bnpl_orders) as bnpl_orders
    from bill_windows
    inner join order_days
        on order_days.user_id = bill_windows.user_id
        and order_days.event_date >= bill_windows.n_start
        and order_days.event_date < bill_windows.n_end
    group by bill_windows.bill_id
),

windowed as (
    select
        bill_windows.bill_id,
        coalesce(sms_in_w.total_sms, 0) as total_sms,
        coalesce(sms_in_w.marketing_sms, 0) as marketing_sms,
        coalesce(sms_in_w.duplicate_sms, 0) as duplicate_sms,
        coalesce(sms_in_w.quiet_hours_sms, 0) as quiet_hours_sms,
        coalesce(complaints_in_w.complaints, 0) as complaints,
        coalesce(complaints_in_w.sms_complaints, 0) as sms_complaints,
        coalesce(opt_outs_in_w.opt_outs, 0) as opt_outs,
        coalesce(orders_in_n.bnpl_orders, 0) as next_bnpl_orders
    from bill_windows
    left join sms_in_w
        on sms_in_w.bill_id = bill_windows.bill_id
    left join complaints_in_w
        on complaints_in_w.bill_id = bill_windows.bill_id
    left join opt_outs_in_w
        on opt_outs_in_w.bill_id = bill_windows.bill_id
    left join orders_in_n
        on orders_in_n.bill_id = bill_windows.bill_id
),

final as (
    select
        bills.bill_id,
        bills.user_id,
        bills.cycle,
        bills.statement_date,
        bills.due_date,
        bills.score_band,
        assignment.experiment_id,
        assignment.arm,
        coalesce(reminders.pre_due_reminders, 0) as pre_due_reminders,
        cast(windowed.marketing_sms as bigint) as marketing_sms,
        cast(windowed.total_sms as bigint) as total_sms,
        cast(windowed.duplicate_sms as bigint) as duplicate_sms,
        cast(windowed.quiet_hours_sms as bigint) as quiet_hours_sms,
        bills.on_time,
        bills.dpd30,
        windowed.complaints > 0 as complained,
        windowed.sms_complaints > 0 as sms_complained,
        windowed.opt_outs > 0 as opted_out,
        case
            -- N's last day is statement_date + 2 months - 1 day
            when cast(bills.statement_date + interval 2 month as date) - 1 <= context.as_of
                then windowed.next_bnpl_orders > 0
        end as active_next_cycle
    from bills
    cross join context
    inner join windowed
        on windowed.bill_id = bills.bill_id
    left join assignment
        on assignment.bill_id = bills.bill_id
    left join reminders
        on reminders.bill_id = bills.bill_id
)

select * from final
