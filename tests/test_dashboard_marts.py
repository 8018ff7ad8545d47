"""The dashboard's aggregate marts and the what-if counted from them.

`policy_counts_many` (dashboard/data.py) sums two small marts (`mart.sms_daily_flags`,
`mart.policy_cap_histogram`) instead of ranking messages. Here it is checked against
`REFERENCE_SQL`, the same policy counted message by message on `mart.sms_message_flags`
(window functions, one `removed_by` per message, first rule in RULES order wins; run through
the same locked-down connection as the dashboard's, so both can be open at once): by hand on
the dashboard fixture, on a grid of policies and scopes of the fixture, and on a small simulated
programme run through the real pipeline (slow).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import duckdb
import pytest

from dashboard import data
from dashboard.policy import RULES, Policy
from pipelines.marts import MART_FILES
from pipelines.sandbox import connect
from tests.fixtures.dashboard.build import build

MARCH = data.Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


# The what-if counted message by message: the definition the aggregate query must reproduce.
# Ranks of the reminder cap run over a bill's whole pre-due sequence and the daily cap over the
# user's whole local day (the scope only picks which messages are counted).
REFERENCE_SQL = """
with base as (
    select f.message_id, f.user_id, f.purpose, f.bill_id, f.sent_at, f.local_date,
           f.is_duplicate, f.is_quiet_hours, f.is_after_opt_out, f.is_over_daily_cap,
           f.is_marketing_in_service, f.is_marketing_without_consent,
           coalesce(f.purpose in ('bill_notice', 'due_reminder') and f.local_date <= uc.due_date,
                    false) as is_pre_due,
           case when $compliance and (f.is_after_opt_out or f.is_marketing_without_consent)
                    then 'compliance'
                when $duplicates and f.is_duplicate then 'duplicates'
                when $quiet and f.is_quiet_hours then 'quiet_hours'
           end as by_filter
    from mart.sms_message_flags f
    left join mart.user_cycle uc on uc.bill_id = f.bill_id
    where f.purpose <> 'verification'
),
reminders_alone as (
    select message_id,
           row_number() over (partition by bill_id order by sent_at, message_id) as rank_alone
    from base where is_pre_due
),
reminders_kept as (
    select message_id,
           row_number() over (partition by bill_id order by sent_at, message_id) as rank_kept
    from base where is_pre_due and by_filter is null
),
after_reminder_cap as (
    select b.*, coalesce(b.by_filter,
                         case when r.rank_kept > $max_reminders then 'reminder_cap' end) as by_rule
    from base b left join reminders_kept r using (message_id)
),
days_alone as (
    select message_id,
           row_number() over (partition by user_id, local_date
                              order by sent_at, message_id) as day_rank_alone
    from base
),
days_kept as (
    select message_id,
           row_number() over (partition by user_id, local_date
                              order by sent_at, message_id) as day_rank_kept
    from after_reminder_cap where by_rule is null
),
final as (
    select a.*, ra.rank_alone, da.day_rank_alone,
           coalesce(a.by_rule,
                    case when dk.day_rank_kept > $daily_cap then 'daily_cap' end) as removed_by
    from after_reminder_cap a
    left join days_kept dk using (message_id)
    left join reminders_alone ra using (message_id)
    left join days_alone da using (message_id)
)
select
    count(*) as messages,
    count(*) filter (where is_after_opt_out or is_marketing_without_consent) as alone_compliance,
    count(*) filter (where is_duplicate) as alone_duplicates,
    count(*) filter (where is_quiet_hours) as alone_quiet_hours,
    count(*) filter (where rank_alone > $max_reminders) as alone_reminder_cap,
    count(*) filter (where day_rank_alone > $daily_cap) as alone_daily_cap,
    count(*) filter (where is_marketing_in_service) as alone_promo,
    count(*) filter (where removed_by = 'compliance') as removed_compliance,
    count(*) filter (where removed_by = 'duplicates') as removed_duplicates,
    count(*) filter (where removed_by = 'quiet_hours') as removed_quiet_hours,
    count(*) filter (where removed_by = 'reminder_cap') as removed_reminder_cap,
    count(*) filter (where removed_by = 'daily_cap') as removed_daily_cap,
    count(*) filter (where removed_by is null and is_marketing_in_service) as rewritten_promo,
    count(*) filter (where is_duplicate) as flagged_duplicates,
    count(*) filter (where is_quiet_hours) as flagged_quiet_hours,
    count(*) filter (where is_over_daily_cap) as flagged_daily_cap,
    count(*) filter (where purpose = 'marketing' or is_marketing_in_service) as promotional
