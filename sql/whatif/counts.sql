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

-- the histogram in scope per filter set read (a row applies to set P when its filters =
-- P & its mask), with what each cap K = 1..6 acts on: the sums over the ranks above K
caps as (
    select
        reads.read_filters as set_filters,
        strftime(h.local_date, '%Y-%m') as month,
        coalesce(h.score_band, '?') as band_key,
        h.kind,
        h.reminder_cap as hist_reminder_cap,
        sum(h.units) filter (where h.rank > 1) as units_1,
        sum(h.units) filter (where h.rank > 2) as units_2,
        sum(h.units) filter (where h.rank > 3) as units_3,
        sum(h.units) filter (where h.rank > 4) as units_4,
        sum(h.units) filter (where h.rank > 5) as units_5,
        sum(h.units) filter (where h.rank > 6) as units_6,
        sum(h.total) filter (where h.rank > 1) as total_1,
        sum(h.total) filter (where h.rank > 2) as total_2,
        sum(h.total) filter (where h.rank > 3) as total_3,
        sum(h.total) filter (where h.rank > 4) as total_4,
        sum(h.total) filter (where h.rank > 5) as total_5,
        sum(h.total) filter (where h.rank > 6) as total_6,
        sum(h.promo) filter (where h.rank > 1) as promo_1,
        sum(h.promo) filter (where h.rank > 2) as promo_2,
        sum(h.promo) filter (where h.rank > 3) as promo_3,
        sum(h.promo) filter (where h.rank > 4) as promo_4,
        sum(h.promo) filter (where h.rank > 5) as promo_5,
        sum(h.promo) filter (where h.rank > 6) as promo_6
    from mart.policy_cap_histogram as h
    inner join reads
        on h.filters = reads.read_filters & h.mask
    where h.local_date between $start and $end
        and h.experiment_id = coalesce($experiment, '*')
        and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], h.score_band))
    group by all
),

-- each policy reads its own filter set, and set 0 for what the caps remove alone
policy_sets as (
    select
        policy,
        filters as set_filters
    from policies
    union
    select
        policy,
        0 as set_filters
    from policies
),

-- what the filters remove depends on the filter set only: computed once per set
filtered as (
    select
        s.filters as set_filters,
        f.*,
        case
            when s.filters & f.bits & 1 = 1 then 'compliance'
            when s.filters & f.bits & 8 = 8 then 'user_settings'
            when s.filters & f.bits & 16 = 16 then 'after_settlement'
            when s.filters & f.bits & 2 = 2 then 'duplicates'
            when s.filters & f.bits & 4 = 4 then 'quiet_hours'
        end as by_filter
    from (select distinct filters from policies) as s
    cross join flags as f
),

by_set as (
    select
        set_filters,
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
    group by set_filters, month, band_key
),

by_filters as (
    select
        p.policy,
        by_set.* exclude (set_filters)
    from policies as p
    inner join by_set
        on by_set.set_filters = p.filters
),

-- per policy and histogram row in its filter sets: what the policy's caps remove of the row
-- (a cap K removes the rows ranked above K; a day's surplus over daily cap N is its total
-- minus N per day); null when the cap is none
picked as (
    select
        p.policy,
        p.filters,
        b.reminder_cap,
        c.*,
        case coalesce(b.reminder_cap, 0)
            when 1 then c.units_1
            when 2 then c.units_2
            when 3 then c.units_3
            when 4 then c.units_4
            when 5 then c.units_5
            when 6 then c.units_6
        end as reminders_cut,
        case coalesce(b.reminder_cap, 0)
            when 1 then c.promo_1
            when 2 then c.promo_2
            when 3 then c.promo_3
            when 4 then c.promo_4
            when 5 then c.promo_5
            when 6 then c.promo_6
        end as promo_reminders_cut,
        case p.daily_cap
            when 1 then c.total_1 - 1 * c.units_1
            when 2 then c.total_2 - 2 * c.units_2
            when 3 then c.total_3 - 3 * c.units_3
            when 4 then c.total_4 - 4 * c.units_4
            when 5 then c.total_5 - 5 * c.units_5
            when 6 then c.total_6 - 6 * c.units_6
        end as day_surplus,
        case p.daily_cap
            when 1 then c.units_1
            when 2 then c.units_2
            when 3 then c.units_3
            when 4 then c.units_4
            when 5 then c.units_5
            when 6 then c.units_6
        end as promo_days_cut
    from policies as p
    inner join policy_sets as ps
        on ps.policy = p.policy
    inner join caps as c
        on c.set_filters = ps.set_filters
    left join band_caps as b
        on b.policy = p.policy and b.band_key = c.band_key
),

