"""mart.user_cycle recomputes only the bills whose inputs changed (pipelines.marts.cycle).

Two users, five bills, as_of 2024-04-30 at first:

bill user statement  due    W = [statement, +1 month)  N = [+1 month, +2 months)  N's last day
BA1  ua   01-15      02-05  [01-15, 02-15)             [02-15, 03-15)             03-14
BA2  ua   02-15      03-05  [02-15, 03-15)             [03-15, 04-15)             04-14
BA3  ua   03-15      04-05  [03-15, 04-15)             [04-15, 05-15)             05-14
BB1  ub   02-15      03-05  [02-15, 03-15)             [03-15, 04-15)             04-14
BB2  ub   04-01      04-20  [04-01, 05-01)             [05-01, 06-01)             05-31

Every step changes one input and names, worked out from the table above, the bills that must
be recomputed; the build must recompute exactly those, and every mart must equal a full
rebuild of the same core.
"""

from __future__ import annotations

from datetime import date

import pytest
from test_metrics_incremental import _keyed_steps

from pipelines.marts import cycle, run_build
from tests.fixtures.metrics.warehouse import Warehouse

BILLS = (
    ("BA1", "ua", "2024-01-15", "2024-02-05"),
    ("BA2", "ua", "2024-02-15", "2024-03-05"),
    ("BA3", "ua", "2024-03-15", "2024-04-05"),
    ("BB1", "ub", "2024-02-15", "2024-03-05"),
    ("BB2", "ub", "2024-04-01", "2024-04-20"),
)


def _sms(w: Warehouse, mid: str, user: str, sent_at: str, **kw) -> None:
    kw.setdefault("template_code", f"T_{mid}")
    w.add("sms_logs", message_id=mid, user_id=user, sent_at=sent_at, **kw)


def _warehouse() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    w.add("users", user_id="ua", score_band="A")
    w.add("users", user_id="ub", score_band="B")
    for bill, user, statement, due in BILLS:
        w.add("bills", bill_id=bill, user_id=user, cycle=statement[:7],
              statement_date=statement, due_date=due, amount_due=100)  # fmt: skip
    w.add("repayments", bill_id="BA1", user_id="ua", paid_at="2024-02-04 10:00:00+08", amount=100)
    _sms(w, "n1", "ua", "2024-01-15 10:00:00+08", purpose="bill_notice", bill_id="BA1")
    _sms(w, "r1", "ua", "2024-03-20 10:00:00+08", purpose="due_reminder", bill_id="BA3")
    _sms(w, "k1", "ub", "2024-02-20 10:00:00+08", purpose="marketing")
    # a user without bills gets messages on twenty days, so that a step's dates stay a small
    # share of the days (a larger one rebuilds the flags, and so user_cycle, in full)
    for day in range(1, 21):
        _sms(w, f"z{day}", "uz", f"2024-01-{day:02d} 12:00:00+08", purpose="marketing")
        # and card orders, so that mart.bnpl_orders is updated by date too (pipelines.marts.
        # by_date), and user_cycle compares the orders of those dates only
        w.add("orders", user_id="uz", created_at=f"2024-01-{day:02d} 12:00:00+08",
              payment_method="card")  # fmt: skip
    return w


def _as_of(w: Warehouse, old: str, new: str) -> None:
    w.con.execute("update ingest.file_ledger set dt = ? where dt = ?", [new, old])


def _row(w: Warehouse, bill: str) -> tuple:
    found = w.rows(
        "select total_sms, pre_due_reminders, complained, opted_out, active_next_cycle, "
        "experiment_id, on_time, dpd30 from mart.user_cycle where bill_id = ?",
        [bill],
    )
    return found[0] if found else ()


@pytest.fixture(scope="module")
def steps():
    w = _warehouse()
    return w, _keyed_steps(w, cycle.FILE)


