-- mart.policy_cap_histogram: what the two caps of the messaging what-if remove, for every
-- policy the what-if offers, as small histograms; the what-if sums them over its period and
-- scope instead of ranking messages (sql/whatif/cap_counts.sql). Exact for every choice of the
-- five filters (a set of bits: 1 compliance, 2 duplicates, 4 quiet hours, 8 the user's own
-- settings, 16 after settlement), the reminder cap (`reminder_cap` c in 1..6: the bill notice
-- plus c - 1 due reminders before the due date; 0 = none) and the daily cap N (1..6).
-- Filter sets and caps are rows, not columns.
--
-- `mask` and `filters`: what a row counts depends only on the filters that touch one of the
-- messages it is computed from; `mask` is that set of bits: for a reminder, the flags of its
-- bill's pre-due reminders up to and including it (its rank depends on no later one); for a
-- day, the flags of the day's messages and the masks of its reminders. A row is computed once
-- per subset of its mask, `filters` being that subset, so a row no filter touches (most of
-- them) is one row instead of 32, and a later message never changes an earlier row. For a
-- policy's filter set P the rows that apply are those with `filters = P & mask`.
--
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
        f.is_marketing_in_service as is_promo,
        coalesce(f.purpose = 'due_reminder' and f.local_date <= uc.due_date, false)
            as is_pre_due,
        (case when f.is_after_opt_out or f.is_marketing_without_consent then 1 else 0 end)
        + (case when f.is_duplicate then 2 else 0 end)
        + (case when f.is_quiet_hours then 4 else 0 end)
        + (case when f.is_against_preference then 8 else 0 end)
        + (case when f.is_after_settlement then 16 else 0 end) as bits
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

