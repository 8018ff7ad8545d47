"""mart.user_cycle on a hand-worked fixture: one user (ua, band A) with three bills.

as_of = 2024-04-30.
bill statement  due         W = [statement, +1 month)   N = [+1 month, +2 months)   N last day
BA1  2024-01-15 2024-02-05  [01-15, 02-15)              [02-15, 03-15)              03-14
BA2  2024-02-15 2024-03-05  [02-15, 03-15)              [03-15, 04-15)              04-14
BA3  2024-03-15 2024-04-05  [03-15, 04-15)              [04-15, 05-15)              05-14 > as_of
"""

from __future__ import annotations

import pytest

from tests.fixtures.metrics.warehouse import Warehouse

COLUMNS = [
    "bill_id", "user_id", "cycle", "statement_date", "due_date", "score_band",
    "experiment_id", "arm", "pre_due_reminders", "marketing_sms", "total_sms",
    "duplicate_sms", "quiet_hours_sms", "on_time", "dpd30", "complained", "sms_complained",
    "opted_out", "active_next_cycle",
]  # fmt: skip


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    w.add("users", user_id="ua", score_band="A")
    w.add("users", user_id="ub", score_band="B")
    for bill, statement, due in [
        ("BA1", "2024-01-15", "2024-02-05"),
        ("BA2", "2024-02-15", "2024-03-05"),
        ("BA3", "2024-03-15", "2024-04-05"),
    ]:
        w.add("bills", bill_id=bill, user_id="ua", cycle=statement[:7],
              statement_date=statement, due_date=due, amount_due=100)  # fmt: skip
    # BA1 paid before due; BA2 and BA3 unpaid
    w.add("repayments", bill_id="BA1", user_id="ua", paid_at="2024-02-04 10:00:00+08", amount=100)

    def sms(mid, sent_at, purpose, bill=None, status="delivered", template=None, user="ua"):
        w.add(
            "sms_logs",
            message_id=mid,
            user_id=user,
            sent_at=sent_at,
            purpose=purpose,
            bill_id=bill,
            delivery_status=status,
            template_code=template or f"T_{mid}",
        )

    # --- BA1's window [01-15, 02-15)
    sms("n1", "2024-01-15 10:00:00+08", "bill_notice", "BA1")  # pre-due, delivered
    sms("r1", "2024-02-05 21:00:00+08", "due_reminder", "BA1")  # on the due date: pre-due
    sms("r2", "2024-02-05 16:30:00+00:00", "due_reminder", "BA1")  # 02-06 00:30 local: after
    sms("r3", "2024-02-01 10:00:00+08", "due_reminder", "BA1", status="failed")  # not delivered
    sms("m1", "2024-02-14 23:59:59+08", "marketing")  # last second of W1, quiet hours
    sms("m2", "2024-01-20 10:00:00+08", "marketing", status="failed")  # counts in total only
    sms("v1", "2024-01-20 10:00:00+08", "verification")  # never counted
    # --- BA2's window [02-15, 03-15)
    sms("m3", "2024-02-15 00:00:00+08", "marketing")  # first second of W2, quiet hours
    sms("n2", "2024-02-15 10:00:00+08", "bill_notice", "BA2", template="T_N")
    sms("n3", "2024-02-15 10:05:00+08", "bill_notice", "BA2", template="T_N")  # duplicate
    # --- BA3's window [03-15, 04-15): five pre-due reminders and one after the due date
    for i, day in enumerate(["03-20", "03-25", "03-30", "04-01", "04-05", "04-06"]):
        sms(f"r3{i}", f"2024-{day} 10:00:00+08", "due_reminder", "BA3")
    # another user's messages never count for ua
    sms("x1", "2024-01-20 10:00:00+08", "marketing", user="ub")

    # complaints: 02-14 sms_night by narrative (W1); 03-20 fees (W3); one with no user
    w.add(
        "complaints", user_id="ua", received_at="2024-02-14 20:00:00+08", narrative="半夜收到短信"
    )
    w.add("complaints", user_id="ua", received_at="2024-03-20 10:00:00+08", category="fees")
    w.add("complaints", user_id=None, received_at="2024-01-20 10:00:00+08", narrative="短信太多")
    # opt-out at the first second of W2
    w.add("opt_outs", user_id="ua", received_at="2024-02-15 00:00:00+08")
    # orders: BNPL 02-20 (in N1 and W2); BNPL 04-15 00:00 local (first second after N2);
    # a cancelled BNPL and a card order in N2 do not count
    w.add("orders", user_id="ua", created_at="2024-02-20 10:00:00+08", payment_method="bnpl")
    w.add("orders", user_id="ua", created_at="2024-04-15 00:00:00+08", payment_method="bnpl")
    w.add("orders", user_id="ua", created_at="2024-03-20 10:00:00+08", status="cancelled")
    w.add("orders", user_id="ua", created_at="2024-03-21 10:00:00+08", payment_method="card")
    # experiments: exp0/control since 01-01; exp1/treat at exactly BA2's statement midnight,
    # which is not *before* it, so only BA3 gets exp1
    w.add("experiment_assignments", experiment_id="exp0", user_id="ua", arm="control",
          assigned_at="2024-01-01 00:00:00+08")  # fmt: skip
    w.add("experiment_assignments", experiment_id="exp1", user_id="ua", arm="treat",
          assigned_at="2024-02-15 00:00:00+08")  # fmt: skip
    w.build()
    return w


