"""Queries of the messaging trade-offs page: the curve, the arms and the frontier (the policy
what-if itself is pipelines.whatif), and the policy search kept between script runs."""

from __future__ import annotations

import hashlib
import math

import pandas as pd
import streamlit as st

from dashboard.data.connection import query
from dashboard.data.scope import Filters
from pipelines.whatif import engine as E
from pipelines.whatif import search as S
from pipelines.whatif.policy import Weights


def _fingerprint(inputs: E.Inputs) -> str:
    """What the search reads, as a digest: the scope, every measured quantity and count, and the
    count tables (so a new publish with other data is another key, the same data the same)."""
    h = hashlib.sha256()
    exp = inputs.experiment
    for part in (
        repr(inputs.scope),
        repr(sorted(inputs.quantities.items())),
        repr(sorted(inputs.complaints.items())),
        repr(inputs.opt_outs),
        repr(exp and (exp.experiment_id, sorted(exp.cadence.items()), exp.levels,
                      sorted(exp.source.items()), sorted(exp.arm_bills.items()))),
        repr(sorted((k, sorted(v.items())) for k, v in inputs.bill_groups.items())),
        repr(inputs.notes),
    ):  # fmt: skip
        h.update(part.encode("utf-8"))
    t = inputs.tables
    if t is not None:
        h.update(repr(t.cells).encode("utf-8"))
        for a in (t.filters, t.reminder_cut, t.reminder_promo, t.day_surplus, t.promo_day_cut):
            h.update(a.tobytes())
    return h.hexdigest()


def policy_search(inputs: E.Inputs, weights: Weights) -> S.Search:
    """The search over the policy grid (pipelines.whatif.search) for the page's scope and
    weights. It does not depend on the policy the user composes, so it is kept between script
    runs (keyed by what it reads, not by the widgets): changing the policy reruns no search.
    The result is shared, never modified."""
    key = (_fingerprint(inputs), tuple(sorted(weights.as_dict().items())))
    return _search(key, inputs, weights)


@st.cache_resource(ttl=3600, max_entries=8, show_spinner=False)
def _search(key: tuple, _inputs: E.Inputs, _weights: Weights) -> S.Search:
    """`key` alone tells runs apart (the underscored arguments are not hashed)."""
    return S.search(_inputs, _weights)


CURVE_SQL = """
select score_band, reminders_bucket, outcome, n, rate, ci_low, ci_high
from mart.volume_outcome_curve
where $band is null or score_band in ('all', $band)
order by outcome, score_band, reminders_bucket
"""


def curve(f: Filters) -> pd.DataFrame:
    return query(CURVE_SQL, f.params())


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
