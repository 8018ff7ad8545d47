-- delivery_drop (per provider): an hour with at least $delivery_min messages with a receipt
-- whose delivery rate is below $delivery_fraction of the provider's rate over the 168 hours
-- before it (which also needs $delivery_min receipts). Its messages: the failed ones.
insert into alert_hits
with
rolling as (
    select
        provider,
        hour,
        delivered,
        failed,
        in_window,
        sum(delivered) over trailing_week as base_delivered,
        sum(delivered + failed) over trailing_week as base_decided
    from alert_provider_hours
    window trailing_week as (
        partition by provider order by hour
        range between interval 168 hours preceding and interval 1 hour preceding
    )
),

drop_hours as (
    select
        provider,
        hour
    from rolling
    where
        in_window
        and delivered + failed >= $delivery_min
        and base_decided >= $delivery_min
        and delivered / (delivered + failed)
        < $delivery_fraction * base_delivered / base_decided
)

select
    'delivery_drop' as kind,
    alert_flagged.provider as subject,
    alert_flagged.message_id,
    alert_flagged.sent_at,
    alert_flagged.user_id,
    alert_flagged.template_code,
    alert_flagged.provider
from alert_flagged
inner join drop_hours
    on drop_hours.provider = alert_flagged.provider
    and drop_hours.hour = date_trunc('hour', alert_flagged.sent_at)
where alert_flagged.delivery_status = 'failed'
