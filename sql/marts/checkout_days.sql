-- mart_int.checkout_days (intermediate, not published): checkout sessions per local date of
-- started_at and segment ('all', 'bnpl_offered=true', 'bnpl_offered=false'), with the counts
-- the checkout family of mart.metrics divides. A date's rows are a function of the sessions
-- started on that date only, so an incremental build recomputes just the dates whose sessions
-- changed (pipelines.marts.by_date).
create or replace table mart_int.checkout_days as
with
source as (
    select
        started_at,
        bnpl_offered,
        status,
        payment_method
    from core.checkout_sessions
),

renamed as (
    select
        cast(started_at at time zone 'Asia/Shanghai' as date) as local_date,
        bnpl_offered,
        status = 'completed' as is_completed,
        status = 'completed' and bnpl_offered as is_offered_completion,
        status = 'completed' and bnpl_offered
        and payment_method in ('bnpl', 'bnpl_installment') as is_bnpl_take
    from source
),

segmented as (
    select 'all' as segment, renamed.* from renamed
    union all
    select
        case when bnpl_offered then 'bnpl_offered=true' else 'bnpl_offered=false' end,
        renamed.*
    from renamed
    where bnpl_offered is not null
)

select
    local_date,
    segment,
    count(*) as sessions,
    sum(case when is_completed then 1 else 0 end) as completed,
    sum(case when is_offered_completion then 1 else 0 end) as offered_completions,
    sum(case when is_bnpl_take then 1 else 0 end) as bnpl_takes
from segmented
group by local_date, segment
