"""Bill repayment state, the bill metrics and dpd30_balance_ratio on a hand-worked fixture.

as_of = 2024-04-30. Bands: u1 A, u2 B, u3 B, u4 A, u5 C, u6 C, u7 D, u8 E; u9 is unknown.

bill  user due         amount  repayments (success unless noted)         settled_date
B5    u1   2024-01-20    0.00  -                                         (excluded: amount 0)
B7    u5   2024-01-20  100.00  100 on 02-25                              02-25
B8    u6   2024-01-20  100.00  100 on 02-10                              02-10
B13   u9   2024-01-20   10.00  10 on 01-19                               01-19
B1    u1   2024-02-20  100.00  40 on 02-10, 60 FAILED 02-15, 60 on 02-20 23:59:59   02-20
B2    u2   2024-02-20  100.00  100 at 2024-02-20 16:00 +00:00 (= 02-21 local)       02-21
B10a  u7   2024-02-20   10.00  -                                         null
B10b  u7   2024-02-20   10.00  10 on 02-19                               02-19
B6    u1   2024-03-20  200.00  199.99 on 03-25 (never reaches 199.995)   null
B3    u3   2024-03-31   50.00  -   (due + 30 = 04-30 = as_of: matured)   null
B4    u4   2024-04-01   80.00  80 on 04-10                               04-10
B12   u8   2024-04-30   20.00  20 on 04-29   (due = as_of: on_time undefined)   04-29
B11   u4   2024-05-05   30.00  -   (not yet due)                         null
"""

from __future__ import annotations

import pytest

from tests.fixtures.metrics.warehouse import Warehouse

BILLS = [
    # bill, user, statement, due, amount
    ("B5", "u1", "2024-01-01", "2024-01-20", 0),
    ("B7", "u5", "2024-01-01", "2024-01-20", 100),
    ("B8", "u6", "2024-01-01", "2024-01-20", 100),
    ("B13", "u9", "2024-01-01", "2024-01-20", 10),
    ("B1", "u1", "2024-02-01", "2024-02-20", 100),
    ("B2", "u2", "2024-02-01", "2024-02-20", 100),
    ("B10a", "u7", "2024-02-01", "2024-02-20", 10),
    ("B10b", "u7", "2024-02-01", "2024-02-20", 10),
    ("B6", "u1", "2024-03-01", "2024-03-20", 200),
    ("B3", "u3", "2024-03-12", "2024-03-31", 50),
    ("B4", "u4", "2024-03-15", "2024-04-01", 80),
    ("B12", "u8", "2024-04-11", "2024-04-30", 20),
    ("B11", "u4", "2024-04-15", "2024-05-05", 30),
]

REPAYMENTS = [
    # bill, paid_at, amount, status
    ("B7", "2024-02-25 10:00:00+08", 100, "success"),
    ("B8", "2024-02-10 10:00:00+08", 100, "success"),
    ("B13", "2024-01-19 10:00:00+08", 10, "success"),
    ("B1", "2024-02-10 10:00:00+08", 40, "success"),
    ("B1", "2024-02-15 10:00:00+08", 60, "failed"),
    ("B1", "2024-02-20 23:59:59+08", 60, "success"),
    ("B2", "2024-02-20 16:00:00+00:00", 100, "success"),
    ("B10b", "2024-02-19 10:00:00+08", 10, "success"),
    ("B6", "2024-03-25 10:00:00+08", 199.99, "success"),
    ("B4", "2024-04-10 10:00:00+08", 80, "success"),
    ("B12", "2024-04-29 10:00:00+08", 20, "success"),
]


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    for user, band in [
        ("u1", "A"), ("u2", "B"), ("u3", "B"), ("u4", "A"),
        ("u5", "C"), ("u6", "C"), ("u7", "D"), ("u8", "E"),
    ]:  # fmt: skip
        w.add("users", user_id=user, score_band=band)
    for bill, user, statement, due, amount in BILLS:
        w.add(
            "bills",
            bill_id=bill,
            user_id=user,
            cycle=statement[:7],
            statement_date=statement,
            due_date=due,
            amount_due=amount,
        )
    for bill, paid_at, amount, status in REPAYMENTS:
        user = next(u for b, u, *_ in BILLS if b == bill)
        w.add("repayments", bill_id=bill, user_id=user, paid_at=paid_at, amount=amount,
              status=status)  # fmt: skip
    w.build()
    return w


