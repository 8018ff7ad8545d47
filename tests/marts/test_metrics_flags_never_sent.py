"""The three flags of messages that should never have gone out (metrics.md), hand-worked:
`is_after_settlement`, `is_collection_before_due` and `is_against_preference`.

Every expected value below is worked out by hand from the rule in the spec; the comments give
the reasoning. Timestamps carry explicit offsets; the session time zone is Los Angeles, so a
rule that used it instead of Asia/Shanghai would get local dates and hours wrong.
"""

from __future__ import annotations

import pytest

from tests.fixtures.metrics.warehouse import Warehouse

NEW_FLAGS = ("is_after_settlement", "is_collection_before_due", "is_against_preference")


def _fixture() -> Warehouse:
    w = Warehouse(as_of="2024-03-31")
    for user in ("p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "p10"):
        w.add("users", user_id=user)

    def sms(mid, user, sent_at, purpose="due_reminder", bill=None, template=None):
        w.add(
            "sms_logs",
            message_id=mid,
            user_id=user,
            sent_at=sent_at,
            purpose=purpose,
            bill_id=bill,
            template_code=template or f"T_{mid}",
        )

    def bill(bill_id, user, due, amount="100.00"):
        w.add(
            "bills",
            bill_id=bill_id,
            user_id=user,
            statement_date="2024-02-20",
            due_date=due,
            amount_due=amount,
        )

    def repay(bill_id, user, paid_at, amount, status="success"):
        w.add(
            "repayments",
            bill_id=bill_id,
            user_id=user,
            paid_at=paid_at,
            amount=amount,
            status=status,
        )

    # --- is_after_settlement ------------------------------------------------------------
    # b1 (p1): one repayment of the whole amount at 2024-03-08 12:00:00 local.
    bill("b1", "p1", "2024-03-10")
    repay("b1", "p1", "2024-03-08 12:00:00+08", "100.00")
    sms("s1", "p1", "2024-03-08 11:59:59+08", bill="b1")  # one second before: no
    sms("s2", "p1", "2024-03-08 12:00:00+08", bill="b1")  # same second (not <): no
    sms("s3", "p1", "2024-03-08 12:00:01+08", bill="b1")  # one second after: yes
    # the same instant written in UTC: 04:00:01Z = 12:00:01 local: yes; a collection message
    # on 03-08 for a bill due 03-10 is also before due
    sms("s4", "p1", "2024-03-08 04:00:01Z", purpose="overdue_collection", bill="b1")
    sms("s5", "p1", "2024-03-09 10:00:00+08", purpose="bill_notice", bill="b1")  # notice: no
    sms("s6", "p1", "2024-03-09 11:00:00+08", purpose="marketing", bill="b1")  # marketing: no

    # b2 (p2): 60 on 03-05, a failed 40 on 03-06 (does not count), 40 on 03-07 10:00: the
    # running sum reaches 100 only with the second successful repayment.
    bill("b2", "p2", "2024-03-10")
    repay("b2", "p2", "2024-03-05 10:00:00+08", "60.00")
    repay("b2", "p2", "2024-03-06 10:00:00+08", "40.00", status="failed")
    repay("b2", "p2", "2024-03-07 10:00:00+08", "40.00")
    sms("s7", "p2", "2024-03-05 12:00:00+08", bill="b2")  # after the partial only: no
    sms("s8", "p2", "2024-03-06 12:00:00+08", bill="b2")  # after the failed one: no
    sms("s9", "p2", "2024-03-07 10:00:01+08", bill="b2")  # after the second: yes
    # a collection the day after due, after settlement: after_settlement yes, before_due no
    sms("s10", "p2", "2024-03-11 10:00:00+08", purpose="overdue_collection", bill="b2")

    # b4 (p2): amount_due 0 takes no part in repayment state: no settled_at, never flagged.
    bill("b4", "p2", "2024-03-10", amount="0.00")
    repay("b4", "p2", "2024-03-01 10:00:00+08", "10.00")
    sms("s11", "p2", "2024-03-02 10:00:00+08", bill="b4")  # no

    # --- is_collection_before_due ---------------------------------------------------------
    # b3 (p3): due 2024-03-10, never paid.
    bill("b3", "p3", "2024-03-10")
    sms("c1", "p3", "2024-03-09 10:00:00+08", purpose="overdue_collection", bill="b3")  # yes
    sms("c2", "p3", "2024-03-10 23:59:59+08", purpose="overdue_collection", bill="b3")  # due: yes
    sms("c3", "p3", "2024-03-11 00:00:00+08", purpose="overdue_collection", bill="b3")  # next: no
    # 2024-03-10 16:30 UTC is 2024-03-11 00:30 local: the day after due: no
    sms("c4", "p3", "2024-03-10 16:30:00Z", purpose="overdue_collection", bill="b3")
    # 2024-03-10 15:59:59 UTC is 23:59:59 local on the due date: yes
    sms("c5", "p3", "2024-03-10 15:59:59Z", purpose="overdue_collection", bill="b3")
    sms("c6", "p3", "2024-03-09 11:00:00+08", purpose="due_reminder", bill="b3")  # reminder: no
    sms("c7", "p3", "2024-03-09 12:00:00+08", purpose="overdue_collection")  # no bill: no
    sms("c8", "p3", "2024-03-09 13:00:00+08", purpose="overdue_collection", bill="b_unknown")

    # --- is_against_preference --------------------------------------------------------------
    def pref(user, at, marketing=True, reminders=True, max_per_day=None, start=None, end=None):
        w.add(
            "sms_preferences",
            user_id=user,
            updated_at=at,
            marketing=marketing,
            reminders=reminders,
            max_per_day=max_per_day,
            quiet_start_hour=start,
            quiet_end_hour=end,
        )

    # p4 turns marketing off at 10:00 and on again at 15:00 on the same day.
    pref("p4", "2024-03-12 10:00:00+08", marketing=False)
    pref("p4", "2024-03-12 15:00:00+08", marketing=True)
    sms("m1", "p4", "2024-03-12 09:59:59+08", purpose="marketing")  # no row in force yet: no
    sms("m2", "p4", "2024-03-12 10:00:00+08", purpose="marketing")  # updated_at <= sent_at: yes
    sms("m3", "p4", "2024-03-12 14:59:59+08", purpose="marketing")  # still off: yes
    sms("m4", "p4", "2024-03-12 15:00:00+08", purpose="marketing")  # back on: no
    sms("m5", "p4", "2024-03-13 10:00:00+08", purpose="bill_notice")  # not marketing: no

    # p5 turns reminders off: only due reminders go against it.
    pref("p5", "2024-03-01 00:00:00+08", reminders=False)
    sms("r1", "p5", "2024-03-13 10:00:00+08", purpose="due_reminder")  # yes
    sms("r2", "p5", "2024-03-13 11:00:00+08", purpose="bill_notice")  # always sent: no
    sms("r3", "p5", "2024-03-13 12:00:00+08", purpose="overdue_collection")  # always sent: no
    sms("r4", "p5", "2024-03-14 10:00:00+08", purpose="marketing")  # marketing on: no
    sms("r5", "p5", "2024-03-14 11:00:00+08", purpose="verification")  # never: no

    # p6: a quiet window 22-7 that wraps midnight (hours 22, 23, 0 .. 6).
    pref("p6", "2024-03-01 00:00:00+08", start=22, end=7)
    sms("q1", "p6", "2024-03-14 21:59:59+08", purpose="marketing")  # 21h: no
    sms("q2", "p6", "2024-03-14 22:00:00+08", purpose="marketing")  # 22h: yes
    sms("q3", "p6", "2024-03-15 06:59:59+08", purpose="marketing")  # 6h: yes
    sms("q4", "p6", "2024-03-15 07:00:00+08", purpose="marketing")  # 7h (end excluded): no
    sms("q5", "p6", "2024-03-15 23:30:00+08", purpose="due_reminder")  # reminder at 23h: yes
    sms("q6", "p6", "2024-03-16 23:00:00+08", purpose="overdue_collection")  # not covered: no
    sms("q7", "p6", "2024-03-16 23:10:00+08", purpose="bill_notice")  # not covered: no
    # 2024-03-16 16:30 UTC = 2024-03-17 00:30 local (0h, in the window): yes
    sms("q8", "p6", "2024-03-16 16:30:00Z", purpose="marketing")
    # p7: a window 12-14 that does not wrap.
    pref("p7", "2024-03-01 00:00:00+08", start=12, end=14)
    sms("q9", "p7", "2024-03-14 11:59:59+08", purpose="marketing")  # no
    sms("q10", "p7", "2024-03-15 12:00:00+08", purpose="marketing")  # yes
    sms("q11", "p7", "2024-03-16 13:59:59+08", purpose="marketing")  # yes
    sms("q12", "p7", "2024-03-17 14:00:00+08", purpose="marketing")  # no

    # p8: own maximum 2 per day, below the global cap of 3. On 2024-03-15 four messages and a
    # verification code (not ranked): ranks 1 2 3 4; 3 and 4 are above 2, only 4 above 3.
    pref("p8", "2024-03-01 00:00:00+08", max_per_day=2)
    sms("x1", "p8", "2024-03-15 10:00:00+08", purpose="bill_notice")  # rank 1: no
    sms("xv", "p8", "2024-03-15 10:30:00+08", purpose="verification")  # not ranked: no
    sms("x2", "p8", "2024-03-15 11:00:00+08", purpose="overdue_collection")  # rank 2: no
    sms("x3", "p8", "2024-03-15 12:00:00+08", purpose="bill_notice")  # rank 3: yes
    sms("x4", "p8", "2024-03-15 13:00:00+08", purpose="overdue_collection")  # rank 4: yes
    sms("x5", "p8", "2024-03-16 10:00:00+08", purpose="bill_notice")  # another day, rank 1
    sms("x6", "p8", "2024-03-16 11:00:00+08", purpose="bill_notice")  # rank 2: no

    # p9: own maximum 5, above the global cap. Six messages on 2024-03-18: only rank 6.
    # On 2024-03-19 the maximum changes to 1 at 12:00, between the day's second and third
    # message: ranks 1 and 2 fall under 5 (no), ranks 3 and 4 under 1 (yes).
    pref("p9", "2024-03-01 00:00:00+08", max_per_day=5)
    pref("p9", "2024-03-19 12:00:00+08", max_per_day=1)
    for k in range(1, 7):
        sms(f"y{k}", "p9", f"2024-03-18 {9 + k:02d}:00:00+08", purpose="bill_notice")
    sms("z1", "p9", "2024-03-19 10:00:00+08", purpose="bill_notice")  # rank 1, max 5: no
    sms("z2", "p9", "2024-03-19 11:00:00+08", purpose="bill_notice")  # rank 2, max 5: no
    sms("z3", "p9", "2024-03-19 13:00:00+08", purpose="bill_notice")  # rank 3, max 1: yes
    sms("z4", "p9", "2024-03-19 14:00:00+08", purpose="bill_notice")  # rank 4, max 1: yes

    # p10 has no preference row: nothing goes against a choice never made.
    sms("n1", "p10", "2024-03-20 23:00:00+08", purpose="marketing")  # no
    for k in range(1, 6):
        sms(f"n{k + 1}", "p10", f"2024-03-21 {9 + k:02d}:00:00+08", purpose="marketing")
    return w


# message_id -> its new flags that must be true; every other (message, flag) must be false
EXPECTED_TRUE = {
    "s3": {"is_after_settlement"},
    "s4": {"is_after_settlement", "is_collection_before_due"},
    "s9": {"is_after_settlement"},
    "s10": {"is_after_settlement"},
    "c1": {"is_collection_before_due"},
    "c2": {"is_collection_before_due"},
    "c5": {"is_collection_before_due"},
    "m2": {"is_against_preference"},
    "m3": {"is_against_preference"},
    "r1": {"is_against_preference"},
    "q2": {"is_against_preference"},
    "q3": {"is_against_preference"},
    "q5": {"is_against_preference"},
    "q8": {"is_against_preference"},
    "q10": {"is_against_preference"},
    "q11": {"is_against_preference"},
    "x3": {"is_against_preference"},
    "x4": {"is_against_preference"},
    "y6": {"is_against_preference"},
    "z3": {"is_against_preference"},
    "z4": {"is_against_preference"},
}


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = _fixture()
    w.build()
    return w


def test_every_new_flag_of_every_message(built):
    rows = built.rows(f"select message_id, {', '.join(NEW_FLAGS)} from mart.sms_message_flags")
    # s1-s11, c1-c8, m1-m5, r1-r5, q1-q12, x1-x6 + xv, y1-y6, z1-z4, n1-n6
    assert len(rows) == 11 + 8 + 5 + 5 + 12 + 7 + 6 + 4 + 6
    for message_id, *flags in rows:
        got = {name for name, value in zip(NEW_FLAGS, flags, strict=True) if value}
        assert got == EXPECTED_TRUE.get(message_id, set()), message_id
        assert all(value is not None for value in flags), message_id


def test_own_maximum_and_global_cap_are_separate(built):
    # the global cap (3) still ranks on p8's day of 4 and p9's day of 6
    over = built.rows(
        "select list_sort(list(message_id)) from mart.sms_message_flags where is_over_daily_cap"
    )[0][0]
    # p8 2024-03-15: x4 (rank 4); p9 2024-03-18: y4 y5 y6; p9 2024-03-19: z4 (rank 4);
    # p10 2024-03-21: n5 n6 (ranks 4, 5); and the fixture's other busy days: p1 2024-03-08
    # s1 s2 s3 s4 (s4 follows s3 at the same second by message_id), p3 2024-03-09 c1 c6 c7
    # c8, p4 2024-03-12 m1 m2 m3 m4
    assert over == ["c8", "m4", "n5", "n6", "s4", "x4", "y4", "y5", "y6", "z4"]


def test_day_counts_in_metrics(built):
    after = built.values("sms_after_settlement")
    # 03-08: s3 s4; 03-07: s9; 03-11: s10
    assert (after["2024-03-07"], after["2024-03-08"], after["2024-03-11"]) == (1.0, 2.0, 1.0)
    before = built.metric("sms_collection_before_due")
    # 03-08: s4; 03-09: c1; 03-10: c2 c5 (c4 is local 03-11)
    assert before["2024-03-08"] == (1.0, 1.0, None)
    assert before["2024-03-09"] == (1.0, 1.0, None)
    assert before["2024-03-10"] == (2.0, 2.0, None)
    assert before["2024-03-11"] == (0.0, 0.0, None)
    against = built.values("sms_against_preference")
    # 03-12: m2 m3; 03-13: r1; 03-14: q2; 03-15: q3 q5 q10 x3 x4; 03-16: q11; 03-17: q8;
    # 03-18: y6; 03-19: z3 z4; 03-20 and 03-21 (p10, no row): 0
    assert against == {
        "2024-03-02": 0.0,
        "2024-03-05": 0.0,
        "2024-03-06": 0.0,
        "2024-03-07": 0.0,
        "2024-03-08": 0.0,
        "2024-03-09": 0.0,
        "2024-03-10": 0.0,
        "2024-03-11": 0.0,
        "2024-03-12": 2.0,
        "2024-03-13": 1.0,
        "2024-03-14": 1.0,
        "2024-03-15": 5.0,
        "2024-03-16": 1.0,
        "2024-03-17": 1.0,
        "2024-03-18": 1.0,
        "2024-03-19": 2.0,
        "2024-03-20": 0.0,
        "2024-03-21": 0.0,
    }
    catalog = dict(built.rows("select metric, grain from mart.metric_catalog"))
    for metric in ("sms_after_settlement", "sms_collection_before_due", "sms_against_preference"):
        assert catalog[metric] == "day"


def test_dashboard_aggregate_carries_the_flags(built):
    got = dict(
        built.rows(
            "select 'settled', sum(messages) from mart.sms_daily_flags "
            "where experiment_id = '*' and is_after_settlement "
            "union all select 'before_due', sum(messages) from mart.sms_daily_flags "
            "where experiment_id = '*' and is_collection_before_due "
            "union all select 'against', sum(messages) from mart.sms_daily_flags "
            "where experiment_id = '*' and is_against_preference"
        )
    )
    assert got == {"settled": 4, "before_due": 4, "against": 14}
    # the drill-down list: every message of EXPECTED_TRUE once (no experiment assignments)
    listed = built.rows("select message_id from mart.sms_never_sent where experiment_id = '*'")
    assert sorted(m for (m,) in listed) == sorted(EXPECTED_TRUE)


def test_no_preference_rows_means_false_everywhere():
    # the optional source's folder was never delivered: its core table is empty
    w = _fixture()
    w.con.execute("delete from core.sms_preferences")
    w.build()
    assert w.rows(
        "select count(*) filter (where is_against_preference), count(*) from mart.sms_message_flags"
    ) == [(0, 64)]
    # the other two flags do not read the preferences
    assert w.rows(
        "select count(*) filter (where is_after_settlement), "
        "count(*) filter (where is_collection_before_due) from mart.sms_message_flags"
    ) == [(4, 4)]
