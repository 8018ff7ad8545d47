-- mart.sms_gateway_reconciliation: the send log against the gateways' receipts, per local
-- date (Asia/Shanghai) and provider. A message counts on the local date of its sent_at and
-- under its provider (from its deciding receipt, else the log; 'unknown' when neither says);
-- a receipt counts with its message, an unmatched receipt on the local date of its own send
-- (else receipt) time and under its own provider. Verification messages are included: this
-- is the gateways' bill, not a flag. Columns:
--   log_messages                 rows of core.sms_logs
--   receipts                     receipts (core.sms_receipts), matched_receipts of them belong
--                                to a message, unmatched_receipts match nothing
--   log_messages_with_receipt    log rows with at least one receipt
--   log_messages_without_receipt log rows with none
--   gateway_only_sends           sends the log does not know (retries only the gateway saw)
--   gateway_only_duplicates      of those, the ones flagged is_duplicate
--   contradicted                 logged delivered, the deciding receipt says failed
--   log_segments                 segments of the log rows
--   billed_segments              segments the receipts bill (largest per message; messages
--                                whose receipts carry no segment count add 0)
--   billed_messages              messages whose receipts carry a segment count
create or replace table mart.sms_gateway_reconciliation as
with
messages as (
    select
        messages.message_id,
        cast(messages.sent_at at time zone 'Asia/Shanghai' as date) as local_date,
        coalesce(messages.provider, 'unknown') as provider,
        messages.origin,
        messages.receipts,
        messages.segments,
        messages.billed_segments,
        messages.delivery_status,
        messages.log_delivery_status
    from core.sms_messages as messages
),

duplicates as (
    select message_id
    from mart.sms_message_flags
    where is_duplicate and origin = 'gateway'
),

receipts as (
    select
        coalesce(
            messages.local_date,
            cast(
                coalesce(matches.sent_at, matches.reported_at) at time zone 'Asia/Shanghai'
                as date
            )
        ) as local_date,
        coalesce(messages.provider, matches.provider) as provider,
        matches.message_id is not null as matched
    from core.sms_receipt_matches as matches
    left join messages
        on messages.message_id = matches.message_id
),

message_counts as (
    select
        messages.local_date,
        messages.provider,
        count(*) filter (where messages.origin = 'log') as log_messages,
        count(*) filter (where messages.origin = 'log' and messages.receipts > 0)
            as log_messages_with_receipt,
        count(*) filter (where messages.origin = 'log' and messages.receipts = 0)
            as log_messages_without_receipt,
        count(*) filter (where messages.origin = 'gateway') as gateway_only_sends,
        count(duplicates.message_id) as gateway_only_duplicates,
        count(*) filter (
            where messages.origin = 'log'
            and messages.log_delivery_status = 'delivered'
            and messages.delivery_status = 'failed'
        ) as contradicted,
        coalesce(sum(messages.segments) filter (where messages.origin = 'log'), 0)
            as log_segments,
        coalesce(sum(messages.billed_segments), 0) as billed_segments,
        count(messages.billed_segments) as billed_messages,
        0 as receipts,
        0 as matched_receipts,
        0 as unmatched_receipts
    from messages
    left join duplicates
        on duplicates.message_id = messages.message_id
    group by messages.local_date, messages.provider
),

receipt_counts as (
    select
        local_date,
        provider,
        0 as log_messages,
        0 as log_messages_with_receipt,
        0 as log_messages_without_receipt,
        0 as gateway_only_sends,
        0 as gateway_only_duplicates,
        0 as contradicted,
        0 as log_segments,
        0 as billed_segments,
        0 as billed_messages,
        count(*) as receipts,
        count(*) filter (where matched) as matched_receipts,
        count(*) filter (where not matched) as unmatched_receipts
    from receipts
    group by local_date, provider
),

combined as (
    select * from message_counts
    union all
    select * from receipt_counts
)

select
    local_date,
    provider,
    cast(sum(log_messages) as bigint) as log_messages,
    cast(sum(receipts) as bigint) as receipts,
    cast(sum(matched_receipts) as bigint) as matched_receipts,
    cast(sum(unmatched_receipts) as bigint) as unmatched_receipts,
    cast(sum(log_messages_with_receipt) as bigint) as log_messages_with_receipt,
    cast(sum(log_messages_without_receipt) as bigint) as log_messages_without_receipt,
    cast(sum(gateway_only_sends) as bigint) as gateway_only_sends,
    cast(sum(gateway_only_duplicates) as bigint) as gateway_only_duplicates,
    cast(sum(contradicted) as bigint) as contradicted,
    cast(sum(log_segments) as bigint) as log_segments,
    cast(sum(billed_segments) as bigint) as billed_segments,
    cast(sum(billed_messages) as bigint) as billed_messages
from combined
group by local_date, provider
