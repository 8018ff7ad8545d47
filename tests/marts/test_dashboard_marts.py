"""The dashboard's aggregate marts and the what-if counted from them.

`pipelines.whatif.engine.count` (sql/whatif/filter_counts.sql, cap_counts.sql) sums two small marts
(`mart.sms_daily_flags`, `mart.policy_cap_histogram`) instead of ranking messages. Here it is
checked against `REFERENCE_SQL`, the same policy counted message by message on
`mart.sms_message_flags` (window functions, one `removed_by` per message, the first rule in
attribution order wins; run through the same locked-down connection as the dashboard's, so
both can be open at once): by hand on the dashboard fixture, on a grid of policies and scopes
of the fixture, and on a small simulated programme run through the real pipeline (slow).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

import duckdb
import pytest

from dashboard import data
from dashboard.data.scope import scoped
from pipelines.marts import BUILD_ORDER, MART_FILES
from pipelines.serve.sandbox import connect
from pipelines.whatif import engine as E
from pipelines.whatif.policy import Policy, PolicyError, Scope
from pipelines.whatif.rules import REMOVING as RULES
from tests.fixtures.dashboard.build import build

MARCH = data.Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


# The what-if counted message by message: the definition the aggregate query must reproduce.
# Ranks of the reminder cap run over a bill's whole sequence of due reminders sent up to its due
# date (rank 1 is the bill notice's slot: histogram cap c keeps c - 1 due reminders, the notice
# is never capped) and the daily cap over the user's whole local day (the scope only picks
# which messages are counted).
REFERENCE_SQL = """
with base as (
    select f.message_id, f.user_id, f.purpose, f.bill_id, f.sent_at, f.local_date,
           f.is_duplicate, f.is_quiet_hours, f.is_after_opt_out, f.is_over_daily_cap,
           f.is_marketing_in_service, f.is_marketing_without_consent,
           f.is_against_preference, f.is_after_settlement,
           coalesce(f.purpose = 'due_reminder' and f.local_date <= uc.due_date,
                    false) as is_pre_due,
           case when $compliance and (f.is_after_opt_out or f.is_marketing_without_consent)
                    then 'compliance'
                when $user_settings and f.is_against_preference then 'user_settings'
                when $after_settlement and f.is_after_settlement then 'after_settlement'
                when $duplicates and f.is_duplicate then 'duplicates'
                when $quiet and f.is_quiet_hours then 'quiet_hours'
           end as by_filter
    from mart.sms_message_flags f
    left join mart.user_cycle uc on uc.bill_id = f.bill_id
    where f.purpose <> 'verification'
),
reminders_alone as (
    select message_id,
           1 + row_number() over (partition by bill_id order by sent_at, message_id) as rank_alone
    from base where is_pre_due
),
reminders_kept as (
    select message_id,
           1 + row_number() over (partition by bill_id order by sent_at, message_id) as rank_kept
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
    count(*) filter (where is_against_preference) as alone_user_settings,
    count(*) filter (where is_after_settlement) as alone_after_settlement,
    count(*) filter (where rank_alone > $max_reminders) as alone_reminder_cap,
    count(*) filter (where day_rank_alone > $daily_cap) as alone_daily_cap,
    count(*) filter (where is_marketing_in_service) as alone_promo,
    count(*) filter (where removed_by = 'compliance') as removed_compliance,
    count(*) filter (where removed_by = 'duplicates') as removed_duplicates,
    count(*) filter (where removed_by = 'quiet_hours') as removed_quiet_hours,
    count(*) filter (where removed_by = 'user_settings') as removed_user_settings,
    count(*) filter (where removed_by = 'after_settlement') as removed_after_settlement,
    count(*) filter (where removed_by = 'reminder_cap') as removed_reminder_cap,
    count(*) filter (where removed_by = 'daily_cap') as removed_daily_cap,
    count(*) filter (where removed_by is null and is_marketing_in_service) as rewritten_promo,
    count(*) filter (where is_duplicate) as flagged_duplicates,
    count(*) filter (where is_quiet_hours) as flagged_quiet_hours,
    count(*) filter (where is_against_preference) as flagged_user_settings,
    count(*) filter (where is_after_settlement) as flagged_after_settlement,
    count(*) filter (where is_over_daily_cap) as flagged_daily_cap,
    count(*) filter (where purpose = 'marketing' or is_marketing_in_service) as promotional
from final
where local_date between $start and $end and {user_in_scope}
"""


def P(c=False, d=False, q=False, promo=False, k=None, n=None, s=False, u=False) -> Policy:  # noqa: N802
    """A policy by the histogram's reminder cap k: the notice and k - 1 due reminders; s =
    suppress after settlement, u = honour the user's own settings."""
    return Policy(
        c, d, q, promo, max_pre_due_reminders=None if k is None else k - 1, daily_cap=n,
        suppress_after_settlement=s, honour_user_settings=u,
    )  # fmt: skip


def reference(con: duckdb.DuckDBPyConnection, policy: Policy, f: data.Filters) -> dict[str, int]:
    params = {
        **f.params(),
        "compliance": policy.block_marketing_without_permission,
        "duplicates": policy.suppress_duplicates,
        "quiet": policy.quiet_hours,
        "user_settings": policy.honour_user_settings,
        "after_settlement": policy.suppress_after_settlement,
        "max_reminders": None
        if policy.max_pre_due_reminders is None
        else E.histogram_cap(policy.max_pre_due_reminders),
        "daily_cap": policy.daily_cap,
    }
    cur = con.execute(scoped(REFERENCE_SQL), params)
    row = dict(zip([d[0] for d in cur.description], cur.fetchone(), strict=True))
    if not policy.no_promo_in_reminders:
        row["rewritten_promo"] = 0
    return {k: int(v) for k, v in row.items()}


def counted(policies: dict[str, Policy], f: data.Filters) -> dict[str, dict[str, int]]:
    """The engine's counts over the scope, in the reference's column names."""
    scope = Scope(f.start, f.end, (f.band,) if f.band else (), f.experiment)
    cells = E.count(E.duckdb_query(connect(data.serve_path())), scope, policies)
    keys = ["messages", "rewritten_promo", *(f"alone_{r}" for r in (*RULES, "promo")),
            *(f"removed_{r}" for r in RULES),
            *(f"flagged_{r}" for r in ("duplicates", "quiet_hours", "user_settings",
                                       "after_settlement", "daily_cap"))]  # fmt: skip
    out = {}
    for name, by_cell in cells.items():
        row = {k: sum(c[k] for c in by_cell.values()) for k in keys}
        row["promotional"] = sum(c["flagged_promo"] for c in by_cell.values())
        out[name] = row
    return out


@pytest.fixture
def fixture_serve(_isolated_data_dir, monkeypatch):
    path = build(_isolated_data_dir / "serve.duckdb")  # with the aggregate marts
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(path))
    return path


