"""mart.sms_message_flags and the SMS day metrics on a hand-worked fixture (metrics.md).

Every expected flag below is worked out by hand from the rule in the spec; the comments give
the reasoning. Timestamps carry explicit offsets; the session time zone is Los Angeles.
"""

from __future__ import annotations

import pytest

from pipelines.marts import MetricSettings
from tests.fixtures.metrics.warehouse import Warehouse

FLAGS = (
    "is_duplicate",
    "is_quiet_hours",
    "is_after_opt_out",
    "is_over_daily_cap",
    "is_marketing_in_service",
    "is_marketing_without_consent",
    # the three of "messages that should never have gone out": no bill, repayment or
    # preference row in this fixture, so false everywhere (hand-worked cases in
    # test_metrics_flags_never_sent.py)
    "is_after_settlement",
    "is_collection_before_due",
    "is_against_preference",
)


def _fixture() -> Warehouse:
    w = Warehouse(as_of="2024-03-31")
    w.add("users", user_id="u1")
    w.add("users", user_id="u2", marketing_consent=False)
    w.add("users", user_id="u3")
    w.add("users", user_id="u4")
    w.add("users", user_id="u5")
    w.add("users", user_id="u6")

    def sms(mid, user, sent_at, purpose="due_reminder", template=None, bill=None, **kw):
        w.add(
            "sms_logs",
            message_id=mid,
            user_id=user,
            sent_at=sent_at,
            purpose=purpose,
            template_code=template or f"T_{mid}",
            bill_id=bill,
            **kw,
        )

    # Duplicates (u1): same user, template, bill; at most 10 minutes after the previous twin.
    sms("d1", "u1", "2024-03-05 10:00:00+08", template="T_DUE", bill="b1")  # first: no
    sms("d2", "u1", "2024-03-05 10:10:00+08", template="T_DUE", bill="b1")  # exactly 10 min: yes
    sms("d3", "u1", "2024-03-05 10:20:00.001+08", template="T_DUE", bill="b1")  # 10m0.001s: no
    sms("d4", "u1", "2024-03-06 10:00:00+08", template="T_DUE")  # bill null, first: no
    sms("d5", "u1", "2024-03-06 10:04:00+08", template="T_DUE")  # null = null, 4 min: yes
    sms("d6", "u1", "2024-03-06 10:05:00+08", template="T_DUE", bill="b1")  # other bill key: no
    # same instant: the order is (sent_at, message_id), so d7b follows d7a
    sms("d7a", "u1", "2024-03-07 09:00:00+08", template="T_DUE", bill="b2")  # no
    sms("d7b", "u1", "2024-03-07 09:00:00+08", template="T_DUE", bill="b2")  # yes
    # verification twins are never flagged
    sms("v1", "u1", "2024-03-07 09:01:00+08", purpose="verification", template="T_OTP")
    sms("v2", "u1", "2024-03-07 09:02:00+08", purpose="verification", template="T_OTP")

    # Quiet hours (u4): local hour >= 22 or < 8.
    sms("q1", "u4", "2024-03-08 21:59:59+08")  # 21h: no
    sms("q2", "u4", "2024-03-08 22:00:00+08")  # 22h: yes
    sms("q3", "u4", "2024-03-09 07:59:59+08")  # 7h: yes
    sms("q4", "u4", "2024-03-09 08:00:00+08")  # 8h: no
    sms("q5", "u4", "2024-03-09 16:30:00+00:00")  # = 2024-03-10 00:30 local: yes, next day

    # Opt-out (u3) at 2024-03-12 12:00:00+08; only later marketing is flagged.
    w.add("opt_outs", user_id="u3", received_at="2024-03-12 12:00:00+08")
    w.add("opt_outs", user_id="u3", received_at="2024-03-20 12:00:00+08")  # later one: no effect
    sms("k1", "u3", "2024-03-12 12:00:00+08", purpose="marketing")  # same second: no
    sms("k2", "u3", "2024-03-12 12:00:01+08", purpose="marketing")  # after: yes
    sms("k3", "u3", "2024-03-12 13:00:00+08", purpose="bill_notice")  # not marketing: no
    sms("k4", "u3", "2024-03-11 12:00:00+08", purpose="marketing")  # before: no

    # Daily cap (u5), local date 2024-03-15: c5 is 2024-03-15 00:00 local, so it ranks first;
    # the verification message does not count.
    sms("c5", "u5", "2024-03-14 16:00:00+00:00")  # rank 1 (and quiet: 0h)
    sms("cv", "u5", "2024-03-15 08:30:00+08", purpose="verification")  # not ranked
    sms("c1", "u5", "2024-03-15 09:00:00+08")  # rank 2
    sms("c2", "u5", "2024-03-15 10:00:00+08")  # rank 3
    sms("c3", "u5", "2024-03-15 11:00:00+08")  # rank 4: over the cap of 3
    sms("c4", "u5", "2024-03-15 12:00:00+08")  # rank 5: over

    # Marketing in service (u6): service purposes with a promotion keyword in the content.
    sms("s1", "u6", "2024-03-16 10:00:00+08", purpose="bill_notice", content="账单已出，领券立减")
    sms("s2", "u6", "2024-03-17 10:00:00+08", purpose="due_reminder", content="您的账单即将到期")
    sms("s3", "u6", "2024-03-18 10:00:00+08", purpose="marketing", content="限时优惠")  # no
    sms("s4", "u6", "2024-03-19 10:00:00+08", purpose="overdue_collection", content=None)
    sms("s5", "u6", "2024-03-20 10:00:00+08", purpose="overdue_collection", content="会员福利")

    # Marketing without consent: u2 has consent false; u99 is unknown (false).
    sms("w1", "u2", "2024-03-21 10:00:00+08", purpose="marketing")  # yes
    sms("w2", "u2", "2024-03-21 11:00:00+08", purpose="bill_notice")  # not marketing: no
    sms("w3", "u99", "2024-03-21 12:00:00+08", purpose="marketing")  # unknown user: no
    return w


