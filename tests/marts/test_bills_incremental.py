"""mart.bill_state recomputes only the bills of the users whose bills changed
(pipelines.marts.bills).

Three users, five bills at first, as_of 2024-04-30:

bill user statement  due    due+7  due+30  due+90
BA1  ua   01-15      02-05  02-12  03-06   05-05   repaid 02-04
BA2  ua   02-15      03-05  03-12  04-04   06-03
BB1  ub   02-15      03-05  03-12  04-04   06-03
BB2  ub   04-01      04-20  04-27  05-20   07-19
BC1  uc   03-15      04-05  04-12  05-05   07-04

Every step changes one input and names, worked out from the table above, the users whose bills
must be recomputed; the build must recompute exactly those, and every mart must equal a full
rebuild of the same core.
"""

from __future__ import annotations

import pytest
from test_metrics_incremental import _assert_equals_full_rebuild, _keyed_steps

from pipelines.marts import bills, run_build
from tests.fixtures.metrics.warehouse import Warehouse

BILLS = (
    ("BA1", "ua", "2024-01-15", "2024-02-05"),
    ("BA2", "ua", "2024-02-15", "2024-03-05"),
    ("BB1", "ub", "2024-02-15", "2024-03-05"),
    ("BB2", "ub", "2024-04-01", "2024-04-20"),
    ("BC1", "uc", "2024-03-15", "2024-04-05"),
)


def _warehouse() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    for user, band in (("ua", "A"), ("ub", "B"), ("uc", "A")):
        w.add("users", user_id=user, score_band=band)
    for bill, user, statement, due in BILLS:
        w.add("bills", bill_id=bill, user_id=user, cycle=statement[:7],
              statement_date=statement, due_date=due, amount_due=100)  # fmt: skip
    w.add("repayments", bill_id="BA1", user_id="ua", paid_at="2024-02-04 10:00:00+08", amount=100)
    # ten more users with a bill each, all of whose thresholds have passed: a step's
    # bills stay under half of the table (a larger share rebuilds it in full)
    for i in range(10):
        w.add("users", user_id=f"p{i}", score_band="A")
        w.add("bills", bill_id=f"P{i}", user_id=f"p{i}", cycle="2024-01",
              statement_date="2024-01-10", due_date="2024-01-31", amount_due=100)  # fmt: skip
    # a user without bills gets messages on twenty days, so that no step rebuilds the flags
    # (and so bill_state) in full
    for day in range(1, 21):
        w.add(
            "sms_logs",
            message_id=f"z{day}",
            user_id="uz",
            sent_at=f"2024-01-{day:02d} 12:00:00+08",
            template_code=f"T_z{day}",
        )
    return w


def _row(w: Warehouse, bill: str) -> tuple:
    found = w.rows(
        "select user_id, score_band, settled_date is not null, on_time, dpd7, dpd30, dpd90, "
        "is_first_bill from mart.bill_state where bill_id = ?",
        [bill],
    )
    return found[0] if found else ()


@pytest.fixture(scope="module")
def steps():
    w = _warehouse()
    return w, _keyed_steps(w, bills.FILE)


def test_each_input_recomputes_the_bills_of_the_users_it_reaches(steps):
    w, step = steps
    assert step() == ()  # nothing changed
    assert _row(w, "BB1") == ("ub", "B", False, False, True, True, None, True)

    # BB1 repaid late (03-20): its successful repayments
    w.add("repayments", bill_id="BB1", user_id="ub", paid_at="2024-03-20 10:00:00+08", amount=100)
    assert step() == ("ub",)
    assert _row(w, "BB1") == ("ub", "B", True, False, True, False, None, True)

    # uc's score band: every bill of uc carries it
    w.con.execute("update core.users set score_band = 'C' where user_id = 'uc'")
    assert step() == ("uc",)
    assert _row(w, "BC1")[1] == "C"

    # a new bill of ua, due before BA1: it becomes ua's first bill
    w.add("bills", bill_id="BA0", user_id="ua", cycle="2024-01", statement_date="2024-01-01",
          due_date="2024-01-20", amount_due=50)  # fmt: skip
    assert step() == ("ua",)
    assert (_row(w, "BA0")[-1], _row(w, "BA1")[-1]) == (True, False)

    # BB2 changes hands to uc: both users' bills (BB1 stays ub's first bill, BB2 is not uc's)
    w.change("bills", "update core.bills set user_id = 'uc' where bill_id = 'BB2'")
    assert step() == ("ub", "uc")
    assert _row(w, "BB2")[:2] == ("uc", "C")
    assert (_row(w, "BB1")[-1], _row(w, "BB2")[-1]) == (True, False)

    # as_of 05-05: BA1's dpd90 (02-05 + 90) and BC1's dpd30 (04-05 + 30) are defined now;
    # nothing of ub's moves (BB1's dpd90 waits for 06-03)
    w.con.execute("update ingest.file_ledger set dt = '2024-05-05' where dt = '2024-04-30'")
    assert step() == ("ua", "uc")
    assert (_row(w, "BA1")[6], _row(w, "BC1")[5]) == (False, True)

    # BA2's amount due becomes 0: it leaves bill_state
    w.change("bills", "update core.bills set amount_due = 0 where bill_id = 'BA2'")
    assert step() == ("ua",)
    assert _row(w, "BA2") == ()

    # BC1 withdrawn: BB2 becomes uc's first bill
    w.change("bills", "delete from core.bills where bill_id = 'BC1'")
    assert step() == ("uc",)
    assert (_row(w, "BC1"), _row(w, "BB2")[-1]) == ((), True)


def test_a_file_reading_an_unfollowed_table_is_rebuilt_in_full(monkeypatch):
    w = _warehouse()
    run_build(w.con)
    assert not run_build(w.con).bills_plan.full
    monkeypatch.setattr(bills, "FOLLOWED", bills.FOLLOWED - {"core.users"})
    plan = run_build(w.con).bills_plan
    assert plan.full and "core.users" in plan.reason


def test_a_scope_over_half_of_the_table_rebuilds_it_in_full():
    w = _warehouse()
    run_build(w.con)
    # 8 of the 13 users (the padding users p0-p7): their 8 bills of 15
    w.con.execute("update core.users set score_band = 'D' where user_id < 'p8'")
    plan = run_build(w.con).bills_plan
    assert plan.full and "most of the table" in plan.reason
    assert (plan.keys, plan.rows, plan.of) == (8, 8, 15)
    _assert_equals_full_rebuild(w)
    # 7 users: their 7 bills of 15 are less than half
    w.con.execute("update core.users set score_band = 'E' where user_id < 'p7'")
    plan = run_build(w.con).bills_plan
    assert not plan.full and (plan.keys, plan.rows) == (7, 7)
