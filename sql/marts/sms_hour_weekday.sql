-- mart.sms_hour_weekday: messages by purpose (verification included, so the dashboard can
-- choose), local ISO weekday (1 = Monday ... 7 = Sunday) and local hour. The weekday is
-- computed from the day count since Monday 2024-01-01, because dayofweek() numbers days
-- differently in DuckDB and Spark.
create or replace table mart.sms_hour_weekday as
with
messages as (
    select
        purpose,
        local_date,
        local_hour
    from mart.sms_message_flags
),

weekdays as (
    select
        purpose,
        cast(((date_diff('day', date '2024-01-01', local_date) % 7) + 7) % 7 + 1 as integer)
            as local_weekday,
        local_hour
    from messages
),

final as (
    select
        purpose,
        local_weekday,
        local_hour,
        count(*) as messages
    from weekdays
    group by purpose, local_weekday, local_hour
)

select * from final
