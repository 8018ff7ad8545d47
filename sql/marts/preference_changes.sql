-- mart.preference_changes: what users chose in the app's message settings, one row per
-- change (a core.sms_preferences row compared with the user's previous row; the first row
-- with the defaults: marketing on, reminders on, no daily maximum, no quiet window). A row
-- that changes several settings gives several rows; a row that changes nothing gives one
-- row `unchanged`. `value` is the new quiet window ('22-7') or daily maximum. For the
-- dashboard's preference centre; small, rebuilt in full.
create or replace table mart.preference_changes as
with
source as (
    select
        user_id,
        updated_at,
        marketing,
        reminders,
        max_per_day,
        quiet_start_hour,
        quiet_end_hour
    from core.sms_preferences
),

renamed as (
    select
        source.*,
        row_number() over by_user as change_number,
        coalesce(lag(marketing) over by_user, true) as previous_marketing,
        coalesce(lag(reminders) over by_user, true) as previous_reminders,
        lag(max_per_day) over by_user as previous_max_per_day,
        lag(quiet_start_hour) over by_user as previous_quiet_start_hour,
        lag(quiet_end_hour) over by_user as previous_quiet_end_hour
    from source
    window by_user as (partition by user_id order by updated_at)
),

changes as (
    select renamed.*, 'marketing_off' as change, cast(null as varchar) as value
    from renamed
    where previous_marketing and not marketing
    union all
    select renamed.*, 'marketing_on', null
    from renamed
    where not previous_marketing and marketing
    union all
    select renamed.*, 'reminders_off', null
    from renamed
    where previous_reminders and not reminders
    union all
    select renamed.*, 'reminders_on', null
    from renamed
    where not previous_reminders and reminders
    union all
    select
        renamed.*,
        case
            when previous_quiet_start_hour is null then 'quiet_window_set'
            else 'quiet_window_changed'
        end,
        cast(quiet_start_hour as varchar) || '-' || cast(quiet_end_hour as varchar)
    from renamed
    where quiet_start_hour is not null
        and (
            previous_quiet_start_hour is distinct from quiet_start_hour
            or previous_quiet_end_hour is distinct from quiet_end_hour
        )
    union all
    select renamed.*, 'quiet_window_cleared', null
    from renamed
    where quiet_start_hour is null and previous_quiet_start_hour is not null
    union all
    select
        renamed.*,
        case when previous_max_per_day is null then 'daily_max_set' else 'daily_max_changed' end,
        cast(max_per_day as varchar)
    from renamed
    where max_per_day is not null and previous_max_per_day is distinct from max_per_day
    union all
    select renamed.*, 'daily_max_cleared', null
    from renamed
    where max_per_day is null and previous_max_per_day is not null
    union all
    select renamed.*, 'unchanged', null
    from renamed
    where marketing = previous_marketing
        and reminders = previous_reminders
        and max_per_day is not distinct from previous_max_per_day
        and quiet_start_hour is not distinct from previous_quiet_start_hour
        and quiet_end_hour is not distinct from previous_quiet_end_hour
),

final as (
    select
        changes.user_id,
        changes.updated_at,
        cast(changes.updated_at at time zone 'Asia/Shanghai' as date) as local_date,
        changes.change_number,
        changes.change,
        changes.value,
        users.score_band
    from changes
    left join core.users as users
        on users.user_id = changes.user_id
)

select * from final
order by local_date