from final
where local_date between $start and $end and {user_in_scope}
"""


def reference(con: duckdb.DuckDBPyConnection, policy: Policy, f: data.Filters) -> dict[str, int]:
    params = {**f.params(), **policy.params()}
    params.pop("promo")
    cur = con.execute(data._scoped(REFERENCE_SQL), params)
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    if not policy.no_promo_in_reminders:
        row["rewritten_promo"] = 0
    return {k: int(v) for k, v in row.items()}


def flat(counts: data.Counts, flagged: dict[str, int]) -> dict[str, int]:
    """The aggregate result in the reference's column names."""
    out = {"messages": counts.messages, "rewritten_promo": counts.rewritten}
    out |= {f"alone_{r}": counts.alone[r] for r in (*RULES, "promo")}
    out |= {f"removed_{r}": counts.removed[r] for r in RULES}
    out |= {f"flagged_{r}": flagged[r] for r in ("duplicates", "quiet_hours", "daily_cap")}
    out["promotional"] = flagged["promo"]
    return out


@pytest.fixture
def fixture_serve(_isolated_data_dir, monkeypatch):
    path = build(_isolated_data_dir / "serve.duckdb")  # with the aggregate marts
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(path))
    return path


def test_aggregate_marts_are_registered_after_what_they_read():
    names = [name for name, _ in MART_FILES]
    for table in data.AGGREGATE_MARTS:
        assert f"marts/{table}" in names
        assert names.index(f"marts/{table}") > names.index("marts/user_cycle")


# (policy, expected non-zero counts beyond messages=14 in March), worked out from the fixture's
# table in tests/fixtures/dashboard/build.py.
HAND = [
    # the page's test policy: M07+M08 | M03 | M04+M13 | M12 (B05-03's 3rd) | none | M09
    (
        Policy(True, True, True, True, 2, 3),
        {"removed_compliance": 2, "removed_duplicates": 1, "removed_quiet_hours": 2,
         "removed_reminder_cap": 1, "removed_daily_cap": 0, "rewritten_promo": 1},
    ),
    # caps alone: B01-03 keeps M01, M02 (M03, M04 go), B05-03 keeps M10, M11 (M12 goes); U01 on
    # 03-08 is then left with M02, M05, M06: a cap of 1 removes M05, M06
    (
        Policy(max_pre_due_reminders=2, daily_cap=1),
        {"removed_reminder_cap": 3, "removed_daily_cap": 2},
    ),
    # daily cap 1 alone: U01 on 03-08 has M02, M03, M05, M06 -> 3 go; no other busy day
    (Policy(daily_cap=1), {"removed_daily_cap": 3}),
    # duplicates first: M03 goes, then U01 03-08 has M02, M05, M06 -> cap 2 removes M06
    (
        Policy(suppress_duplicates=True, daily_cap=2),
        {"removed_duplicates": 1, "removed_daily_cap": 1},
    ),
    # reminder cap 1 after quiet hours (M04, M08, M13): B01-03 survivors M01 M02 M03 -> M02, M03
    # go; B05-03 M10 M11 M12 -> M11, M12 go; M09 (B04-03's only reminder) stays, rewritten
    (
        Policy(quiet_hours=True, no_promo_in_reminders=True, max_pre_due_reminders=1),
        {"removed_quiet_hours": 3, "removed_reminder_cap": 4, "rewritten_promo": 1},
    ),
]  # fmt: skip
ZERO = {f"removed_{r}": 0 for r in RULES} | {"rewritten_promo": 0}


