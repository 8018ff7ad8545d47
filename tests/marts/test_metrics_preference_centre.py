"""The preference centre's marts on a hand-worked fixture: mart.preference_changes (what users
chose, change by change) and mart.preference_users (what is in force, and each user's
messages, messages against their settings, complaints and opt-outs in the 30 days before and
after they first chose). Every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import pytest

from tests.fixtures.metrics.warehouse import Warehouse


def _fixture() -> Warehouse:
    w = Warehouse(as_of="2024-04-30")
    w.add("users", user_id="q1", score_band="B")
    w.add("users", user_id="q2", score_band="C")
    w.add("users", user_id="q3")

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

    def sms(mid, user, sent_at, purpose="marketing"):
        w.add("sms_logs", message_id=mid, user_id=user, sent_at=sent_at, purpose=purpose)

    # q1: marketing off (03-10), then a quiet window 22-7 (03-20), then marketing back on
    # with a daily maximum of 2 (04-01). First chose on 2024-03-10: before = 02-09 .. 03-09,
    # after = 03-11 .. 04-09.
    pref("q1", "2024-03-10 10:00:00+08", marketing=False)
    pref("q1", "2024-03-20 10:00:00+08", marketing=False, start=22, end=7)
    pref("q1", "2024-04-01 10:00:00+08", max_per_day=2, start=22, end=7)
    sms("a1", "q1", "2024-02-01 10:00:00+08")  # outside both windows (the first message day)
    sms("a2", "q1", "2024-02-09 10:00:00+08")  # before (first day of the window)
    sms("a3", "q1", "2024-03-09 10:00:00+08")  # before (last day)
    sms("a4", "q1", "2024-03-10 12:00:00+08")  # the day of the choice: neither (against it)
    sms("a5", "q1", "2024-03-11 12:00:00+08")  # after; marketing off: against
    sms("a6", "q1", "2024-03-21 23:00:00+08", purpose="bill_notice")  # after; not covered
    sms("a7", "q1", "2024-03-21 23:30:00+08", purpose="due_reminder")  # after; quiet: against
    sms("a8", "q1", "2024-04-09 10:00:00+08", purpose="bill_notice")  # after (last day)
    sms("a9", "q1", "2024-04-10 10:00:00+08")  # outside
    sms("av", "q1", "2024-03-12 10:00:00+08", purpose="verification")  # never counted
    w.add(
        "complaints",
        user_id="q1",
        received_at="2024-03-01 10:00:00+08",
        category="sms_marketing",
    )  # before, an SMS complaint
    w.add("complaints", user_id="q1", received_at="2024-03-10 18:00:00+08", category="fees")
    w.add("complaints", user_id="q1", received_at="2024-04-05 10:00:00+08", category="fees")
    w.add("complaints", user_id="q1", received_at="2024-04-20 10:00:00+08", category="fees")
    w.add("opt_outs", user_id="q1", received_at="2024-02-20 10:00:00+08")  # before
    w.add("opt_outs", user_id="q1", received_at="2024-04-09 23:59:59+08")  # after (last day)
    w.add("opt_outs", user_id="q1", received_at="2024-04-10 00:00:00+08")  # outside

    # q2: saves the defaults (04-15: unchanged), then reminders off with a window 12-14
    # (04-16), moves the window to 13-15 (04-17), clears it (04-18). First chose 2024-04-15:
    # its 30 days after end 05-15, after as_of.
    pref("q2", "2024-04-15 09:00:00+08")
    pref("q2", "2024-04-16 09:00:00+08", reminders=False, start=12, end=14)
    pref("q2", "2024-04-17 09:00:00+08", reminders=False, start=13, end=15)
    pref("q2", "2024-04-18 09:00:00+08", reminders=False)
    sms("b1", "q2", "2024-04-10 10:00:00+08", purpose="due_reminder")  # before
    sms("b2", "q2", "2024-04-16 13:00:00+08", purpose="due_reminder")  # after; against

    # q3 never opened the settings
    sms("c1", "q3", "2024-03-15 10:00:00+08")
    return w


@pytest.fixture(scope="module")
def built() -> Warehouse:
    w = _fixture()
    w.build()
    return w


def test_changes_one_row_per_change(built):
    rows = built.rows(
        "select user_id, cast(local_date as varchar), change_number, change, value, score_band "
        "from mart.preference_changes order by user_id, updated_at, change"
    )
    assert rows == [
        ("q1", "2024-03-10", 1, "marketing_off", None, "B"),
        ("q1", "2024-03-20", 2, "quiet_window_set", "22-7", "B"),
        ("q1", "2024-04-01", 3, "daily_max_set", "2", "B"),
        ("q1", "2024-04-01", 3, "marketing_on", None, "B"),
        ("q2", "2024-04-15", 1, "unchanged", None, "C"),
        ("q2", "2024-04-16", 2, "quiet_window_set", "12-14", "C"),
        ("q2", "2024-04-16", 2, "reminders_off", None, "C"),
        ("q2", "2024-04-17", 3, "quiet_window_changed", "13-15", "C"),
        ("q2", "2024-04-18", 4, "quiet_window_cleared", None, "C"),
    ]


def test_users_before_and_after_they_chose(built):
    cols = (
        "user_id, score_band, cast(chosen_date as varchar), changes, marketing, reminders, "
        "max_per_day, quiet_start_hour, quiet_end_hour, before_complete, after_complete, "
        "messages_before, messages_after, against_preference_after, complaints_before, "
        "complaints_after, sms_complaints_before, sms_complaints_after, opt_outs_before, "
        "opt_outs_after"
    )
    rows = built.rows(f"select {cols} from mart.preference_users order by user_id")
    assert rows == [
        # q1: in force now the row of 04-01; messages a2 a3 before, a5 a6 a7 a8 after, of
        # which a5 (marketing off) and a7 (quiet window) against; complaints: 03-01 (SMS)
        # before, 04-05 after; opt-outs 02-20 before, 04-09 23:59:59 after
        ("q1", "B", "2024-03-10", 3, True, True, 2, 22, 7, True, True, 2, 4, 2, 1, 1, 1, 0, 1, 1),
        # q2: 03-16 is after the first message day (02-01); 05-15 is after as_of
        ("q2", "C", "2024-04-15", 4, True, False, None, None, None, True, False, 1, 1, 1, 0, 0, 0,
         0, 0, 0),
    ]  # fmt: skip


def test_absent_preferences_give_empty_tables():
    w = _fixture()
    w.con.execute("delete from core.sms_preferences")
    w.build()
    assert w.rows("select count(*) from mart.preference_changes") == [(0,)]
    assert w.rows("select count(*) from mart.preference_users") == [(0,)]
