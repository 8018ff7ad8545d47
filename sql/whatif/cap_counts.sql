-- What the two caps remove after the filters, per filter set read, calendar month, score band
-- ('?' = unknown user), histogram kind and its reminder cap, from mart.policy_cap_histogram
-- (see its header for what a row means; a row applies to filter set P when its `filters` =
-- P & its `mask`). For each cap K = 1..6: cut_K = the units ranked above K (reminders a
-- reminder cap K removes; for 'promo_day' the promotions a daily cap K removes), promo_K = the
-- promotions among those reminders, surplus_K = the messages over a daily cap K (a day's total
-- minus K, summed over the days ranked above K). pipelines/whatif/engine.count picks, per
-- policy, the cap columns of its own caps. Parameters: the scope ($start, $end, $bands,
-- $experiment) and $filter_sets, the filter bit sets to read.
with
reads as (
    select distinct unnest($filter_sets) as read_filters
),

-- the histogram in scope summed per month first (a filter set's rows are then found among
-- a few thousand rows instead of one per day)
monthly as (
    select
        strftime(local_date, '%Y-%m') as month,
        coalesce(score_band, '?') as band_key,
        kind,
        reminder_cap,
        mask,
        filters,
        rank,
        sum(units) as units,
        sum(total) as total,
        sum(promo) as promo
    from mart.policy_cap_histogram
    where local_date between $start and $end
        and experiment_id = coalesce($experiment, '*')
        and (len($bands::varchar []) = 0 or list_contains($bands::varchar [], score_band))
    group by all
),

-- which rows each filter set reads: per mask, the set's bits within it (an equality join)
applies as (
    select
        reads.read_filters,
        m.mask,
        reads.read_filters & m.mask as filters
    from (select distinct mask from monthly) as m
    cross join reads
)

select
    a.read_filters as set_filters,
    h.month,
    h.band_key,
    h.kind,
    h.reminder_cap as hist_reminder_cap,
    cast(coalesce(sum(h.units) filter (where h.rank > 1), 0) as bigint) as cut_1,
    cast(coalesce(sum(h.units) filter (where h.rank > 2), 0) as bigint) as cut_2,
    cast(coalesce(sum(h.units) filter (where h.rank > 3), 0) as bigint) as cut_3,
    cast(coalesce(sum(h.units) filter (where h.rank > 4), 0) as bigint) as cut_4,
    cast(coalesce(sum(h.units) filter (where h.rank > 5), 0) as bigint) as cut_5,
    cast(coalesce(sum(h.units) filter (where h.rank > 6), 0) as bigint) as cut_6,
    cast(coalesce(sum(h.promo) filter (where h.rank > 1), 0) as bigint) as promo_1,
    cast(coalesce(sum(h.promo) filter (where h.rank > 2), 0) as bigint) as promo_2,
    cast(coalesce(sum(h.promo) filter (where h.rank > 3), 0) as bigint) as promo_3,
    cast(coalesce(sum(h.promo) filter (where h.rank > 4), 0) as bigint) as promo_4,
    cast(coalesce(sum(h.promo) filter (where h.rank > 5), 0) as bigint) as promo_5,
    cast(coalesce(sum(h.promo) filter (where h.rank > 6), 0) as bigint) as promo_6,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 1) - 1 * sum(h.units) filter (where h.rank > 1), 0
    ) as bigint) as surplus_1,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 2) - 2 * sum(h.units) filter (where h.rank > 2), 0
    ) as bigint) as surplus_2,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 3) - 3 * sum(h.units) filter (where h.rank > 3), 0
    ) as bigint) as surplus_3,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 4) - 4 * sum(h.units) filter (where h.rank > 4), 0
    ) as bigint) as surplus_4,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 5) - 5 * sum(h.units) filter (where h.rank > 5), 0
    ) as bigint) as surplus_5,
    cast(coalesce(
        sum(h.total) filter (where h.rank > 6) - 6 * sum(h.units) filter (where h.rank > 6), 0
    ) as bigint) as surplus_6
from monthly as h
inner join applies as a
    on a.mask = h.mask and a.filters = h.filters
group by all
order by all