@pytest.mark.parametrize(("policy", "expected"), HAND)
def test_what_if_by_hand(fixture_serve, policy, expected):
    counts, flagged = data.policy_counts(policy, MARCH)
    got = flat(counts, flagged)
    assert got["messages"] == 14
    assert {k: got[k] for k in ZERO} == ZERO | expected
    # alone: compliance M07 M08; duplicates M03; quiet M04 M08 M13; promo M09
    assert (got["alone_compliance"], got["alone_duplicates"], got["alone_quiet_hours"]) == (2, 1, 3)
    assert got["alone_promo"] == 1
    with connect(fixture_serve) as con:
        assert reference(con, policy, MARCH) == got


def test_reminder_cap_ranks_the_whole_bill_also_before_the_period(fixture_serve):
    # From 03-09: B01-03's M04 is its 4th pre-due reminder (M01..M03 before the period), so a
    # cap of 2 removes it; B05-03's M11, M12 are its 2nd and 3rd: M12 goes.
    f = data.Filters(dt.date(2026, 3, 9), dt.date(2026, 3, 31))
    counts, flagged = data.policy_counts(Policy(max_pre_due_reminders=2), f)
    assert counts.removed["reminder_cap"] == 2
    assert counts.alone["reminder_cap"] == 2
    with connect(fixture_serve) as con:
        assert reference(con, Policy(max_pre_due_reminders=2), f) == flat(counts, flagged)


def test_caps_outside_the_precomputed_grid_are_refused(fixture_serve):
    with pytest.raises(ValueError, match="caps"):
        data.policy_counts(Policy(daily_cap=7), MARCH)


SCOPES = [
    MARCH,
    data.Filters(dt.date(2026, 3, 9), dt.date(2026, 3, 10)),
    data.Filters(dt.date(2026, 2, 1), dt.date(2026, 3, 31), band="A"),
    data.Filters(dt.date(2026, 2, 1), dt.date(2026, 3, 31), experiment="EXP-REMIND-01"),
    data.Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31), band="E", experiment="EXP-REMIND-01"),
    data.Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 31), experiment="NO-SUCH-EXPERIMENT"),
]


def _grid() -> dict[str, Policy]:
    caps = (None, 1, 2, 3)  # the fixture has at most 4 a bill or a day: every cap bites
    return {
        f"p{i}": Policy(c, d, q, promo, k, n)
        for i, (c, d, q, promo, k, n) in enumerate(
            itertools.product((False, True), (False, True), (False, True), (True,), caps, caps)
        )
    }


@pytest.mark.parametrize("scope", range(len(SCOPES)))
def test_what_if_equals_message_level_on_the_fixture(fixture_serve, scope):
    f = SCOPES[scope]
    policies = _grid()
    got = data.policy_counts_many(policies, f)
    with connect(fixture_serve) as con:
        for name, policy in policies.items():
            assert flat(*got[name]) == reference(con, policy, f), (name, policy)


def test_sms_health_tables_equal_message_level(fixture_serve):
    f = data.Filters(dt.date(2026, 2, 1), dt.date(2026, 3, 31), band="A")
    daily = data.flags_daily(f)
    with connect(fixture_serve) as con:
        want = con.execute(
            "select local_date, count(*) as messages, count(*) filter (where is_duplicate) as d, "
            "count(*) filter (where is_quiet_hours) as q from mart.sms_message_flags "
            "where purpose <> 'verification' and user_id in ('U01', 'U08') "
            "group by all order by all"
        ).fetchall()
    got = list(
        daily[["local_date", "messages", "is_duplicate", "is_quiet_hours"]].itertuples(
            index=False, name=None
        )
    )
    assert [(d.date() if hasattr(d, "date") else d, *r) for d, *r in got] == want
    # U01 in March: 03-01 M01; 03-08 M02 M03 (dup) M05 M06; 03-09 M04 (quiet)
    assert [r[1:] for r in want] == [(1, 0, 0), (4, 1, 0), (1, 0, 1)]
    hw = data.hour_weekday(f)
    assert hw["messages"].sum() == 6
    tpl = data.worst_templates(f).set_index("template_code")
    assert tpl.loc["T_DUE", "messages"] == 3 and tpl.loc["T_DUE", "flagged"] == 2


