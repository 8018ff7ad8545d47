-- mart_int.sms_conversion_days (intermediate, not published): per local date of sent_at,
-- the delivered marketing messages and how many of them were followed by a BNPL order of the same user created in
-- (sent_at, sent_at + 72 h] — the parts of marketing_sms_conversion_72h before the as_of
-- cut, which metrics_sms_conversion applies. A date's row depends only on that date's
-- messages and the orders of the 72 hours after them, so an incremental build recomputes
-- only the dates whose messages or nearby orders changed (pipelines.marts.state).
create or replace table mart_int.sms_conversion_days as
with
eligible as (
    select
        flags.message_id,
        flags.user_id,
        flags.sent_at,
        flags.local_date
    from mart.sms_message_flags as flags
    where flags.purpose = 'marketing'
        and flags.delivery_status = 'delivered'
),

converted as (
    select distinct eligible.message_id
    from eligible
    inner join mart.bnpl_orders as orders
        on orders.user_id = eligible.user_id
        and orders.created_at > eligible.sent_at
        and orders.created_at <= eligible.sent_at + interval 72 hour
)

select
    eligible.local_date,
    count(*) as messages,
    count(converted.message_id) as conversions
from eligible
left join converted
    on converted.message_id = eligible.message_id
group by eligible.local_date
