-- core.sms_messages: the messages as the gateways saw them. Every core.sms_logs row, with
-- delivery_status, delivered_at, err_code and provider taken from its deciding receipt (the
-- latest by receipt time; a pending receipt only when it has no other, and never over a
-- delivered or failed log status), and every send the
-- log does not know (origin 'gateway': a retry of the log row retry_of, with that row's user,
-- template, bill, purpose and content, sent at its first receipt's send time). A message
-- without a receipt keeps the log's values. The marts read this table, not core.sms_logs.
create or replace table core.sms_messages as
with
-- Only the columns used below are read: this query runs over every message of the warehouse
-- on a full build, and what a CTE materialises it holds in memory (`logs`, read twice, is
-- inlined for that reason: holding every log row with its content spilled to disk).
matches as not materialized (
    select
        receipt_id,
        message_id,
        log_message_id,
        status,
        reported_at,
        sent_at,
        segments,
        provider,
        err_code,
        _dt,
        _file,
        _row
    from core.sms_receipt_matches
    where message_id is not null
),

-- the messages with more than one receipt: only theirs need ordering and counting; a message
-- with one receipt (nearly all) is decided by that receipt
multi as (
    select message_id
    from matches
    group by message_id
    having count(*) > 1
),

-- per message with a receipt: the deciding receipt (the latest by receipt time; a pending one
-- only when the message has no other) with its log row, the number of receipts, the first
-- send time and the billed segments
per_message as (
    select
        message_id,
        log_message_id,
        1::bigint as receipts,
        coalesce(sent_at, reported_at) as first_sent_at,
        segments as billed_segments,
        status,
        reported_at,
        provider,
        err_code,
        _dt,
        _file,
        _row
    from matches
    anti join multi using (message_id)
    union all
    select
        message_id,
        log_message_id,
        receipts,
        first_sent_at,
        billed_segments,
        status,
        reported_at,
        provider,
        err_code,
        _dt,
        _file,
        _row
    from (
        select
            matches.*,
            count(*) over per_id as receipts,
            min(coalesce(matches.sent_at, matches.reported_at)) over per_id as first_sent_at,
            max(matches.segments) over per_id as billed_segments,
            row_number() over (
                partition by matches.message_id
                order by matches.status = 'pending', matches.reported_at desc nulls last,
                    matches.receipt_id desc
            ) as receipt_rank
        from matches
        semi join multi using (message_id)
        window per_id as (partition by matches.message_id)
    )
    where receipt_rank = 1
),

logs as not materialized (
    select * from core.sms_logs
),

-- every log row with its deciding receipt, if any; the receipt decides the delivery unless it
-- is pending: a pending receipt never replaces a delivered or failed status, the log's included
log_deciding as (
    select
        logs.*,
        per_message.status as receipt_status,
        per_message.reported_at as receipt_reported_at,
        per_message.provider as receipt_provider,
        per_message.err_code as receipt_err_code,
        per_message.receipts,
        per_message.billed_segments,
        coalesce(
            per_message.message_id is not null
            and (per_message.status <> 'pending' or logs.delivery_status = 'pending'),
            false
        ) as uses_receipt
    from logs
    left join per_message
        on per_message.message_id = logs.message_id
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
        coalesce(logs.receipts, 0) as receipts,
        logs.billed_segments,
        logs.delivery_status as log_delivery_status,
        logs._dt,
        logs._file,
        logs._row
    from log_deciding as logs
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
        per_message.status as delivery_status,
        case when per_message.status = 'delivered' then per_message.reported_at end
            as delivered_at,
        per_message.provider,
        per_message.err_code,
        coalesce(per_message.billed_segments, logs.segments) as segments,
        logs.out_id,
        'gateway' as origin,
        per_message.log_message_id as retry_of,
        per_message.receipts,
        per_message.billed_segments,
        cast(null as varchar) as log_delivery_status,
        per_message._dt,
        per_message._file,
        per_message._row
    from per_message
    inner join logs
        on logs.message_id = per_message.log_message_id
    where per_message.message_id <> per_message.log_message_id
)

select * from log_messages
union all
select * from gateway_sends
