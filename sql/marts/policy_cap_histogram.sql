-- mart.policy_cap_histogram: what the two caps of the dashboard's messaging what-if remove,
-- for every policy the page offers, as small histograms; the page sums them over its period and
-- scope instead of ranking messages (dashboard/data.py, POLICY_SQL). Exact for every choice of
-- the three filters (compliance, duplicates, quiet hours: `filters` = 1 + 2 + 4 of those on),
-- the pre-due reminder cap K (1..6, 0 = none) and the daily cap N (1..6).
-- Rules in attribution order: the filters remove flagged messages; the reminder cap then keeps
-- the first K surviving pre-due reminders of each bill (rank over the bill's whole pre-due
-- sequence, by (sent_at, message_id)); the daily cap keeps the first N messages of a user's
-- local day among those the filters and the reminder cap left.
-- Rows (kind):
--   'reminder'  per surviving pre-due reminder: rank among the bill's surviving pre-due
--               reminders (>= 2, 7 means 7 or more); units = messages, promo = those that are
--               marketing in service. Removed by cap K: units with rank > K.
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
-- Generated text (56 columns); the 8 x 7 policy columns follow the pattern s<filters>_<K>.
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
        f.is_marketing_in_service as is_promo,
        coalesce(
            f.purpose in ('bill_notice', 'due_reminder') and f.local_date <= uc.due_date,
            false
        ) as is_pre_due
    from mart.sms_message_flags as f
    left join mart.user_cycle as uc
        on uc.bill_id = f.bill_id
    left join core.users as u
        on u.user_id = f.user_id
    where f.purpose <> 'verification'
),

-- sv<filters> = 1 when the message survives that set of filters
survivors as (
    select
        messages.*,
        1 as sv0,
        case when is_compliance then 0 else 1 end as sv1,
        case when is_duplicate then 0 else 1 end as sv2,
        case when is_compliance or is_duplicate then 0 else 1 end as sv3,
        case when is_quiet_hours then 0 else 1 end as sv4,
        case when is_compliance or is_quiet_hours then 0 else 1 end as sv5,
        case when is_duplicate or is_quiet_hours then 0 else 1 end as sv6,
        case when is_compliance or is_duplicate or is_quiet_hours then 0 else 1 end as sv7
    from messages
),

-- rank of each surviving pre-due reminder among its bill's surviving pre-due reminders
reminder_ranks as (
    select
        message_id,
        case when sv0 = 1 then sum(sv0) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr0,
        case when sv1 = 1 then sum(sv1) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr1,
        case when sv2 = 1 then sum(sv2) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr2,
        case when sv3 = 1 then sum(sv3) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr3,
        case when sv4 = 1 then sum(sv4) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr4,
        case when sv5 = 1 then sum(sv5) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr5,
        case when sv6 = 1 then sum(sv6) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr6,
        case when sv7 = 1 then sum(sv7) over (partition by bill_id order by sent_at, message_id rows between unbounded preceding and current row) end as rr7
    from survivors
    where is_pre_due
),

reminder_rows as (
    select
        survivors.user_id,
        survivors.local_date,
        survivors.score_band,
        combos.filters,
        case combos.filters
            when 0 then reminder_ranks.rr0
            when 1 then reminder_ranks.rr1
            when 2 then reminder_ranks.rr2
            when 3 then reminder_ranks.rr3
            when 4 then reminder_ranks.rr4
            when 5 then reminder_ranks.rr5
            when 6 then reminder_ranks.rr6
            when 7 then reminder_ranks.rr7
        end as rank,
        case when survivors.is_promo then 1 else 0 end as promo
    from reminder_ranks
    inner join survivors
        on survivors.message_id = reminder_ranks.message_id
    cross join (
        select filters from (values (0), (1), (2), (3), (4), (5), (6), (7)) as v (filters)
    ) as combos
),

busy_days as (
    select
        user_id,
        local_date
    from messages
    group by user_id, local_date
    having count(*) >= 2
),

