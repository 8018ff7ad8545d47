"""The interval and test statistics of the marts against independent implementations:
Wilson intervals against statsmodels' proportion_confint(method="wilson"), the Wald interval
of a difference against scipy's normal quantile, and the pooled two-proportion z-test
against statsmodels' proportions_ztest. The SQL runs on generated user_cycle rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from pipelines import sqlfiles
from tests.fixtures.metrics.warehouse import Warehouse

Z = 1.959964

INSERT = (
    "insert into mart.user_cycle (bill_id, score_band, experiment_id, arm, pre_due_reminders, "
    "total_sms, on_time) values (?, ?, ?, ?, ?, ?, ?)"
)

# (experiment, arm, n, successes): small, large, extreme (0 and n) and tied groups
GROUPS = [
    ("e1", "control", 40, 31),
    ("e1", "a", 35, 20),
    ("e1", "b", 50, 50),
    ("e2", "control", 400, 120),
    ("e2", "a", 380, 152),
    ("e3", "control", 7, 0),
    ("e3", "a", 9, 1),
    ("e4", "control", 1000, 500),
    ("e4", "a", 1000, 500),
    ("e5", "control", 3, 3),
    ("e5", "a", 2, 2),  # pooled variance 0: p = 1
]


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    w.build()
    rows, i = [], 0
    for experiment, arm, n, k in GROUPS:
        for j in range(n):
            i += 1
            # each group is its own (band, bucket) cell of the curve: band = experiment,
            # bucket from the arm
            bucket = {"control": 0, "a": 1, "b": 2}[arm]
            rows.append((f"b{i}", experiment, experiment, arm, bucket, 1, j < k))
    w.con.executemany(INSERT, rows)
    sqlfiles.run(w.con, "marts/volume_outcome_curve")
    sqlfiles.run(w.con, "marts/experiment_effects")
    return w


def test_wilson_matches_statsmodels(built):
    got = built.rows(
        "select score_band, reminders_bucket, n, rate, ci_low, ci_high "
        "from mart.volume_outcome_curve where outcome = 'on_time' and score_band <> 'all'"
    )
    by_cell = {(band, bucket): rest for band, bucket, *rest in got}
    assert len(by_cell) == len(GROUPS)
    for experiment, arm, n, k in GROUPS:
        bucket = {"control": "0", "a": "1", "b": "2"}[arm]
        got_n, rate, low, high = by_cell[(experiment, bucket)]
        ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert got_n == n
        assert rate == pytest.approx(k / n)
        # statsmodels uses the exact quantile 1.95996398...; the spec fixes z = 1.959964
        assert low == pytest.approx(ref_low, abs=1e-7), (experiment, arm)
        assert high == pytest.approx(ref_high, abs=1e-7), (experiment, arm)


def test_two_proportion_test_matches_statsmodels(built):
    got = built.rows(
        "select experiment_id, arm, n_arm, rate_arm, n_control, rate_control, diff, ci_low, "
        "ci_high, p_value from mart.experiment_effects where outcome = 'on_time'"
    )
    groups = {(e, a): (n, k) for e, a, n, k in GROUPS}
    assert {(r[0], r[1]) for r in got} == {(e, a) for e, a, *_ in GROUPS if a != "control"}
    for experiment, arm, n1, p1, n0, p0, diff, low, high, p_value in got:
        (m1, k1), (m0, k0) = groups[(experiment, arm)], groups[(experiment, "control")]
        assert (n1, n0) == (m1, m0)
        assert (p1, p0, diff) == pytest.approx((k1 / m1, k0 / m0, k1 / m1 - k0 / m0))
        se = np.sqrt(p1 * (1 - p1) / n1 + p0 * (1 - p0) / n0)
        z = stats.norm.ppf(0.975)
        assert low == pytest.approx(diff - z * se, abs=1e-6)
        assert high == pytest.approx(diff + z * se, abs=1e-6)
        pooled = (k1 + k0) / (n1 + n0)
        if pooled in (0.0, 1.0):
            assert p_value == 1.0  # the spec's rule for a zero pooled variance
            continue
        _, ref_p = proportions_ztest([k1, k0], [n1, n0], alternative="two-sided")
        # the SQL's erfc approximation has a relative error below 1.2e-7
        assert p_value == pytest.approx(ref_p, rel=1e-6, abs=1e-12), (experiment, arm)