def test_bill_state(built):
    rows = built.rows(
        "select bill_id, cast(settled_date as varchar), on_time, dpd7, dpd30, dpd90, "
        "is_first_bill from mart.bill_state order by bill_id"
    )
    assert rows == [
        # B1: 40 + 60 (the failed 60 does not count) reaches 100 at 02-20 23:59:59 local
        ("B1", "2024-02-20", True, False, False, None, True),
        # B10a / B10b share a due date: the first bill is the smaller bill_id
        ("B10a", None, False, True, True, None, True),
        ("B10b", "2024-02-19", True, False, False, None, False),
        # B11 due 05-05 > as_of: nothing defined yet
        ("B11", None, None, None, None, None, False),
        # B12 due on as_of: on_time needs due_date < as_of
        ("B12", "2024-04-29", None, None, None, None, True),
        ("B13", "2024-01-19", True, False, False, False, True),
        # B2: 16:00 UTC on 02-20 is 00:00 on 02-21 in Shanghai: one day late
        ("B2", "2024-02-21", False, False, False, None, True),
        # B3: due 03-31 + 30 = 04-30 = as_of, so dpd30 is defined (and true)
        ("B3", None, False, True, True, None, True),
        # B4: due 04-01; +7 = 04-08 <= as_of, settled 04-10 >= 04-08; +30 = 05-01 > as_of
        ("B4", "2024-04-10", False, True, None, None, True),
        # B6: 199.99 < 200 - 0.005, never settled
        ("B6", None, False, True, True, None, False),
        # B7: +90 = 04-19 <= as_of; settled 02-25 < 04-19 so not dpd90, but >= 02-19 so dpd30
        ("B7", "2024-02-25", False, True, True, False, True),
        ("B8", "2024-02-10", False, True, False, False, True),
    ]
    # B5 (amount 0) takes no part
    assert built.rows("select count(*) from mart.bill_state where bill_id = 'B5'") == [(0,)]


def test_bill_metrics_all(built):
    # January (B7 B8 B13): on time B13 only; dpd7 B7 B8; dpd30 B7; dpd90 none of 3;
    # first bills B7 (dpd30) B8 B13 -> 1/3; cure: not on time B7 B8, cured B8 -> 1/2.
    # February (B1 B2 B10a B10b): on time B1 B10b; dpd7 and dpd30 B10a; dpd90 undefined;
    # first bills B1 B2 B10a -> 1/3; cure: not on time B2 (cured, 02-21 < 03-21) B10a -> 1/2.
    # March (B6 B3): none on time; dpd7 2/2; dpd30 2/2; first bill B3 -> 1/1; cure 0/2.
    # April (B4 B12): on_time 0/1 (B12 not yet defined); dpd7 B4 1/1; dpd30 none matured.
    # May (B11): counted, nothing defined.
    assert built.metric("bills_due") == {
        "2024-01-01": (3.0, 3.0, None),
        "2024-02-01": (4.0, 4.0, None),
        "2024-03-01": (2.0, 2.0, None),
        "2024-04-01": (2.0, 2.0, None),
        "2024-05-01": (1.0, 1.0, None),
    }
    assert built.metric("on_time_rate") == {
        "2024-01-01": (1 / 3, 1.0, 3.0),
        "2024-02-01": (0.5, 2.0, 4.0),
        "2024-03-01": (0.0, 0.0, 2.0),
        "2024-04-01": (0.0, 0.0, 1.0),
    }
    assert built.metric("dpd7_rate") == {
        "2024-01-01": (2 / 3, 2.0, 3.0),
        "2024-02-01": (0.25, 1.0, 4.0),
        "2024-03-01": (1.0, 2.0, 2.0),
        "2024-04-01": (1.0, 1.0, 1.0),
    }
    assert built.metric("dpd30_rate") == {
        "2024-01-01": (1 / 3, 1.0, 3.0),
        "2024-02-01": (0.25, 1.0, 4.0),
        "2024-03-01": (1.0, 2.0, 2.0),
    }
    assert built.metric("dpd90_rate") == {"2024-01-01": (0.0, 0.0, 3.0)}
    assert built.metric("fpd30_rate") == {
        "2024-01-01": (1 / 3, 1.0, 3.0),
        "2024-02-01": (1 / 3, 1.0, 3.0),
        "2024-03-01": (1.0, 1.0, 1.0),
    }
    assert built.metric("cure_rate_30") == {
        "2024-01-01": (0.5, 1.0, 2.0),
        "2024-02-01": (0.5, 1.0, 2.0),
        "2024-03-01": (0.0, 0.0, 2.0),
    }


