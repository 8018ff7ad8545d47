-- The flagged or failed messages of those dates (from mart.sms_message_flags, with the
-- provider from core.sms_logs); in_window marks the dates the run loaded. $first_date /
-- $last_date bound those dates (a constant filter of the flags' scan), and $sent_from /
-- $sent_before the send times they cover (the log's: a log row's send time is its flags row's,
-- so its local date is one of those dates). DuckDB skips the log's row groups outside that
-- range by their min/max, where a plain join by message id read all its ids (0.4-0.65 → 0.17
-- CPU-s a day at m). A send the log does not know (a gateway's own retry, origin 'gateway')
-- has the provider of its receipts, as in the flags: 'unknown' put every gateway's retries
-- under one subject the log has no name for.
create or replace temp table alert_flagged as
with
flags as (
    select
        message_id,
        user_id,
        purpose,
        template_code,
        sent_at,
        local_date,
        delivery_status,
        is_duplicate,
        is_quiet_hours,
        is_after_opt_out,
        is_over_daily_cap,
        is_marketing_in_service,
        provider as receipt_provider
    from mart.sms_message_flags
    where
        local_date between $first_date and $last_date
        and local_date in (select local_date from alert_dates)
        and (
            is_duplicate
            or is_quiet_hours
            or is_after_opt_out
            or is_over_daily_cap
            or is_marketing_in_service
            or delivery_status = 'failed'
        )
)

select
    flags.* exclude (receipt_provider),
    coalesce(sms.provider, flags.receipt_provider, 'unknown') as provider,
    flags.local_date in (select local_date from alert_window) as in_window
from flags
left join (
    select
        message_id,
        provider
    from core.sms_logs
    where sent_at >= $sent_from and sent_at < $sent_before
) as sms
    on sms.message_id = flags.message_id