-- k<filters>_<K> = 1 when the message on a busy day survives the filters and reminder cap K
day_keeps as (
    select
        survivors.message_id,
        survivors.user_id,
        survivors.local_date,
        survivors.sent_at,
        survivors.score_band,
        survivors.is_promo,
        survivors.sv0 as k0_0,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 1, false) then 0 else survivors.sv0 end as k0_1,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 2, false) then 0 else survivors.sv0 end as k0_2,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 3, false) then 0 else survivors.sv0 end as k0_3,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 4, false) then 0 else survivors.sv0 end as k0_4,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 5, false) then 0 else survivors.sv0 end as k0_5,
        case when survivors.sv0 = 1 and coalesce(reminder_ranks.rr0 > 6, false) then 0 else survivors.sv0 end as k0_6,
        survivors.sv1 as k1_0,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 1, false) then 0 else survivors.sv1 end as k1_1,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 2, false) then 0 else survivors.sv1 end as k1_2,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 3, false) then 0 else survivors.sv1 end as k1_3,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 4, false) then 0 else survivors.sv1 end as k1_4,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 5, false) then 0 else survivors.sv1 end as k1_5,
        case when survivors.sv1 = 1 and coalesce(reminder_ranks.rr1 > 6, false) then 0 else survivors.sv1 end as k1_6,
        survivors.sv2 as k2_0,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 1, false) then 0 else survivors.sv2 end as k2_1,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 2, false) then 0 else survivors.sv2 end as k2_2,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 3, false) then 0 else survivors.sv2 end as k2_3,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 4, false) then 0 else survivors.sv2 end as k2_4,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 5, false) then 0 else survivors.sv2 end as k2_5,
        case when survivors.sv2 = 1 and coalesce(reminder_ranks.rr2 > 6, false) then 0 else survivors.sv2 end as k2_6,
        survivors.sv3 as k3_0,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 1, false) then 0 else survivors.sv3 end as k3_1,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 2, false) then 0 else survivors.sv3 end as k3_2,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 3, false) then 0 else survivors.sv3 end as k3_3,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 4, false) then 0 else survivors.sv3 end as k3_4,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 5, false) then 0 else survivors.sv3 end as k3_5,
        case when survivors.sv3 = 1 and coalesce(reminder_ranks.rr3 > 6, false) then 0 else survivors.sv3 end as k3_6,
        survivors.sv4 as k4_0,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 1, false) then 0 else survivors.sv4 end as k4_1,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 2, false) then 0 else survivors.sv4 end as k4_2,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 3, false) then 0 else survivors.sv4 end as k4_3,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 4, false) then 0 else survivors.sv4 end as k4_4,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 5, false) then 0 else survivors.sv4 end as k4_5,
        case when survivors.sv4 = 1 and coalesce(reminder_ranks.rr4 > 6, false) then 0 else survivors.sv4 end as k4_6,
        survivors.sv5 as k5_0,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 1, false) then 0 else survivors.sv5 end as k5_1,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 2, false) then 0 else survivors.sv5 end as k5_2,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 3, false) then 0 else survivors.sv5 end as k5_3,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 4, false) then 0 else survivors.sv5 end as k5_4,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 5, false) then 0 else survivors.sv5 end as k5_5,
        case when survivors.sv5 = 1 and coalesce(reminder_ranks.rr5 > 6, false) then 0 else survivors.sv5 end as k5_6,
        survivors.sv6 as k6_0,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 1, false) then 0 else survivors.sv6 end as k6_1,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 2, false) then 0 else survivors.sv6 end as k6_2,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 3, false) then 0 else survivors.sv6 end as k6_3,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 4, false) then 0 else survivors.sv6 end as k6_4,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 5, false) then 0 else survivors.sv6 end as k6_5,
        case when survivors.sv6 = 1 and coalesce(reminder_ranks.rr6 > 6, false) then 0 else survivors.sv6 end as k6_6,
        survivors.sv7 as k7_0,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 1, false) then 0 else survivors.sv7 end as k7_1,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 2, false) then 0 else survivors.sv7 end as k7_2,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 3, false) then 0 else survivors.sv7 end as k7_3,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 4, false) then 0 else survivors.sv7 end as k7_4,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 5, false) then 0 else survivors.sv7 end as k7_5,
        case when survivors.sv7 = 1 and coalesce(reminder_ranks.rr7 > 6, false) then 0 else survivors.sv7 end as k7_6
    from survivors
    inner join busy_days
        on busy_days.user_id = survivors.user_id
        and busy_days.local_date = survivors.local_date
    left join reminder_ranks
        on reminder_ranks.message_id = survivors.message_id
),

