-- core.sms_messages: the messages as the gateways saw them. Every core.sms_logs row, with
-- delivery_status, delivered_at, err_code and provider taken from its deciding receipt (the
-- latest by receipt time; a pending receipt only when it has no other, and never over a
-- delivered or failed log status), and every send the
-- log does not know (origin 'gateway': a retry of the log row retry_of, with that row's user,
-- template, bill, purpose and content, sent at its first receipt's send time). A message
-- without a receipt keeps the log's values. The marts read this table, not core.sms_logs.
create or replace table core.sms_messages as
with
matches as (
    select *
    from core.sms_receipt_matches
    where message_id is not null
),

deciding as (
    select *
    from matches
    qualify row_number() over (
        partition by message_id
        order by status = 'pending', reported_at desc nulls last, receipt_id desc
    ) = 1
),

per_message as (
    select
        message_id,
        any_value(log_message_id) as log_message_id,
        count(*) as receipts,
        min(coalesce(sent_at, reported_at)) as first_sent_at,
        max(segments) as billed_segments
    from matches
    group by message_id
),

logs as (
    select * from core.sms_logs
),

-- every log row with its deciding receipt, if any; the receipt decides the delivery unless it
-- is pending: a pending receipt never replaces a delivered or failed status, the log's included
log_deciding as (
    select
        logs.*,
        deciding.status as receipt_status,
        deciding.reported_at as receipt_reported_at,
        deciding.provider as receipt_provider,
        deciding.err_code as receipt_err_code,
        coalesce(
            deciding.message_id is not null
            and (deciding.status <> 'pending' or logs.delivery_status = 'pending'),
            false
        ) as uses_receipt
    from logs
    left join deciding
        on deciding.message_id = logs.message_id
),

log_messages as (
    select
        logs.message_id,
        logs.user_id,
        logs.template_code,
        logs.purpose,
        logs.bill_id,
        logs.content,
        logs.sent_at,
        coalesce(
            case when logs.uses_receipt then logs.receipt_status end, logs.delivery_status
        ) as delivery_status,
        case
            when not logs.uses_receipt then logs.delivered_at
            when logs.receipt_status = 'delivered'
                then coalesce(logs.receipt_reported_at, logs.delivered_at)
        end as delivered_at,
        coalesce(logs.receipt_provider, logs.provider) as provider,
        case when logs.uses_receipt then logs.receipt_err_code else logs.err_code end as err_code,
        logs.segments,
        logs.out_id,
        'log' as origin,
        cast(null as varchar) as retry_of,
        coalesce(per_message.receipts, 0) as receipts,
        per_message.billed_segments,
        logs.delivery_status as log_delivery_status,
        logs._dt,
        logs._file,
        logs._row
    from log_deciding as logs
    left join per_message
        on per_message.message_id = logs.message_id
),

gateway_sends as (
    select
        per_message.message_id,
        logs.user_id,
        logs.template_code,
        logs.purpose,
        logs.bill_id,
        logs.content,
        coalesce(per_message.first_sent_at, logs.sent_at) as sent_at,
        deciding.status as delivery_status,
        case when deciding.status = 'delivered' then deciding.reported_at end as delivered_at,
        deciding.provider,
        deciding.err_code,
        coalesce(per_message.billed_segments, logs.segments) as segments,
        logs.out_id,
        'gateway' as origin,
        per_message.log_message_id as retry_of,
        per_message.receipts,
        per_message.billed_segments,
        cast(null as varchar) as log_delivery_status,
        deciding._dt,
        deciding._file,
        deciding._row
    from per_message
    inner join deciding
        on deciding.message_id = per_message.message_id
    inner join logs
        on logs.message_id = per_message.log_message_id
    where per_message.message_id <> per_message.log_message_id
)

select * from log_messages
union all
select * from gateway_sends
