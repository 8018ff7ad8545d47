"""Queries of the messaging trade-offs page: curve, arms, frontier and the policy what-if."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from dashboard.data.connection import query
from dashboard.data.scope import IN_SCOPE, Filters, scoped
from dashboard.policy import RULES, Baseline, Counts, Curve, Policy


CURVE_SQL = """
select score_band, reminders_bucket, outcome, n, rate, ci_low, ci_high
from mart.volume_outcome_curve
where $band is null or score_band in ('all', $band)
order by outcome, score_band, reminders_bucket
"""


def curve(f: Filters) -> pd.DataFrame:
    return query(CURVE_SQL, f.params())


def curve_map(f: Filters) -> Curve:
    df = query(
        "select score_band, reminders_bucket, outcome, rate from mart.volume_outcome_curve "
        "where rate is not null"
    )
    return {(r.score_band, r.reminders_bucket, r.outcome): float(r.rate) for r in df.itertuples()}


# The arms of each experiment against its control over the bills in the date range and score
# band (mart.experiment_effects is over all bills: it cannot follow the filters), from
# mart.user_cycle_summary, which keeps each outcome's non-null and true counts per due date,
# band and arm. Same definitions as mart.experiment_effects (metrics.md): diff = arm - control,
# Wald 95 % interval; the p-value (pooled two-sided z-test) is added in Python.
EFFECTS_SQL = """
with arms as (
    select experiment_id, arm,
           unnest(['on_time', 'dpd30', 'complained', 'sms_complained', 'opted_out',
                   'active_next_cycle']) as outcome,
           unnest([sum(on_time_n), sum(dpd30_n), sum(complained_n), sum(sms_complained_n),
                   sum(opted_out_n), sum(active_next_cycle_n)]) as n,
           unnest([sum(on_time_sum), sum(dpd30_sum), sum(complained_sum),
                   sum(sms_complained_sum), sum(opted_out_sum),
                   sum(active_next_cycle_sum)]) as k,
           sum(total_sms) / nullif(sum(total_sms_n), 0) as avg_total_sms
    from mart.user_cycle_summary
    where experiment_id is not null and arm is not null
      and due_date between $start and $end
      and ($band is null or score_band = $band)
      and ($experiment is null or experiment_id = $experiment)
    group by experiment_id, arm
),
rates as (
    select *, k / nullif(n, 0) as rate from arms
)
select a.experiment_id, a.arm, a.outcome,
       a.n::bigint as n_arm, a.rate as rate_arm, a.k::bigint as k_arm,
       c.n::bigint as n_control, c.rate as rate_control, c.k::bigint as k_control,
       a.rate - c.rate as diff,
       a.rate - c.rate - 1.959964 * sqrt(a.rate * (1 - a.rate) / a.n
                                          + c.rate * (1 - c.rate) / c.n) as ci_low,
       a.rate - c.rate + 1.959964 * sqrt(a.rate * (1 - a.rate) / a.n
                                          + c.rate * (1 - c.rate) / c.n) as ci_high,
       a.avg_total_sms as avg_total_sms_arm, c.avg_total_sms as avg_total_sms_control
from rates a
join rates c
  on c.experiment_id = a.experiment_id and c.arm = 'control' and c.outcome = a.outcome