day_totals as (
    select
        user_id,
        local_date,
        score_band,
        sum(k0_0) as s0_0,
        sum(k0_1) as s0_1,
        sum(k0_2) as s0_2,
        sum(k0_3) as s0_3,
        sum(k0_4) as s0_4,
        sum(k0_5) as s0_5,
        sum(k0_6) as s0_6,
        sum(k1_0) as s1_0,
        sum(k1_1) as s1_1,
        sum(k1_2) as s1_2,
        sum(k1_3) as s1_3,
        sum(k1_4) as s1_4,
        sum(k1_5) as s1_5,
        sum(k1_6) as s1_6,
        sum(k2_0) as s2_0,
        sum(k2_1) as s2_1,
        sum(k2_2) as s2_2,
        sum(k2_3) as s2_3,
        sum(k2_4) as s2_4,
        sum(k2_5) as s2_5,
        sum(k2_6) as s2_6,
        sum(k3_0) as s3_0,
        sum(k3_1) as s3_1,
        sum(k3_2) as s3_2,
        sum(k3_3) as s3_3,
        sum(k3_4) as s3_4,
        sum(k3_5) as s3_5,
        sum(k3_6) as s3_6,
        sum(k4_0) as s4_0,
        sum(k4_1) as s4_1,
        sum(k4_2) as s4_2,
        sum(k4_3) as s4_3,
        sum(k4_4) as s4_4,
        sum(k4_5) as s4_5,
        sum(k4_6) as s4_6,
        sum(k5_0) as s5_0,
        sum(k5_1) as s5_1,
        sum(k5_2) as s5_2,
        sum(k5_3) as s5_3,
        sum(k5_4) as s5_4,
        sum(k5_5) as s5_5,
        sum(k5_6) as s5_6,
        sum(k6_0) as s6_0,
        sum(k6_1) as s6_1,
        sum(k6_2) as s6_2,
        sum(k6_3) as s6_3,
        sum(k6_4) as s6_4,
        sum(k6_5) as s6_5,
        sum(k6_6) as s6_6,
        sum(k7_0) as s7_0,
        sum(k7_1) as s7_1,
        sum(k7_2) as s7_2,
        sum(k7_3) as s7_3,
        sum(k7_4) as s7_4,
        sum(k7_5) as s7_5,
        sum(k7_6) as s7_6
    from day_keeps
    group by user_id, local_date, score_band
),

