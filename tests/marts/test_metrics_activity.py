"""Checkout, BNPL, marketing conversion, SMS volume, complaint and opt-out metrics on a
hand-worked fixture. as_of = 2024-03-15, so March is *not* complete.

Users x1..x4 (x2 has no marketing consent). Active accounts (bill with amount > 0 stated in
the month, or a BNPL order in the month): January x1 (bill + orders), x2 -> 2; February x1,
x3 -> 2; March x4 (bill), x2, x1 -> 3 (x3's March bill has amount 0 and does not count).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.fixtures.metrics.warehouse import Warehouse


def approx_by_period(expected: dict[str, tuple]) -> dict:
    """pytest.approx does not nest into dicts of tuples: approximate each period's tuple."""
    return {period: pytest.approx(values) for period, values in expected.items()}


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = Warehouse(as_of="2024-03-15")
    for user in ("x1", "x3", "x4"):
        w.add("users", user_id=user)
    w.add("users", user_id="x2", marketing_consent=False)
    w.add("bills", user_id="x1", statement_date="2024-01-01", due_date="2024-01-20", amount_due=10)
    w.add("bills", user_id="x3", statement_date="2024-03-05", due_date="2024-03-25", amount_due=0)
    w.add("bills", user_id="x4", statement_date="2024-03-05", due_date="2024-03-25", amount_due=20)

    # checkout sessions
    def session(started_at, offered, status, method=None):
        w.add("checkout_sessions", user_id="x1", started_at=started_at, bnpl_offered=offered,
              status=status, payment_method=method)  # fmt: skip

    session("2024-03-01 10:00:00+08", True, "completed", "bnpl")
    session("2024-03-01 11:00:00+08", True, "completed", "card")
    session("2024-03-01 12:00:00+08", True, "abandoned")
    session("2024-03-01 13:00:00+08", False, "completed", "card")
    session("2024-02-29 16:30:00+00:00", False, "abandoned")  # 03-01 00:30 local
    session("2024-03-02 10:00:00+08", False, "abandoned")

    # orders
    def order(user, created_at, amount, method="bnpl", status="paid"):
        w.add("orders", user_id=user, created_at=created_at, amount=amount,
              payment_method=method, status=status,
              installments=3 if method == "bnpl_installment" else 1)  # fmt: skip

    order("x1", "2024-01-05 09:00:00+08", 100)
    order("x1", "2024-01-05 09:30:00+08", 50.50, method="bnpl_installment")
    order("x2", "2024-01-20 10:00:00+08", 30)
    order("x3", "2024-01-10 10:00:00+08", 99, method="card")  # not BNPL
    order("x3", "2024-01-11 10:00:00+08", 99, status="cancelled")  # not BNPL
    order("x2", "2024-01-25 10:00:00+08", 20, status="refunded")  # refunded still counts
    order("x1", "2024-02-03 10:00:00+08", 10)
    order("x3", "2024-02-29 23:59:59+08", 10)
    order("x2", "2024-02-29 16:00:00+00:00", 25)  # 2024-03-01 00:00 local: March
    order("x1", "2024-03-10 10:00:00+08", 5)

    # messages
    def sms(mid, user, sent_at, purpose="marketing", status="delivered"):
        w.add("sms_logs", message_id=mid, user_id=user, sent_at=sent_at, purpose=purpose,
              delivery_status=status, template_code=f"T_{mid}")  # fmt: skip

    sms("mk1", "x1", "2024-01-04 10:00:00+08")  # order 01-05 09:00 within 72 h: converted
    sms("bn1", "x1", "2024-01-04 12:00:00+08", purpose="bill_notice", status="failed")
    sms("v1", "x1", "2024-01-04 13:00:00+08", purpose="verification")
    sms("mk4", "x3", "2024-01-10 10:00:00+08", status="failed")  # not delivered
    sms("mk2", "x2", "2024-01-17 10:00:00+08")  # order 01-20 10:00:00 exactly 72 h: converted
    sms("mk3", "x2", "2024-01-17 09:59:59+08")  # 72 h + 1 s before that order: not
    sms("mk7", "x3", "2024-02-29 23:59:59+08")  # order at the same instant: not (open bound)
    sms("mk5", "x1", "2024-03-12 10:00:00+08")  # 03-12 + 3 = as_of: eligible, no order after
    sms("mk6", "x1", "2024-03-13 10:00:00+08")  # 03-13 + 3 > as_of: not eligible

    w.add("opt_outs", user_id="x2", received_at="2024-01-18 10:00:00+08")

    def complaint(user, received_at, source, resolved_after_hours=None, status=None, **kw):
        resolved_at = None
        if resolved_after_hours is not None:
            start = datetime.fromisoformat(received_at)
            resolved_at = (start + timedelta(hours=resolved_after_hours)).isoformat()
        w.add("complaints", user_id=user, received_at=received_at, source=source,
              status=status or ("resolved" if resolved_at else "open"),
              resolved_at=resolved_at, **kw)  # fmt: skip

    # January: c1 凌晨 -> sms_night (the first rule wins over 催收 and 短信); c2 重复 ->
    # sms_duplicate (before 广告 = sms_marketing); c3 given 'fees', no user, 23:30 local.
    complaint("x1", "2024-01-08 10:00:00+08:00", "hotline", 2, narrative="凌晨收到催收短信")
    complaint("x2", "2024-01-09 10:00:00+08:00", "app", 4, narrative="一直重复发广告")
    complaint(None, "2024-01-31 23:30:00+08:00", "heimao", 1, category="fees")
    # February: c4 16:30 UTC on 01-31 = 02-01 00:30 local, 退款 -> refund, open;
    # c5 no narrative -> other; c6 征信 -> credit_report
    complaint("x3", "2024-01-31 16:30:00+00:00", "regulator", narrative="我要退款")
    complaint("x1", "2024-02-10 10:00:00+08:00", "hotline", 10.5)
    complaint("x1", "2024-02-11 10:00:00+08:00", "app", 5.5, narrative="征信有问题")
    w.build()
    return w


