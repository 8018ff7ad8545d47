"""mart.preference_users recomputes only the users whose row can have changed
(pipelines.marts.preferences).

as_of 2024-04-05 at first; the messages start on 2024-01-01 (uz, below).

user  first chose  d - 30 .. d + 30         d + 30 <= as_of from
pa    03-10        02-09 .. 04-09           04-09
pb    03-20        02-19 .. 04-19           04-19
pc    (none at first)

Every step changes one input and names, worked out from the table above, the users that must
be recomputed; the build must recompute exactly those, and every mart must equal a full
rebuild of the same core.
"""

from __future__ import annotations

import pytest
from test_metrics_incremental import _assert_equals_full_rebuild, _keyed_steps

from pipelines.marts import preferences, run_build
from tests.fixtures.metrics.warehouse import Warehouse


def _sms(w: Warehouse, mid: str, user: str, sent_at: str) -> None:
    w.add("sms_logs", message_id=mid, user_id=user, sent_at=sent_at, template_code=f"T_{mid}")


def _pref(w: Warehouse, user: str, at: str, **kw) -> None:
    w.add("sms_preferences", user_id=user, updated_at=at,
          marketing=kw.get("marketing", True), reminders=True)  # fmt: skip


def _warehouse() -> Warehouse:
    w = Warehouse(as_of="2024-04-05")
    for user, band in (("pa", "A"), ("pb", "B"), ("pc", "A")):
        w.add("users", user_id=user, score_band=band)
    _pref(w, "pa", "2024-03-10 10:00:00+08", marketing=False)
    _pref(w, "pb", "2024-03-20 10:00:00+08")
    # ten more users who chose in January, whose windows and thresholds have all passed: a
    # step's users stay under half of the table (a larger share rebuilds it in full)
    for i in range(10):
        w.add("users", user_id=f"q{i}", score_band="A")
        _pref(w, f"q{i}", "2024-01-05 10:00:00+08")
    # messages of a user without settings on twenty days from 01-01 (the first day with
    # messages), so that no step rebuilds the flags in full
    for day in range(1, 21):
        _sms(w, f"z{day}", "uz", f"2024-01-{day:02d} 12:00:00+08")
    return w


def _row(w: Warehouse, user: str) -> tuple:
    found = w.rows(
        "select score_band, messages_before, messages_after, complaints_after, opt_outs_before, "
        "after_complete from mart.preference_users where user_id = ?",
        [user],
    )
    return found[0] if found else ()


@pytest.fixture(scope="module")
def steps():
    w = _warehouse()
    return w, _keyed_steps(w, preferences.FILE)


def test_each_input_recomputes_the_users_it_reaches(steps):
    w, step = steps
    assert step() == ()  # nothing changed
    assert _row(w, "pa") == ("A", 0, 0, 0, 0, False)

    # a message to pa on 03-15 (in pa's window) and one to pb on 02-10 (before pb's window)
    _sms(w, "a1", "pa", "2024-03-15 12:00:00+08")
    _sms(w, "b1", "pb", "2024-02-10 12:00:00+08")
    assert step() == ("pa",)
    assert _row(w, "pa")[1:3] == (0, 1)

    # a complaint by pb on 03-25 (after pb's first choice)
    w.add("complaints", user_id="pb", received_at="2024-03-25 10:00:00+08", category="fees")
    assert step() == ("pb",)
    assert _row(w, "pb")[3] == 1

    # an opt-out by pa on 03-01: in pa's window, and a first opt-out (the flags' users)
    w.add("opt_outs", user_id="pa", received_at="2024-03-01 10:00:00+08")
    assert step() == ("pa",)
    assert _row(w, "pa")[4] == 1

    # pc chooses for the first time (the flags' users: its settings changed)
    _pref(w, "pc", "2024-03-30 10:00:00+08")
    assert step() == ("pc",)
    assert _row(w, "pc") == ("A", 0, 0, 0, 0, False)

    # pb's score band
    w.con.execute("update core.users set score_band = 'C' where user_id = 'pb'")
    assert step() == ("pb",)
    assert _row(w, "pb")[0] == "C"

    # as_of 04-10: pa's 30 days after its choice are complete (04-09), pb's not (04-19)
    w.con.execute("update ingest.file_ledger set dt = '2024-04-10' where dt = '2024-04-05'")
    assert step() == ("pa",)
    assert _row(w, "pa")[5] is True

    # a message before the first day with messages: every row's before_complete may change
    _sms(w, "e1", "uz", "2023-12-01 12:00:00+08")
    plan = run_build(w.con).preferences_plan
    assert plan.full and "first day" in plan.reason
    _assert_equals_full_rebuild(w)
    assert step() == ()


def test_a_file_reading_an_unfollowed_table_is_rebuilt_in_full(monkeypatch):
    w = _warehouse()
    run_build(w.con)
    assert not run_build(w.con).preferences_plan.full
    monkeypatch.setattr(preferences, "FOLLOWED", preferences.FOLLOWED - {"core.opt_outs"})
    plan = run_build(w.con).preferences_plan
    assert plan.full and "core.opt_outs" in plan.reason