-- position of each marketing-in-service message among its day's messages left
promo_positions as (
    select
        p.message_id,
        p.user_id,
        p.local_date,
        p.score_band,
        case when max(p.k0_0) = 1 then sum(o.k0_0) else 0 end as s0_0,
        case when max(p.k0_1) = 1 then sum(o.k0_1) else 0 end as s0_1,
        case when max(p.k0_2) = 1 then sum(o.k0_2) else 0 end as s0_2,
        case when max(p.k0_3) = 1 then sum(o.k0_3) else 0 end as s0_3,
        case when max(p.k0_4) = 1 then sum(o.k0_4) else 0 end as s0_4,
        case when max(p.k0_5) = 1 then sum(o.k0_5) else 0 end as s0_5,
        case when max(p.k0_6) = 1 then sum(o.k0_6) else 0 end as s0_6,
        case when max(p.k1_0) = 1 then sum(o.k1_0) else 0 end as s1_0,
        case when max(p.k1_1) = 1 then sum(o.k1_1) else 0 end as s1_1,
        case when max(p.k1_2) = 1 then sum(o.k1_2) else 0 end as s1_2,
        case when max(p.k1_3) = 1 then sum(o.k1_3) else 0 end as s1_3,
        case when max(p.k1_4) = 1 then sum(o.k1_4) else 0 end as s1_4,
        case when max(p.k1_5) = 1 then sum(o.k1_5) else 0 end as s1_5,
        case when max(p.k1_6) = 1 then sum(o.k1_6) else 0 end as s1_6,
        case when max(p.k2_0) = 1 then sum(o.k2_0) else 0 end as s2_0,
        case when max(p.k2_1) = 1 then sum(o.k2_1) else 0 end as s2_1,
        case when max(p.k2_2) = 1 then sum(o.k2_2) else 0 end as s2_2,
        case when max(p.k2_3) = 1 then sum(o.k2_3) else 0 end as s2_3,
        case when max(p.k2_4) = 1 then sum(o.k2_4) else 0 end as s2_4,
        case when max(p.k2_5) = 1 then sum(o.k2_5) else 0 end as s2_5,
        case when max(p.k2_6) = 1 then sum(o.k2_6) else 0 end as s2_6,
        case when max(p.k3_0) = 1 then sum(o.k3_0) else 0 end as s3_0,
        case when max(p.k3_1) = 1 then sum(o.k3_1) else 0 end as s3_1,
        case when max(p.k3_2) = 1 then sum(o.k3_2) else 0 end as s3_2,
        case when max(p.k3_3) = 1 then sum(o.k3_3) else 0 end as s3_3,
        case when max(p.k3_4) = 1 then sum(o.k3_4) else 0 end as s3_4,
        case when max(p.k3_5) = 1 then sum(o.k3_5) else 0 end as s3_5,
        case when max(p.k3_6) = 1 then sum(o.k3_6) else 0 end as s3_6,
        case when max(p.k4_0) = 1 then sum(o.k4_0) else 0 end as s4_0,
        case when max(p.k4_1) = 1 then sum(o.k4_1) else 0 end as s4_1,
        case when max(p.k4_2) = 1 then sum(o.k4_2) else 0 end as s4_2,
        case when max(p.k4_3) = 1 then sum(o.k4_3) else 0 end as s4_3,
        case when max(p.k4_4) = 1 then sum(o.k4_4) else 0 end as s4_4,
        case when max(p.k4_5) = 1 then sum(o.k4_5) else 0 end as s4_5,
        case when max(p.k4_6) = 1 then sum(o.k4_6) else 0 end as s4_6,
        case when max(p.k5_0) = 1 then sum(o.k5_0) else 0 end as s5_0,
        case when max(p.k5_1) = 1 then sum(o.k5_1) else 0 end as s5_1,
        case when max(p.k5_2) = 1 then sum(o.k5_2) else 0 end as s5_2,
        case when max(p.k5_3) = 1 then sum(o.k5_3) else 0 end as s5_3,
        case when max(p.k5_4) = 1 then sum(o.k5_4) else 0 end as s5_4,
        case when max(p.k5_5) = 1 then sum(o.k5_5) else 0 end as s5_5,
        case when max(p.k5_6) = 1 then sum(o.k5_6) else 0 end as s5_6,
        case when max(p.k6_0) = 1 then sum(o.k6_0) else 0 end as s6_0,
        case when max(p.k6_1) = 1 then sum(o.k6_1) else 0 end as s6_1,
        case when max(p.k6_2) = 1 then sum(o.k6_2) else 0 end as s6_2,
        case when max(p.k6_3) = 1 then sum(o.k6_3) else 0 end as s6_3,
        case when max(p.k6_4) = 1 then sum(o.k6_4) else 0 end as s6_4,
        case when max(p.k6_5) = 1 then sum(o.k6_5) else 0 end as s6_5,
        case when max(p.k6_6) = 1 then sum(o.k6_6) else 0 end as s6_6,
        case when max(p.k7_0) = 1 then sum(o.k7_0) else 0 end as s7_0,
        case when max(p.k7_1) = 1 then sum(o.k7_1) else 0 end as s7_1,
        case when max(p.k7_2) = 1 then sum(o.k7_2) else 0 end as s7_2,
        case when max(p.k7_3) = 1 then sum(o.k7_3) else 0 end as s7_3,
        case when max(p.k7_4) = 1 then sum(o.k7_4) else 0 end as s7_4,
        case when max(p.k7_5) = 1 then sum(o.k7_5) else 0 end as s7_5,
        case when max(p.k7_6) = 1 then sum(o.k7_6) else 0 end as s7_6
    from day_keeps as p
    inner join day_keeps as o
        on o.user_id = p.user_id
        and o.local_date = p.local_date
        and (o.sent_at < p.sent_at or (o.sent_at = p.sent_at and o.message_id <= p.message_id))
    where p.is_promo
    group by p.message_id, p.user_id, p.local_date, p.score_band
),

