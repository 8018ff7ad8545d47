-- mart.user_cycle: one row per bill (amount_due > 0) with what happened around it.
-- W = [statement_date, statement_date + 1 month), N = [statement_date + 1 month, + 2 months).
-- Counts in W and N come from one per-user event stream: every bill contributes three
-- zero-valued markers (W start, N start, N end) and every user-day of activity one row; a
-- running sum per user ordered by (date, markers first) gives at each marker the total
-- strictly before that date, so a window's count is the difference of two markers. This is
-- exact for overlapping windows and needs only sorting, never a per-row subquery.
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
        count(*) as pre_due_reminders
    from bills
    inner join mart.sms_message_flags as flags
        on flags.bill_id = bills.bill_id
    where flags.delivery_status = 'delivered'
        and flags.purpose in ('bill_notice', 'due_reminder')
        and flags.local_date <= bills.due_date
    group by bills.bill_id
),

markers as (
    select user_id, statement_date as event_date, bill_id, 0 as marker
    from bills
    union all
    select user_id, cast(statement_date + interval 1 month as date), bill_id, 1
    from bills
    union all
    select user_id, cast(statement_date + interval 2 month as date), bill_id, 2
    from bills
),

sms_days as (
    select
        user_id,
        local_date as event_date,
        count(*) as total_sms,
        sum(case when purpose = 'marketing' and delivery_status = 'delivered' then 1 else 0 end)
            as marketing_sms,
        sum(case when is_duplicate then 1 else 0 end) as duplicate_sms,
        sum(case when is_quiet_hours then 1 else 0 end) as quiet_hours_sms
    from mart.sms_message_flags
    where purpose <> 'verification'
    group by user_id, local_date
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

opt_out_days as (
    select
        user_id,
        cast(received_at at time zone 'Asia/Shanghai' as date) as event_date,
        count(*) as opt_outs
    from core.opt_outs
    group by 1, 2
),

order_days as (
    select
        user_id,
        local_date as event_date,
        count(*) as bnpl_orders
    from mart.bnpl_orders
    group by user_id, local_date
),

events as (
    select
        user_id, event_date, 0 as event_kind, bill_id, marker,
        0 as total_sms, 0 as marketing_sms, 0 as duplicate_sms, 0 as quiet_hours_sms,
        0 as complaints, 0 as sms_complaints, 0 as opt_outs, 0 as bnpl_orders
    from markers
    union all
    select
        user_id, event_date, 1, null, null,
        total_sms, marketing_sms, duplicate_sms, quiet_hours_sms, 0, 0, 0, 0
    from sms_days
    union all
    select
        user_id, event_date, 1, null, null,
        0, 0, 0, 0, complaints, sms_complaints, 0, 0
    from complaint_days
    union all
    select user_id, event_date, 1, null, null, 0, 0, 0, 0, 0, 0, opt_outs, 0
    from opt_out_days
    union all
    select user_id, event_date, 1, null, null, 0, 0, 0, 0, 0, 0, 0, bnpl_orders
    from order_days
),

running as (
    select
        bill_id,
        marker,
        event_kind,
        sum(total_sms) over running_total as total_sms,
        sum(marketing_sms) over running_total as marketing_sms,
        sum(duplicate_sms) over running_total as duplicate_sms,
        sum(quiet_hours_sms) over running_total as quiet_hours_sms,
        sum(complaints) over running_total as complaints,
        sum(sms_complaints) over running_total as sms_complaints,
        sum(opt_outs) over running_total as opt_outs,
        sum(bnpl_orders) over running_total as bnpl_orders
    from events
    window running_total as (
        partition by user_id
        order by event_date, event_kind
        rows between unbounded preceding and current row
    )
),

windowed as (
    select
        bill_id,
        max(case when marker = 1 then total_sms end)
        - max(case when marker = 0 then total_sms end) as total_sms,
        max(case when marker = 1 then marketing_sms end)
        - max(case when marker = 0 then marketing_sms end) as marketing_sms,
        max(case when marker = 1 then duplicate_sms end)
        - max(case when marker = 0 then duplicate_sms end) as duplicate_sms,
        max(case when marker = 1 then quiet_hours_sms end)
        - max(case when marker = 0 then quiet_hours_sms end) as quiet_hours_sms,
        max(case when marker = 1 then complaints end)
        - max(case when marker = 0 then complaints end) as complaints,
        max(case when marker = 1 then sms_complaints end)
        - max(case when marker = 0 then sms_complaints end) as sms_complaints,
        max(case when marker = 1 then opt_outs end)
        - max(case when marker = 0 then opt_outs end) as opt_outs,
        max(case when marker = 2 then bnpl_orders end)
        - max(case when marker = 1 then bnpl_orders end) as next_bnpl_orders
    from running
    where event_kind = 0
    group by bill_id
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