def test_aggregate_marts_are_registered_after_what_they_read():
    names = [name for name, _ in MART_FILES]
    position = {f.writes: i for i, f in enumerate(BUILD_ORDER)}
    for table in data.AGGREGATE_MARTS:
        assert f"marts/{table}" in names
        own = next(f for f in BUILD_ORDER if f.name == f"marts/{table}")
        # built after every table it reads (the build order comes from the SQL's lineage)
        for read in own.reads:
            if read in position:
                assert position[read] < names.index(own.name), (table, read)


# (policy, expected non-zero counts beyond messages=14 in March), worked out from the fixture's
# table in tests/fixtures/dashboard/build.py.
HAND = [
    # the page's test policy (1 due reminder): M07+M08 | M03 | M04+M13 | M11, M12 (B05-03's
    # 2nd and 3rd due reminders; it has no notice) | none | M09 rewritten (a notice: never capped)
    (
        P(True, True, True, True, 2, 3),
        {"removed_compliance": 2, "removed_duplicates": 1, "removed_quiet_hours": 2,
         "removed_reminder_cap": 2, "removed_daily_cap": 0, "rewritten_promo": 1},
    ),
    # caps alone (1 due reminder): B01-03 keeps M02 (M03, M04 go), B05-03 keeps M10 (M11, M12
    # go); U01 on 03-08 is then left with M02, M05, M06: a cap of 1 a day removes M05, M06
    (
        P(k=2, n=1),
        {"removed_reminder_cap": 4, "removed_daily_cap": 2},
    ),
    # daily cap 1 alone: U01 on 03-08 has M02, M03, M05, M06 -> 3 go; no other busy day
    (P(n=1), {"removed_daily_cap": 3}),
    # duplicates first: M03 goes, then U01 03-08 has M02, M05, M06 -> cap 2 removes M06
    (
        P(d=True, n=2),
        {"removed_duplicates": 1, "removed_daily_cap": 1},
    ),
    # no due reminder at all, after quiet hours (M04, M08, M13): M02, M03, M10, M11, M12, M15 go;
    # the notices M01, M09 stay (M09 rewritten)
    (
        P(q=True, promo=True, k=1),
        {"removed_quiet_hours": 3, "removed_reminder_cap": 6, "rewritten_promo": 1},
    ),
    # the user's own settings alone: M04 (in U01's quiet window 22-7) and M08 (U04 turned
    # marketing off)
    (P(u=True), {"removed_user_settings": 2}),
    # after settlement alone: M04 (B01-03 settled 03-09 09:00, reminder at 23:00)
    (P(s=True), {"removed_after_settlement": 1}),
    # everything that should never have gone out, in attribution order: M07 (no consent) and
    # M08 (after an opt-out, also against U04's settings) go for compliance first, M04 against
    # U01's settings (before after-settlement); quiet hours is left with M13
    (
        P(c=True, q=True, s=True, u=True),
        {"removed_compliance": 2, "removed_user_settings": 1, "removed_quiet_hours": 1},
    ),
    # after settlement before the reminder cap (1 due reminder): M04 goes first, so B01-03
    # keeps M02 and the cap removes M03; B05-03 keeps M10 (M11, M12 go)
    (
        P(s=True, k=2),
        {"removed_after_settlement": 1, "removed_reminder_cap": 3},
    ),
    # settings and duplicates before the daily cap 1: U01 on 03-08 keeps M02, M05, M06 after
    # M03 (duplicate) -> M05, M06 go; M04, M08 go for the settings
    (
        P(d=True, n=1, u=True),
        {"removed_user_settings": 2, "removed_duplicates": 1, "removed_daily_cap": 2},
    ),
]  # fmt: skip
ZERO = {f"removed_{r}": 0 for r in RULES} | {"rewritten_promo": 0}


