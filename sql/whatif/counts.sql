-- What each policy removes, per policy, calendar month and score band ('?' = unknown user),
-- summed from two small marts (mart.sms_daily_flags, mart.policy_cap_histogram; see its
-- header for what a histogram row means). Every message is removed at most once, by the first
-- rule in attribution order (compliance, the user's own settings, after settlement,
-- duplicates, quiet hours, reminder cap, daily cap; pipelines/whatif/rules.py).
-- Parameters: the scope ($start, $end, $bands, $experiment), the policies as parallel lists
-- ($policy_ids, $filters = filter bits, $daily_caps, 0 = none) and their reminder caps per
-- band ($cap_policy, $cap_band, $cap_value: the histogram's cap, notice included, 0 = none),
-- and $filters_read: the filter sets of the policies and 0. A histogram row applies to filter
-- set P when its `filters` = P & its `mask`.
with
policies as (
    select
        unnest($policy_ids) as policy,
        unnest($filters) as filters,
        unnest($daily_caps) as daily_cap
),

band_caps as (
    select
        unnest($cap_policy) as policy,
        unnest($cap_band) as band_key,
        unnest($cap_value) as reminder_cap
),

reads as (
    select distinct unnest($filters_read) as read_filters
),

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

caps as (
    select
        strftime(local_date, '%Y-%m') as month,
        coalesce(score_band, '?') as band_key,
        kind,
        mask,
        filters,
        reminder_cap,
        rank,
        sum(units) as units,
        sum(total) as total,
        sum(promo) as promo
    from mart.policy_cap_histogram
    where local_date between $start and $end
        and experiment_id = coalesce($experiment, '*')
        and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], score_band))
        and exists (
            select 1
            from reads
            where reads.read_filters & policy_cap_histogram.mask = policy_cap_histogram.filters
        )
    group by all
),

filtered as (
    select
        p.policy,
        f.*,
        case
            when p.filters & f.bits & 1 = 1 then 'compliance'
            when p.filters & f.bits & 8 = 8 then 'user_settings'
            when p.filters & f.bits & 16 = 16 then 'after_settlement'
            when p.filters & f.bits & 2 = 2 then 'duplicates'
            when p.filters & f.bits & 4 = 4 then 'quiet_hours'
        end as by_filter
    from policies as p
    cross join flags as f
),

by_filters as (
    select
        policy,
        month,
        band_key,
        sum(messages) as messages,
        sum(messages) filter (where bits & 1 = 1) as alone_compliance,
        sum(messages) filter (where bits & 2 = 2) as alone_duplicates,
        sum(messages) filter (where bits & 4 = 4) as alone_quiet_hours,
        sum(messages) filter (where bits & 8 = 8) as alone_user_settings,
        sum(messages) filter (where bits & 16 = 16) as alone_after_settlement,
        sum(messages) filter (where is_marketing_in_service) as alone_promo,
        sum(messages) filter (where by_filter = 'compliance') as removed_compliance,
        sum(messages) filter (where by_filter = 'duplicates') as removed_duplicates,
        sum(messages) filter (where by_filter = 'quiet_hours') as removed_quiet_hours,
        sum(messages) filter (where by_filter = 'user_settings') as removed_user_settings,
        sum(messages) filter (where by_filter = 'after_settlement') as removed_after_settlement,
        sum(messages) filter (
            where by_filter is not null and is_marketing and not is_after_opt_out
        ) as removed_marketing_reachable,
        sum(messages) filter (where by_filter is null and is_marketing_in_service)
            as promo_after_filters,
        sum(messages) filter (where bits & 1 = 1) as flagged_compliance,
        sum(messages) filter (where bits & 2 = 2) as flagged_duplicates,
        sum(messages) filter (where bits & 4 = 4) as flagged_quiet_hours,
        sum(messages) filter (where bits & 8 = 8) as flagged_user_settings,
        sum(messages) filter (where bits & 16 = 16) as flagged_after_settlement,
        sum(messages) filter (where is_over_daily_cap) as flagged_daily_cap,
        sum(messages) filter (where is_over_daily_cap and is_marketing and not is_after_opt_out)
            as flagged_daily_cap_marketing,
        sum(messages) filter (where is_marketing or is_marketing_in_service) as flagged_promo,
        sum(messages) filter (where is_marketing and not is_after_opt_out) as marketing_reachable
    from filtered
    group by policy, month, band_key
),

