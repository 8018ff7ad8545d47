"""mart.volume_outcome_curve and mart.experiment_effects on hand-made user_cycle rows.

The marts are built on an empty warehouse, mart.user_cycle is then replaced by the rows
below and only the two SQL files under test are run again, so the inputs are exactly these
rows. The expected numbers are worked out by hand in the comments (z = 1.959964,
z² = 3.841459); test_metrics_statistics.py checks the same formulas against statsmodels/scipy.
"""

from __future__ import annotations

import pytest

from pipelines import sqlfiles
from tests.fixtures.metrics.warehouse import Warehouse

INSERT = (
    "insert into mart.user_cycle (bill_id, user_id, score_band, experiment_id, arm, "
    "pre_due_reminders, total_sms, on_time, complained) values (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    w.build()
    rows = []
    # band A, 0 reminders = exp1/control: 10 rows, on_time 6 true 4 false, total_sms 2 each
    for i in range(10):
        rows.append((f"c{i}", f"c{i}", "A", "exp1", "control", 0, 2, i < 6, False))
    # exp1/treat: 10 rows with on_time 8 true 2 false (total_sms 3 x5, 5 x5) and one row
    # whose on_time is null (total_sms 4): it counts in avg_total_sms, not in n
    for i in range(10):
        rows.append((f"t{i}", f"t{i}", "B", "exp1", "treat", 7, 3 if i < 5 else 5, i < 8, False))
    rows.append(("t10", "t10", "B", "exp1", "treat", 7, 4, None, False))
    # exp2 has no control arm: no rows for it
    rows.append(("x0", "x0", None, "exp2", "treat", 4, 1, True, None))
    # no experiment, unknown band, 1 reminder, on time
    rows.append(("n0", "n0", None, None, None, 1, 1, True, None))
    w.con.executemany(INSERT, rows)
    sqlfiles.run(w.con, "marts/volume_outcome_curve")
    sqlfiles.run(w.con, "marts/experiment_effects")
    return w


def test_volume_outcome_curve(built):
    got = built.rows(
        "select score_band, reminders_bucket, outcome, n, rate, ci_low, ci_high "
        "from mart.volume_outcome_curve order by score_band, reminders_bucket, outcome"
    )
    # Wilson: centre = (p + z²/2n)/(1 + z²/n), half = z/(1 + z²/n)·sqrt(p(1-p)/n + z²/4n²)
    # 6/10:  centre = (0.6 + 0.192073)/1.384146 = 0.572246; half = 1.416010·sqrt(0.024 +
    #        0.009604) = 1.416010·0.183313 = 0.259573 -> (0.312673, 0.831819)
    # 8/10:  centre = (0.8 + 0.192073)/1.384146 = 0.716740; half = 1.416010·sqrt(0.016 +
    #        0.009604) = 1.416010·0.160011 = 0.226577 -> (0.490162, 0.943318)
    # 1/1:   centre = (1 + 1.920730)/4.841459 = 0.603275; half = 0.404828·sqrt(0 + 0.960365)
    #        = 0.396725 -> (0.206549, 1.0)
    # 0/n:   centre = half = (z²/2n)/(1 + z²/n) -> (0, (z²/n)/(1 + z²/n)); n = 10: (0, 0.277532)
    # Band B, 5+ = the eleven treat rows: on_time 8/10 (t10 is null), complained 0/11.
    # 'all' 5+ = B's rows; 'all' 0 = A's rows; 'all' 4 = x0 (1/1); 'all' 1 = n0 (1/1).
    # Outcomes that are null on every row of a group (dpd30, ..., complained for x0/n0) give
    # no row.
    expected = [
        ("A", "0", "complained", 10, 0.0, 0.0, 0.277532),
        ("A", "0", "on_time", 10, 0.6, 0.312673, 0.831819),
        ("B", "5+", "complained", 11, 0.0, 0.0, 3.841459 / 11 / (1 + 3.841459 / 11)),
        ("B", "5+", "on_time", 10, 0.8, 0.490162, 0.943318),
        ("all", "0", "complained", 10, 0.0, 0.0, 0.277532),
        ("all", "0", "on_time", 10, 0.6, 0.312673, 0.831819),
        ("all", "1", "on_time", 1, 1.0, 0.206549, 1.0),
        ("all", "4", "on_time", 1, 1.0, 0.206549, 1.0),
        ("all", "5+", "complained", 11, 0.0, 0.0, 3.841459 / 11 / (1 + 3.841459 / 11)),
        ("all", "5+", "on_time", 10, 0.8, 0.490162, 0.943318),
    ]
    assert [r[:4] for r in got] == [e[:4] for e in expected]
    for row, exp in zip(got, expected, strict=True):
        assert row[4:] == pytest.approx(exp[4:], abs=2e-6), row


def test_experiment_effects(built):
    got = built.rows(
        "select experiment_id, arm, outcome, n_arm, rate_arm, n_control, rate_control, diff, "
        "ci_low, ci_high, p_value, avg_total_sms_arm, avg_total_sms_control "
        "from mart.experiment_effects order by experiment_id, arm, outcome"
    )
    # on_time: p1 = 8/10, p0 = 6/10, diff = 0.2
    #   Wald se = sqrt(0.8·0.2/10 + 0.6·0.4/10) = sqrt(0.016 + 0.024) = 0.2
    #   CI = 0.2 ± 1.959964·0.2 = (-0.1919928, 0.5919928)
    #   pooled p = 14/20 = 0.7; var = 0.7·0.3·(1/10 + 1/10) = 0.042; z = 0.2/0.204939 = 0.97590
    #   p = 2·(1 - Φ(0.97590)) = 2·0.164557 = 0.329114
    # complained: 0/11 vs 0/10, pooled variance 0 -> p = 1.0, diff 0, CI (0, 0)
    # avg_total_sms: treat (5·3 + 5·5 + 4)/11 = 44/11 = 4.0; control 2.0
    # exp2 has no control rows: nothing
    assert got == [
        pytest.approx(("exp1", "treat", "complained", 11, 0.0, 10, 0.0, 0.0, 0.0, 0.0, 1.0,
                       4.0, 2.0)),
        pytest.approx(("exp1", "treat", "on_time", 10, 0.8, 10, 0.6, 0.2, -0.1919928,
                       0.5919928, 0.329114, 4.0, 2.0), abs=1e-6),
    ]  # fmt: skip