where a.arm <> 'control' and a.n > 0 and c.n > 0
order by a.experiment_id, a.arm, a.outcome
"""


def _p_value(row: pd.Series) -> float:
    """Two-sided z-test with the pooled proportion; 1.0 when the pooled variance is 0."""
    n1, n0 = float(row["n_arm"]), float(row["n_control"])
    pooled = (float(row["k_arm"]) + float(row["k_control"])) / (n1 + n0)
    var = pooled * (1 - pooled) * (1 / n1 + 1 / n0)
    if var <= 0:
        return 1.0
    return math.erfc(abs(float(row["diff"])) / math.sqrt(var) / math.sqrt(2))


def experiment_effects(f: Filters) -> pd.DataFrame:
    """Arm vs control per experiment and outcome, over the bills due in the date range of the
    chosen score band (and experiment): the columns of mart.experiment_effects."""
    df = query(EFFECTS_SQL, f.params())
    df = df.copy()
    df["p_value"] = df.apply(_p_value, axis=1) if len(df) else pd.Series(dtype=float)
    cols = ["experiment_id", "arm", "outcome", "n_arm", "rate_arm", "n_control",
            "rate_control", "diff", "ci_low", "ci_high", "p_value", "avg_total_sms_arm",
            "avg_total_sms_control"]  # fmt: skip
    return df[cols]


FRONTIER_SQL = """
with cycles as (
    select
        case when $by_arm then coalesce(arm, '(none)')
             when pre_due_reminders >= 5 then '5+'
             else pre_due_reminders::varchar end as grp,
        cycles, total_sms_n, total_sms, on_time_n, on_time_sum, complained_n, complained_sum,
        opted_out_n, opted_out_sum
    from mart.user_cycle_summary
    where due_date between $start and $end
      and ($band is null or score_band = $band)
      and ($experiment is null or experiment_id = $experiment)
)
select grp, sum(cycles)::bigint as cycles,
       sum(total_sms) / nullif(sum(total_sms_n), 0) as sms_per_cycle,
       sum(on_time_sum) / nullif(sum(on_time_n), 0) as on_time_rate,
       sum(complained_sum) / nullif(sum(complained_n), 0) as complaint_rate,
       sum(opted_out_sum) / nullif(sum(opted_out_n), 0) as opt_out_rate
from cycles
group by grp
order by grp
"""


def frontier(f: Filters) -> pd.DataFrame:
    return query(FRONTIER_SQL, {**f.params(), "by_arm": f.experiment is not None})


# The what-if for several policies in one query over two small marts (see
# sql/marts/policy_cap_histogram.sql for what each histogram row means). Per policy: messages in
# scope, what each rule would remove alone, and the combined policy with every message removed
# at most once (first rule in RULES order). `filters` = 1 compliance + 2 duplicates + 4 quiet
# hours; a cap of 0 means none; histogram rows with reminder_cap -1 hold for every cap.
POLICY_SQL = """
with policies as (
    select unnest($policy_ids) as policy, unnest($filters) as filters,
           unnest($reminder_caps) as reminder_cap, unnest($daily_caps) as daily_cap
),
flags as (
    select is_after_opt_out or is_marketing_without_consent as is_compliance,
           is_duplicate, is_quiet_hours, is_over_daily_cap, is_marketing_in_service,
           purpose = 'marketing' as is_marketing,
           sum(messages) as messages
    from mart.sms_daily_flags
    where local_date between $start and $end and {in_scope}
    group by all
),
caps as (
    select kind, filters, reminder_cap, rank,
           sum(units) as units, sum(total) as total, sum(promo) as promo
    from mart.policy_cap_histogram
    where local_date between $start and $end and {in_scope}
      and list_contains($filters_read, filters) and list_contains($reminder_caps_read, reminder_cap)
    group by all
),
filtered as (
    select p.policy, f.*,
        case when p.filters & 1 = 1 and f.is_compliance then 'compliance'
             when p.filters & 2 = 2 and f.is_duplicate then 'duplicates'
             when p.filters & 4 = 4 and f.is_quiet_hours then 'quiet_hours'
        end as by_filter
    from policies p cross join flags f
),
by_filters as (
    select policy,
        sum(messages) as messages,
        sum(messages) filter (where is_compliance) as alone_compliance,
        sum(messages) filter (where is_duplicate) as alone_duplicates,
        sum(messages) filter (where is_quiet_hours) as alone_quiet_hours,
        sum(messages) filter (where is_marketing_in_service) as alone_promo,
        sum(messages) filter (where by_filter = 'compliance') as removed_compliance,
        sum(messages) filter (where by_filter = 'duplicates') as removed_duplicates,
        sum(messages) filter (where by_filter = 'quiet_hours') as removed_quiet_hours,
        sum(messages) filter (where by_filter is null and is_marketing_in_service)
            as promo_after_filters,
        sum(messages) filter (where is_duplicate) as flagged_duplicates,
        sum(messages) filter (where is_quiet_hours) as flagged_quiet_hours,
        sum(messages) filter (where is_over_daily_cap) as flagged_daily_cap,
        sum(messages) filter (where is_marketing or is_marketing_in_service) as promotional
    from filtered
    group by policy
),
by_caps as (
    select p.policy,
        sum(c.units) filter (where c.kind = 'reminder' and c.filters = 0
                             and p.reminder_cap > 0 and c.rank > p.reminder_cap)
            as alone_reminder_cap,
        sum(c.units) filter (where c.kind = 'reminder' and c.filters = p.filters
                             and p.reminder_cap > 0 and c.rank > p.reminder_cap)
            as removed_reminder_cap,
        sum(c.promo) filter (where c.kind = 'reminder' and c.filters = p.filters
                             and p.reminder_cap > 0 and c.rank > p.reminder_cap)
            as promo_reminder_cap,
        sum(c.total - p.daily_cap * c.units)
            filter (where c.kind = 'day' and c.filters = 0 and c.reminder_cap in (0, -1)
                    and p.daily_cap > 0 and c.rank > p.daily_cap) as alone_daily_cap,
        sum(c.total - p.daily_cap * c.units)
            filter (where c.kind = 'day' and c.filters = p.filters
                    and c.reminder_cap in (p.reminder_cap, -1)
                    and p.daily_cap > 0 and c.rank > p.daily_cap) as removed_daily_cap,
        sum(c.units)
            filter (where c.kind = 'promo_day' and c.filters = p.filters
                    and c.reminder_cap in (p.reminder_cap, -1)
                    and p.daily_cap > 0 and c.rank > p.daily_cap) as promo_daily_cap
    from policies p cross join caps c
    group by p.policy
)
select p.policy,
    coalesce(f.messages, 0) as messages,
    coalesce(f.alone_compliance, 0) as alone_compliance,
    coalesce(f.alone_duplicates, 0) as alone_duplicates,
    coalesce(f.alone_quiet_hours, 0) as alone_quiet_hours,
    coalesce(c.alone_reminder_cap, 0) as alone_reminder_cap,
    coalesce(c.alone_daily_cap, 0) as alone_daily_cap,
    coalesce(f.alone_promo, 0) as alone_promo,
    coalesce(f.removed_compliance, 0) as removed_compliance,
    coalesce(f.removed_duplicates, 0) as removed_duplicates,
    coalesce(f.removed_quiet_hours, 0) as removed_quiet_hours,
    coalesce(c.removed_reminder_cap, 0) as removed_reminder_cap,
    coalesce(c.removed_daily_cap, 0) as removed_daily_cap,
    coalesce(f.promo_after_filters, 0) - coalesce(c.promo_reminder_cap, 0)
        - coalesce(c.promo_daily_cap, 0) as rewritten_promo,
    coalesce(f.flagged_duplicates, 0) as flagged_duplicates,
    coalesce(f.flagged_quiet_hours, 0) as flagged_quiet_hours,
    coalesce(f.flagged_daily_cap, 0) as flagged_daily_cap,
    coalesce(f.promotional, 0) as promotional