by_caps as (
    select
        p.policy,
        c.month,
        c.band_key,
        sum(c.units) filter (
            where c.kind = 'reminder' and c.filters = 0
            and coalesce(b.reminder_cap, 0) > 0 and c.rank > b.reminder_cap
        ) as alone_reminder_cap,
        sum(c.units) filter (
            where c.kind = 'reminder' and c.filters = p.filters & c.mask
            and coalesce(b.reminder_cap, 0) > 0 and c.rank > b.reminder_cap
        ) as removed_reminder_cap,
        sum(c.promo) filter (
            where c.kind = 'reminder' and c.filters = p.filters & c.mask
            and coalesce(b.reminder_cap, 0) > 0 and c.rank > b.reminder_cap
        ) as promo_reminder_cap,
        sum(c.total - p.daily_cap * c.units) filter (
            where c.kind = 'day' and c.filters = 0 and c.reminder_cap in (0, -1)
            and p.daily_cap > 0 and c.rank > p.daily_cap
        ) as alone_daily_cap,
        sum(c.total - p.daily_cap * c.units) filter (
            where c.kind = 'day' and c.filters = p.filters & c.mask
            and c.reminder_cap in (coalesce(b.reminder_cap, 0), -1)
            and p.daily_cap > 0 and c.rank > p.daily_cap
        ) as removed_daily_cap,
        sum(c.units) filter (
            where c.kind = 'promo_day' and c.filters = p.filters & c.mask
            and c.reminder_cap in (coalesce(b.reminder_cap, 0), -1)
            and p.daily_cap > 0 and c.rank > p.daily_cap
        ) as promo_daily_cap
    from policies as p
    cross join caps as c
    left join band_caps as b
        on b.policy = p.policy and b.band_key = c.band_key
    group by p.policy, c.month, c.band_key
)

select
    f.policy,
    f.month,
    f.band_key,
    f.messages,
    coalesce(f.alone_compliance, 0) as alone_compliance,
    coalesce(f.alone_duplicates, 0) as alone_duplicates,
    coalesce(f.alone_quiet_hours, 0) as alone_quiet_hours,
    coalesce(f.alone_user_settings, 0) as alone_user_settings,
    coalesce(f.alone_after_settlement, 0) as alone_after_settlement,
    coalesce(c.alone_reminder_cap, 0) as alone_reminder_cap,
    coalesce(c.alone_daily_cap, 0) as alone_daily_cap,
    coalesce(f.alone_promo, 0) as alone_promo,
    coalesce(f.removed_compliance, 0) as removed_compliance,
    coalesce(f.removed_duplicates, 0) as removed_duplicates,
    coalesce(f.removed_quiet_hours, 0) as removed_quiet_hours,
    coalesce(f.removed_user_settings, 0) as removed_user_settings,
    coalesce(f.removed_after_settlement, 0) as removed_after_settlement,
    coalesce(c.removed_reminder_cap, 0) as removed_reminder_cap,
    coalesce(c.removed_daily_cap, 0) as removed_daily_cap,
    coalesce(f.promo_after_filters, 0) - coalesce(c.promo_reminder_cap, 0)
    - coalesce(c.promo_daily_cap, 0) as rewritten_promo,
    coalesce(f.removed_marketing_reachable, 0) as removed_marketing_reachable,
    coalesce(f.flagged_compliance, 0) as flagged_compliance,
    coalesce(f.flagged_duplicates, 0) as flagged_duplicates,
    coalesce(f.flagged_quiet_hours, 0) as flagged_quiet_hours,
    coalesce(f.flagged_user_settings, 0) as flagged_user_settings,
    coalesce(f.flagged_after_settlement, 0) as flagged_after_settlement,
    coalesce(f.flagged_daily_cap, 0) as flagged_daily_cap,
    coalesce(f.flagged_daily_cap_marketing, 0) as flagged_daily_cap_marketing,
    coalesce(f.flagged_promo, 0) as flagged_promo,
    coalesce(f.marketing_reachable, 0) as marketing_reachable
from by_filters as f
left join by_caps as c
    on c.policy = f.policy and c.month = f.month and c.band_key = f.band_key
order by f.policy, f.month, f.band_key