@pytest.mark.parametrize(("policy", "expected"), HAND)
def test_what_if_by_hand(fixture_serve, policy, expected):
    got = counted({"p": policy}, MARCH)["p"]
    assert got["messages"] == 14
    assert {k: got[k] for k in ZERO} == ZERO | expected
    # alone: compliance M07 M08; duplicates M03; quiet M04 M08 M13; promo M09; settings M04
    # M08; after settlement M04
    assert (got["alone_compliance"], got["alone_duplicates"], got["alone_quiet_hours"]) == (2, 1, 3)
    assert (got["alone_user_settings"], got["alone_after_settlement"]) == (2, 1)
    assert got["alone_promo"] == 1
    with connect(fixture_serve) as con:
        assert reference(con, policy, MARCH) == got


def test_reminder_cap_ranks_the_whole_bill_also_before_the_period(fixture_serve):
    # From 03-09, one due reminder: B01-03's M04 is its 3rd (M02, M03 before the period), so
    # it goes; B05-03's M11, M12 are its 2nd and 3rd (M10 before): both go.
    f = data.Filters(dt.date(2026, 3, 9), dt.date(2026, 3, 31))
    got = counted({"p": P(k=2)}, f)["p"]
    assert got["removed_reminder_cap"] == 3
    assert got["alone_reminder_cap"] == 3
    with connect(fixture_serve) as con:
        assert reference(con, P(k=2), f) == got