-- every filter set with each of its subsets (243 rows)
subsets as (
    select
        m.filters as mask,
        s.filters
    from filter_sets as m
    cross join filter_sets as s
    where s.filters & m.filters = s.filters
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

-- per pre-due reminder: the flags of its bill's pre-due reminders up to it (prefix_mask)
-- and of all of them (bill_mask: the filter sets its bill is ranked under)
bill_masks as (
    select
        message_id,
        bit_or(bits) over (
            partition by bill_id
            order by sent_at, message_id
            rows between unbounded preceding and current row
        ) as prefix_mask,
        bit_or(bits) over (partition by bill_id) as bill_mask
    from relevant
    where is_pre_due
),

-- with the masks of the bill ranking it (null: not a pre-due reminder)
ranked_by as (
    select
        relevant.*,
        bill_masks.prefix_mask,
        bill_masks.bill_mask
    from relevant
    left join bill_masks
        on relevant.is_pre_due
        and bill_masks.message_id = relevant.message_id
),

day_masks as (
    select
        user_id,
        local_date,
        bit_or(bits | coalesce(prefix_mask, 0)) as day_mask
    from ranked_by
    where is_busy
    group by user_id, local_date
),

-- rank of each surviving pre-due reminder per subset of its bill's mask: 1 + its position
-- among its bill's surviving ones (the same under a filter set F and under F & prefix_mask)
reminder_ranks as (
    select
        ranked_by.message_id,
        ranked_by.user_id,
        ranked_by.local_date,
        ranked_by.score_band,
        ranked_by.is_promo,
        ranked_by.prefix_mask,
        subsets.filters,
        1 + row_number() over (
            partition by ranked_by.bill_id, subsets.filters
            order by ranked_by.sent_at, ranked_by.message_id
        ) as rank
    from ranked_by
    inner join subsets
        on subsets.mask = ranked_by.bill_mask
    where ranked_by.is_pre_due
        and ranked_by.bits & subsets.filters = 0
),

-- the survivors of busy days per subset of the day's mask, with their reminder rank under
-- that subset (null: not a pre-due reminder)
busy as (
    select
        ranked_by.message_id,
        ranked_by.user_id,
        ranked_by.local_date,
        ranked_by.sent_at,
        ranked_by.score_band,
        ranked_by.is_promo,
        day_masks.day_mask,
        subsets.filters,
        reminder_ranks.rank
    from ranked_by
    inner join day_masks
        on day_masks.user_id = ranked_by.user_id
        and day_masks.local_date = ranked_by.local_date
    inner join subsets
        on subsets.mask = day_masks.day_mask
    left join reminder_ranks
        on reminder_ranks.message_id = ranked_by.message_id
        and reminder_ranks.filters = subsets.filters & ranked_by.prefix_mask
    where ranked_by.is_busy
        and ranked_by.bits & subsets.filters = 0
),

-- per message of a busy day: its position among the day's survivors, and how many of the
-- reminders up to it (itself included) each reminder cap removes (ranks above the cap)
busy_positions as (
    select
        busy.*,
        row_number() over running as position,
        sum(case when busy.rank > 1 then 1 else 0 end) over running as cut_1,
        sum(case when busy.rank > 2 then 1 else 0 end) over running as cut_2,
        sum(case when busy.rank > 3 then 1 else 0 end) over running as cut_3,
        sum(case when busy.rank > 4 then 1 else 0 end) over running as cut_4,
        sum(case when busy.rank > 5 then 1 else 0 end) over running as cut_5,
        sum(case when busy.rank > 6 then 1 else 0 end) over running as cut_6
    from busy
    window running as (
        partition by busy.user_id, busy.local_date, busy.filters
        order by busy.sent_at, busy.message_id
        rows between unbounded preceding and current row
    )
),

-- per user-day: its survivors and what each reminder cap removes of them
day_totals as (
    select
        user_id,
        local_date,
        score_band,
        day_mask,
        filters,
        count(*) as messages,
        sum(case when rank > 1 then 1 else 0 end) as cut_1,
        sum(case when rank > 2 then 1 else 0 end) as cut_2,
        sum(case when rank > 3 then 1 else 0 end) as cut_3,
        sum(case when rank > 4 then 1 else 0 end) as cut_4,
        sum(case when rank > 5 then 1 else 0 end) as cut_5,
        sum(case when rank > 6 then 1 else 0 end) as cut_6
    from busy
    group by user_id, local_date, score_band, day_mask, filters
),

-- messages a user-day keeps after the filters and each reminder cap; a day the reminder cap
-- does not change (no pre-due reminder left: every one has rank >= 2, so cap 1 cuts them all)
-- is kept once, as cap -1
day_rows as (
    select
        'day' as kind,
        day_totals.user_id,
        day_totals.local_date,
        day_totals.score_band,
        day_totals.day_mask as mask,
        day_totals.filters,
        case when day_totals.cut_1 = 0 then -1 else reminder_caps.reminder_cap end
            as reminder_cap,
        day_totals.messages - case reminder_caps.reminder_cap
            when 1 then day_totals.cut_1
            when 2 then day_totals.cut_2
            when 3 then day_totals.cut_3
            when 4 then day_totals.cut_4
            when 5 then day_totals.cut_5
            when 6 then day_totals.cut_6
            else 0
        end as survivors
    from day_totals
    inner join reminder_caps
        on reminder_caps.reminder_cap = 0 or day_totals.cut_1 > 0
),

-- a marketing-in-service message's position after each reminder cap (0: the cap removes it);
-- cap -1 as for days (no reminder up to it)
promo_rows as (
    select
        'promo_day' as kind,
        p.user_id,
        p.local_date,
        p.score_band,
        p.day_mask as mask,
        p.filters,
        case when p.cut_1 = 0 then -1 else reminder_caps.reminder_cap end as reminder_cap,
        case
            when reminder_caps.reminder_cap = 0 then p.position
            when coalesce(p.rank <= reminder_caps.reminder_cap, true)
                then p.position - case reminder_caps.reminder_cap
                    when 1 then p.cut_1
                    when 2 then p.cut_2
                    when 3 then p.cut_3
                    when 4 then p.cut_4
                    when 5 then p.cut_5
                    else p.cut_6
                end
            else 0
        end as survivors
    from busy_positions as p
    inner join reminder_caps
        on reminder_caps.reminder_cap = 0 or p.cut_1 > 0
    where p.is_promo
),

unit_rows as (
    select
        'reminder' as kind,
        user_id,
        local_date,
        score_band,
        prefix_mask as mask,
        filters,
        0 as reminder_cap,
        rank as value,
        case when is_promo then 1 else 0 end as promo
    from reminder_ranks
    where rank >= 2
        and filters & prefix_mask = filters
    union all
    select
        kind,
        user_id,
        local_date,
        score_band,
        mask,
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
        mask,
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
        mask,
        filters,
        reminder_cap,
        least(value, 7) as rank,
        count(*) as units,
        cast(sum(value) as bigint) as total,
        cast(sum(promo) as bigint) as promo
    from unit_rows
    group by kind, local_date, score_band, mask, filters, reminder_cap, least(value, 7)
    union all
    select
        unit_rows.kind,
        unit_rows.local_date,
        unit_rows.score_band,
        scope_experiments.experiment_id,
        unit_rows.mask,
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
        scope_experiments.experiment_id, unit_rows.mask, unit_rows.filters,
        unit_rows.reminder_cap, least(unit_rows.value, 7)
)

select * from final
order by local_date, kind
