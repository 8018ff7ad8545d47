-- mart.metrics, bill family (period = month of due_date): bills_due, on_time_rate,
-- dpd7/30/90_rate, fpd30_rate, cure_rate_30. Segments: all and score_band=<band>
-- (bills of users without a known band count only in 'all'). Rates need a denominator > 0.
insert into mart.metrics
with
bills as (
    select
        cast(date_trunc('month', due_date) as date) as period,
        score_band,
        on_time,
        dpd7,
        dpd30,
        dpd90,
        is_first_bill
    from mart.bill_state
),

segmented as (
    select 'all' as segment, bills.* from bills
    union all
    select 'score_band=' || score_band as segment, bills.* from bills
    where score_band is not null
),

aggregated as (
    select
        period,
        segment,
        count(*) as bills_due,
        count(on_time) as on_time_n,
        sum(case when on_time then 1 else 0 end) as on_time_k,
        count(dpd7) as dpd7_n,
        sum(case when dpd7 then 1 else 0 end) as dpd7_k,
        count(dpd30) as dpd30_n,
        sum(case when dpd30 then 1 else 0 end) as dpd30_k,
        count(dpd90) as dpd90_n,
        sum(case when dpd90 then 1 else 0 end) as dpd90_k,
        sum(case when is_first_bill and dpd30 is not null then 1 else 0 end) as fpd30_n,
        sum(case when is_first_bill and dpd30 then 1 else 0 end) as fpd30_k,
        -- matured for 30 implies due_date < as_of, so on_time is defined on these bills
        sum(case when dpd30 is not null and not on_time then 1 else 0 end) as cure_n,
        sum(case when dpd30 is not null and not on_time and not dpd30 then 1 else 0 end)
            as cure_k
    from segmented
    group by period, segment
),

final as (
    select 'bills_due' as metric, period, segment,
        bills_due as numerator, cast(null as bigint) as denominator
    from aggregated where segment = 'all'
    union all
    select 'on_time_rate', period, segment, on_time_k, on_time_n
    from aggregated where on_time_n > 0
    union all
    select 'dpd7_rate', period, segment, dpd7_k, dpd7_n
    from aggregated where dpd7_n > 0
    union all
    select 'dpd30_rate', period, segment, dpd30_k, dpd30_n
    from aggregated where dpd30_n > 0
    union all
    select 'dpd90_rate', period, segment, dpd90_k, dpd90_n
    from aggregated where dpd90_n > 0
    union all
    select 'fpd30_rate', period, segment, fpd30_k, fpd30_n
    from aggregated where fpd30_n > 0
    union all
    select 'cure_rate_30', period, segment, cure_k, cure_n
    from aggregated where cure_n > 0 and segment = 'all'
)

select
    metric,
    'month' as grain,
    period,
    segment,
    case
        when denominator is null then cast(numerator as double)
        else cast(numerator as double) / denominator
    end as value,
    cast(numerator as double) as numerator,
    cast(denominator as double) as denominator
from final
