-- mart_int.sms_user_days (intermediate, not published): messages (verification left out)
-- per user and local date, with the counts user_cycle sums over a bill's window. One row per (user_id, local_date) that has
-- messages; every value is a function of the flags rows of that user and date only, so an
-- incremental build recomputes just the rows of the dates and users whose flags it updated
-- (pipelines.marts.state).
create or replace table mart_int.sms_user_days as
select
    user_id,
    local_date,
    count(*) as total_sms,
    cast(sum(
        case when purpose = 'marketing' and delivery_status = 'delivered' then 1 else 0 end
    ) as bigint) as marketing_sms,
    cast(sum(case when is_duplicate then 1 else 0 end) as bigint) as duplicate_sms,
    cast(sum(case when is_quiet_hours then 1 else 0 end) as bigint) as quiet_hours_sms,
    -- for the preference centre (mart.preference_users)
    cast(sum(case when is_against_preference then 1 else 0 end) as bigint)
        as against_preference_sms
from mart.sms_message_flags
where purpose <> 'verification'
group by user_id, local_date