# message_id -> the flags that must be true; every other (message, flag) must be false
EXPECTED_TRUE = {
    "d2": {"is_duplicate"},
    "d5": {"is_duplicate"},
    "d7b": {"is_duplicate"},
    "q2": {"is_quiet_hours"},
    "q3": {"is_quiet_hours"},
    "q5": {"is_quiet_hours"},
    "k2": {"is_after_opt_out"},
    "c5": {"is_quiet_hours"},
    "c3": {"is_over_daily_cap"},
    "c4": {"is_over_daily_cap"},
    "s1": {"is_marketing_in_service"},
    "s5": {"is_marketing_in_service"},
    "w1": {"is_marketing_without_consent"},
}


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = _fixture()
    w.build()
    return w


def test_every_flag_of_every_message(built):
    rows = built.rows(f"select message_id, {', '.join(FLAGS)} from mart.sms_message_flags")
    # 8 d* + 2 v* + 5 q* + 4 k* + 6 c* + 5 s* + 3 w* = 33 sms_logs rows, verification included
    assert len(rows) == 33
    for message_id, *flags in rows:
        got = {name for name, value in zip(FLAGS, flags, strict=True) if value}
        assert got == EXPECTED_TRUE.get(message_id, set()), message_id
        assert all(value is not None for value in flags), message_id


def test_columns_and_local_time(built):
    columns = [r[0] for r in built.rows("describe mart.sms_message_flags")]
    assert columns == [
        "message_id",
        "user_id",
        "purpose",
        "template_code",
        "bill_id",
        "sent_at",
        "local_date",
        "local_hour",
        "delivery_status",
        *FLAGS,
        # delivery as the gateway saw it, and where the message is known (log or gateway)
        "delivered_at",
        "provider",
        "err_code",
        "origin",
    ]
    # 16:30 UTC on the 9th is 00:30 on the 10th in Shanghai
    assert built.rows(
        "select cast(local_date as varchar), local_hour from mart.sms_message_flags "
        "where message_id in ('q1', 'q5') order by message_id"
    ) == [("2024-03-08", 21), ("2024-03-10", 0)]


def test_run_context_records_defaults(built):
    row = built.rows(
        "select cast(as_of as varchar), duplicate_window_minutes, quiet_start_hour, "
        "quiet_end_hour, daily_cap, promo_keywords from mart.run_context"
    )
    # as_of = the latest loaded dt (the failed 2099 file does not count)
    assert row == [
        (
            "2024-03-31",
            10,
            22,
            8,
            3,
            ["优惠", "领券", "红包", "立减", "折扣", "限时", "活动", "免息券", "抽奖", "福利"],
        ),
    ]


