-- Delivered and failed messages per provider and clock hour over those dates (pending ones
-- have no receipt yet and count in neither).
create or replace temp table alert_provider_hours as
select
    coalesce(sms.provider, 'unknown') as provider,
    date_trunc('hour', flags.sent_at) as hour,
    count(*) filter (where flags.delivery_status = 'delivered') as delivered,
    count(*) filter (where flags.delivery_status = 'failed') as failed,
    bool_or(flags.local_date in (select local_date from alert_window)) as in_window
from mart.sms_message_flags as flags
left join core.sms_logs as sms
    on sms.message_id = flags.message_id
where flags.local_date in (select local_date from alert_dates)
group by all
