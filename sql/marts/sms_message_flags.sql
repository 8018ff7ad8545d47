-- mart.sms_message_flags: one row per message of the core messages table (the log's rows with
-- their gateway receipts, and the sends only the gateway knew) with the nine fault flags of
-- metrics.md.
-- Verification messages keep a row but every flag is false; they never count as a "twin",
-- nor towards a user's daily rank. Set-based: lag() for twins, row_number() for the daily
-- cap (on busy user-days only), one join each for opt-outs, consent and promotion keywords,
-- the bill (due date; settlement from mart.bill_state) and the preference row in force.
-- DuckDB idiom: unnest() of the keyword array of mart.run_context (sqlglot: explode).
create or replace table mart.sms_message_flags as
with
settings as (
    select
        duplicate_window_minutes,
        quiet_start_hour,
        quiet_end_hour,
        daily_cap
    from mart.run_context
),

keywords as (
    select unnest(promo_keywords) as keyword
    from mart.run_context
),

-- content stays out of the window sorts below; only the keyword match reads it
source as (
    select
        message_id,
        user_id,
        purpose,
        template_code,
        bill_id,
        sent_at,
        delivery_status,
        delivered_at,
        provider,
        err_code,
        origin
    from core.sms_messages
),

renamed as (
    select
        message_id,
        user_id,
        purpose,
        template_code,
        bill_id,
        sent_at,
        delivery_status,
        delivered_at,
        provider,
        err_code,
        origin,
        purpose <> 'verification' as is_message,
        cast(sent_at at time zone 'Asia/Shanghai' as date) as local_date,
        cast(extract(hour from sent_at at time zone 'Asia/Shanghai') as integer) as local_hour
    from source
),

ranked as (
    select
        renamed.*,
        -- the latest earlier message with the same (user, template, bill); window partitions
        -- group null bill_ids together, which is the spec's "null equals null"
        lag(sent_at) over (
            partition by is_message, user_id, template_code, bill_id
            order by sent_at, message_id
        ) as previous_twin_sent_at
    from renamed
),

-- the smallest daily maximum each user ever set in their own preferences
own_caps as (
    select
        user_id,
        min(max_per_day) as min_max_per_day
    from core.sms_preferences
    where max_per_day is not null
    group by user_id
),

-- the daily rank only matters on user-days with more messages than the cap (or than the
-- user's own smallest maximum): rank those alone (a hash aggregate finds them), not every
-- message
busy_days as (
    select
        renamed.user_id,
        renamed.local_date
    from renamed
    cross join settings
    left join own_caps
        on own_caps.user_id = renamed.user_id
    where renamed.is_message
    group by renamed.user_id, renamed.local_date, settings.daily_cap, own_caps.min_max_per_day
    having count(*) > least(
        settings.daily_cap, coalesce(own_caps.min_max_per_day, settings.daily_cap)
    )
),

busy_day_ranks as (
    select
        renamed.message_id,
        row_number() over (
            partition by renamed.user_id, renamed.local_date
            order by renamed.sent_at, renamed.message_id
        ) as day_rank
    from renamed
    inner join busy_days
        on busy_days.user_id = renamed.user_id
        and busy_days.local_date = renamed.local_date
    where renamed.is_message
),

over_cap as (
    select busy_day_ranks.message_id
    from busy_day_ranks
    cross join settings
    where busy_day_ranks.day_rank > settings.daily_cap
),

first_opt_out as (
    select
        user_id,
        min(received_at) as first_opt_out_at
    from core.opt_outs
    group by user_id
),

consent as (
    select
        user_id,
        marketing_consent
    from core.users
),

service_contents as (
    select
        message_id,
        content
    from core.sms_messages
    where purpose in ('bill_notice', 'due_reminder', 'overdue_collection')
),

bills as (
    select
        bill_id,
        due_date
    from core.bills
),

settlements as (
    select
        bill_id,
        settled_at
    from mart.bill_state
    where settled_at is not null
),

-- each preference row is in force from its updated_at until the user's next row
preferences as (
    select
        user_id,
        updated_at,
        lead(updated_at) over (partition by user_id order by updated_at) as next_updated_at,
        marketing,
        reminders,
        max_per_day,
        quiet_start_hour,
        quiet_end_hour
    from core.sms_preferences
),

promo_hits as (
    select distinct service_contents.message_id
    from service_contents
    inner join keywords
        on position(keywords.keyword in service_contents.content) > 0
    where keywords.keyword <> ''
),

final as (
    select
        ranked.message_id,
        ranked.user_id,
        ranked.purpose,
        ranked.template_code,
        ranked.bill_id,
        ranked.sent_at,
        ranked.local_date,
        ranked.local_hour,
        ranked.delivery_status,
        coalesce(
            ranked.is_message
            and ranked.previous_twin_sent_at
            >= ranked.sent_at - settings.duplicate_window_minutes * interval 1 minute,
            false
        ) as is_duplicate,
        ranked.is_message and case
            when settings.quiet_start_hour > settings.quiet_end_hour
                then ranked.local_hour >= settings.quiet_start_hour
                or ranked.local_hour < settings.quiet_end_hour
            else ranked.local_hour >= settings.quiet_start_hour
                and ranked.local_hour < settings.quiet_end_hour
        end as is_quiet_hours,
        coalesce(
            ranked.purpose = 'marketing' and first_opt_out.first_opt_out_at < ranked.sent_at,
            false
        ) as is_after_opt_out,
        over_cap.message_id is not null as is_over_daily_cap,
        promo_hits.message_id is not null as is_marketing_in_service,
        coalesce(
            ranked.purpose = 'marketing' and not consent.marketing_consent,
            false
        ) as is_marketing_without_consent,
        coalesce(
            ranked.purpose in ('due_reminder', 'overdue_collection')
            and settlements.settled_at < ranked.sent_at,
            false
        ) as is_after_settlement,
        coalesce(
            ranked.purpose = 'overdue_collection' and ranked.local_date <= bills.due_date,
            false
        ) as is_collection_before_due,
        coalesce(
            ranked.is_message
            and (
                (ranked.purpose = 'marketing' and not preferences.marketing)
                or (ranked.purpose = 'due_reminder' and not preferences.reminders)
                or (
                    ranked.purpose in ('marketing', 'due_reminder')
                    and case
                        when preferences.quiet_start_hour > preferences.quiet_end_hour
                            then ranked.local_hour >= preferences.quiet_start_hour
                            or ranked.local_hour < preferences.quiet_end_hour
                        else ranked.local_hour >= preferences.quiet_start_hour
                            and ranked.local_hour < preferences.quiet_end_hour
                    end
                )
                or busy_day_ranks.day_rank > preferences.max_per_day
            ),
            false
        ) as is_against_preference,
        -- delivery as the gateway saw it, and where the message is known (log or gateway)
        ranked.delivered_at,
        ranked.provider,
        ranked.err_code,
        ranked.origin
    from ranked
    cross join settings
    left join first_opt_out
        on first_opt_out.user_id = ranked.user_id
    left join consent
        on consent.user_id = ranked.user_id
    left join promo_hits
        on promo_hits.message_id = ranked.message_id
    left join over_cap
        on over_cap.message_id = ranked.message_id
    left join busy_day_ranks
        on busy_day_ranks.message_id = ranked.message_id
    left join bills
        on bills.bill_id = ranked.bill_id
    left join settlements
        on settlements.bill_id = ranked.bill_id
    left join preferences
        on preferences.user_id = ranked.user_id
        and preferences.updated_at <= ranked.sent_at
        and (preferences.next_updated_at is null or ranked.sent_at < preferences.next_updated_at)
)

select * from final
