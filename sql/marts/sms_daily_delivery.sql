-- mart.sms_daily_delivery: messages and billed segments per local day of sent_at, purpose,
-- provider, delivery status, the user's score band and experiment scope ('*' for every user
-- plus one row per experiment the user is assigned to). The dashboard's SMS operations view
-- reads it for delivery rates per provider and the spend (segments x price per segment).
-- Verification messages are kept (they are billed); the delivery rate leaves them out, as
-- the metric sms_delivery_rate does. A missing segment count is 1 (data contract).
create or replace table mart.sms_daily_delivery as
with
scope_experiments as (
    select distinct
        user_id,
        experiment_id
    from core.experiment_assignments
),

messages as (
    select
        s.user_id,
        cast(s.sent_at at time zone 'Asia/Shanghai' as date) as local_date,
        s.purpose,
        coalesce(s.provider, '') as provider,
        s.delivery_status,
        coalesce(s.segments, 1) as segments,
        u.score_band
    from core.sms_logs as s
    left join core.users as u
        on u.user_id = s.user_id
),

scoped as (
    select
        messages.*,
        '*' as experiment_id
    from messages
    union all
    select
        messages.*,
        scope_experiments.experiment_id
    from messages
    inner join scope_experiments
        on scope_experiments.user_id = messages.user_id
),

final as (
    select
        local_date,
        score_band,
        experiment_id,
        purpose,
        provider,
        delivery_status,
        count(*) as messages,
        cast(sum(segments) as bigint) as segments
    from scoped
    group by local_date, score_band, experiment_id, purpose, provider, delivery_status
)

select * from final
order by local_date