def test_checkout(built):
    # 03-01: five sessions (the 16:30 UTC one is 00:30 local), three completed
    assert built.metric("checkout_sessions")["2024-03-01"] == (5.0, 5.0, None)
    assert built.metric("checkout_conversion_rate") == {
        "2024-03-01": (0.6, 3.0, 5.0),
        "2024-03-02": (0.0, 0.0, 1.0),
    }
    # offered: three sessions on 03-01, two completed; none on 03-02 (no row)
    assert built.metric("checkout_conversion_rate", "bnpl_offered=true") == {
        "2024-03-01": (2 / 3, 2.0, 3.0)
    }
    assert built.metric("checkout_conversion_rate", "bnpl_offered=false") == {
        "2024-03-01": (0.5, 1.0, 2.0),
        "2024-03-02": (0.0, 0.0, 1.0),
    }
    # take rate: completed offered sessions on 03-01 are bnpl and card -> 1/2;
    # 03-02 has none: zero denominator, no row
    assert built.metric("bnpl_take_rate") == {"2024-03-01": (0.5, 1.0, 2.0)}


def test_bnpl(built):
    # January: x1 (100, 50.50), x2 (30, refunded 20) -> 2 users, 4 orders, 200.50
    # February: x1 (10), x3 (10 at 23:59:59) -> 2 users, 2 orders, 20
    # March: x2 (25 at 00:00 local), x1 (5) -> 2 users, 2 orders, 30
    assert built.values("bnpl_active_users") == {
        "2024-01-01": 2.0, "2024-02-01": 2.0, "2024-03-01": 2.0
    }  # fmt: skip
    assert built.values("bnpl_orders") == {
        "2024-01-01": 4.0, "2024-02-01": 2.0, "2024-03-01": 2.0
    }  # fmt: skip
    assert built.values("bnpl_gmv") == {
        "2024-01-01": 200.5, "2024-02-01": 20.0, "2024-03-01": 30.0
    }  # fmt: skip
    # repeat: January buyers x1 x2, of whom x1 buys in February -> 1/2. February's next
    # month (March) is not complete at as_of 03-15: no row; nor for March.
    assert built.metric("bnpl_repeat_rate") == {"2024-01-01": (0.5, 1.0, 2.0)}
    # dau/mau: January, 31 days, buyer-days 01-05 (x1), 01-20 (x2), 01-25 (x2) = 3
    #   -> (3/31)/2; February, 29 days: 02-03, 02-29 -> (2/29)/2;
    #   March, days up to as_of = 15: 03-01 (x2), 03-10 (x1) -> (2/15)/2
    got = built.metric("dau_mau_ratio")
    assert got == approx_by_period({
        "2024-01-01": (3 / 31 / 2, 3 / 31, 2.0),
        "2024-02-01": (2 / 29 / 2, 2 / 29, 2.0),
        "2024-03-01": (2 / 15 / 2, 2 / 15, 2.0),
    })  # fmt: skip


def test_marketing_conversion(built):
    # 01-04: mk1 converted -> 1/1. 01-10: mk4 failed, not eligible: no row.
    # 01-17: mk2 (exactly 72 h) yes, mk3 (72 h + 1 s) no -> 1/2.
    # 02-29: mk7, order at the same instant is not after it -> 0/1.
    # 03-12: eligible (03-15 <= as_of), no order -> 0/1. 03-13: not eligible.
    assert built.metric("marketing_sms_conversion_72h") == {
        "2024-01-04": (1.0, 1.0, 1.0),
        "2024-01-17": (0.5, 1.0, 2.0),
        "2024-02-29": (0.0, 0.0, 1.0),
        "2024-03-12": (0.0, 0.0, 1.0),
    }