day_vectors as (
    select
        'day' as kind,
        day_totals.local_date,
        day_totals.score_band,
        '*' as experiment_id,
        day_totals.s0_0, day_totals.s0_1, day_totals.s0_2, day_totals.s0_3, day_totals.s0_4, day_totals.s0_5, day_totals.s0_6, day_totals.s1_0, day_totals.s1_1, day_totals.s1_2, day_totals.s1_3, day_totals.s1_4, day_totals.s1_5, day_totals.s1_6, day_totals.s2_0, day_totals.s2_1, day_totals.s2_2, day_totals.s2_3, day_totals.s2_4, day_totals.s2_5, day_totals.s2_6, day_totals.s3_0, day_totals.s3_1, day_totals.s3_2, day_totals.s3_3, day_totals.s3_4, day_totals.s3_5, day_totals.s3_6, day_totals.s4_0, day_totals.s4_1, day_totals.s4_2, day_totals.s4_3, day_totals.s4_4, day_totals.s4_5, day_totals.s4_6, day_totals.s5_0, day_totals.s5_1, day_totals.s5_2, day_totals.s5_3, day_totals.s5_4, day_totals.s5_5, day_totals.s5_6, day_totals.s6_0, day_totals.s6_1, day_totals.s6_2, day_totals.s6_3, day_totals.s6_4, day_totals.s6_5, day_totals.s6_6, day_totals.s7_0, day_totals.s7_1, day_totals.s7_2, day_totals.s7_3, day_totals.s7_4, day_totals.s7_5, day_totals.s7_6,
        count(*) as units
    from day_totals
    group by day_totals.local_date, day_totals.score_band, day_totals.s0_0, day_totals.s0_1, day_totals.s0_2, day_totals.s0_3, day_totals.s0_4, day_totals.s0_5, day_totals.s0_6, day_totals.s1_0, day_totals.s1_1, day_totals.s1_2, day_totals.s1_3, day_totals.s1_4, day_totals.s1_5, day_totals.s1_6, day_totals.s2_0, day_totals.s2_1, day_totals.s2_2, day_totals.s2_3, day_totals.s2_4, day_totals.s2_5, day_totals.s2_6, day_totals.s3_0, day_totals.s3_1, day_totals.s3_2, day_totals.s3_3, day_totals.s3_4, day_totals.s3_5, day_totals.s3_6, day_totals.s4_0, day_totals.s4_1, day_totals.s4_2, day_totals.s4_3, day_totals.s4_4, day_totals.s4_5, day_totals.s4_6, day_totals.s5_0, day_totals.s5_1, day_totals.s5_2, day_totals.s5_3, day_totals.s5_4, day_totals.s5_5, day_totals.s5_6, day_totals.s6_0, day_totals.s6_1, day_totals.s6_2, day_totals.s6_3, day_totals.s6_4, day_totals.s6_5, day_totals.s6_6, day_totals.s7_0, day_totals.s7_1, day_totals.s7_2, day_totals.s7_3, day_totals.s7_4, day_totals.s7_5, day_totals.s7_6
    union all
    select
        'day' as kind,
        day_totals.local_date,
        day_totals.score_band,
        scope_experiments.experiment_id,
        day_totals.s0_0, day_totals.s0_1, day_totals.s0_2, day_totals.s0_3, day_totals.s0_4, day_totals.s0_5, day_totals.s0_6, day_totals.s1_0, day_totals.s1_1, day_totals.s1_2, day_totals.s1_3, day_totals.s1_4, day_totals.s1_5, day_totals.s1_6, day_totals.s2_0, day_totals.s2_1, day_totals.s2_2, day_totals.s2_3, day_totals.s2_4, day_totals.s2_5, day_totals.s2_6, day_totals.s3_0, day_totals.s3_1, day_totals.s3_2, day_totals.s3_3, day_totals.s3_4, day_totals.s3_5, day_totals.s3_6, day_totals.s4_0, day_totals.s4_1, day_totals.s4_2, day_totals.s4_3, day_totals.s4_4, day_totals.s4_5, day_totals.s4_6, day_totals.s5_0, day_totals.s5_1, day_totals.s5_2, day_totals.s5_3, day_totals.s5_4, day_totals.s5_5, day_totals.s5_6, day_totals.s6_0, day_totals.s6_1, day_totals.s6_2, day_totals.s6_3, day_totals.s6_4, day_totals.s6_5, day_totals.s6_6, day_totals.s7_0, day_totals.s7_1, day_totals.s7_2, day_totals.s7_3, day_totals.s7_4, day_totals.s7_5, day_totals.s7_6,
        count(*) as units
    from day_totals
    inner join scope_experiments
        on scope_experiments.user_id = day_totals.user_id
    group by day_totals.local_date, day_totals.score_band, scope_experiments.experiment_id, day_totals.s0_0, day_totals.s0_1, day_totals.s0_2, day_totals.s0_3, day_totals.s0_4, day_totals.s0_5, day_totals.s0_6, day_totals.s1_0, day_totals.s1_1, day_totals.s1_2, day_totals.s1_3, day_totals.s1_4, day_totals.s1_5, day_totals.s1_6, day_totals.s2_0, day_totals.s2_1, day_totals.s2_2, day_totals.s2_3, day_totals.s2_4, day_totals.s2_5, day_totals.s2_6, day_totals.s3_0, day_totals.s3_1, day_totals.s3_2, day_totals.s3_3, day_totals.s3_4, day_totals.s3_5, day_totals.s3_6, day_totals.s4_0, day_totals.s4_1, day_totals.s4_2, day_totals.s4_3, day_totals.s4_4, day_totals.s4_5, day_totals.s4_6, day_totals.s5_0, day_totals.s5_1, day_totals.s5_2, day_totals.s5_3, day_totals.s5_4, day_totals.s5_5, day_totals.s5_6, day_totals.s6_0, day_totals.s6_1, day_totals.s6_2, day_totals.s6_3, day_totals.s6_4, day_totals.s6_5, day_totals.s6_6, day_totals.s7_0, day_totals.s7_1, day_totals.s7_2, day_totals.s7_3, day_totals.s7_4, day_totals.s7_5, day_totals.s7_6
),