def test_each_input_recomputes_the_bills_it_reaches(steps):
    w, step = steps
    assert step() == ()  # nothing changed

    # a message to ub on 04-10: in BB2's W only
    assert _row(w, "BB2")[0] == 0
    _sms(w, "k2", "ub", "2024-04-10 10:00:00+08", purpose="marketing")
    assert step() == ("BB2",)
    assert _row(w, "BB2")[0] == 1

    # a complaint by ua on 03-01: in BA2's W (BA1's W ended on 02-15, BA3's starts on 03-15)
    w.add("complaints", user_id="ua", received_at="2024-03-01 10:00:00+08", category="fees")
    assert step() == ("BA2",)
    assert _row(w, "BA2")[2] is True

    # an opt-out by ub at 23:30 local on 03-14 (15:30 UTC), the last day of BB1's W. k2, ub's
    # marketing of 04-10, now comes after an opt-out: its flags row changes, so BB2 (whose W
    # holds 04-10) is recomputed too, although none of the sums user_cycle reads moves
    w.add("opt_outs", user_id="ub", received_at="2024-03-14 15:30:00+00")
    assert step() == ("BB1", "BB2")
    assert _row(w, "BB1")[3] is True

    # a BNPL order by ua on 03-20: in BA2's N (it counts in no W)
    assert _row(w, "BA2")[4] is False
    w.add("orders", user_id="ua", created_at="2024-03-20 10:00:00+08", payment_method="bnpl")
    assert step() == ("BA2",)
    assert _row(w, "BA2")[4] is True
    assert step.builds[-1].daily_plans["marts/bnpl_orders"].dates == (date(2024, 3, 20),)

    # an experiment assignment of ub: every bill of ub
    w.add("experiment_assignments", experiment_id="e1", user_id="ub", arm="treat",
          assigned_at="2024-01-01 00:00:00+08")  # fmt: skip
    assert step() == ("BB1", "BB2")
    assert _row(w, "BB1")[5] == "e1"

    # a reminder of BA3 delivered on 04-02: BA3's pre-due reminders and its W
    _sms(w, "r2", "ua", "2024-04-02 10:00:00+08", purpose="due_reminder", bill_id="BA3")
    assert step() == ("BA3",)
    assert _row(w, "BA3")[:2] == (2, 2)
    # a notice of BA2 delivered on 02-14, the day before its statement: a pre-due reminder of
    # BA2 (no lower bound) and a message in BA1's W (BA2's W starts on 02-15)
    _sms(w, "n2", "ua", "2024-02-14 10:00:00+08", purpose="bill_notice", bill_id="BA2")
    assert step() == ("BA1", "BA2")
    assert (_row(w, "BA1")[0], _row(w, "BA2")[:2]) == (2, (0, 1))

    # BB1 repaid on time: its on_time in mart.bill_state
    w.add("repayments", bill_id="BB1", user_id="ub", paid_at="2024-03-01 10:00:00+08", amount=100)
    assert step() == ("BB1",)
    assert _row(w, "BB1")[6:] == (True, False)

    # as_of 05-06: BA3's dpd30 is defined from 04-05 + 30 = 05-05 (a change in bill_state)
    _as_of(w, "2024-04-30", "2024-05-06")
    assert step() == ("BA3",)
    assert _row(w, "BA3")[7] is True
    # as_of 05-14: BA3's N ends that day, so active_next_cycle is defined; nothing in
    # bill_state changes (BB2's dpd30 waits for 05-20)
    assert _row(w, "BA3")[4] is None
    _as_of(w, "2024-05-06", "2024-05-14")
    assert step() == ("BA3",)
    assert _row(w, "BA3")[4] is False

    # a bill withdrawn: its row goes
    w.change("bills", "delete from core.bills where bill_id = 'BB2'")
    assert step() == ("BB2",)
    assert _row(w, "BB2") == ()


def test_a_file_reading_an_unfollowed_table_is_rebuilt_in_full(monkeypatch):
    w = _warehouse()
    run_build(w.con)
    assert not run_build(w.con).cycle_plan.full
    monkeypatch.setattr(cycle, "FOLLOWED", cycle.FOLLOWED - {"core.opt_outs"})
    plan = run_build(w.con).cycle_plan
    assert plan.full and "core.opt_outs" in plan.reason


def test_state_lost_or_of_another_shape_rebuilds_in_full_once():
    w = _warehouse()
    run_build(w.con)
    w.con.execute(f"drop table {cycle.SCHEMA}.cycle_order_days")
    plan = run_build(w.con).cycle_plan
    assert plan.full and "no state" in plan.reason
    assert not run_build(w.con).cycle_plan.full
    w.con.execute(f"alter table {cycle.SCHEMA}.cycle_assignments drop column h")
    assert run_build(w.con).cycle_plan.full
    assert not run_build(w.con).cycle_plan.full
