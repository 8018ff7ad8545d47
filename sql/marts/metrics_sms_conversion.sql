-- mart.metrics, marketing_sms_conversion_72h (period = local day of sent_at): delivered
-- marketing messages whose local date + 3 <= as_of, share followed by a BNPL order of the
-- same user created in (sent_at, sent_at + 72 h]. A range join per user, then one flag per
-- message.
insert into mart.metrics
with
context as (
    select as_of
    from mart.run_context
),

eligible as (
    select
        flags.message_id,
        flags.user_id,
        flags.sent_at,
        flags.local_date
    from mart.sms_message_flags as flags
    cross join context
    where flags.purpose = 'marketing'
        and flags.delivery_status = 'delivered'
        and flags.local_date + 3 <= context.as_of
),

converted as (
    select distinct eligible.message_id
    from eligible
    inner join mart.bnpl_orders as orders
        on orders.user_id = eligible.user_id
        and orders.created_at > eligible.sent_at
        and orders.created_at <= eligible.sent_at + interval 72 hour
),

aggregated as (
    select
        eligible.local_date as period,
        count(*) as messages,
        count(converted.message_id) as conversions
    from eligible
    left join converted
        on converted.message_id = eligible.message_id
    group by eligible.local_date
)

select
    'marketing_sms_conversion_72h' as metric,
    'day' as grain,
    period,
    'all' as segment,
    cast(conversions as double) / messages as value,
    cast(conversions as double) as numerator,
    cast(messages as double) as denominator
from aggregated