def test_sms_volume(built):
    # 01-04: mk1 + bn1 (verification v1 excluded from 'all'); one of the two delivered
    assert built.metric("sms_sent")["2024-01-04"] == (2.0, 2.0, None)
    assert built.values("sms_sent", "purpose=verification") == {"2024-01-04": 1.0}
    assert built.values("sms_sent", "purpose=bill_notice") == {"2024-01-04": 1.0}
    assert built.metric("sms_delivery_rate")["2024-01-04"] == (0.5, 1.0, 2.0)
    # x2 has no consent: mk2 and mk3 on 01-17
    assert built.values("sms_marketing_without_consent")["2024-01-17"] == 2.0
    # messages per month: Jan mk1 bn1 mk4 mk2 mk3 = 5, Feb mk7 = 1, Mar mk5 mk6 = 2
    assert built.metric("sms_per_active_account") == approx_by_period({
        "2024-01-01": (2.5, 5.0, 2.0),
        "2024-02-01": (0.5, 1.0, 2.0),
        "2024-03-01": (2 / 3, 2.0, 3.0),
    })  # fmt: skip


def test_complaints_and_opt_outs(built):
    assert built.rows(
        "select category, category_was_given, is_sms, cast(local_date as varchar) "
        "from mart.complaints_classified order by received_at"
    ) == [
        ("sms_night", False, True, "2024-01-08"),
        ("sms_duplicate", False, True, "2024-01-09"),
        ("fees", True, False, "2024-01-31"),  # 23:30 local = 15:30 UTC on 01-31
        ("refund", False, False, "2024-02-01"),  # 16:30 UTC on 01-31 = 00:30 local 02-01
        ("other", False, False, "2024-02-10"),
        ("credit_report", False, False, "2024-02-11"),
    ]
    assert built.values("complaints") == {"2024-01-01": 3.0, "2024-02-01": 3.0}
    segments = {
        seg: built.values("complaints", seg)
        for seg in ("category=sms_night", "category=fees", "category=refund", "source=heimao",
                    "source=regulator", "source=hotline")
    }  # fmt: skip
    assert segments == {
        "category=sms_night": {"2024-01-01": 1.0},
        "category=fees": {"2024-01-01": 1.0},
        "category=refund": {"2024-02-01": 1.0},
        "source=heimao": {"2024-01-01": 1.0},
        "source=regulator": {"2024-02-01": 1.0},
        "source=hotline": {"2024-01-01": 1.0, "2024-02-01": 1.0},
    }
    # per 10k active: Jan 3·10000/2, Feb 3·10000/2, Mar 0 complaints over 3 accounts
    assert built.metric("complaints_per_10k_active") == {
        "2024-01-01": (15000.0, 3.0, 2.0),
        "2024-02-01": (15000.0, 3.0, 2.0),
        "2024-03-01": (0.0, 0.0, 3.0),
    }
    # SMS complaints per 100k messages: Jan 2·100000/5; Feb 0/1; Mar 0/2
    assert built.metric("sms_complaints_per_100k_sms") == {
        "2024-01-01": (40000.0, 2.0, 5.0),
        "2024-02-01": (0.0, 0.0, 1.0),
        "2024-03-01": (0.0, 0.0, 2.0),
    }
    assert built.metric("opt_outs") == {"2024-01-01": (1.0, 1.0, None)}
    # delivered marketing messages: Jan mk1 mk2 mk3 = 3 (mk4 failed); Feb mk7; Mar mk5 mk6
    assert built.metric("opt_outs_per_1k_marketing_sms") == approx_by_period({
        "2024-01-01": (1000 / 3, 1.0, 3.0),
        "2024-02-01": (0.0, 0.0, 1.0),
        "2024-03-01": (0.0, 0.0, 2.0),
    })  # fmt: skip
    # median resolution hours: Jan [2, 4, 1] -> 2; Feb [10.5, 5.5] (c4 is open) -> 8.0
    assert built.metric("complaint_resolution_hours_p50") == {
        "2024-01-01": (2.0, None, 3.0),
        "2024-02-01": (8.0, None, 2.0),
    }


def test_catalog_covers_every_metric(built):
    published = {r[0] for r in built.rows("select distinct metric from mart.metrics")}
    catalog = built.rows(
        "select metric, grain, unit, description, formula from mart.metric_catalog"
    )
    # the 32 of the first catalog and the three never-sent flags' daily counts
    assert len(catalog) == 35
    assert {"sms_after_settlement", "sms_collection_before_due", "sms_against_preference"} <= {
        r[0] for r in catalog
    }
    assert published <= {r[0] for r in catalog}
    assert all(all(field for field in row) for row in catalog)


def test_one_row_per_metric_grain_period_segment(built):
    assert (
        built.rows(
            "select metric, grain, period, segment from mart.metrics "
            "group by all having count(*) > 1"
        )
        == []
    )
    # every metric has exactly one grain
    assert (
        built.rows(
            "select metric from mart.metrics group by metric having count(distinct grain) > 1"
        )
        == []
    )