def test_caps_outside_the_precomputed_grid_are_refused():
    with pytest.raises(PolicyError, match="daily cap 7"):
        Policy(daily_cap=7)
    with pytest.raises(PolicyError, match="reminder cap 6"):
        Policy(max_pre_due_reminders=6)


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
    both = (False, True)
    grid = {
        f"p{i}": P(c, d, q, promo, k, n)
        for i, (c, d, q, promo, k, n) in enumerate(
            itertools.product(both, both, both, (True,), caps, caps)
        )
    }
    # the two levers of the user's settings and settled bills, with every other filter and
    # the caps that bite on M04's bill and day (1 and 2)
    grid |= {
        f"s{i}": P(c, d, q, True, k, n, s, u)
        for i, (c, d, q, s, u, k, n) in enumerate(
            itertools.product(both, both, both, both, both, (None, 2), (None, 1))
        )
        if s or u
    }
    return grid


@pytest.mark.parametrize("scope", range(len(SCOPES)))
def test_what_if_equals_message_level_on_the_fixture(fixture_serve, scope):
    f = SCOPES[scope]
    policies = _grid()
    got = counted(policies, f)
    with connect(fixture_serve) as con:
        for name, policy in policies.items():
            assert got[name] == reference(con, policy, f), (name, policy)


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
    rows = E.duckdb_query(connect(fixture_serve))(
        E.sqlfiles.load("whatif/bills"),
        {"start": dt.date(2026, 3, 1), "end": dt.date(2026, 3, 31), "bands": [],
         "experiment": None},
    )  # fmt: skip
    # March bills by band and delivered pre-due messages (B01-03: 4, B04-03: 1, B05-03: 3)
    by = {}
    for r in rows:
        key = (r["band_key"], r["pre_due_reminders"])
        by[key] = by.get(key, 0) + r["bills"]
    assert sorted((*k, n) for k, n in by.items()) == [
        ("A", 0, 1), ("A", 4, 1), ("B", 0, 2), ("C", 0, 2), ("D", 1, 1), ("E", 3, 1)
    ]  # fmt: skip
    # two_reminders in March: U02 U04 U06 U08, U04 late -> 3 of 4 on time; dpd30 not yet known
    arm = [r for r in rows if r["arm"] == "two_reminders"]
    assert sum(r["on_time_sum"] for r in arm) == 3 and sum(r["on_time_n"] for r in arm) == 4
    assert sum(r["dpd30_n"] for r in arm) == 0


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
    "none": P(),
    "all_filters": P(True, True, True, True),
    "caps_only": P(k=1, n=1),
    "everything_tight": P(True, True, True, True, 1, 1),
    "everything": P(True, True, True, True, 2, 3, s=True, u=True),
    "dupes_cap": P(d=True, k=2, n=2),
    "quiet_caps": P(q=True, promo=True, k=3, n=1),
    "compliance_cap6": P(c=True, n=6, k=6),
    "settings_alone": P(u=True),
    "settled_alone": P(s=True),
    "settled_caps": P(s=True, k=2, n=2),
    "settings_before_caps": P(q=True, u=True, k=1, n=2),
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
            got = counted(SIMULATED_POLICIES, f)
            for name, policy in SIMULATED_POLICIES.items():
                want = reference(con, policy, f)
                assert got[name] == want, (name, f)
                promo_busy += want["alone_promo"] - want["rewritten_promo"]
        # the data exercises every rule
        everything = counted(SIMULATED_POLICIES, scopes[0])["everything"]
        assert all(everything[f"removed_{r}"] > 0 for r in RULES), everything
        assert promo_busy > 0
