-- Delivered and failed messages per provider and clock hour over those dates, straight from
-- core.sms_logs (one scan, no join); pending ones have no receipt yet and count in neither.
-- $sent_from / $sent_before bound those dates' send times: DuckDB skips the log's row groups
-- outside them by their min/max (the date test below stays exact).
create or replace temp table alert_provider_hours as
with
sms as (
    select
        coalesce(provider, 'unknown') as provider,
        sent_at,
        delivery_status,
        cast(sent_at at time zone 'Asia/Shanghai' as date) as local_date
    from core.sms_logs
    where sent_at >= $sent_from and sent_at < $sent_before
)

select
    provider,
    date_trunc('hour', sent_at) as hour,
    count(*) filter (where delivery_status = 'delivered') as delivered,
    count(*) filter (where delivery_status = 'failed') as failed,
    bool_or(local_date in (select local_date from alert_window)) as in_window
from sms
where local_date in (select local_date from alert_dates)
group by all
