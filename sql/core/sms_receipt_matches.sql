-- core.sms_receipt_matches: every receipt of core.sms_receipts with the message it belongs to
-- (shared spec sms-receipts.md, "How a receipt maps onto sms_logs").
-- matched_by: 'gateway_id' (its gateway id is a log row's message_id), 'out_id' (the caller's
-- id of a log row), 'none' (unmatched: kept, message_id null). message_id is the log row's id,
-- or for a send the log does not know the receipt's gateway id (QuerySendDetails, which has
-- none: 'gw-' || md5(log row id | send time in epoch ms), its digits spelled g-p). Phone numbers are never here.
create or replace table core.sms_receipt_matches as
with
receipts as not materialized (
    select
        receipt_id,
        provider,
        receipt_format,
        gateway_id,
        out_id,
        status,
        err_code,
        sent_at,
        reported_at,
        segments,
        _dt,
        _file,
        _row
    from core.sms_receipts
),

logs as not materialized (
    select
        message_id,
        out_id,
        sent_at
    from core.sms_logs
),

by_gateway as (
    select
        receipts.receipt_id,
        logs.message_id as log_message_id
    from receipts
    inner join logs
        on logs.message_id = receipts.gateway_id
),

-- not matched by gateway id: the log row with the caller's id (the one sent closest to the
-- receipt's send time, should several rows share the id). The anti join comes first: most
-- receipts carry both ids, and joining them by caller's id before dropping them cost twice.
by_out_id as (
    select
        receipts.receipt_id,
        logs.message_id as log_message_id,
        logs.sent_at as log_sent_at
    from receipts
    anti join by_gateway
        on by_gateway.receipt_id = receipts.receipt_id
    inner join logs
        on logs.out_id = receipts.out_id
    qualify row_number() over (
        partition by receipts.receipt_id
        order by
            abs(epoch(coalesce(receipts.sent_at, receipts.reported_at)) - epoch(logs.sent_at))
            nulls last,
            logs.message_id
    ) = 1
),

-- the sends of each log row known by gateway id (the row itself, and retries matched by the
-- caller's id), with the gateway's send time
known_sends as (
    select distinct
        coalesce(by_gateway.log_message_id, by_out_id.log_message_id) as log_message_id,
        receipts.gateway_id as message_id,
        receipts.sent_at as send_time
    from receipts
    left join by_gateway
        on by_gateway.receipt_id = receipts.receipt_id
    left join by_out_id
        on by_out_id.receipt_id = receipts.receipt_id
    where receipts.gateway_id is not null
        and receipts.sent_at is not null
        and (by_gateway.receipt_id is not null or by_out_id.receipt_id is not null)
),

-- a record without a gateway id sent at the very time of a send known by gateway id (of the
-- same log row) is a receipt of that send
aligned as (
    select
        by_out_id.receipt_id,
        known_sends.message_id
    from by_out_id
    inner join receipts
        on receipts.receipt_id = by_out_id.receipt_id
    inner join known_sends
        on known_sends.log_message_id = by_out_id.log_message_id
        and known_sends.send_time = receipts.sent_at
    where receipts.gateway_id is null
    qualify row_number() over (
        partition by by_out_id.receipt_id order by known_sends.message_id
    ) = 1
),

-- QuerySendDetails (no gateway id), the other records: records of one caller's id with
-- different send times are distinct sends; the one sent closest to the log row's sent_at is
-- that row
id_less_sends as (
    select
        log_message_id,
        send_time,
        row_number() over (
            partition by log_message_id
            order by coalesce(abs(epoch(send_time) - epoch(log_sent_at)), 0), send_time nulls first
        ) as send_rank
    from (
        select distinct
            by_out_id.log_message_id,
            by_out_id.log_sent_at,
            receipts.sent_at as send_time
        from by_out_id
        inner join receipts
            on receipts.receipt_id = by_out_id.receipt_id
        where receipts.gateway_id is null
            and by_out_id.receipt_id not in (select aligned.receipt_id from aligned)
    )
),

final as (
    select
        receipts.receipt_id,
        receipts.provider,
        receipts.receipt_format,
        receipts.gateway_id,
        receipts.out_id,
        receipts.status,
        receipts.err_code,
        receipts.sent_at,
        receipts.reported_at,
        receipts.segments,
        coalesce(by_gateway.log_message_id, by_out_id.log_message_id) as log_message_id,
        case
            when by_gateway.receipt_id is not null then 'gateway_id'
            when by_out_id.receipt_id is not null then 'out_id'
            else 'none'
        end as matched_by,
        case
            when by_gateway.receipt_id is not null then by_gateway.log_message_id
            when by_out_id.receipt_id is null then null
            when receipts.gateway_id is not null then receipts.gateway_id
            when aligned.receipt_id is not null then aligned.message_id
            when id_less_sends.send_rank = 1 then by_out_id.log_message_id
            else 'gw-' || translate(
                md5(
                    by_out_id.log_message_id || '|'
                    || coalesce(cast(epoch_ms(receipts.sent_at) as varchar), '')
                ),
                '0123456789',
                'ghijklmnop'
            )
        end as message_id,
        receipts._dt,
        receipts._file,
        receipts._row
    from receipts
    left join by_gateway
        on by_gateway.receipt_id = receipts.receipt_id
    left join by_out_id
        on by_out_id.receipt_id = receipts.receipt_id
    left join aligned
        on aligned.receipt_id = receipts.receipt_id
    left join id_less_sends
        on receipts.gateway_id is null
        and aligned.receipt_id is null
        and id_less_sends.log_message_id = by_out_id.log_message_id
        and id_less_sends.send_time is not distinct from receipts.sent_at
)

select
    *,
    coalesce(message_id <> log_message_id, false) as is_new_send
from final
