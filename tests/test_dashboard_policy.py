"""The what-if model (dashboard/policy.py): pure functions, numbers worked out by hand."""

from __future__ import annotations

import pytest

from dashboard import policy as P

# March of the dashboard fixture, with every rule on, at most 2 pre-due reminders, cap 3/day:
# filters remove M07+M08 (compliance), M03 (duplicate), M04+M13 (quiet hours; M08 already
# gone); of B05-03's reminders M10, M11, M12 the third is capped; the daily cap finds nothing
# left above 3 (U01 on 03-08 keeps M02, M05, M06). M09's promotion is rewritten.
COUNTS = P.Counts(
    messages=14,
    removed={"compliance": 2, "duplicates": 1, "quiet_hours": 2, "reminder_cap": 1, "daily_cap": 0},
    alone={"compliance": 2, "duplicates": 1, "quiet_hours": 3, "reminder_cap": 3, "daily_cap": 1,
           "promo": 1},
    rewritten=1,
)  # fmt: skip
BASELINE = P.Baseline(
    messages=14,
    opt_outs=2,
    bills=8,
    on_time=6,
    complaints_by_category={"sms_marketing": 1, "sms_duplicate": 1, "sms_night": 1,
                            "sms_frequency": 1, "fees": 1},
    # promotional messages: 4 marketing + 1 promo-in-service
    flagged={"duplicates": 1, "quiet_hours": 3, "daily_cap": 1, "compliance": 5, "promo": 5},
)  # fmt: skip


def _curve(band: str, outcome: str, rates: list[float]) -> dict:
    return {(band, b, outcome): r for b, r in zip(P.BUCKETS, rates, strict=True)}


CURVE = {
    **_curve("all", "on_time", [0.6, 0.7, 0.8, 0.85, 0.86, 0.86]),
    **_curve("A", "on_time", [0.8, 0.88, 0.92, 0.94, 0.95, 0.95]),
    **_curve("all", "complained", [0.01, 0.01, 0.01, 0.02, 0.03, 0.05]),
    **_curve("A", "complained", [0, 0, 0.01, 0.01, 0.02, 0.04]),
    **_curve("all", "opted_out", [0, 0, 0.01, 0.01, 0.02, 0.03]),
    **_curve("A", "opted_out", [0, 0, 0, 0.01, 0.01, 0.02]),
}
# (band, delivered pre-due reminders, bills): B01-03 (A, 4), B05-03 (E, 3), B04-03 (D, 1) ...
BILLS = [("A", 0, 1), ("A", 4, 1), ("B", 0, 2), ("C", 0, 2), ("D", 1, 1), ("E", 3, 1)]


def test_bucket():
    assert [P.bucket(n) for n in (0, 1, 4, 5, 9)] == ["0", "1", "4", "5+", "5+"]


def test_curve_rate_falls_back_to_all():
    assert P.curve_rate(CURVE, "A", "2", "on_time") == 0.92
    assert P.curve_rate(CURVE, "E", "2", "on_time") == 0.80
    assert P.curve_rate(CURVE, "E", "2", "dpd30") is None


def test_reminder_cap_effect_by_hand():
    # A: 4 -> 2 on A's curve: .92 - .95 = -.03; E: 3 -> 2 on 'all': .80 - .85 = -.05
    delta = P.reminder_cap_effect(BILLS, CURVE, 2)
    assert delta["on_time"] == pytest.approx(-0.08)
    # complained: A (.01 - .02) + E (.01 - .02) = -.02 ; opted_out: A (0 - .01) + E (.01 - .01)
    assert delta["complained"] == pytest.approx(-0.02)
    assert delta["opted_out"] == pytest.approx(-0.01)
    assert P.reminder_cap_effect(BILLS, CURVE, None) == {o: 0.0 for o in P.OUTCOMES}
    assert P.reminder_cap_effect(BILLS, CURVE, 5)["on_time"] == 0.0  # nobody above 5