def test_columns(built):
    assert [r[0] for r in built.rows("describe mart.user_cycle")] == COLUMNS


def test_rows(built):
    rows = built.rows(f"select {', '.join(COLUMNS)} from mart.user_cycle order by bill_id")
    got = [dict(zip(COLUMNS, r, strict=True)) for r in rows]
    for row in got:
        row["statement_date"] = str(row["statement_date"])
        row["due_date"] = str(row["due_date"])
    common = {"user_id": "ua", "score_band": "A"}
    assert got == [
        {
            **common, "bill_id": "BA1", "cycle": "2024-01", "statement_date": "2024-01-15",
            "due_date": "2024-02-05", "experiment_id": "exp0", "arm": "control",
            # n1 and r1 (on the due date); r2 is 02-06 local, r3 failed
            "pre_due_reminders": 2,
            # n1 r1 r2 r3 m1 m2 (v1 is verification)
            "total_sms": 6,
            "marketing_sms": 1,  # m1 (m2 failed)
            "duplicate_sms": 0,
            "quiet_hours_sms": 2,  # r2 (00:30) and m1 (23:59:59)
            "on_time": True, "dpd30": False,
            "complained": True, "sms_complained": True,  # 02-14 半夜 -> sms_night
            "opted_out": False,  # 02-15 00:00 is in W2
            "active_next_cycle": True,  # BNPL order 02-20 in N1 = [02-15, 03-15)
        },
        {
            **common, "bill_id": "BA2", "cycle": "2024-02", "statement_date": "2024-02-15",
            "due_date": "2024-03-05", "experiment_id": "exp0", "arm": "control",
            "pre_due_reminders": 2,  # n2 n3
            "total_sms": 3,  # m3 n2 n3
            "marketing_sms": 1,  # m3
            "duplicate_sms": 1,  # n3, 5 minutes after n2
            "quiet_hours_sms": 1,  # m3 at 00:00
            "on_time": False, "dpd30": True,  # 03-05 + 30 = 04-04 <= as_of
            "complained": False, "sms_complained": False,
            "opted_out": True,  # 02-15 00:00:00 local, first second of W2
            # N2 = [03-15, 04-15): the 04-15 00:00 order is outside, the others don't count
            "active_next_cycle": False,
        },
        {
            **common, "bill_id": "BA3", "cycle": "2024-03", "statement_date": "2024-03-15",
            "due_date": "2024-04-05", "experiment_id": "exp1", "arm": "treat",
            "pre_due_reminders": 5,  # 03-20 .. 04-05; 04-06 is after the due date
            "total_sms": 6,
            "marketing_sms": 0,
            "duplicate_sms": 0,
            "quiet_hours_sms": 0,
            "on_time": False, "dpd30": None,  # 04-05 + 30 = 05-05 > as_of
            "complained": True, "sms_complained": False,  # 03-20 fees
            "opted_out": False,
            "active_next_cycle": None,  # N3 ends 05-14 > as_of
        },
    ]  # fmt: skip
