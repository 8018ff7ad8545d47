"""The policy engine (pipelines/whatif): numbers worked out by hand.

A hand-made "warehouse" answers the engine's three scope queries (complaints, opt-outs, bills):
one month, score band A, an experiment with a `control` arm (bill notice only) and a `two`
arm (notice + 2 due reminders), and users outside the experiment on the production cadence.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math

import pytest

from pipelines.whatif import engine as E
from pipelines.whatif.estimate import Lin, Quantity, binomial, interpolation
from pipelines.whatif.policy import (
    Policy,
    PolicyError,
    Scope,
    Weights,
    parse_band_caps,
    parse_weights,
)

SCOPE = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
M = "2026-03"


def bill(arm, pre, n, on_time, complained, exp="EXP"):
    return {
        "month": M, "band_key": "A", "experiment_id": exp if arm else "", "arm": arm,
        "pre_due_reminders": pre, "bills": n, "on_time_n": n, "on_time_sum": on_time,
        "dpd30_n": 0, "dpd30_sum": 0, "complained_n": n, "complained_sum": complained,
        "opted_out_n": n, "opted_out_sum": 0,
    }  # fmt: skip


BILLS = [
    bill("control", 1, 100, 80, 2),  # 20 late bills got the notice only: cadence 0
    bill("two", 3, 60, 50, 1),  # 10 late bills got notice + 2 reminders: cadence 2
    bill("two", 2, 40, 40, 0),  # paid on time before the second reminder
    bill("", 3, 50, 45, 0),  # outside the experiment: 5 late bills with 2 reminders
]
COMPLAINTS = [
    {"month": M, "band_key": "A", "rule_group": "duplicates", "is_regulator": False,
     "complaints": 3},
    {"month": M, "band_key": "A", "rule_group": "compliance", "is_regulator": True,
     "complaints": 1},
    {"month": M, "band_key": "A", "rule_group": "none", "is_regulator": False, "complaints": 2},
]  # fmt: skip
OPT_OUTS = [{"month": M, "opt_outs": 10}]


def fake_query(sql: str, params: dict) -> list[dict]:
    if "complaints_classified" in sql:
        return COMPLAINTS
    if "opt_outs_daily" in sql:
        return OPT_OUTS
    if "user_cycle_summary" in sql:
        return BILLS
    if "sms_daily_flags" in sql or "policy_cap_histogram" in sql:
        return []  # the count queries: these tests give the counts by hand
    raise AssertionError(sql)


# what the counting query would say for the policy below (band A, March)
COUNTS = {
    (M, "A"): {
        "messages": 1000, "removed_compliance": 2, "removed_duplicates": 4,
        "removed_quiet_hours": 0, "removed_reminder_cap": 150, "removed_daily_cap": 0,
        "rewritten_promo": 0, "removed_marketing_reachable": 1, "flagged_compliance": 2,
        "flagged_duplicates": 8, "flagged_quiet_hours": 5, "flagged_daily_cap": 0,
        "flagged_daily_cap_marketing": 0, "flagged_promo": 50, "marketing_reachable": 100,
    }
}  # fmt: skip
POLICY = Policy(
    block_marketing_without_permission=True, suppress_duplicates=True, max_pre_due_reminders=1
)


def test_cadences_come_from_late_bills():
    inputs = E.load_inputs(fake_query, SCOPE)
    exp = inputs.experiment
    assert exp.experiment_id == "EXP"
    assert exp.cadence == {"control": 0, "two": 2, E.OUTSIDE: 2}
    assert exp.levels == [0, 2]
    assert exp.source == {"A": "pooled"}  # 100 bills per arm < 200
    q = inputs.quantities
    assert q["arm:on_time:0:pooled"].estimate == pytest.approx(0.80)
    assert q["arm:on_time:2:pooled"].estimate == pytest.approx(0.90)  # (50 + 40) / 100
    assert inputs.regulator_share == pytest.approx(1 / 6)


def test_interpolation_between_arms_and_flat_beyond():
    assert interpolation([0.0, 2.0], 1.0) == {0.0: 0.5, 2.0: 0.5}
    assert interpolation([0.0, 2.0, 4.0], 3.0) == {2.0: 0.5, 4.0: 0.5}
    assert interpolation([0.0, 2.0], 5.0) == {2.0: 1.0}
    assert interpolation([1.0, 2.0], 0.0) == {1.0: 1.0}
    assert interpolation([0.0, 2.0], 2.0) == {2.0: 1.0}


def test_binomial_variance_uses_the_shrunk_rate():
    q = binomial(0, 10)
    assert q.estimate == 0.0
    assert q.variance == pytest.approx((1 / 12) * (11 / 12) / 10)


def test_the_policy_by_hand():
    inputs = E.load_inputs(fake_query, SCOPE)
    ev = E.evaluate(inputs, POLICY, COUNTS, Weights())
    q = inputs.quantities
    # reminder cap 1: rate(1) = (0.80 + 0.90) / 2 = 0.85; the `two` arm (100 bills) and the
    # outsiders (50) have cadence 2 -> 150 x (0.85 - 0.90) = -7.5
    on_time = ev.form("on_time_repayments")
    assert on_time.value(q) == pytest.approx(-7.5)
    # coefficients: +75 on rate(0), -75 on rate(2); variances p(1-p)/n at p = (x+1)/(n+2)
    var = 75**2 * ((81 / 102) * (21 / 102) / 100 + (91 / 102) * (11 / 102) / 100)
    iv = on_time.interval(q)
    assert iv["ci_low"] == pytest.approx(-7.5 - 1.959964 * math.sqrt(var), abs=1e-4)
    assert iv["ci_high"] == pytest.approx(-7.5 + 1.959964 * math.sqrt(var), abs=1e-4)
    # complaints: duplicates 3 x 4/8 = 1.5 avoided; compliance 1 (regulator) x 2/2 avoided;
    # the cap: complained rate 2/100 (cadence 0) vs 1/100 (cadence 2): 150 x (0.015 - 0.01)
    assert ev.form("complaints").value(q) == pytest.approx(-1.5 - 1 + 0.75)
    # regulator: -1 from compliance, + 0.75 x 1/6 from the cap
    assert ev.form("regulator_complaints").value(q) == pytest.approx(-1 + 0.75 / 6)
    # opt-outs: 10 per 100 reachable marketing messages x 1 removed; the arms opted out 0
    assert ev.form("opt_outs").value(q) == pytest.approx(-0.1)
    assert ev.form("violations").value(q) == -2
    assert ev.form("messages").value(q) == -156
    assert ev.form("sms_cost_yuan").value(q) == pytest.approx(-156 * 0.04)
    # 50 x -7.5 + 200 x 0.875 (non-regulator avoided) + 2000 x 0.875 + 30 x 0.1 + 500 x 2
    # + 0.04 x 156
    assert ev.form("net_value_yuan").value(q) == pytest.approx(-375 + 175 + 1750 + 3 + 1000 + 6.24)
    # every count change without sampling error has a zero-width interval
    viol = ev.form("violations").interval(q)
    assert viol["ci_low"] == viol["ci_high"] == -2


def test_user_settings_and_settled_bills_by_hand():
    complaints = [
        {"month": M, "band_key": "A", "rule_group": "compliance", "is_regulator": True,
         "complaints": 1},
        {"month": M, "band_key": "A", "rule_group": "user_settings", "is_regulator": False,
         "complaints": 2},
        {"month": M, "band_key": "A", "rule_group": "user_settings", "is_regulator": True,
         "complaints": 1},
        {"month": M, "band_key": "A", "rule_group": "after_settlement", "is_regulator": False,
         "complaints": 4},
    ]  # fmt: skip

    def query(sql, params):
        return complaints if "complaints_classified" in sql else fake_query(sql, params)

    counts = {
        (M, "A"): {
            "messages": 1000, "removed_compliance": 2, "removed_user_settings": 6,
            "removed_after_settlement": 5, "removed_marketing_reachable": 4,
            "flagged_compliance": 2, "flagged_user_settings": 8, "flagged_after_settlement": 10,
            "marketing_reachable": 100,
        }
    }  # fmt: skip
    policy = Policy(
        block_marketing_without_permission=True,
        honour_user_settings=True,
        suppress_after_settlement=True,
    )
    assert policy.filters() == 1 + 8 + 16
    assert Policy.with_filters(25) == policy
    inputs = E.load_inputs(query, SCOPE)
    ev = E.evaluate(inputs, policy, counts, Weights())
    q = inputs.quantities
    # complaints: compliance 1 x 2/2; settings (2 + 1) x 6/8 = 2.25; after settlement 4 x 5/10
    assert ev.form("complaints").value(q) == pytest.approx(-(1 + 2.25 + 2))
    assert ev.form("regulator_complaints").value(q) == pytest.approx(-(1 + 0.75))
    # opt-outs: 10 per 100 reachable marketing messages x the 4 the settings removed
    assert ev.form("opt_outs").value(q) == pytest.approx(-0.4)
    # violations: the compliance rule's 2 and the 6 against the user's own settings; the 5
    # after settlement are not violations
    assert ev.form("violations").value(q) == -8
    assert ev.form("messages").value(q) == -13
    # 200 x (5.25 - 1.75) + 2000 x 1.75 + 30 x 0.4 + 500 x 8 + 0.04 x 13
    assert ev.form("net_value_yuan").value(q) == pytest.approx(700 + 3500 + 12 + 4000 + 0.52)
    assert ev.removed() == {"compliance": 2, "user_settings": 6, "after_settlement": 5,
                            "duplicates": 0, "quiet_hours": 0, "reminder_cap": 0,
                            "daily_cap": 0}  # fmt: skip


def test_complaints_are_attributed_by_category_and_narrative():
    import duckdb

    from pipelines import sqlfiles

    con = duckdb.connect()
    con.execute("create schema mart; create schema core")
    con.execute("create table core.users (user_id varchar, score_band varchar)")
    con.execute("create table core.experiment_assignments (user_id varchar, experiment_id varchar)")
    con.execute(
        "create table mart.complaints_classified (user_id varchar, local_date date, "
        "source varchar, category varchar, narrative varchar)"
    )
    rows = [
        ("sms_marketing", "我已经回复退订了，还一直给我发营销短信", "compliance"),
        ("sms_marketing", "我在App里关闭了营销短信，还在发广告", "user_settings"),
        ("sms_night", "设置了免打扰，半夜还收到提醒", "user_settings"),
        ("sms_frequency", "每天最多一条是我自己设置的，今天收到五条短信", "user_settings"),
        ("collection_conduct", "已经还清了还在催收", "after_settlement"),
        ("sms_frequency", "上周已还款，每天还收到好几条提醒短信", "after_settlement"),
        ("sms_frequency", "一天收到五六条短信，太多了", "daily_cap"),
        ("collection_conduct", "逾期才两天就天天催收", "none"),
        ("fees", "已还款但还收违约金", "none"),
        ("sms_marketing", "还款提醒里夹带促销内容", "promo"),
    ]
    con.executemany(
        "insert into mart.complaints_classified values ('U1', date '2026-03-05', 'app', ?, ?)",
        [r[:2] for r in rows],
    )
    got = E.duckdb_query(con)(sqlfiles.load("whatif/complaints"), SCOPE.params())
    by = {r["rule_group"]: int(r["complaints"]) for r in got}
    want: dict[str, int] = {}
    for *_, group in rows:
        want[group] = want.get(group, 0) + 1
    assert by == want


def test_duplicate_complaints_interval_counts_both_sources():
    inputs = E.load_inputs(fake_query, SCOPE)
    counts = {(M, "A"): {**COUNTS[(M, "A")], "removed_compliance": 0, "removed_reminder_cap": 0}}
    ev = E.evaluate(inputs, Policy(suppress_duplicates=True), counts, Weights())
    form = ev.form("complaints")
    # -0.5 x (3 app/hotline complaints, Poisson var 3 + 1) and -0.5 x (0 regulator, var 0 + 1)
    assert form.value(inputs.quantities) == pytest.approx(-1.5)
    assert form.sd(inputs.quantities) == pytest.approx(math.sqrt(0.25 * 4 + 0.25 * 1))


def test_current_policy_changes_nothing():
    inputs = E.load_inputs(fake_query, SCOPE)
    counts = {(M, "A"): {"messages": 1000}}
    ev = E.evaluate(inputs, Policy(), counts, Weights())
    for o in E.OUTCOMES:
        assert ev.form(o).interval(inputs.quantities) == {
            "change": 0.0,
            "ci_low": 0.0,
            "ci_high": 0.0,
        }


def test_per_band_cap_leaves_other_bands_alone():
    p = Policy().with_band_caps({"A": None, "B": 1})
    inputs = E.load_inputs(fake_query, SCOPE)
    ev = E.evaluate(inputs, p, {(M, "A"): {"messages": 1000}}, Weights())
    assert ev.form("on_time_repayments").value(inputs.quantities) == 0.0
    assert p.reminder_cap("B") == 1 and p.reminder_cap("A") is None


def test_no_experiment_means_no_cap_effect_and_a_note():
    def query(sql, params):
        if "user_cycle_summary" in sql:
            return [bill("", 3, 50, 45, 0)]
        return fake_query(sql, params)

    inputs = E.load_inputs(query, SCOPE)
    ev = E.evaluate(inputs, Policy(max_pre_due_reminders=0), {(M, "A"): {}}, Weights())
    assert inputs.experiment is None
    assert ev.notes == ["no_experiment", "cap_effect_not_estimated"]
    assert ev.form("on_time_repayments").value(inputs.quantities) == 0.0


def test_difference_of_two_policies_shares_quantities():
    q = {"a": Quantity(1.0, 4.0)}
    x, y = Lin(0.0, {"a": 3.0}), Lin(1.0, {"a": 1.0})
    d = Lin().add(x).add(y, -1.0)
    assert d.value(q) == 1.0 and d.sd(q) == pytest.approx(4.0)  # |3 - 1| x 2


def test_parsing_user_text():
    w = parse_weights("on_time=60, violation=1000")
    assert (w.on_time, w.violation, w.complaint) == (60.0, 1000.0, 200.0)
    assert parse_band_caps("A=1,b=2") == (("A", 1), ("B", 2))
    for bad, msg in [
        ("on_time", "not name=value"),
        ("ontime=5", "unknown weight"),
        ("on_time=x", "not a number"),
        ("on_time=-1", ">= 0"),
    ]:
        with pytest.raises(PolicyError, match=msg):
            parse_weights(bad)
    with pytest.raises(PolicyError, match="unknown score band 'F'"):
        parse_band_caps("F=1")
    with pytest.raises(PolicyError, match="before it starts"):
        Scope(dt.date(2026, 3, 2), dt.date(2026, 3, 1))


def test_scope_months():
    s = Scope(dt.date(2026, 1, 15), dt.date(2026, 3, 31))
    assert s.months() == ["2026-01", "2026-02", "2026-03"]
    assert s.length_months() == round(76 / (365.25 / 12), 2)


# --------------------------------------------------------------- the search, on the fixture


@pytest.fixture(scope="module")
def fixture_query(tmp_path_factory):
    from pipelines.serve.sandbox import connect
    from tests.fixtures.dashboard.build import build

    con = connect(build(tmp_path_factory.mktemp("search") / "serve.duckdb"))
    yield E.duckdb_query(con)
    con.close()


def test_search_finds_the_best_of_the_grid(fixture_query):
    from pipelines.whatif import search as S

    scope = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    inputs = E.load_inputs(fixture_query, scope)
    w = Weights()
    res = S.search(inputs, w)
    assert res.grid_size == 32 * 2 * 7 * 7**5
    best = res.best.value["change"]
    # no uniform policy of the grid beats it (checked one by one, outside the search), the
    # user's settings and settled-bill levers included
    both = (False, True)
    grid = {
        f"p{i}": Policy(comp, dup, quiet, promo, max_pre_due_reminders=k, daily_cap=n,
                        suppress_after_settlement=settled, honour_user_settings=settings)
        for i, (comp, dup, quiet, promo, settled, settings, k, n) in enumerate(
            itertools.product(both, both, both, both, both, both, (None, 0, 1, 2), (None, 1, 3))
        )
    }  # fmt: skip
    counts = E.count(fixture_query, scope, grid)
    for name, p in grid.items():
        ev = E.evaluate(inputs, p, counts[name], w)
        assert ev.form("net_value_yuan").value(inputs.quantities) <= best + 1e-6, p
    assert res.best.tied_with_best
    # M04 goes against U01's own settings (a violation at 500 yuan): the best honours them
    assert res.best.policy.honour_user_settings
    # the frontier: more messages removed only for more value
    values = [c.value["change"] for c in res.frontier]
    removed = [c.messages_removed for c in res.frontier]
    assert removed == sorted(removed) and values == sorted(values)
    assert set(res.sensitivity) == {"on_time", "complaint", "regulator_complaint", "opt_out",
                                    "violation", "message"}  # fmt: skip
    lo, hi = res.sensitivity["violation"]
    assert lo is None or lo <= w.violation
    assert hi is None or hi >= w.violation


def test_grid_values_equal_the_full_evaluation(fixture_query):
    """The search prices its uniform policies in numpy (search.grid_values); engine.evaluate
    prices a policy from counts that the scope's SQL gives. The two must agree for every
    policy of the grid (a sample of the 3,136 here, every filter set among them)."""
    from pipelines.whatif import search as S

    scope = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    inputs = E.load_inputs(fixture_query, scope)
    w = Weights(message=0.3, violation=20.0)
    base = S._base_policies()
    combos = sorted({(p.filters(), p.daily_cap or 0) for p in base.values()})
    X, removed = S.grid_values(inputs, combos)
    sample = dict(list(base.items())[::13])
    assert len({p.filters() for p in sample.values()}) == 32
    counts = E.count(fixture_query, scope, sample)
    for name, p in sample.items():
        c = combos.index((p.filters(), p.daily_cap or 0))
        k = S.CAP_CHOICES.index(p.max_pre_due_reminders)
        ev = E.evaluate(inputs, p, counts[name], w)
        grid = float((X[c, 0, :, k, :] @ S._factors(w)).sum())
        assert grid == pytest.approx(
            ev.form("net_value_yuan").value(inputs.quantities), abs=1e-6
        ), name
        assert removed[c, k] == -round(ev.form("messages").value(inputs.quantities)), name


def test_the_net_value_from_totals_equals_the_full_evaluation(fixture_query):
    """The search ranks its candidates by engine.net_value, which sums the counts over the
    cells first; engine.evaluate prices cell by cell. The same form, the same interval, the
    same messages removed, for policies with every lever: filters, the promotion rewrite, a
    daily cap, a uniform and a per-band reminder cap; over January-March, so that the cells
    summed are of several months (February and March have messages) and bands."""
    scope = Scope(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    inputs = E.load_inputs(fixture_query, scope)
    w = Weights(message=0.3, violation=20.0)
    both = (False, True)
    policies = {
        f"p{i}": Policy(comp, dup, quiet, promo, max_pre_due_reminders=k, daily_cap=n,
                        honour_user_settings=settings)
        for i, (comp, dup, quiet, promo, settings, k, n) in enumerate(
            itertools.product(both, both, both, both, both, (None, 0, 2), (None, 1, 3))
        )
    }  # fmt: skip
    policies["bands"] = Policy(no_promo_in_reminders=True).with_band_caps(
        {"A": 0, "B": 1, "C": None, "D": 2, "E": 3}
    )
    counts = E.count_from(inputs.tables, policies)
    totals = E.count_totals(inputs.tables, policies)
    assert {month for month, _ in inputs.tables.cells} == {"2026-02", "2026-03"}
    nonzero = 0
    for name, p in policies.items():
        assert totals[name] == {
            k: sum(cell[k] for cell in counts[name].values()) for k in totals[name]
        }, name
        ev = E.evaluate(inputs, p, counts[name], w)
        full = ev.form("net_value_yuan").interval(inputs.quantities)
        fast = E.net_value(inputs, p, totals[name], w).interval(inputs.quantities)
        assert fast == pytest.approx(full, rel=1e-12, abs=1e-9), name
        removed = E.messages_removed(totals[name])
        assert removed == -round(ev.form("messages").value(inputs.quantities)), name
        nonzero += full["ci_low"] != full["ci_high"] and removed > 0
    assert nonzero > 10  # the policies remove messages and carry an interval
