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

-- the histogram in scope summed per month and turned into the columns per cap first (so a
-- filter set's rows are found among a few thousand rows instead of one per day and rank)
monthly as (
    select
        strftime(local_date, '%Y-%m') as month,
        coalesce(score_band, '?') as band_key,
        kind,
        reminder_cap,
        mask,
        filters,
        coalesce(sum(units) filter (where rank > 1), 0) as cut_1,
        coalesce(sum(units) filter (where rank > 2), 0) as cut_2,
        coalesce(sum(units) filter (where rank > 3), 0) as cut_3,
        coalesce(sum(units) filter (where rank > 4), 0) as cut_4,
        coalesce(sum(units) filter (where rank > 5), 0) as cut_5,
        coalesce(sum(units) filter (where rank > 6), 0) as cut_6,
        coalesce(sum(promo) filter (where rank > 1), 0) as promo_1,
        coalesce(sum(promo) filter (where rank > 2), 0) as promo_2,
        coalesce(sum(promo) filter (where rank > 3), 0) as promo_3,
        coalesce(sum(promo) filter (where rank > 4), 0) as promo_4,
        coalesce(sum(promo) filter (where rank > 5), 0) as promo_5,
        coalesce(sum(promo) filter (where rank > 6), 0) as promo_6,
        coalesce(sum(total) filter (where rank > 1), 0)
        - 1 * coalesce(sum(units) filter (where rank > 1), 0) as surplus_1,
        coalesce(sum(total) filter (where rank > 2), 0)
        - 2 * coalesce(sum(units) filter (where rank > 2), 0) as surplus_2,
        coalesce(sum(total) filter (where rank > 3), 0)
        - 3 * coalesce(sum(units) filter (where rank > 3), 0) as surplus_3,
        coalesce(sum(total) filter (where rank > 4), 0)
        - 4 * coalesce(sum(units) filter (where rank > 4), 0) as surplus_4,
        coalesce(sum(total) filter (where rank > 5), 0)
        - 5 * coalesce(sum(units) filter (where rank > 5), 0) as surplus_5,
        coalesce(sum(total) filter (where rank > 6), 0)
        - 6 * coalesce(sum(units) filter (where rank > 6), 0) as surplus_6
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
    cast(sum(h.cut_1) as bigint) as cut_1,
    cast(sum(h.cut_2) as bigint) as cut_2,
    cast(sum(h.cut_3) as bigint) as cut_3,
    cast(sum(h.cut_4) as bigint) as cut_4,
    cast(sum(h.cut_5) as bigint) as cut_5,
    cast(sum(h.cut_6) as bigint) as cut_6,
    cast(sum(h.promo_1) as bigint) as promo_1,
    cast(sum(h.promo_2) as bigint) as promo_2,
    cast(sum(h.promo_3) as bigint) as promo_3,
    cast(sum(h.promo_4) as bigint) as promo_4,
    cast(sum(h.promo_5) as bigint) as promo_5,
    cast(sum(h.promo_6) as bigint) as promo_6,
    cast(sum(h.surplus_1) as bigint) as surplus_1,
    cast(sum(h.surplus_2) as bigint) as surplus_2,
    cast(sum(h.surplus_3) as bigint) as surplus_3,
    cast(sum(h.surplus_4) as bigint) as surplus_4,
    cast(sum(h.surplus_5) as bigint) as surplus_5,
    cast(sum(h.surplus_6) as bigint) as surplus_6
from monthly as h
inner join applies as a
    on a.mask = h.mask and a.filters = h.filters
group by all
order by all