promo_vectors as (
    select
        'promo_day' as kind,
        promo_positions.local_date,
        promo_positions.score_band,
        '*' as experiment_id,
        promo_positions.s0_0, promo_positions.s0_1, promo_positions.s0_2, promo_positions.s0_3, promo_positions.s0_4, promo_positions.s0_5, promo_positions.s0_6, promo_positions.s1_0, promo_positions.s1_1, promo_positions.s1_2, promo_positions.s1_3, promo_positions.s1_4, promo_positions.s1_5, promo_positions.s1_6, promo_positions.s2_0, promo_positions.s2_1, promo_positions.s2_2, promo_positions.s2_3, promo_positions.s2_4, promo_positions.s2_5, promo_positions.s2_6, promo_positions.s3_0, promo_positions.s3_1, promo_positions.s3_2, promo_positions.s3_3, promo_positions.s3_4, promo_positions.s3_5, promo_positions.s3_6, promo_positions.s4_0, promo_positions.s4_1, promo_positions.s4_2, promo_positions.s4_3, promo_positions.s4_4, promo_positions.s4_5, promo_positions.s4_6, promo_positions.s5_0, promo_positions.s5_1, promo_positions.s5_2, promo_positions.s5_3, promo_positions.s5_4, promo_positions.s5_5, promo_positions.s5_6, promo_positions.s6_0, promo_positions.s6_1, promo_positions.s6_2, promo_positions.s6_3, promo_positions.s6_4, promo_positions.s6_5, promo_positions.s6_6, promo_positions.s7_0, promo_positions.s7_1, promo_positions.s7_2, promo_positions.s7_3, promo_positions.s7_4, promo_positions.s7_5, promo_positions.s7_6,
        count(*) as units
    from promo_positions
    group by promo_positions.local_date, promo_positions.score_band, promo_positions.s0_0, promo_positions.s0_1, promo_positions.s0_2, promo_positions.s0_3, promo_positions.s0_4, promo_positions.s0_5, promo_positions.s0_6, promo_positions.s1_0, promo_positions.s1_1, promo_positions.s1_2, promo_positions.s1_3, promo_positions.s1_4, promo_positions.s1_5, promo_positions.s1_6, promo_positions.s2_0, promo_positions.s2_1, promo_positions.s2_2, promo_positions.s2_3, promo_positions.s2_4, promo_positions.s2_5, promo_positions.s2_6, promo_positions.s3_0, promo_positions.s3_1, promo_positions.s3_2, promo_positions.s3_3, promo_positions.s3_4, promo_positions.s3_5, promo_positions.s3_6, promo_positions.s4_0, promo_positions.s4_1, promo_positions.s4_2, promo_positions.s4_3, promo_positions.s4_4, promo_positions.s4_5, promo_positions.s4_6, promo_positions.s5_0, promo_positions.s5_1, promo_positions.s5_2, promo_positions.s5_3, promo_positions.s5_4, promo_positions.s5_5, promo_positions.s5_6, promo_positions.s6_0, promo_positions.s6_1, promo_positions.s6_2, promo_positions.s6_3, promo_positions.s6_4, promo_positions.s6_5, promo_positions.s6_6, promo_positions.s7_0, promo_positions.s7_1, promo_positions.s7_2, promo_positions.s7_3, promo_positions.s7_4, promo_positions.s7_5, promo_positions.s7_6
    union all
    select
        'promo_day' as kind,
        promo_positions.local_date,
        promo_positions.score_band,
        scope_experiments.experiment_id,
        promo_positions.s0_0, promo_positions.s0_1, promo_positions.s0_2, promo_positions.s0_3, promo_positions.s0_4, promo_positions.s0_5, promo_positions.s0_6, promo_positions.s1_0, promo_positions.s1_1, promo_positions.s1_2, promo_positions.s1_3, promo_positions.s1_4, promo_positions.s1_5, promo_positions.s1_6, promo_positions.s2_0, promo_positions.s2_1, promo_positions.s2_2, promo_positions.s2_3, promo_positions.s2_4, promo_positions.s2_5, promo_positions.s2_6, promo_positions.s3_0, promo_positions.s3_1, promo_positions.s3_2, promo_positions.s3_3, promo_positions.s3_4, promo_positions.s3_5, promo_positions.s3_6, promo_positions.s4_0, promo_positions.s4_1, promo_positions.s4_2, promo_positions.s4_3, promo_positions.s4_4, promo_positions.s4_5, promo_positions.s4_6, promo_positions.s5_0, promo_positions.s5_1, promo_positions.s5_2, promo_positions.s5_3, promo_positions.s5_4, promo_positions.s5_5, promo_positions.s5_6, promo_positions.s6_0, promo_positions.s6_1, promo_positions.s6_2, promo_positions.s6_3, promo_positions.s6_4, promo_positions.s6_5, promo_positions.s6_6, promo_positions.s7_0, promo_positions.s7_1, promo_positions.s7_2, promo_positions.s7_3, promo_positions.s7_4, promo_positions.s7_5, promo_positions.s7_6,
        count(*) as units
    from promo_positions
    inner join scope_experiments
        on scope_experiments.user_id = promo_positions.user_id
    group by promo_positions.local_date, promo_positions.score_band, scope_experiments.experiment_id, promo_positions.s0_0, promo_positions.s0_1, promo_positions.s0_2, promo_positions.s0_3, promo_positions.s0_4, promo_positions.s0_5, promo_positions.s0_6, promo_positions.s1_0, promo_positions.s1_1, promo_positions.s1_2, promo_positions.s1_3, promo_positions.s1_4, promo_positions.s1_5, promo_positions.s1_6, promo_positions.s2_0, promo_positions.s2_1, promo_positions.s2_2, promo_positions.s2_3, promo_positions.s2_4, promo_positions.s2_5, promo_positions.s2_6, promo_positions.s3_0, promo_positions.s3_1, promo_positions.s3_2, promo_positions.s3_3, promo_positions.s3_4, promo_positions.s3_5, promo_positions.s3_6, promo_positions.s4_0, promo_positions.s4_1, promo_positions.s4_2, promo_positions.s4_3, promo_positions.s4_4, promo_positions.s4_5, promo_positions.s4_6, promo_positions.s5_0, promo_positions.s5_1, promo_positions.s5_2, promo_positions.s5_3, promo_positions.s5_4, promo_positions.s5_5, promo_positions.s5_6, promo_positions.s6_0, promo_positions.s6_1, promo_positions.s6_2, promo_positions.s6_3, promo_positions.s6_4, promo_positions.s6_5, promo_positions.s6_6, promo_positions.s7_0, promo_positions.s7_1, promo_positions.s7_2, promo_positions.s7_3, promo_positions.s7_4, promo_positions.s7_5, promo_positions.s7_6
),

