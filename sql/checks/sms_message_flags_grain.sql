-- mart.sms_message_flags has one row per message of core.sms_messages (the log's rows with
-- their receipts and the sends only the gateways knew): no message_id twice, and as many rows
-- as core.sms_messages. 0 and 0 when it holds.
--
-- $scoped: false looks at every message. true looks only at the messages of the local dates in
-- the temp table check_dates (the dates the change log names for the flags since the last
-- publish, which passed this check): every row written since then is on one of those dates,
-- so a message_id that is there twice has a row there, and its other rows are found wherever
-- they are. The row count is always compared in full.
select
    (
        select count(*)
        from (
            select message_id
            from mart.sms_message_flags
            where
                not $scoped
                or message_id in (
                    select message_id
                    from mart.sms_message_flags
                    where local_date in (select d from check_dates)
                )
            group by message_id
            having count(*) > 1
        )
    ) as duplicate_message_ids,
    abs(
        (select count(*) from mart.sms_message_flags) - (select count(*) from core.sms_messages)
    ) as rows_differing_from_messages