from policies p
left join by_filters f using (policy)
left join by_caps c using (policy)
order by p.policy
""".replace("{in_scope}", IN_SCOPE)

# The caps the aggregate marts cover (the page's choices): 1..6 or none.
CAP_VALUES = (1, 2, 3, 4, 5, 6)


def _cap(value: int | None, name: str) -> int:
    if value is None:
        return 0
    if value not in CAP_VALUES:
        raise ValueError(f"{name} {value!r}: the what-if covers caps {CAP_VALUES} or none")
    return int(value)


def policy_counts_many(
    policies: Mapping[str, Policy], f: Filters
) -> dict[str, tuple[Counts, dict[str, int]]]:
    """Exact message counts of each policy in scope, and the flagged-message denominators.

    One query for all policies, over `mart.sms_daily_flags` and `mart.policy_cap_histogram`.
    """
    names = list(policies)
    if not names:
        return {}
    params = {
        **f.params(),
        "policy_ids": names,
        "filters": [
            int(p.block_marketing_without_permission)
            + 2 * int(p.suppress_duplicates)
            + 4 * int(p.quiet_hours)
            for p in policies.values()
        ],
        "reminder_caps": [
            _cap(p.max_pre_due_reminders, "pre-due reminder cap") for p in policies.values()
        ],
        "daily_caps": [_cap(p.daily_cap, "daily cap") for p in policies.values()],
    }
    # only the histogram rows these policies need (0: the rules alone)
    params["filters_read"] = sorted({0, *params["filters"]})
    params["reminder_caps_read"] = sorted({-1, 0, *params["reminder_caps"]})
    rows = {r["policy"]: r for r in query(POLICY_SQL, params).to_dict("records")}
    out = {}
    for name, policy in policies.items():
        row = rows[name]
        counts = Counts(
            messages=int(row["messages"]),
            removed={r: int(row[f"removed_{r}"]) for r in RULES},
            alone={r: int(row[f"alone_{r}"]) for r in (*RULES, "promo")},
            rewritten=int(row["rewritten_promo"]) if policy.no_promo_in_reminders else 0,
        )
        flagged = {
            "duplicates": int(row["flagged_duplicates"]),
            "quiet_hours": int(row["flagged_quiet_hours"]),
            "daily_cap": int(row["flagged_daily_cap"]),
            "compliance": int(row["promotional"]),
            "promo": int(row["promotional"]),
        }
        out[name] = (counts, flagged)
    return out


def policy_counts(policy: Policy, f: Filters) -> tuple[Counts, dict[str, int]]:
    """Exact message counts of one policy in scope, and the flagged-message denominators."""
    return policy_counts_many({"policy": policy}, f)["policy"]


BASELINE_SQL = """
select
    (select count(*) from mart.complaints_classified
      where local_date between $start and $end and {user_in_scope}) as complaints,
    (select coalesce(sum(opt_outs), 0) from mart.opt_outs_daily
      where local_date between $start and $end and {in_scope}) as opt_outs,
    (select coalesce(sum(on_time_n), 0) from mart.user_cycle_summary
      where due_date between $start and $end
        and ($band is null or score_band = $band)
        and ($experiment is null or experiment_id = $experiment)) as bills,
    (select coalesce(sum(on_time_sum), 0) from mart.user_cycle_summary
      where due_date between $start and $end
        and ($band is null or score_band = $band)
        and ($experiment is null or experiment_id = $experiment)) as on_time
