-- What the five filters remove, per filter set, calendar month and score band ('?' = unknown
-- user), from mart.sms_daily_flags; with what each filter removes alone (which is also what it
-- flags, the share the pricing divides by) and the other flagged totals (the same for every
-- set). Every message is removed at most once, by
-- the first filter in attribution order (compliance, the user's own settings, after
-- settlement, duplicates, quiet hours; pipelines/whatif/rules.py). What the caps remove after
-- the filters is sql/whatif/cap_counts.sql; pipelines/whatif/engine.count combines the two per
-- policy. Parameters: the scope ($start, $end, $bands, $experiment) and $filter_sets, the filter
-- bit sets to count.
with
in_scope as (
    select *
    from mart.sms_daily_flags
    where local_date between $start and $end
        and experiment_id = coalesce($experiment, '*')
        and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], score_band))
),

flags as (
    select
        strftime(local_date, '%Y-%m') as month,
        coalesce(score_band, '?') as band_key,
        (case when is_after_opt_out or is_marketing_without_consent then 1 else 0 end)
        + (case when is_duplicate then 2 else 0 end)
        + (case when is_quiet_hours then 4 else 0 end)
        + (case when is_against_preference then 8 else 0 end)
        + (case when is_after_settlement then 16 else 0 end) as bits,
        is_after_opt_out,
        is_over_daily_cap,
        is_marketing_in_service,
        purpose = 'marketing' as is_marketing,
        sum(messages) as messages
    from in_scope
    group by all
),

filtered as (
    select
        s.set_filters,
        f.*,
        case
            when s.set_filters & f.bits & 1 = 1 then 'compliance'
            when s.set_filters & f.bits & 8 = 8 then 'user_settings'
            when s.set_filters & f.bits & 16 = 16 then 'after_settlement'
            when s.set_filters & f.bits & 2 = 2 then 'duplicates'
            when s.set_filters & f.bits & 4 = 4 then 'quiet_hours'
        end as by_filter
    from (select distinct unnest($filter_sets) as set_filters) as s
    cross join flags as f
)

select
    set_filters,
    month,
    band_key,
    cast(sum(messages) as bigint) as messages,
    cast(coalesce(sum(messages) filter (where bits & 1 = 1), 0) as bigint) as alone_compliance,
    cast(coalesce(sum(messages) filter (where bits & 2 = 2), 0) as bigint) as alone_duplicates,
    cast(coalesce(sum(messages) filter (where bits & 4 = 4), 0) as bigint) as alone_quiet_hours,
    cast(coalesce(sum(messages) filter (where bits & 8 = 8), 0) as bigint)
        as alone_user_settings,
    cast(coalesce(sum(messages) filter (where bits & 16 = 16), 0) as bigint)
        as alone_after_settlement,
    cast(coalesce(sum(messages) filter (where is_marketing_in_service), 0) as bigint)
        as alone_promo,
    cast(coalesce(sum(messages) filter (where by_filter = 'compliance'), 0) as bigint)
        as removed_compliance,
    cast(coalesce(sum(messages) filter (where by_filter = 'duplicates'), 0) as bigint)
        as removed_duplicates,
    cast(coalesce(sum(messages) filter (where by_filter = 'quiet_hours'), 0) as bigint)
        as removed_quiet_hours,
    cast(coalesce(sum(messages) filter (where by_filter = 'user_settings'), 0) as bigint)
        as removed_user_settings,
    cast(coalesce(sum(messages) filter (where by_filter = 'after_settlement'), 0) as bigint)
        as removed_after_settlement,
    cast(coalesce(sum(messages) filter (
        where by_filter is not null and is_marketing and not is_after_opt_out
    ), 0) as bigint) as removed_marketing_reachable,
    cast(coalesce(sum(messages) filter (
        where by_filter is null and is_marketing_in_service
    ), 0) as bigint) as promo_after_filters,
    cast(coalesce(sum(messages) filter (where is_over_daily_cap), 0) as bigint)
        as flagged_daily_cap,
    cast(coalesce(sum(messages) filter (
        where is_over_daily_cap and is_marketing and not is_after_opt_out
    ), 0) as bigint) as flagged_daily_cap_marketing,
    cast(coalesce(sum(messages) filter (where is_marketing or is_marketing_in_service), 0)
        as bigint) as flagged_promo,
    cast(coalesce(sum(messages) filter (where is_marketing and not is_after_opt_out), 0)
        as bigint) as marketing_reachable
from filtered
group by set_filters, month, band_key
order by set_filters, month, band_key
