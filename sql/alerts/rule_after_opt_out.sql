-- after_opt_out: marketing sent after the user's opt-out, a compliance breach; at least
-- $opt_out_min (default 1) such messages within one local clock hour.
insert into alert_hits
with
breach as (
    select * from alert_flagged where in_window and is_after_opt_out
),

breach_hours as (
    select date_trunc('hour', sent_at) as hour
    from breach
    group by all
    having count(*) >= $opt_out_min
)

select
    'after_opt_out' as kind,
    'all' as subject,
    breach.message_id,
    breach.sent_at,
    breach.user_id,
    breach.template_code,
    breach.provider
from breach
inner join breach_hours
    on breach_hours.hour = date_trunc('hour', breach.sent_at)
