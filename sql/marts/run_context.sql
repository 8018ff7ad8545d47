-- mart.run_context: one row with as_of and the settings this build used.
-- The only file that takes parameters; every other mart file reads the settings by joining
-- this table, so those files stay parameter-free and transpile to Spark as they are.
-- DuckDB-specific: named parameters ($name) and the VARCHAR[] keyword list.
create or replace table mart.run_context as
with
source as (
    select dt, status
    from ingest.file_ledger
),

loaded as (
    select max(dt) as as_of
    from source
    where status = 'loaded'
)

select
    as_of,
    cast($duplicate_window_minutes as integer) as duplicate_window_minutes,
    cast($quiet_start_hour as integer) as quiet_start_hour,
    cast($quiet_end_hour as integer) as quiet_end_hour,
    cast($daily_cap as integer) as daily_cap,
    cast($promo_keywords as varchar[]) as promo_keywords,
    cast($incident_min_duplicates as integer) as incident_min_duplicates,
    cast($incident_rate_multiple as double) as incident_rate_multiple
from loaded