def test_bill_metrics_by_band(built):
    # C = B7 B8 (January); the unknown user's B13 is only in 'all'
    assert built.values("on_time_rate", "score_band=C") == {"2024-01-01": 0.0}
    assert built.values("dpd7_rate", "score_band=C") == {"2024-01-01": 1.0}
    assert built.values("dpd30_rate", "score_band=C") == {"2024-01-01": 0.5}
    assert built.values("fpd30_rate", "score_band=C") == {"2024-01-01": 0.5}
    # D = B10a (unpaid) B10b (on time) in February
    assert built.values("on_time_rate", "score_band=D") == {"2024-02-01": 0.5}
    assert built.values("fpd30_rate", "score_band=D") == {"2024-02-01": 1.0}
    # A = B1 (Feb), B6 (Mar), B4 (Apr; B11 due in May is undefined)
    assert built.values("on_time_rate", "score_band=A") == {
        "2024-02-01": 1.0,
        "2024-03-01": 0.0,
        "2024-04-01": 0.0,
    }
    # E = B12, due on as_of: no rate row at all (zero denominator)
    assert built.values("on_time_rate", "score_band=E") == {}
    # bills_due and cure_rate_30 have the 'all' segment only
    segments = built.rows(
        "select distinct segment from mart.metrics "
        "where metric in ('bills_due', 'cure_rate_30', 'dpd30_balance_ratio')"
    )
    assert segments == [("all",)]


def test_dpd30_balance_ratio(built):
    # d = min(month end, as_of). Outstanding = amount - successful repayments dated <= d.
    # Jan 31: B7 100 + B8 100 (+ B13 0); none 30 days past due        -> 0 / 200
    # Feb 29: only B10a 10 is open (due 02-20, 9 days)                 -> 0 / 10
    # Mar 31: B10a 10 (40 days, counts), B6 0.01 (11 days), B3 50 (0 days), B4 80 (stated
    #         03-15, due 04-01)                                        -> 10 / 140.01
    # Apr 30: B10a 10, B6 0.01 (41 days), B3 50 (exactly 30 days: counts), B11 30 (not due);
    #         B4 and B12 are repaid                                    -> 60.01 / 90.01
    got = built.metric("dpd30_balance_ratio")
    assert list(got) == ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"]
    expected = {
        "2024-01-01": (0.0, 200.0),
        "2024-02-01": (0.0, 10.0),
        "2024-03-01": (10.0, 140.01),
        "2024-04-01": (60.01, 90.01),
    }
    for period, (numerator, denominator) in expected.items():
        value, got_num, got_den = got[period]
        assert got_num == pytest.approx(numerator, abs=1e-9)
        assert got_den == pytest.approx(denominator, abs=1e-9)
        assert value == pytest.approx(numerator / denominator, rel=1e-12)
