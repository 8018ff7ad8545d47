-- mart.duplicate_incidents: runs of consecutive local clock hours where the duplicate rate
-- jumps, as a gateway or scheduler fault shows up. An hour is anomalous when it holds at
-- least incident_min_duplicates duplicate messages and its duplicate rate is at least
-- incident_rate_multiple times the duplicate rate of all *other* hours together (both
-- settings in mart.run_context; leaving the hour out keeps a large incident from raising its
-- own bar). Consecutive anomalous hours form one incident. Per incident:
-- started_at / ended_at = first and last duplicate send, messages = all messages of its
-- hours, duplicate_messages, duplicate_rate, users with a duplicate, and the sorted template
-- codes of its duplicates, and gateway_duplicates: its duplicates that only the gateways'
-- receipts show (sends the log does not know). Verification messages are left out as
-- everywhere.
-- DuckDB idiom: list_sort(array_agg(distinct ...)) (sqlglot: array_sort(collect_list(...))).
create or replace table mart.duplicate_incidents as
with
settings as (
    select
        incident_min_duplicates,
        incident_rate_multiple
    from mart.run_context
),

-- every hour's counts, from the four columns they need: the messages' other columns are read
-- for the anomalous hours only (a CTE of every message with all of them was held whole)
hours as (
    select
        local_date,
        date_diff('day', date '2000-01-01', local_date) * 24 + local_hour as hour_index,
        count(*) as messages,
        sum(case when is_duplicate then 1 else 0 end) as duplicate_messages
    from mart.sms_message_flags
    where purpose <> 'verification'
    group by local_date, local_hour
),

totals as (
    select
        sum(messages) as messages,
        sum(duplicate_messages) as duplicate_messages
    from hours
),

anomalous as (
    select
        hours.local_date,
        hours.hour_index,
        hours.hour_index - row_number() over (order by hours.hour_index) as island
    from hours
    cross join settings
    cross join totals
    where hours.duplicate_messages >= settings.incident_min_duplicates
        and cast(hours.duplicate_messages as double) / hours.messages
        >= settings.incident_rate_multiple * coalesce(
            cast(totals.duplicate_messages - hours.duplicate_messages as double)
            / nullif(totals.messages - hours.messages, 0),
            0
        )
),

incident_messages as (
    select
        anomalous.island,
        messages.*
    from (
        select
            user_id,
            template_code,
            sent_at,
            is_duplicate,
            origin,
            date_diff('day', date '2000-01-01', local_date) * 24 + local_hour as hour_index
        from mart.sms_message_flags
        where
            purpose <> 'verification'
            and local_date in (select local_date from anomalous)
    ) as messages
    inner join anomalous
        on anomalous.hour_index = messages.hour_index
),

incidents as (
    select
        island,
        min(case when is_duplicate then sent_at end) as started_at,
        max(case when is_duplicate then sent_at end) as ended_at,
        count(*) as messages,
        sum(case when is_duplicate then 1 else 0 end) as duplicate_messages,
        count(distinct case when is_duplicate then user_id end) as users,
        list_sort(array_agg(distinct template_code) filter (where is_duplicate))
            as templates,
        sum(case when is_duplicate and origin = 'gateway' then 1 else 0 end)
            as gateway_duplicates
    from incident_messages
    group by island
),

final as (
    select
        cast(row_number() over (order by started_at, island) as integer) as incident_id,
        started_at,
        ended_at,
        messages,
        duplicate_messages,
        cast(duplicate_messages as double) / messages as duplicate_rate,
        users,
        templates,
        gateway_duplicates
    from incidents
)

select * from final
