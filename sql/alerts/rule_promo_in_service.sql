-- promo_in_service (per template): at least $promo_min messages of one service template
-- carrying a promotion keyword within one local clock hour.
insert into alert_hits
with
promo as (
    select * from alert_flagged where in_window and is_marketing_in_service
),

promo_hours as (
    select
        template_code,
        date_trunc('hour', sent_at) as hour
    from promo
    group by all
    having count(*) >= $promo_min
)

select
    'promo_in_service' as kind,
    promo.template_code as subject,
    promo.message_id,
    promo.sent_at,
    promo.user_id,
    promo.template_code,
    promo.provider
from promo
inner join promo_hours
    on promo_hours.template_code = promo.template_code
    and promo_hours.hour = date_trunc('hour', promo.sent_at)
