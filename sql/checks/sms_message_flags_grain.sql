-- mart.sms_message_flags has one row per message of core.sms_messages (the log's rows with
-- their receipts and the sends only the gateways knew): no message_id twice, and as many rows
-- as core.sms_messages. 0 and 0 when it holds.
select
    (
        select count(*)
        from (
            select message_id
            from mart.sms_message_flags
            group by message_id
            having count(*) > 1
        )
    ) as duplicate_message_ids,
    abs(
        (select count(*) from mart.sms_message_flags) - (select count(*) from core.sms_messages)
    ) as rows_differing_from_messages