def test_sms_day_metrics(built):
    # 2024-03-05: d1 d2 d3 (1 duplicate). 2024-03-06: d4 d5 d6 (1 duplicate).
    # 2024-03-07: d7a d7b (1 duplicate) and two verification messages (not counted in all).
    dup = built.metric("sms_duplicate")
    assert dup["2024-03-05"] == (1.0, 1.0, None)
    assert dup["2024-03-06"] == (1.0, 1.0, None)
    assert dup["2024-03-07"] == (1.0, 1.0, None)
    # a day with messages and no duplicate reports 0
    assert dup["2024-03-08"] == (0.0, 0.0, None)
    assert built.values("sms_sent")["2024-03-07"] == 2.0
    assert built.values("sms_sent", "purpose=verification")["2024-03-07"] == 2.0
    assert built.values("sms_sent", "purpose=due_reminder")["2024-03-07"] == 2.0
    # quiet hours per local day: 03-08 q2; 03-09 q3; 03-10 q5 (UTC 03-09)
    quiet = built.values("sms_quiet_hours")
    assert (quiet["2024-03-08"], quiet["2024-03-09"], quiet["2024-03-10"]) == (1.0, 1.0, 1.0)
    # 2024-03-15: c5 is local 03-15 00:00, so that day has c5 c1 c2 c3 c4 = 5 messages
    assert built.values("sms_sent")["2024-03-15"] == 5.0
    assert "2024-03-14" not in built.values("sms_sent")
    assert built.values("sms_over_daily_cap")["2024-03-15"] == 2.0
    assert built.values("sms_after_opt_out")["2024-03-12"] == 1.0
    assert built.values("sms_marketing_in_service")["2024-03-16"] == 1.0
    assert built.values("sms_marketing_in_service")["2024-03-20"] == 1.0
    assert built.values("sms_marketing_without_consent")["2024-03-21"] == 1.0
    # every message here is delivered
    assert built.metric("sms_delivery_rate")["2024-03-21"] == (1.0, 3.0, 3.0)
    # totals over all days equal the flag counts of the fixture
    totals = dict(
        built.rows(
            "select metric, sum(value) from mart.metrics where segment = 'all' and metric in "
            "('sms_duplicate', 'sms_quiet_hours', 'sms_after_opt_out', 'sms_over_daily_cap', "
            "'sms_marketing_in_service', 'sms_marketing_without_consent') group by metric"
        )
    )
    assert totals == {
        "sms_duplicate": 3.0,
        "sms_quiet_hours": 4.0,
        "sms_after_opt_out": 1.0,
        "sms_over_daily_cap": 2.0,
        "sms_marketing_in_service": 2.0,
        "sms_marketing_without_consent": 1.0,
    }


def test_settings_change_the_flags():
    w = _fixture()
    w.build(
        MetricSettings(
            duplicate_window_minutes=5,  # d2 (10 min) no longer a duplicate; d5 (4 min) still
            quiet_start_hour=23,  # q2 (22h) no longer quiet; q3 (7h) quiet; c5/q5 (0h) quiet
            quiet_end_hour=8,
            daily_cap=4,  # only c4 (rank 5) over the cap
            promo_keywords=("到期",),  # s2 "即将到期" now counts, s1 and s5 do not
        )
    )
    got = dict(
        w.rows(
            "select f, list_sort(list(message_id)) from ("
            " select 'dup' as f, message_id from mart.sms_message_flags where is_duplicate"
            " union all select 'quiet', message_id from mart.sms_message_flags"
            "  where is_quiet_hours"
            " union all select 'cap', message_id from mart.sms_message_flags"
            "  where is_over_daily_cap"
            " union all select 'promo', message_id from mart.sms_message_flags"
            "  where is_marketing_in_service"
            ") group by f"
        )
    )
    assert got == {
        "dup": ["d5", "d7b"],
        "quiet": ["c5", "q3", "q5"],
        "cap": ["c4"],
        "promo": ["s2"],
    }
    assert w.rows(
        "select duplicate_window_minutes, quiet_start_hour, daily_cap, promo_keywords "
        "from mart.run_context"
    ) == [(5, 23, 4, ["到期"])]