"""

COMPLAINTS_BY_CATEGORY_SQL = """
select category, count(*) as complaints
from mart.complaints_classified
where local_date between $start and $end and {user_in_scope}
group by category
order by category
"""

BILLS_BY_REMINDERS_SQL = """
select score_band, pre_due_reminders, sum(cycles)::bigint as bills
from mart.user_cycle_summary
where due_date between $start and $end
  and ($band is null or score_band = $band)
  and ($experiment is null or experiment_id = $experiment)
group by all
order by all
"""


def baseline(f: Filters, messages: int, flagged: dict[str, int]) -> Baseline:
    row = query(scoped(BASELINE_SQL).replace("{in_scope}", IN_SCOPE), f.params()).iloc[0]
    cats = query(scoped(COMPLAINTS_BY_CATEGORY_SQL), f.params())
    return Baseline(
        messages=messages,
        opt_outs=int(row["opt_outs"]),
        bills=int(row["bills"]),
        on_time=int(row["on_time"]),
        complaints_by_category={r.category: int(r.complaints) for r in cats.itertuples()},
        flagged=flagged,
    )


def bills_by_reminders(f: Filters) -> list[tuple[str, int, int]]:
    df = query(BILLS_BY_REMINDERS_SQL, f.params())
    return [(r.score_band, int(r.pre_due_reminders), int(r.bills)) for r in df.itertuples()]


ARMS_SQL = """
select experiment_id, arm, sum(cycles)::bigint as cycles,
       sum(pre_due_reminders * cycles)
           / nullif(sum(cycles) filter (where pre_due_reminders is not null), 0) as reminders,
       sum(on_time_sum) / nullif(sum(on_time_n), 0) as on_time,
       sum(complained_sum) / nullif(sum(complained_n), 0) as complained,
       sum(opted_out_sum) / nullif(sum(opted_out_n), 0) as opted_out
from mart.user_cycle_summary
where experiment_id is not null and arm is not null
  and due_date between $start and $end
  and ($experiment is null or experiment_id = $experiment)
group by experiment_id, arm
order by experiment_id, reminders
"""


def experiment_arms(f: Filters) -> tuple[str | None, list[dict[str, float]]]:
    """The arms of the experiment whose arms differ most in pre-due reminders (or the chosen
    one) as dicts: arm, cycles, reminders (mean) and the outcome rates. All score bands."""
    df = query(ARMS_SQL, f.params())
    if df.empty:
        return None, []
    spread = df.groupby("experiment_id")["reminders"].agg(lambda r: r.max() - r.min())
    exp = str(spread.sort_values(ascending=False).index[0])
    rows = df[df["experiment_id"] == exp].to_dict("records")
    return exp, [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in rows]