vectors as (
    select * from day_vectors
    union all
    select * from promo_vectors
),

policies as (
    select
        filters,
        reminder_cap
    from (values (0), (1), (2), (3), (4), (5), (6), (7)) as f (filters)
    cross join (values (0), (1), (2), (3), (4), (5), (6)) as k (reminder_cap)
),

day_rows as (
    select
        vectors.kind,
        vectors.local_date,
        vectors.score_band,
        vectors.experiment_id,
        policies.filters,
        policies.reminder_cap,
        case policies.filters * 10 + policies.reminder_cap
            when 0 then vectors.s0_0
            when 1 then vectors.s0_1
            when 2 then vectors.s0_2
            when 3 then vectors.s0_3
            when 4 then vectors.s0_4
            when 5 then vectors.s0_5
            when 6 then vectors.s0_6
            when 10 then vectors.s1_0
            when 11 then vectors.s1_1
            when 12 then vectors.s1_2
            when 13 then vectors.s1_3
            when 14 then vectors.s1_4
            when 15 then vectors.s1_5
            when 16 then vectors.s1_6
            when 20 then vectors.s2_0
            when 21 then vectors.s2_1
            when 22 then vectors.s2_2
            when 23 then vectors.s2_3
            when 24 then vectors.s2_4
            when 25 then vectors.s2_5
            when 26 then vectors.s2_6
            when 30 then vectors.s3_0
            when 31 then vectors.s3_1
            when 32 then vectors.s3_2
            when 33 then vectors.s3_3
            when 34 then vectors.s3_4
            when 35 then vectors.s3_5
            when 36 then vectors.s3_6
            when 40 then vectors.s4_0
            when 41 then vectors.s4_1
            when 42 then vectors.s4_2
            when 43 then vectors.s4_3
            when 44 then vectors.s4_4
            when 45 then vectors.s4_5
            when 46 then vectors.s4_6
            when 50 then vectors.s5_0
            when 51 then vectors.s5_1
            when 52 then vectors.s5_2
            when 53 then vectors.s5_3
            when 54 then vectors.s5_4
            when 55 then vectors.s5_5
            when 56 then vectors.s5_6
            when 60 then vectors.s6_0
            when 61 then vectors.s6_1
            when 62 then vectors.s6_2
            when 63 then vectors.s6_3
            when 64 then vectors.s6_4
            when 65 then vectors.s6_5
            when 66 then vectors.s6_6
            when 70 then vectors.s7_0
            when 71 then vectors.s7_1
            when 72 then vectors.s7_2
            when 73 then vectors.s7_3
            when 74 then vectors.s7_4
            when 75 then vectors.s7_5
            when 76 then vectors.s7_6
        end as survivors,
        -- the same for every reminder cap: what is left is monotone in the cap, so equal at
        -- cap 1 and with no cap means equal at every cap; such rows are kept once, as cap -1
        case policies.filters
            when 0 then vectors.s0_1 = vectors.s0_0
            when 1 then vectors.s1_1 = vectors.s1_0
            when 2 then vectors.s2_1 = vectors.s2_0
            when 3 then vectors.s3_1 = vectors.s3_0
            when 4 then vectors.s4_1 = vectors.s4_0
            when 5 then vectors.s5_1 = vectors.s5_0
            when 6 then vectors.s6_1 = vectors.s6_0
            when 7 then vectors.s7_1 = vectors.s7_0
        end as any_cap,
        vectors.units
    from vectors
    cross join policies
),

