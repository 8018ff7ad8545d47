-- The newest loaded_at of the ledger and the newest send of the data ("now" in data time).
select
    (select max(loaded_at) from ingest.file_ledger) as loaded_through,
    (select max(sent_at) from mart.sms_message_flags) as data_now