def test_complaint_rates_per_flagged_message():
    assert BASELINE.complaint_rate("compliance") == pytest.approx(1 / 5)
    assert BASELINE.complaint_rate("quiet_hours") == pytest.approx(1 / 3)
    assert BASELINE.complaint_rate("duplicates") == 1.0
    assert BASELINE.opt_outs_per_message == pytest.approx(2 / 14)
    empty = P.Baseline(0, 0, 0, 0, {}, {})
    assert empty.complaint_rate("duplicates") == 0.0 and empty.opt_outs_per_message == 0.0


def test_expected_effect_by_hand():
    e = P.expected_effect(COUNTS, BASELINE, P.reminder_cap_effect(BILLS, CURVE, 2))
    assert e.messages_removed == 6 and e.messages_rewritten == 1
    # complaints: 2 x 1/5 + 1 x 1 + 2 x 1/3 + 0 x 1 (cap) + 1 rewrite x 1/5 = 2.2667; curve -.02
    assert e.complaints == pytest.approx(-(0.4 + 1.0 + 2 / 3 + 0.2) - 0.02)
    # opt-outs: the 5 messages removed outside the reminder cap x 2/14, curve -.01
    assert e.opt_outs == pytest.approx(-5 / 7 - 0.01)
    assert e.on_time == pytest.approx(-0.08)
    assert e.on_time_rate_pp == pytest.approx(-1.0)  # -0.08 of 8 bills


def test_value_and_rank_by_hand():
    e = P.Effect(6, 1, on_time=-0.08, complaints=-2.2867, opt_outs=-0.7243, on_time_rate_pp=-1)
    w = P.Weights(yuan_per_on_time=50, yuan_per_complaint=200, yuan_per_opt_out=30,
                  yuan_per_message=0.04)  # fmt: skip
    # -4 + 457.34 + 21.729 + 0.24
    assert P.value(e, w) == pytest.approx(475.309)
    assert P.rank({"a": 1.0, "b": 3.0, "c": 3.0}) == [(1, "b", 3.0), (2, "c", 3.0), (3, "a", 1.0)]


def test_nothing_enabled_changes_nothing():
    counts = P.Counts(14, dict.fromkeys(P.RULES, 0), {})
    e = P.expected_effect(counts, BASELINE, P.reminder_cap_effect(BILLS, CURVE, None))
    assert (e.messages_removed, e.on_time, e.complaints, e.opt_outs) == (0, 0.0, 0.0, 0.0)
    assert P.value(e, P.Weights()) == 0.0


def test_policy_params_bind_every_rule():
    p = P.Policy(True, False, True, False, 2, None).params()
    assert p == {"compliance": True, "duplicates": False, "quiet": True, "promo": False,
                 "max_reminders": 2, "daily_cap": None}  # fmt: skip


def test_interpolate_between_arms_and_flat_beyond():
    pts = [(0.0, 0.80), (2.0, 0.90), (4.0, 0.94)]
    assert P.interpolate(pts, -1) == 0.80
    assert P.interpolate(pts, 1) == pytest.approx(0.85)
    assert P.interpolate(pts, 3) == pytest.approx(0.92)
    assert P.interpolate(pts, 9) == 0.94


def test_dose_points_need_two_levels():
    arms = [
        {"reminders": 2.0, "on_time": 0.90, "complained": 0.01, "opted_out": None},
        {"reminders": 0.0, "on_time": 0.80, "complained": 0.01, "opted_out": 0.02},
    ]
    doses = P.dose_points(arms)
    assert doses["on_time"] == [(0.0, 0.80), (2.0, 0.90)]
    assert "opted_out" not in doses  # one level only


def test_reminder_cap_effect_from_the_experiment_by_hand():
    doses = {"on_time": [(0.0, 0.80), (2.0, 0.90), (4.0, 0.94)]}
    # 10 bills with 3 reminders capped at 1: 10 x (f(1) - f(3)) = 10 x (0.85 - 0.92) = -0.7
    # 5 bills with 6 reminders capped at 1: 5 x (0.85 - 0.94) = -0.45; 4 bills with 1: unchanged
    bills = [("A", 3, 10), ("E", 6, 5), ("B", 1, 4)]
    delta = P.reminder_cap_effect_dose(bills, doses, 1)
    assert delta["on_time"] == pytest.approx(-1.15)
    assert delta["complained"] == 0.0
    assert P.reminder_cap_effect_dose(bills, doses, None)["on_time"] == 0.0
