"""The dashboard tables beyond the spec, on hand-worked fixtures: vintage_curve,
cohort_retention, sms_hour_weekday and duplicate_incidents."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.fixtures.metrics.warehouse import Warehouse


def _credit_and_buyers(as_of: str) -> Warehouse:
    """Bills for the vintage curve and BNPL orders for cohort retention.

    bill band statement  due    settled   reaches 30 DPD on (due + 30, unless settled before)
    V1   A    01-05      01-25  never     02-24
    V2   A    01-05      01-25  02-10     never (settled before 02-24)
    V3   B    01-20      02-10  03-15     03-11 (settled after it: ever 30+ DPD)
    V4   B    03-05      03-25  never     04-24
    V5   C    04-10      04-30  never     05-30
    """
    w = Warehouse(as_of=as_of)
    for user, band in [("ua", "A"), ("ua2", "A"), ("ub", "B"), ("ub2", "B"), ("uc", "C")]:
        w.add("users", user_id=user, score_band=band)
    for bill, user, statement, due in [
        ("V1", "ua", "2024-01-05", "2024-01-25"),
        ("V2", "ua2", "2024-01-05", "2024-01-25"),
        ("V3", "ub", "2024-01-20", "2024-02-10"),
        ("V4", "ub2", "2024-03-05", "2024-03-25"),
        ("V5", "uc", "2024-04-10", "2024-04-30"),
    ]:
        w.add("bills", bill_id=bill, user_id=user, statement_date=statement, due_date=due,
              amount_due=100)  # fmt: skip
    w.add("repayments", bill_id="V2", user_id="ua2", paid_at="2024-02-10 10:00:00+08", amount=100)
    w.add("repayments", bill_id="V3", user_id="ub", paid_at="2024-03-15 10:00:00+08", amount=100)
    # BNPL buyers: y1 Jan Feb Apr; y2 Jan Mar; y3 Feb (twice); y4 Apr 30 23:00 local;
    # y5 only pays by card (not a BNPL buyer)
    for user, created_at, method in [
        ("y1", "2024-01-10 10:00:00+08", "bnpl"),
        ("y1", "2024-02-10 10:00:00+08", "bnpl"),
        ("y1", "2024-04-10 10:00:00+08", "bnpl_installment"),
        ("y2", "2024-01-11 10:00:00+08", "bnpl"),
        ("y2", "2024-03-11 10:00:00+08", "bnpl"),
        ("y3", "2024-02-12 10:00:00+08", "bnpl"),
        ("y3", "2024-02-13 10:00:00+08", "bnpl"),
        ("y4", "2024-04-30 23:00:00+08", "bnpl"),
        ("y5", "2024-01-10 10:00:00+08", "card"),
    ]:
        w.add("orders", user_id=user, created_at=created_at, payment_method=method,
              installments=3 if method == "bnpl_installment" else 1)  # fmt: skip
    w.build()
    return w


def test_vintage_curve_complete_months():
    w = _credit_and_buyers(as_of="2024-04-30")
    got = w.rows(
        "select cohort, months_on_book, score_band, bills, dpd30_bills, dpd30_rate "
        "from mart.vintage_curve order by score_band, cohort, months_on_book"
    )
    # evaluation dates: month ends 01-31, 02-29, 03-31, 04-30 (all <= as_of)
    # Jan cohort V1 V2 V3: k0 none; k1 V1 (02-24); k2, k3 V1 V3 (03-11)
    # Mar cohort V4: k0 (03-31) no; k1 (04-30) yes. Apr cohort V5: k0 (04-30) no.
    assert got == [
        ("2024-01", 0, "A", 2, 0, 0.0),
        ("2024-01", 1, "A", 2, 1, 0.5),
        ("2024-01", 2, "A", 2, 1, 0.5),
        ("2024-01", 3, "A", 2, 1, 0.5),
        ("2024-01", 0, "B", 1, 0, 0.0),
        ("2024-01", 1, "B", 1, 0, 0.0),
        ("2024-01", 2, "B", 1, 1, 1.0),
        ("2024-01", 3, "B", 1, 1, 1.0),
        ("2024-03", 0, "B", 1, 0, 0.0),
        ("2024-03", 1, "B", 1, 1, 1.0),
        ("2024-04", 0, "C", 1, 0, 0.0),
        ("2024-01", 0, "all", 3, 0, 0.0),
        ("2024-01", 1, "all", 3, 1, 1 / 3),
        ("2024-01", 2, "all", 3, 2, 2 / 3),
        ("2024-01", 3, "all", 3, 2, 2 / 3),
        ("2024-03", 0, "all", 1, 0, 0.0),
        ("2024-03", 1, "all", 1, 1, 1.0),
        ("2024-04", 0, "all", 1, 0, 0.0),
    ]


def test_cohort_retention_complete_months():
    w = _credit_and_buyers(as_of="2024-04-30")
    got = w.rows(
        "select cast(cohort_month as varchar), months_since, cohort_users, active_users, "
        "retention from mart.cohort_retention order by cohort_month, months_since"
    )
    # Jan cohort {y1, y2}: Feb y1, Mar y2, Apr y1. Feb cohort {y3}: never again.
    # Apr cohort {y4} (23:00 local on the 30th is still April).
    assert got == [
        ("2024-01-01", 0, 2, 2, 1.0),
        ("2024-01-01", 1, 2, 1, 0.5),
        ("2024-01-01", 2, 2, 1, 0.5),
        ("2024-01-01", 3, 2, 1, 0.5),
        ("2024-02-01", 0, 1, 1, 1.0),
        ("2024-02-01", 1, 1, 0, 0.0),
        ("2024-02-01", 2, 1, 0, 0.0),
        ("2024-04-01", 0, 1, 1, 1.0),
    ]


def test_incomplete_month_is_left_out():
    # as_of 04-29: April is not complete, so neither April month-ends nor April cohorts show
    w = _credit_and_buyers(as_of="2024-04-29")
    assert w.rows(
        "select cohort, max(months_on_book) from mart.vintage_curve "
        "where score_band = 'all' group by cohort order by cohort"
    ) == [("2024-01", 2), ("2024-03", 0)]
    assert w.rows(
        "select cast(cohort_month as varchar), max(months_since) from mart.cohort_retention "
        "group by cohort_month order by cohort_month"
    ) == [("2024-01-01", 2), ("2024-02-01", 1)]


def test_sms_hour_weekday():
    w = Warehouse(as_of="2024-01-31")
    # 2024-01-01 is a Monday; 16:30 UTC on Saturday 01-06 is 00:30 on Sunday 01-07 local
    for sent_at, purpose in [
        ("2024-01-01 09:00:00+08", "marketing"),
        ("2024-01-01 09:59:59+08", "marketing"),
        ("2024-01-06 16:30:00+00:00", "marketing"),
        ("2024-01-03 22:00:00+08", "verification"),
        ("2024-01-08 09:30:00+08", "due_reminder"),
    ]:
        w.add("sms_logs", user_id="u", sent_at=sent_at, purpose=purpose,
              template_code=sent_at)  # fmt: skip
    w.build()
    assert w.rows(
        "select purpose, local_weekday, local_hour, messages from mart.sms_hour_weekday "
        "order by purpose, local_weekday, local_hour"
    ) == [
        ("due_reminder", 1, 9, 1),
        ("marketing", 1, 9, 2),
        ("marketing", 7, 0, 1),
        ("verification", 3, 22, 1),
    ]


def test_duplicate_incidents():
    """Background: 50 messages an hour on 2024-02-01 (00:00-23:59 local), no twins.
    14h: 10 users get T_BILL twice (14:05:00, 14:06:30) -> 70 messages, 10 duplicates
    15h: 6 users get T_REM twice (15:10:00, 15:12:00)   -> 62 messages, 6 duplicates
    18h: 8 users get T_X twice (18:20:00, 18:21:00)     -> 66 messages, 8 duplicates
    20h: 1 user gets T_Y twice (20:00, 20:05)           -> 52 messages, 1 duplicate
    All: 1250 messages, 25 duplicates. An hour is anomalous with >= 5 duplicates and a rate
    >= 5 x the rate of the other hours:
      14h: 10/70 = 0.143 vs 5 x 15/1180 = 0.064 -> yes
      15h:  6/62 = 0.097 vs 5 x 19/1188 = 0.080 -> yes
      18h:  8/66 = 0.121 vs 5 x 17/1184 = 0.072 -> yes
      20h: 1 duplicate < 5 -> no
    14h and 15h are consecutive: one incident; 18h is another.
    """
    w = Warehouse(as_of="2024-02-29")
    rows = []
    for hour in range(24):
        for i in range(50):
            rows.append(
                (f"bg{hour}_{i}", f"T_BG{hour}_{i}", f"2024-02-01 {hour:02d}:{i:02d}:00+08")
            )
    for users, template, first, second in [
        (10, "T_BILL", "14:05:00", "14:06:30"),
        (6, "T_REM", "15:10:00", "15:12:00"),
        (8, "T_X", "18:20:00", "18:21:00"),
        (1, "T_Y", "20:00:00", "20:05:00"),
    ]:
        for i in range(users):
            for at in (first, second):
                rows.append((f"{template}_{i}", template, f"2024-02-01 {at}+08"))
    for user, template, sent_at in rows:
        w.add("sms_logs", user_id=user, template_code=template, sent_at=sent_at,
              purpose="bill_notice")  # fmt: skip
    w.build()
    got = w.rows(
        "select incident_id, started_at, ended_at, messages, duplicate_messages, "
        "duplicate_rate, users, templates from mart.duplicate_incidents order by incident_id"
    )
    shanghai = datetime.fromisoformat
    assert [r[0] for r in got] == [1, 2]
    first, second = got
    assert first[1] == shanghai("2024-02-01 14:06:30+08:00")  # first duplicate
    assert first[2] == shanghai("2024-02-01 15:12:00+08:00")  # last duplicate
    assert first[3:5] == (70 + 62, 10 + 6)
    assert first[5] == pytest.approx(16 / 132)
    assert first[6:] == (16, ["T_BILL", "T_REM"])
    assert second[1] == second[2] == shanghai("2024-02-01 18:21:00+08:00")
    assert second[3:5] == (66, 8)
    assert second[5] == pytest.approx(8 / 66)
    assert second[6:] == (8, ["T_X"])