by_caps as (
    select
        policy,
        month,
        band_key,
        sum(reminders_cut) filter (
            where kind = 'reminder' and set_filters = 0
        ) as alone_reminder_cap,
        sum(reminders_cut) filter (
            where kind = 'reminder' and set_filters = filters
        ) as removed_reminder_cap,
        sum(promo_reminders_cut) filter (
            where kind = 'reminder' and set_filters = filters
        ) as promo_reminder_cap,
        sum(day_surplus) filter (
            where kind = 'day' and set_filters = 0 and hist_reminder_cap in (0, -1)
        ) as alone_daily_cap,
        sum(day_surplus) filter (
            where kind = 'day' and set_filters = filters
            and hist_reminder_cap in (coalesce(reminder_cap, 0), -1)
        ) as removed_daily_cap,
        sum(promo_days_cut) filter (
            where kind = 'promo_day' and set_filters = filters
            and hist_reminder_cap in (coalesce(reminder_cap, 0), -1)
        ) as promo_daily_cap
    from picked
    group by policy, month, band_key
)

select
    f.policy,
    f.month,
    f.band_key,
    cast(f.messages as bigint) as messages,
    cast(coalesce(f.alone_compliance, 0) as bigint) as alone_compliance,
    cast(coalesce(f.alone_duplicates, 0) as bigint) as alone_duplicates,
    cast(coalesce(f.alone_quiet_hours, 0) as bigint) as alone_quiet_hours,
    cast(coalesce(f.alone_user_settings, 0) as bigint) as alone_user_settings,
    cast(coalesce(f.alone_after_settlement, 0) as bigint) as alone_after_settlement,
    cast(coalesce(c.alone_reminder_cap, 0) as bigint) as alone_reminder_cap,
    cast(coalesce(c.alone_daily_cap, 0) as bigint) as alone_daily_cap,
    cast(coalesce(f.alone_promo, 0) as bigint) as alone_promo,
    cast(coalesce(f.removed_compliance, 0) as bigint) as removed_compliance,
    cast(coalesce(f.removed_duplicates, 0) as bigint) as removed_duplicates,
    cast(coalesce(f.removed_quiet_hours, 0) as bigint) as removed_quiet_hours,
    cast(coalesce(f.removed_user_settings, 0) as bigint) as removed_user_settings,
    cast(coalesce(f.removed_after_settlement, 0) as bigint) as removed_after_settlement,
    cast(coalesce(c.removed_reminder_cap, 0) as bigint) as removed_reminder_cap,
    cast(coalesce(c.removed_daily_cap, 0) as bigint) as removed_daily_cap,
    cast(
        coalesce(f.promo_after_filters, 0) - coalesce(c.promo_reminder_cap, 0)
        - coalesce(c.promo_daily_cap, 0) as bigint
    ) as rewritten_promo,
    cast(coalesce(f.removed_marketing_reachable, 0) as bigint) as removed_marketing_reachable,
    cast(coalesce(f.flagged_compliance, 0) as bigint) as flagged_compliance,
    cast(coalesce(f.flagged_duplicates, 0) as bigint) as flagged_duplicates,
    cast(coalesce(f.flagged_quiet_hours, 0) as bigint) as flagged_quiet_hours,
    cast(coalesce(f.flagged_user_settings, 0) as bigint) as flagged_user_settings,
    cast(coalesce(f.flagged_after_settlement, 0) as bigint) as flagged_after_settlement,
    cast(coalesce(f.flagged_daily_cap, 0) as bigint) as flagged_daily_cap,
    cast(coalesce(f.flagged_daily_cap_marketing, 0) as bigint) as flagged_daily_cap_marketing,
    cast(coalesce(f.flagged_promo, 0) as bigint) as flagged_promo,
    cast(coalesce(f.marketing_reachable, 0) as bigint) as marketing_reachable
from by_filters as f
left join by_caps as c
    on c.policy = f.policy and c.month = f.month and c.band_key = f.band_key
order by f.policy, f.month, f.band_key