final as (
    select
        'reminder' as kind,
        reminder_rows.local_date,
        reminder_rows.score_band,
        '*' as experiment_id,
        reminder_rows.filters,
        0 as reminder_cap,
        least(reminder_rows.rank, 7) as rank,
        count(*) as units,
        cast(sum(reminder_rows.rank) as bigint) as total,
        cast(sum(reminder_rows.promo) as bigint) as promo
    from reminder_rows
    where reminder_rows.rank >= 2
    group by reminder_rows.local_date, reminder_rows.score_band, reminder_rows.filters,
        least(reminder_rows.rank, 7)
    union all
    select
        'reminder' as kind,
        reminder_rows.local_date,
        reminder_rows.score_band,
        scope_experiments.experiment_id,
        reminder_rows.filters,
        0 as reminder_cap,
        least(reminder_rows.rank, 7) as rank,
        count(*) as units,
        cast(sum(reminder_rows.rank) as bigint) as total,
        cast(sum(reminder_rows.promo) as bigint) as promo
    from reminder_rows
    inner join scope_experiments
        on scope_experiments.user_id = reminder_rows.user_id
    where reminder_rows.rank >= 2
    group by reminder_rows.local_date, reminder_rows.score_band,
        scope_experiments.experiment_id, reminder_rows.filters, least(reminder_rows.rank, 7)
    union all
    select
        kind,
        local_date,
        score_band,
        experiment_id,
        filters,
        case when any_cap then -1 else reminder_cap end as reminder_cap,
        least(survivors, 7) as rank,
        cast(sum(units) as bigint) as units,
        cast(sum(survivors * units) as bigint) as total,
        cast(0 as bigint) as promo
    from day_rows
    where survivors >= 2 and (not any_cap or reminder_cap = 0)
    group by kind, local_date, score_band, experiment_id, filters,
        case when any_cap then -1 else reminder_cap end, least(survivors, 7)
)

select * from final
order by local_date, kind