def test_user_cycle_summary_gives_the_row_level_rates(fixture_serve):
    f = data.Filters(dt.date(2026, 1, 1), dt.date(2026, 3, 31), experiment="EXP-REMIND-01")
    fr = data.frontier(f).set_index("grp")
    # control: U01 U03 U05 U07, 12 bills, late: U05 in Feb and March -> 10/12 on time
    assert fr.loc["control", "cycles"] == 12
    assert fr.loc["control", "on_time_rate"] == pytest.approx(10 / 12)
    exp, arms = data.experiment_arms(data.Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 31)))
    by_arm = {a["arm"]: a for a in arms}
    assert by_arm["control"]["reminders"] == pytest.approx(1.75)  # (4 + 0 + 3 + 0) / 4
    assert by_arm["two_reminders"]["on_time"] == pytest.approx(0.75)
    assert data.bills_by_reminders(MARCH) == [
        ("A", 0, 1), ("A", 4, 1), ("B", 0, 2), ("C", 0, 2), ("D", 1, 1), ("E", 3, 1)
    ]  # fmt: skip


# --------------------------------------------------------------------- simulated programme


@pytest.fixture(scope="module")
def simulated_serve(tmp_path_factory):
    from pipelines.orchestration.run import run_pipeline
    from pipelines.simulator import simulate

    root = tmp_path_factory.mktemp("whatif") / "data"
    simulate(root / "landing", users=300, months=2, seed=7)
    previous = os.environ.get("NUDGESCOPE_DATA_DIR")
    try:
        summary = run_pipeline(root)
    finally:
        if previous is None:
            os.environ.pop("NUDGESCOPE_DATA_DIR", None)
        else:
            os.environ["NUDGESCOPE_DATA_DIR"] = previous
    assert summary.success, summary.error
    return root / "serve.duckdb"


SIMULATED_POLICIES = {
    "none": Policy(),
    "all_filters": Policy(True, True, True, True),
    "caps_only": Policy(max_pre_due_reminders=1, daily_cap=1),
    "everything_tight": Policy(True, True, True, True, 1, 1),
    "everything": Policy(True, True, True, True, 2, 3),
    "dupes_cap": Policy(suppress_duplicates=True, max_pre_due_reminders=2, daily_cap=2),
    "quiet_caps": Policy(quiet_hours=True, no_promo_in_reminders=True, max_pre_due_reminders=3,
                         daily_cap=1),
    "compliance_cap6": Policy(block_marketing_without_permission=True, daily_cap=6,
                              max_pre_due_reminders=6),
}  # fmt: skip


@pytest.mark.slow
def test_what_if_equals_message_level_on_a_simulated_programme(simulated_serve, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(simulated_serve))
    with connect(simulated_serve) as con:
        first, last, band, exp = con.execute(
            "select min(local_date), max(local_date), "
            "(select min(score_band) from core.users), "
            "(select min(experiment_id) from core.experiment_assignments) "
            "from mart.sms_message_flags"
        ).fetchone()
        mid = first + (last - first) / 2
        scopes = [
            data.Filters(first, last),
            data.Filters(mid, last),  # cuts bills' reminder sequences
            data.Filters(first + dt.timedelta(days=3), mid, band=band),
            data.Filters(first, last, experiment=exp),
        ]
        promo_busy = 0
        for f in scopes:
            got = data.policy_counts_many(SIMULATED_POLICIES, f)
            for name, policy in SIMULATED_POLICIES.items():
                want = reference(con, policy, f)
                assert flat(*got[name]) == want, (name, f)
                promo_busy += want["alone_promo"] - want["rewritten_promo"]
        # the data exercises every rule
        everything = flat(*data.policy_counts_many(SIMULATED_POLICIES, scopes[0])["everything"])
        assert all(everything[f"removed_{r}"] > 0 for r in RULES), everything
        assert promo_busy > 0
