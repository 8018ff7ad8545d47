-- night_batch (per provider): at least $night_min service messages (bill notices, reminders,
-- collection) in quiet hours within one local clock hour.
insert into alert_hits
with
night as (
    select *
    from alert_flagged
    where
        in_window
        and is_quiet_hours
        and purpose in ('bill_notice', 'due_reminder', 'overdue_collection')
),

batch_hours as (
    select
        provider,
        date_trunc('hour', sent_at) as hour
    from night
    group by all
    having count(*) >= $night_min
)

select
    'night_batch' as kind,
    night.provider as subject,
    night.message_id,
    night.sent_at,
    night.user_id,
    night.template_code,
    night.provider
from night
inner join batch_hours
    on batch_hours.provider = night.provider
    and batch_hours.hour = date_trunc('hour', night.sent_at)
