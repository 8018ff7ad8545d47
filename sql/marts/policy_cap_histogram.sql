-- mart.policy_cap_histogram: what the two caps of the messaging what-if remove, for every
-- policy the what-if offers, as small histograms; the what-if sums them over its period and
-- scope instead of ranking messages (sql/whatif/counts.sql). Exact for every choice of the
-- five filters (`filters` = the sum of the bits of those on: 1 compliance, 2 duplicates,
-- 4 quiet hours, 8 the user's own settings, 16 after settlement), the reminder cap
-- (`reminder_cap` c in 1..6: the bill notice plus c - 1 due reminders before the due date;
-- 0 = none) and the daily cap N (1..6). Filter sets and caps are rows, not columns.
-- Rules in attribution order: the filters remove flagged messages; the reminder cap then keeps
-- the first c - 1 surviving due reminders of each bill sent on or before its due date (ranked
-- over the bill's whole sequence by (sent_at, message_id); rank = 1 + that position, rank 1
-- being the bill notice's slot, which no cap removes); the daily cap keeps the first N
-- messages of a user's local day among those the filters and the reminder cap left.
-- Rows (kind):
--   'reminder'  per surviving pre-due due reminder: rank among the bill's surviving ones
--               (>= 2, 7 means 7 or more); units = messages, promo = those that are
--               marketing in service. Removed by cap c: units with rank > c.
--   'day'       per user-day with >= 2 messages: rank = messages left after the filters and
--               the reminder cap (>= 2, capped at 7), units = user-days, total = their exact
--               sum. Removed by daily cap N: total - N * units over rows with rank > N.
--               reminder_cap -1: rows the reminder cap does not change (they count for every
--               cap, and for none); rows it changes are kept per cap (0 = none).
--   'promo_day' per marketing-in-service message left after the filters and the reminder cap
--               on such a day: rank = its position among the day's messages left (>= 2, capped
--               at 7), units = messages. Removed by daily cap N: units with rank > N.
--               reminder_cap -1 as for 'day'.
-- score_band of the user (null: unknown user); experiment_id '*' for every user plus one row
-- per experiment the user is assigned to, so a filter is one equality. Verification messages
-- are left out as everywhere.
create or replace table mart.policy_cap_histogram as
with
scope_experiments as (
    select
        user_id,
        experiment_id
    from mart_int.user_scopes
    where experiment_id <> '*'
),

messages as (
    select
        f.message_id,
        f.user_id,
        f.bill_id,
        f.sent_at,
        f.local_date,
        u.score_band,
        (f.is_after_opt_out or f.is_marketing_without_consent) as is_compliance,
        f.is_duplicate,
        f.is_quiet_hours,
        f.is_against_preference,
        f.is_after_settlement,
        f.is_marketing_in_service as is_promo,
        coalesce(f.purpose = 'due_reminder' and f.local_date <= uc.due_date, false)
            as is_pre_due
    from mart.sms_message_flags as f
    left join mart.user_cycle as uc
        on uc.bill_id = f.bill_id
    left join core.users as u
        on u.user_id = f.user_id
    where f.purpose <> 'verification'
),

filter_sets as (
    select filters
    from (
        values
        (0), (1), (2), (3), (4), (5), (6), (7), (8), (9), (10), (11), (12), (13), (14), (15),
        (16), (17), (18), (19), (20), (21), (22), (23), (24), (25), (26), (27), (28), (29),
        (30), (31)
    ) as v (filters)
),

reminder_caps as (
    select reminder_cap
    from (values (0), (1), (2), (3), (4), (5), (6)) as v (reminder_cap)
),

busy_days as (
    select
        user_id,
        local_date
    from messages
    group by user_id, local_date
    having count(*) >= 2
),

-- the messages the caps can act on: pre-due due reminders (ranked per bill) and busy days
relevant as (
    select
        messages.*,
        busy_days.user_id is not null as is_busy
    from messages
    left join busy_days
        on busy_days.user_id = messages.user_id
        and busy_days.local_date = messages.local_date
    where messages.is_pre_due or busy_days.user_id is not null
),

-- one row per message and filter set that leaves it
survivors as (
    select
        relevant.*,
        filter_sets.filters
    from relevant
    cross join filter_sets
    where not (
        (filter_sets.filters & 1 = 1 and relevant.is_compliance)
        or (filter_sets.filters & 2 = 2 and relevant.is_duplicate)
        or (filter_sets.filters & 4 = 4 and relevant.is_quiet_hours)
        or (filter_sets.filters & 8 = 8 and relevant.is_against_preference)
        or (filter_sets.filters & 16 = 16 and relevant.is_after_settlement)
    )
),

-- rank of each surviving pre-due reminder: 1 + its position among its bill's surviving ones
reminder_ranks as (
    select
        message_id,
        user_id,
        local_date,
        score_band,
        filters,
        is_promo,
        1 + row_number() over (
            partition by bill_id, filters order by sent_at, message_id
        ) as rank
    from survivors
    where is_pre_due
),

-- the survivors of busy days with their reminder rank (null: not a pre-due reminder)
busy as (
    select
        survivors.message_id,
        survivors.user_id,
        survivors.local_date,
        survivors.sent_at,
        survivors.score_band,
        survivors.is_promo,
        survivors.filters,
        reminder_ranks.rank
    from survivors
    left join reminder_ranks
        on reminder_ranks.message_id = survivors.message_id
        and reminder_ranks.filters = survivors.filters
    where survivors.is_busy
),

day_counts as (
    select
        user_id,
        local_date,
        score_band,
        filters,
        count(*) as messages
    from busy
    group by user_id, local_date, score_band, filters
),

-- per user-day and cap: the reminders the cap removes (ranks above it)
day_cuts as (
    select
        busy.user_id,
        busy.local_date,
        busy.filters,
        reminder_caps.reminder_cap,
        count(*) as removed
    from busy
    inner join reminder_caps
        on reminder_caps.reminder_cap > 0
        and busy.rank > reminder_caps.reminder_cap
    group by busy.user_id, busy.local_date, busy.filters, reminder_caps.reminder_cap
),

-- messages a user-day keeps after the filters and each reminder cap; a day the reminder cap
-- does not change (what is left is monotone in the cap, so equal at cap 1 and with no cap
-- means equal at every cap: no reminder of rank > 1) is kept once, as cap -1
day_rows as (
    select
        'day' as kind,
        day_counts.user_id,
        day_counts.local_date,
        day_counts.score_band,
        day_counts.filters,
        case
            when first_cut.user_id is null then -1 else reminder_caps.reminder_cap
        end as reminder_cap,
        day_counts.messages - coalesce(day_cuts.removed, 0) as survivors
    from day_counts
    left join day_cuts as first_cut
        on first_cut.user_id = day_counts.user_id
        and first_cut.local_date = day_counts.local_date
        and first_cut.filters = day_counts.filters
        and first_cut.reminder_cap = 1
    inner join reminder_caps
        on reminder_caps.reminder_cap = 0 or first_cut.user_id is not null
    left join day_cuts
        on day_cuts.user_id = day_counts.user_id
        and day_cuts.local_date = day_counts.local_date
        and day_cuts.filters = day_counts.filters
        and day_cuts.reminder_cap = reminder_caps.reminder_cap
),

-- position of each marketing-in-service message among its day's survivors of the filters
promo_positions as (
    select
        p.message_id,
        p.user_id,
        p.local_date,
        p.score_band,
        p.filters,
        p.rank,
        count(*) as position
    from busy as p
    inner join busy as o
        on o.user_id = p.user_id
        and o.local_date = p.local_date
        and o.filters = p.filters
        and (o.sent_at < p.sent_at or (o.sent_at = p.sent_at and o.message_id <= p.message_id))
    where p.is_promo
    group by p.message_id, p.user_id, p.local_date, p.score_band, p.filters, p.rank
),

-- per promotion and cap: the reminders up to it (itself included) that the cap removes
promo_cuts as (
    select
        p.message_id,
        p.filters,
        reminder_caps.reminder_cap,
        count(*) as removed
    from busy as p
    inner join busy as o
        on o.user_id = p.user_id
        and o.local_date = p.local_date
        and o.filters = p.filters
        and (o.sent_at < p.sent_at or (o.sent_at = p.sent_at and o.message_id <= p.message_id))
    inner join reminder_caps
        on reminder_caps.reminder_cap > 0
        and o.rank > reminder_caps.reminder_cap
    where p.is_promo
    group by p.message_id, p.filters, reminder_caps.reminder_cap
),

-- its position after each reminder cap (0: the cap removes it); cap -1 as for days
promo_rows as (
    select
        'promo_day' as kind,
        promo_positions.user_id,
        promo_positions.local_date,
        promo_positions.score_band,
        promo_positions.filters,
        case
            when first_cut.message_id is null then -1 else reminder_caps.reminder_cap
        end as reminder_cap,
        case
            when reminder_caps.reminder_cap = 0
                or coalesce(promo_positions.rank <= reminder_caps.reminder_cap, true)
                then promo_positions.position - coalesce(promo_cuts.removed, 0)
            else 0
        end as survivors
    from promo_positions
    left join promo_cuts as first_cut
        on first_cut.message_id = promo_positions.message_id
        and first_cut.filters = promo_positions.filters
        and first_cut.reminder_cap = 1
    inner join reminder_caps
        on reminder_caps.reminder_cap = 0 or first_cut.message_id is not null
    left join promo_cuts
        on promo_cuts.message_id = promo_positions.message_id
        and promo_cuts.filters = promo_positions.filters
        and promo_cuts.reminder_cap = reminder_caps.reminder_cap
),

unit_rows as (
    select
        'reminder' as kind,
        user_id,
        local_date,
        score_band,
        filters,
        0 as reminder_cap,
        rank as value,
        case when is_promo then 1 else 0 end as promo
    from reminder_ranks
    where rank >= 2
    union all
    select
        kind,
        user_id,
        local_date,
        score_band,
        filters,
        reminder_cap,
        survivors as value,
        0 as promo
    from day_rows
    where survivors >= 2
    union all
    select
        kind,
        user_id,
        local_date,
        score_band,
        filters,
        reminder_cap,
        survivors as value,
        0 as promo
    from promo_rows
    where survivors >= 2
),

final as (
    select
        kind,
        local_date,
        score_band,
        '*' as experiment_id,
        filters,
        reminder_cap,
        least(value, 7) as rank,
        count(*) as units,
        cast(sum(value) as bigint) as total,
        cast(sum(promo) as bigint) as promo
    from unit_rows
    group by kind, local_date, score_band, filters, reminder_cap, least(value, 7)
    union all
    select
        unit_rows.kind,
        unit_rows.local_date,
        unit_rows.score_band,
        scope_experiments.experiment_id,
        unit_rows.filters,
        unit_rows.reminder_cap,
        least(unit_rows.value, 7) as rank,
        count(*) as units,
        cast(sum(unit_rows.value) as bigint) as total,
        cast(sum(unit_rows.promo) as bigint) as promo
    from unit_rows
    inner join scope_experiments
        on scope_experiments.user_id = unit_rows.user_id
    group by unit_rows.kind, unit_rows.local_date, unit_rows.score_band,
        scope_experiments.experiment_id, unit_rows.filters, unit_rows.reminder_cap,
        least(unit_rows.value, 7)
)

select * from final
order by local_date, kind
