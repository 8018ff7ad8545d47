"""Incremental mart builds equal a full rebuild on the same core (pipelines.marts.state).

One warehouse goes through a sequence of core changes, each followed by an incremental
build; after every step every mart table must equal a full rebuild of a copy of the same
core (row sets; floats within 1e-9), and the flags must have been updated in a small scope,
not rebuilt, where the change allows it.
"""

from __future__ import annotations

import math

import pytest
from test_metrics_flags import _fixture

from pipelines.contract import LANDING_SOURCES
from pipelines.ingest import changes
from pipelines.marts import (
    HELPER_TABLES,
    MART_TABLES,
    STATE_SCHEMA,
    MetricSettings,
    invalidate,
    run_build,
)
from pipelines.serve import segments
from tests.fixtures.metrics.warehouse import Warehouse


def _sms(w: Warehouse, mid: str, user: str, sent_at: str, **kw) -> None:
    kw.setdefault("purpose", "due_reminder")
    kw.setdefault("template_code", "T_DUE")
    w.add("sms_logs", message_id=mid, user_id=user, sent_at=sent_at, **kw)


def _base() -> Warehouse:
    w = _fixture()
    # bills, repayments and orders so user_cycle and the bill metrics have rows
    for user, bill, statement, due in (
        ("u1", "b1", "2024-02-20", "2024-03-05"),
        ("u1", "b2", "2024-03-01", "2024-03-15"),
        ("u5", "b5", "2024-02-25", "2024-03-10"),
    ):
        w.add(
            "bills",
            bill_id=bill,
            user_id=user,
            cycle=statement[:7],
            statement_date=statement,
            due_date=due,
            amount_due=100,
        )
    w.add("repayments", bill_id="b1", user_id="u1", paid_at="2024-03-04 10:00:00+08", amount=100)
    w.add("orders", user_id="u1", created_at="2024-03-03 10:00:00+08", payment_method="bnpl")
    w.add("orders", user_id="u5", created_at="2024-03-18 10:00:00+08", payment_method="bnpl")
    # a message late in the evening whose twin arrives just after midnight (step 2)
    _sms(w, "m1", "u1", "2024-03-22 23:57:00+08", bill_id="b2")
    return w


def _rows(con, table: str) -> list[tuple]:
    rows = con.execute(f"select * from {table}").fetchall()

    def key(row: tuple) -> str:
        return repr(tuple(round(v, 6) if isinstance(v, float) else v for v in row))

    return sorted(rows, key=key)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    return a == b


# the tables the build writes that are published in segments: their change log must name
# every date the build touched (pipelines.ingest.changes); every mart in segments is one
LOGGED = [
    ("core", "sms_messages", "_dt"),
    ("core", "sms_receipt_matches", "_dt"),
    *((s, t, col) for (s, t), (col, _) in sorted(segments.SEGMENTED.items()) if s == "mart"),
]


def _assert_change_log_complete(con) -> None:
    """Fingerprint the built tables per date as a publish does (the saved parts of the last
    check plus the dates the build noted) and compare with a full rehash (the verify mode
    raises on a date the log missed); then save, as a publish would."""
    parts = segments.fingerprint_days(con, "memory", LOGGED)
    changes.save_parts(con, parts)


def _assert_equals_full_rebuild(w: Warehouse, settings: MetricSettings | None = None) -> None:
    """Copy core and the ledger into a second database, build it in full, compare."""
    con = w.con
    _assert_change_log_complete(con)
    con.execute("attach ':memory:' as ref")
    try:
        con.execute("create schema ref.core")
        con.execute("create schema ref.ingest")
        for source in LANDING_SOURCES:
            con.execute(f'create table ref.core."{source}" as select * from memory.core."{source}"')
        con.execute(
            "create table ref.ingest.file_ledger as select * from memory.ingest.file_ledger"
        )
        con.execute("use ref")
        run_build(con, settings, incremental=False)
        con.execute("use memory")
        # the marts, the intermediate tables, and the messages with their receipts (updated
        # incrementally too)
        tables = (
            [f"mart.{t}" for t in MART_TABLES]
            + list(HELPER_TABLES)
            + ["core.sms_messages", "core.sms_receipt_matches"]
        )
        # and the build's own state (what the next build compares with): as a full build
        # leaves it
        tables += [
            f"mart_build.{t}"
            for (t,) in con.execute(
                "select table_name from duckdb_tables() "
                "where database_name = 'memory' and schema_name = 'mart_build' order by 1"
            ).fetchall()
        ]
        for table in tables:
            got = _rows(con, f"memory.{table}")
            want = _rows(con, f"ref.{table}")
            assert len(got) == len(want), table
            for g, x in zip(got, want, strict=True):
                assert len(g) == len(x), table
                assert all(_same(a, b) for a, b in zip(g, x, strict=True)), (table, g, x)
    finally:
        con.execute("use memory")
        con.execute("detach ref")


def _keyed_steps(w: Warehouse, name: str):
    """For the tests of a mart updated by key (pipelines.marts.keyed; `name` its file): build
    `w` once (in full: no state yet), and return `step`, which builds again, checks that the
    file was updated by key and that every mart equals a full rebuild, and returns the keys it
    recomputed (`step.builds`: every build's plan)."""
    first = run_build(w.con)
    assert first.keyed_plans[name].full and "flags" in first.keyed_plans[name].reason
    builds = []

    def step() -> tuple[str, ...]:
        builds.append(run_build(w.con))
        plan = builds[-1].keyed_plans[name]
        assert not plan.full, plan.reason
        _assert_equals_full_rebuild(w)
        return plan.ids

    step.builds = builds
    return step


def _flags(w: Warehouse, message_id: str) -> tuple:
    return w.rows(
        "select is_duplicate, is_after_opt_out, is_over_daily_cap, is_marketing_without_consent "
        "from mart.sms_message_flags where message_id = ?",
        [message_id],
    )[0]


@pytest.fixture(scope="module")
def steps():
    """The warehouse after its first (full) build, and a helper that builds and checks."""
    w = _base()
    first = run_build(w.con)
    assert first.flags.full and "no state" in first.flags.reason
    _assert_equals_full_rebuild(w)

    def step(settings: MetricSettings | None = None):
        plan = run_build(w.con, settings)
        _assert_equals_full_rebuild(w, settings)
        return plan

    return w, step


def test_sequence_of_changes_equals_full_rebuild(steps):
    w, step = steps

    # nothing changed: the flags are not touched
    plan = step()
    assert not plan.flags.full
    assert (plan.flags.scope_dates, plan.flags.scope_users) == (0, 0)

    # a new day of messages, one just after midnight with its twin before midnight (m1)
    _sms(w, "m2", "u1", "2024-03-22 16:03:00+00:00", bill_id="b2")  # 2024-03-23 00:03 local
    _sms(w, "m3", "u3", "2024-03-23 09:00:00+08", purpose="marketing")
    w.con.execute("update ingest.file_ledger set dt = '2024-04-01' where dt = '2024-03-31'")
    plan = step()
    assert not plan.flags.full
    assert plan.flags.scope_dates == 2  # 03-23 and the day after it
    assert _flags(w, "m2")[0] is True
    # the dashboard aggregates: only the new date (b2's reminders are past its due date, so
    # their ranks on other dates do not change)
    assert not plan.aggregates_full
    assert {str(d) for d in plan.aggregate_dates} == {"2024-03-23"}

    # b2's notice late on 03-26 and, four minutes later (03-27 local), its reminder with the
    # same template: a duplicate
    _sms(w, "bn1", "u1", "2024-03-26 23:58:00+08", bill_id="b2", purpose="bill_notice")
    _sms(w, "rm1", "u1", "2024-03-26 16:02:00+00:00", bill_id="b2")  # 2024-03-27 00:02 local
    step()
    # b2 is repaid late (03-20 10:00, settled: it was not before): u1's days with a reminder
    # of b2 sent after the settlement are recomputed (P: 03-22 with m1, 03-23 with m2, 03-27
    # with rm1), nothing else of u1; not 03-07 (d7a, d7b): sent before either settlement
    # time (none, 03-20), "settled before it was sent" is false both times. The reminders
    # after 03-20 come after the settlement now, and m2 and rm1 stay duplicates of the
    # message the evening before (rm1's twin, a notice, is on no day of P: it is read because
    # the duplicate window reaches back to its day)
    w.add("repayments", bill_id="b2", user_id="u1", paid_at="2024-03-20 10:00:00+08", amount=100)
    plan = step()
    assert not plan.flags.full
    assert (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs) == (0, 0, 3)
    assert w.rows(
        "select message_id, is_duplicate, is_after_settlement from mart.sms_message_flags "
        "where message_id in ('m1', 'm2', 'bn1', 'rm1') order by message_id"
    ) == [("bn1", False, False), ("m1", False, True), ("m2", True, True), ("rm1", True, True)]

    # the twin before midnight arrives late, for a message already built (the day after)
    _sms(w, "m5", "u4", "2024-03-25 16:02:00+00:00", template_code="T_N")  # 03-26 00:02
    step()
    _sms(w, "m4", "u4", "2024-03-25 23:58:00+08", template_code="T_N")  # 03-25 23:58
    plan = step()
    assert not plan.flags.full and plan.flags.scope_dates == 2  # 03-25 and 03-26
    assert _flags(w, "m5")[0] is True

    # a replaced partition: a message moves to another day (sent_at changed), another is
    # re-delivered with new content, one is withdrawn
    w.change(
        "sms_logs",
        "update core.sms_logs set sent_at = '2024-03-15 13:00:00+08' where message_id = 'd3'",
    )
    w.change("sms_logs", "update core.sms_logs set content = '红包' where message_id = 's2'")
    w.change("sms_logs", "delete from core.sms_logs where message_id = 'c1'")
    plan = step()
    assert not plan.flags.full
    assert w.rows(
        "select cast(local_date as varchar) from mart.sms_message_flags where message_id = 'd3'"
    ) == [("2024-03-15",)]
    assert w.rows("select count(*) from mart.sms_message_flags where message_id = 'c1'") == [(0,)]

    # a late opt-out affecting old messages (u1's marketing on 03-06 and later)
    _sms(w, "mk1", "u1", "2024-03-06 12:00:00+08", purpose="marketing", template_code="T_M")
    step()
    w.add("opt_outs", user_id="u1", received_at="2024-03-01 09:00:00+08")
    plan = step()
    assert not plan.flags.full and plan.flags.scope_users == 1
    assert _flags(w, "mk1")[1] is True
    # only the dates whose flags changed (mk1's), not all of u1's dates
    assert not plan.aggregates_full and len(plan.aggregate_dates) == 1

    # a score band change moves every message of the user to other rows of the aggregates
    w.con.execute("update core.users set score_band = 'C' where user_id = 'u4'")
    plan = step()
    assert (plan.flags.scope_dates, plan.flags.scope_users) == (0, 0)
    assert plan.aggregates_full or plan.aggregate_dates
    # an experiment assignment, a second one, then one withdrawn
    w.add("experiment_assignments", experiment_id="e1", user_id="u4", arm="control")
    plan = step()
    assert plan.aggregates_full or plan.aggregate_dates
    w.add("experiment_assignments", experiment_id="e2", user_id="u4", arm="treatment")
    w.add("experiment_assignments", experiment_id="e1", user_id="u3", arm="treatment")
    step()
    w.con.execute("delete from core.experiment_assignments where user_id = 'u4'")
    step()
    # a bill's due date moves: its reminders change from pre-due to late (and back)
    w.con.execute("update core.bills set due_date = '2024-03-06' where bill_id = 'b1'")
    plan = step()
    assert plan.aggregates_full or plan.aggregate_dates
    w.con.execute("update core.bills set due_date = '2024-03-05' where bill_id = 'b1'")
    step()
    # an earlier reminder of a bill arrives late: the ranks of its later reminders change
    # (b1's of 03-05 the day after, b2's of 03-07 four days after)
    _sms(w, "r0", "u1", "2024-03-04 09:00:00+08", bill_id="b1")
    _sms(w, "r1", "u1", "2024-03-03 09:00:00+08", bill_id="b2", template_code="T_R")
    plan = step()
    assert not plan.aggregates_full
    assert {"2024-03-05", "2024-03-07"} <= {str(d) for d in plan.aggregate_dates}
    # another user's message on 03-05: that date is recomputed, and the ranks of b1's
    # reminders on it still count b1's reminder of 03-04, outside the recomputed dates
    _sms(w, "o1", "u2", "2024-03-05 12:00:00+08", template_code="T_O")
    plan = step()
    assert not plan.aggregates_full
    assert "2024-03-04" not in {str(d) for d in plan.aggregate_dates}

    # a consent change, and a user that becomes known (u99 was unknown: false)
    w.con.execute("update core.users set marketing_consent = false where user_id = 'u3'")
    w.add("users", user_id="u99", marketing_consent=False)
    plan = step()
    assert not plan.flags.full and plan.flags.scope_users == 2
    assert _flags(w, "m3")[3] is True
    assert _flags(w, "w3")[3] is True

    # a late BNPL order converts old marketing messages (u3's of 03-11 and 03-12); another
    # order is cancelled: the conversion days near both are recomputed, nothing else
    before = w.metric("marketing_sms_conversion_72h")["2024-03-12"]
    w.add("orders", user_id="u3", created_at="2024-03-13 09:00:00+08", payment_method="bnpl")
    w.con.execute("update core.orders set status = 'cancelled' where user_id = 'u5'")
    plan = step()
    assert not plan.flags.full and (plan.flags.scope_dates, plan.flags.scope_users) == (0, 0)
    after = w.metric("marketing_sms_conversion_72h")["2024-03-12"]
    assert (before[1], after[1]) == (0.0, 2.0)  # k1 and k2 (k4 is the 11th)

    # a settings change rebuilds everything, and changing back does too
    settings = MetricSettings(daily_cap=2, duplicate_window_minutes=30)
    plan = step(settings)
    assert plan.flags.full and "settings" in plan.flags.reason
    # with a 30-minute window (still one day of reach) an incremental step stays exact
    _sms(w, "m7", "u4", "2024-03-26 16:20:00+00:00", template_code="T_N")  # 03-27 00:20
    _sms(w, "m6", "u4", "2024-03-26 23:55:00+08", template_code="T_N")
    plan = step(settings)
    assert not plan.flags.full
    assert _flags(w, "m7")[0] is True
    plan = step()
    assert plan.flags.full


def test_long_duplicate_window_reaches_several_days():
    w = _base()
    settings = MetricSettings(duplicate_window_minutes=3 * 1440)
    run_build(w.con, settings)
    _sms(w, "x2", "u6", "2024-03-27 10:00:00+08", template_code="T_X")
    run_build(w.con, settings)
    _sms(w, "x1", "u6", "2024-03-25 10:00:00+08", template_code="T_X")
    plan = run_build(w.con, settings)
    assert not plan.flags.full and plan.flags.scope_dates == 4  # 03-25 and 3 days after
    assert _flags(w, "x2")[0] is True
    _assert_equals_full_rebuild(w, settings)


def test_state_is_private_and_forgettable():
    w = _base()
    run_build(w.con)
    schemas = {r[0] for r in w.rows("select distinct schema_name from duckdb_tables()")}
    assert STATE_SCHEMA in schemas
    invalidate(w.con)
    plan = run_build(w.con)
    assert plan.flags.full
    # a build without incremental is always full
    assert run_build(w.con, incremental=False).flags.full


def _new_flags(w: Warehouse, message_id: str) -> tuple:
    return w.rows(
        "select is_after_settlement, is_collection_before_due, is_against_preference "
        "from mart.sms_message_flags where message_id = ?",
        [message_id],
    )[0]


def test_late_repayment_and_new_preference_touch_only_their_messages():
    w = _base()
    # b2 (u1, due 2024-03-15, 100): reminders on 03-12 and 03-14, collection on 03-15 (the
    # due date: before due) and 03-16; m1 (03-22) is another reminder of b2
    _sms(w, "lr1", "u1", "2024-03-12 09:00:00+08", bill_id="b2")
    _sms(w, "lr2", "u1", "2024-03-14 09:00:00+08", bill_id="b2")
    _sms(w, "lc0", "u1", "2024-03-15 10:00:00+08", bill_id="b2", purpose="overdue_collection")
    _sms(w, "lc1", "u1", "2024-03-16 10:00:00+08", bill_id="b2", purpose="overdue_collection")
    assert run_build(w.con).flags.full
    _assert_equals_full_rebuild(w)
    assert _new_flags(w, "lc0") == (False, True, False)
    assert _new_flags(w, "lr2") == (False, False, False)

    # a partial repayment arrives late: 40 of 100 does not settle b2, so its settlement time
    # stays none and no flag of its messages can change: nothing is recomputed (before
    # plan_pairs: the six days with a reminder or collection of b2), and no date of the
    # dashboard aggregates
    w.add("repayments", bill_id="b2", user_id="u1", paid_at="2024-03-13 10:00:00+08", amount=40)
    plan = run_build(w.con)
    scope = (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs)
    assert not plan.flags.full and scope == (0, 0, 0)
    assert not plan.aggregates_full and plan.aggregate_dates == ()
    _assert_equals_full_rebuild(w)

    # the rest arrives late too (paid 03-13 11:00): b2 is settled before lr2, lc0, lc1, m1;
    # P is the days of b2's messages sent after 03-13 11:00: 03-14, 03-15, 03-16 and 03-22
    # (not 03-07 with d7a and d7b, nor 03-12 with lr1)
    w.add("repayments", bill_id="b2", user_id="u1", paid_at="2024-03-13 11:00:00+08", amount=60)
    plan = run_build(w.con)
    scope = (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs)
    assert not plan.flags.full and scope == (0, 0, 4)
    assert [_new_flags(w, m)[0] for m in ("lr1", "lr2", "lc0", "lc1", "m1")] == [
        False,
        True,
        True,
        True,
        True,
    ]
    # only the dates of the messages whose flags changed
    assert not plan.aggregates_full
    assert {str(d) for d in plan.aggregate_dates} == {
        "2024-03-14",
        "2024-03-15",
        "2024-03-16",
        "2024-03-22",
    }
    _assert_equals_full_rebuild(w)
    # the what-if's histogram follows: with "suppress after settlement" (filter bit 16) lr2
    # leaves b2's pre-due reminders of 03-14 (lr1 on 03-12 stays, rank 2)
    hist = dict(
        w.rows(
            "select p.filters, sum(units) from mart.policy_cap_histogram as h "
            "join (values (0), (16)) as p (filters) on h.filters = p.filters & h.mask "
            "where kind = 'reminder' and experiment_id = '*' and local_date = '2024-03-14' "
            "group by p.filters"
        )
    )
    assert hist == {0: 1}

    # a repayment of a bill nobody was reminded of (b5 has no message): nothing to recompute
    w.add("repayments", bill_id="b5", user_id="u5", paid_at="2024-03-09 10:00:00+08", amount=100)
    plan = run_build(w.con)
    assert (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs) == (0, 0, 0)
    _assert_equals_full_rebuild(w)

    # an earlier repayment of b2 arrives late (03-11 10:00, the whole 100): its settlement
    # moves earlier, from 03-13 11:00 to 03-11 10:00, and lr1 (03-12) now comes after it.
    # P: the days of b2's messages sent after the earlier of the two times: 03-12, 03-14,
    # 03-15, 03-16 and 03-22 (not 03-07)
    w.add("repayments", bill_id="b2", user_id="u1", paid_at="2024-03-11 10:00:00+08", amount=100)
    plan = run_build(w.con)
    assert (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs) == (0, 0, 5)
    assert _new_flags(w, "lr1")[0] is True
    _assert_equals_full_rebuild(w)

    # b2's due date moves to 03-16: lc1 is now on the due date as well; a moved due date
    # brings every day of b2's messages (P: 03-07, 03-12, 03-14, 03-15, 03-16, 03-22)
    w.con.execute("update core.bills set due_date = '2024-03-16' where bill_id = 'b2'")
    plan = run_build(w.con)
    assert not plan.flags.full and (plan.flags.scope_users, plan.flags.scope_pairs) == (0, 6)
    assert _new_flags(w, "lc1") == (True, True, False)
    _assert_equals_full_rebuild(w)

    # a new preference row: u3 turns marketing off on 2024-03-12 at 00:00; its marketing of
    # that day (k1, k2) goes against it, the one of 03-11 (k4) does not
    w.add(
        "sms_preferences",
        user_id="u3",
        updated_at="2024-03-12 00:00:00+08",
        marketing=False,
        reminders=True,
    )
    plan = run_build(w.con)
    scope = (plan.flags.scope_dates, plan.flags.scope_users, plan.flags.scope_pairs)
    assert not plan.flags.full and scope == (0, 1, 0)
    assert [_new_flags(w, m)[2] for m in ("k4", "k1", "k2", "k3")] == [False, True, True, False]
    assert {str(d) for d in plan.aggregate_dates} == {"2024-03-12"}
    _assert_equals_full_rebuild(w)

    # u3 changes its mind the same day at 12:00:00: k1 (12:00:00) and k2 are back in line
    w.add(
        "sms_preferences",
        user_id="u3",
        updated_at="2024-03-12 12:00:00+08",
        marketing=True,
        reminders=True,
    )
    plan = run_build(w.con)
    assert plan.flags.scope_users == 1
    assert [_new_flags(w, m)[2] for m in ("k1", "k2")] == [False, False]
    _assert_equals_full_rebuild(w)

    # without mart.bill_state (dropped by hand) the last build's settlement times are
    # unknown: a bill whose repayments changed brings every day of its messages again (the
    # six of b2), and the build recreates the table before the flags read it
    w.con.execute("drop table mart.bill_state")
    w.add("repayments", bill_id="b2", user_id="u1", paid_at="2024-03-21 10:00:00+08", amount=5)
    plan = run_build(w.con)
    assert not plan.flags.full and plan.flags.scope_pairs == 6
    _assert_equals_full_rebuild(w)

    # a collection message of a bill core does not know yet (b9 of u5, sent 03-18), then the
    # bill (due 03-20): the message, flagged with no bill before, is now a collection before
    # its due date. A bill new to the state counts as a moved due date (no time bound), and
    # a flags row of the last build names it: P is that message's day, 03-18
    _sms(w, "lc9", "u5", "2024-03-18 10:00:00+08", bill_id="b9", purpose="overdue_collection")
    run_build(w.con)
    assert _new_flags(w, "lc9")[1] is False
    _assert_equals_full_rebuild(w)
    w.add(
        "bills",
        bill_id="b9",
        user_id="u5",
        cycle="2024-03",
        statement_date="2024-03-05",
        due_date="2024-03-20",
        amount_due=50,
    )
    plan = run_build(w.con)
    assert not plan.flags.full and plan.flags.scope_pairs == 1
    assert _new_flags(w, "lc9")[1] is True
    _assert_equals_full_rebuild(w)


def test_gateway_receipts_update_only_the_messages_they_touch():
    """Receipts change a message's delivery and add the sends the log does not know; the
    flags are recomputed for those messages' dates only, and equal a full rebuild."""
    w = _base()
    _sms(w, "g1", "u6", "2024-03-20 10:00:00+08", template_code="T_G", out_id="o-g1")
    run_build(w.con)

    def receipt(rid: str, **kw) -> None:
        kw.setdefault("provider", "aliyun")
        kw.setdefault("receipt_format", "aliyun_sms_report")
        w.add("sms_receipts", receipt_id=rid, **kw)

    # g1 was logged delivered; its receipt says failed (after local midnight), and the gateway
    # retried it under another id (same caller's id): a new message 4 minutes later
    receipt("r1", gateway_id="g1", out_id="o-g1", status="failed", err_code="UNDELIV",
            sent_at="2024-03-20 10:00:01+08", reported_at="2024-03-21 00:01:00+08")  # fmt: skip
    receipt("r2", gateway_id="g1-retry", out_id="o-g1", status="delivered", err_code="DELIVRD",
            sent_at="2024-03-20 10:04:00+08", reported_at="2024-03-20 10:04:30+08")  # fmt: skip
    receipt("r3", gateway_id="nobody", status="delivered", reported_at="2024-03-20 11:00:00+08")
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert not plan.flags.full
    assert plan.flags.scope_dates == 2  # 03-20 and the day after it
    assert w.rows(
        "select message_id, delivery_status, origin, is_duplicate from mart.sms_message_flags "
        "where template_code = 'T_G' order by sent_at"
    ) == [("g1", "failed", "log", False), ("g1-retry", "delivered", "gateway", True)]
    # a pending receipt alone never turns a message logged delivered back to pending
    _sms(w, "g2", "u7", "2024-03-18 11:00:00+08", template_code="T_H")
    receipt("r7", gateway_id="g2", provider="tencent", receipt_format="tencent_callback",
            status="pending", reported_at="2024-03-18 11:00:05+08")  # fmt: skip
    run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert w.rows(
        "select delivery_status, provider from mart.sms_message_flags where message_id = 'g2'"
    ) == [("delivered", "tencent")]
    # a pending receipt arriving later changes nothing: the flags are not touched
    receipt("r4", gateway_id="g1-retry", status="pending", reported_at="2024-03-22 09:00:00+08")
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert (plan.flags.full, plan.flags.scope_dates, plan.flags.scope_users) == (False, 0, 0)
    # the log row an unmatched receipt names arrives late: it matches now (only the receipt's
    # scope is recomputed, and the result equals a full rebuild)
    _sms(
        w, "nobody", "u7", "2024-03-20 10:59:00+08", template_code="T_G", delivery_status="pending"
    )
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert w.rows(
        "select delivery_status, receipts from core.sms_messages where message_id = 'nobody'"
    ) == [("delivered", 1)]
    # QuerySendDetails records (no gateway id) of g1's caller's id: the one sent at 10:00:02
    # is g1 itself, the one at 10:08 a second send the log does not know
    receipt("r5", receipt_format="aliyun_query_send_details", out_id="o-g1", status="failed",
            sent_at="2024-03-20 10:00:02+08", reported_at="2024-03-21 00:02:00+08")  # fmt: skip
    receipt("r6", receipt_format="aliyun_query_send_details", out_id="o-g1", status="delivered",
            sent_at="2024-03-20 10:08:00+08", reported_at="2024-03-20 10:08:20+08")  # fmt: skip
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert not plan.flags.full
    assert w.rows(
        "select f.origin, m.retry_of, f.delivery_status, f.is_duplicate "
        "from mart.sms_message_flags as f join core.sms_messages as m using (message_id) "
        "where f.template_code = 'T_G' and f.user_id = 'u6' order by f.sent_at"
    ) == [
        ("log", None, "failed", False),
        ("gateway", "g1", "delivered", True),
        ("gateway", "g1", "delivered", True),
    ]
    w.change("sms_receipts", "delete from core.sms_receipts where receipt_id in ('r5', 'r6')")
    w.change("sms_logs", "delete from core.sms_logs where message_id = 'nobody'")
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    # the receipt withdrawn: g1 is what the log says again, the retry is gone
    w.change("sms_receipts", "delete from core.sms_receipts where receipt_id in ('r1', 'r2', 'r4')")
    plan = run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert not plan.flags.full and plan.flags.scope_dates == 2
    assert w.rows(
        "select message_id, delivery_status from mart.sms_message_flags where template_code = 'T_G'"
    ) == [("g1", "delivered")]
    # a failed receipt for g2: only values change (no message added or removed), so only the
    # change log can tell a publish which messages' date to hash again
    receipt("r8", gateway_id="g2", provider="tencent", receipt_format="tencent_callback",
            status="failed", err_code="UNDELIV", reported_at="2024-03-18 11:00:09+08")  # fmt: skip
    messages = w.rows("select count(*) from core.sms_messages")
    run_build(w.con)
    _assert_equals_full_rebuild(w)
    assert w.rows("select count(*) from core.sms_messages") == messages
    assert w.rows("select delivery_status from mart.sms_message_flags where message_id = 'g2'") == [
        ("failed",)
    ]


# --------------------------------------------------------------------------- per-date marts
# mart.sms_gateway_reconciliation and mart.sms_daily_delivery (pipelines.marts.daily)

RECON, DELIVERY = "marts/sms_gateway_reconciliation", "marts/sms_daily_delivery"


def _dates(plan, name: str) -> tuple:
    """The local dates a build recomputed for `name` ('full' when it rebuilt it)."""
    daily = plan.daily_plans[name]
    return "full" if daily.full else tuple(None if d is None else str(d) for d in daily.dates)


def _recon(w: Warehouse, day: str | None) -> list[tuple]:
    """(provider, log_messages, receipts, matched, unmatched, with_receipt, without_receipt,
    gateway_only_sends, gateway_only_duplicates, contradicted, log_segments, billed_segments,
    billed_messages) of a local date (None: the receipts without a time)."""
    return w.rows(
        "select * exclude (local_date) from mart.sms_gateway_reconciliation "
        "where local_date is not distinct from cast(? as date) order by provider",
        [day],
    )


def _delivery(w: Warehouse, day: str) -> list[tuple]:
    """(score_band, experiment_id, purpose, provider, delivery_status, messages, segments)."""
    return w.rows(
        "select * exclude (local_date) from mart.sms_daily_delivery "
        "where local_date = cast(? as date) order by all",
        [day],
    )


def test_gateway_reconciliation_and_daily_delivery_update_by_local_date():
    w = _base()
    w.add("users", user_id="u8", score_band="B")
    _sms(w, "a1", "u8", "2024-03-28 10:00:00+08", template_code="T_A", provider="aliyun",
         segments=2, out_id="o-a1")  # fmt: skip
    _sms(w, "a2", "u8", "2024-03-29 09:00:00+08", template_code="T_B", provider="aliyun")
    plan = run_build(w.con)
    assert _dates(plan, RECON) == _dates(plan, DELIVERY) == "full"  # no state yet
    plan = run_build(w.con)
    assert _dates(plan, RECON) == _dates(plan, DELIVERY) == ()  # nothing changed

    def receipt(rid: str, **kw) -> None:
        kw.setdefault("provider", "aliyun")
        kw.setdefault("receipt_format", "aliyun_sms_report")
        kw.setdefault("status", "delivered")
        w.add("sms_receipts", receipt_id=rid, **kw)

    def step() -> tuple[tuple, tuple]:
        plan = run_build(w.con)
        _assert_equals_full_rebuild(w)
        return _dates(plan, RECON), _dates(plan, DELIVERY)

    # a new day: that date only, in both
    _sms(w, "a3", "u8", "2024-03-30 09:00:00+08", template_code="T_C", provider="tencent",
         segments=3)  # fmt: skip
    assert step() == (("2024-03-30",), ("2024-03-30",))
    assert _recon(w, "2024-03-30") == [("tencent", 1, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0)]
    assert _delivery(w, "2024-03-30") == [("B", "*", "due_reminder", "tencent", "delivered", 1, 3)]

    # a late receipt (reported on 03-30) for a1 of 03-28: failed, 3 billed segments. The
    # reconciliation recomputes a1's date; the delivery reads the log, which did not change
    receipt("r1", gateway_id="a1", status="failed", err_code="UNDELIV", segments=3,
            sent_at="2024-03-28 10:00:01+08", reported_at="2024-03-30 12:00:00+08")  # fmt: skip
    assert step() == (("2024-03-28",), ())
    # 1 log message, 1 receipt (matched), with receipt, contradicted, 2 log / 3 billed segments
    assert _recon(w, "2024-03-28") == [("aliyun", 1, 1, 1, 0, 1, 0, 0, 0, 1, 2, 3, 1)]
    assert _delivery(w, "2024-03-28") == [("B", "*", "due_reminder", "aliyun", "delivered", 1, 2)]
    # a second receipt of a1, reported before r1 (which still decides): only a1's receipt
    # count changes, a column the flags do not read
    receipt("r5", gateway_id="a1", status="failed", err_code="UNDELIV", segments=3,
            sent_at="2024-03-28 10:00:01+08", reported_at="2024-03-29 08:00:00+08")  # fmt: skip
    assert step() == (("2024-03-28",), ())
    assert _recon(w, "2024-03-28") == [("aliyun", 1, 2, 2, 0, 1, 0, 0, 0, 1, 2, 3, 1)]

    # unmatched receipts count on their own date: r2 reported on 03-27 (no send time), r3
    # without any time (a date of its own: NULL)
    receipt("r2", gateway_id="nobody-x", provider="tencent", reported_at="2024-03-27 09:00:00+08")
    receipt("r3", gateway_id="nobody-y")
    assert step() == (("2024-03-27", None), ())
    assert _recon(w, "2024-03-27") == [("tencent", 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)]
    assert _recon(w, None) == [("aliyun", 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0)]
    w.change("sms_receipts", "delete from core.sms_receipts where receipt_id = 'r3'")  # withdrawn
    assert step() == ((None,), ())
    assert _recon(w, None) == []

    # u8's score band changes: every date of u8 in the delivery, nothing in the reconciliation
    w.con.execute("update core.users set score_band = 'C' where user_id = 'u8'")
    u8_dates = ("2024-03-28", "2024-03-29", "2024-03-30")
    assert step() == ((), u8_dates)
    assert _delivery(w, "2024-03-30") == [("C", "*", "due_reminder", "tencent", "delivered", 1, 3)]
    # an experiment assignment: u8's dates again, with rows of the experiment
    w.add("experiment_assignments", experiment_id="e9", user_id="u8", arm="control")
    assert step() == ((), u8_dates)
    assert _delivery(w, "2024-03-30") == [
        ("C", "*", "due_reminder", "tencent", "delivered", 1, 3),
        ("C", "e9", "due_reminder", "tencent", "delivered", 1, 3),
    ]

    # a gateway-only send just after midnight (n0's retry, 17 minutes after it: no duplicate)
    _sms(w, "n0", "u8", "2024-03-30 23:45:00+08", template_code="T_N", provider="aliyun",
         out_id="o-n0")  # fmt: skip
    receipt("r4", gateway_id="n0-retry", out_id="o-n0", sent_at="2024-03-31 00:02:00+08",
            reported_at="2024-03-31 00:02:30+08")  # fmt: skip
    assert step() == (("2024-03-30", "2024-03-31"), ("2024-03-30",))
    # the retry: 1 receipt (matched), 1 gateway-only send, no duplicate, no segment count
    assert _recon(w, "2024-03-31") == [("aliyun", 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0)]
    # n1, sent 7 minutes before the retry, makes it a duplicate: only the flags of 03-31
    # change there (the day after a changed date), and the reconciliation follows them
    _sms(w, "n1", "u8", "2024-03-30 23:55:00+08", template_code="T_N", provider="aliyun")
    assert step() == (("2024-03-30", "2024-03-31"), ("2024-03-30",))
    assert _recon(w, "2024-03-31") == [("aliyun", 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0)]

    # a withdrawn file (a2 of 03-29 gone) and a re-delivered one (a3 now 4 segments)
    w.change("sms_logs", "delete from core.sms_logs where message_id = 'a2'")
    w.change("sms_logs", "update core.sms_logs set segments = 4 where message_id = 'a3'")
    assert step() == (("2024-03-29", "2024-03-30"), ("2024-03-29", "2024-03-30"))
    assert _recon(w, "2024-03-29") == _delivery(w, "2024-03-29") == []
    # 03-30: n0 and n1 (aliyun, 1 segment each, no receipt of their own), a3 (tencent, 4)
    assert _recon(w, "2024-03-30") == [
        ("aliyun", 2, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0),
        ("tencent", 1, 0, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0),
    ]
    assert _delivery(w, "2024-03-30") == [
        ("C", "*", "due_reminder", "aliyun", "delivered", 2, 2),
        ("C", "*", "due_reminder", "tencent", "delivered", 1, 4),
        ("C", "e9", "due_reminder", "aliyun", "delivered", 2, 2),
        ("C", "e9", "due_reminder", "tencent", "delivered", 1, 4),
    ]

    # without their state both are rebuilt in full (and the next build is incremental again)
    w.con.execute("drop table mart_build.log_days")
    plan = run_build(w.con)
    assert _dates(plan, RECON) == _dates(plan, DELIVERY) == "full"
    assert step() == ((), ())


def test_an_epoch_day_is_the_local_date_since_1992_and_covers_it_before():
    """The dates of a changed epoch day: itself from 1992 on, the day before to the day after
    before (Asia/Shanghai had summer time 1986-1991, when the local date can be the next)."""
    import duckdb

    from pipelines.marts.daily import EPOCH_DAY, LOCAL_DATE, dates_of_edays

    con = duckdb.connect()
    for instant, n_dates in (
        ("1988-06-30 15:30:00+00", 3),  # 1988-07-01 00:30 summer time; epoch day 06-30
        ("2024-03-30 15:59:59+00", 1),  # 2024-03-30 23:59:59 local
        ("2024-03-30 16:00:00+00", 1),  # 2024-03-31 00:00 local
    ):
        ts = f"timestamptz '{instant}'"
        (local,) = con.execute(f"select {LOCAL_DATE.format(ts=ts)}").fetchone()
        dates = [
            r[0]
            for r in con.execute(
                dates_of_edays(f"select {EPOCH_DAY.format(ts=ts)} as eday")
            ).fetchall()
        ]
        assert local in dates and len(dates) == n_dates, (instant, local, dates)


def test_only_the_days_that_can_have_changed_are_fingerprinted_again():
    """The receipts overlay hashes again only the days of the log and of the receipts that the
    change log names (the log: the epoch days of the rows of the noted `_dt`, now and as of the
    last build), the marts only the days of core.sms_messages the overlay rewrote; the other
    days' figures are kept from the last build. The suite's verify mode (tests/conftest.py)
    compares every kept fingerprint with a full rehash, so a missed day fails the build."""
    w = _base()

    def days(plan) -> tuple:
        refresh = plan.overlay_refresh
        return refresh.log_days, refresh.receipt_days, plan.message_days

    assert days(run_build(w.con)) == (None, None, None)  # the first build hashes every day
    assert days(run_build(w.con)) == (0, 0, 0)  # nothing noted, nothing rewritten
    # file dt=2024-03-20: two messages sent that day
    _sms(w, "f1", "u5", "2024-03-20 09:00:00+08", _dt="2024-03-20")
    _sms(w, "f2", "u5", "2024-03-20 10:00:00+08", _dt="2024-03-20")
    assert days(run_build(w.con)) == (1, 0, 1)
    # the file is delivered again with f1 sent on 03-21: the log's rows of dt 03-20 are on
    # 03-20 (f2) and 03-21 (f1), its messages were on 03-20: two days, both rewritten
    w.change(
        "sms_logs",
        "update core.sms_logs set sent_at = '2024-03-21 09:00:00+08' where message_id = 'f1'",
        "2024-03-20",
    )
    plan = run_build(w.con)
    assert days(plan) == (2, 0, 2)
    _assert_equals_full_rebuild(w)
    # f2 arrives again in file dt=2024-03-22, unchanged: the merge notes both files' dates
    w.change(
        "sms_logs",
        "update core.sms_logs set _dt = '2024-03-22' where message_id = 'f2'",
        "2024-03-20",
        "2024-03-22",
    )
    assert days(run_build(w.con)) == (2, 0, 1)  # 03-20 and 03-21 hashed, f2's day rewritten
    # a receipt for f2 in the receipts file dt=2024-03-22: one export day; f2's message again
    w.add(
        "sms_receipts",
        receipt_id="r1",
        provider="aliyun",
        receipt_format="aliyun_sms_report",
        gateway_id="f2",
        status="failed",
        reported_at="2024-03-20 10:00:30+08",
        _dt="2024-03-22",
    )
    plan = run_build(w.con)
    assert days(plan) == (0, 1, 1)
    _assert_equals_full_rebuild(w)
    # file dt=2024-03-27 with one message, then delivered again with it sent a day later:
    # nothing of that file is left on 03-27, which only the message as of the last build names
    _sms(w, "f3", "u5", "2024-03-27 09:00:00+08", _dt="2024-03-27")
    assert days(run_build(w.con)) == (1, 0, 1)
    w.change(
        "sms_logs",
        "update core.sms_logs set sent_at = '2024-03-28 09:00:00+08' where message_id = 'f3'",
        "2024-03-27",
    )
    assert days(run_build(w.con)) == (2, 0, 2)
    # a write to the log that nobody noted: the kept fingerprint misses it, and the verify
    # mode stops the build (which rolls back)
    w.con.execute("update core.sms_logs set content = '提醒' where message_id = 'f2'")
    with pytest.raises(RuntimeError, match="not noted in the change log"):
        run_build(w.con)
    w.noted("sms_logs", "2024-03-22")
    assert days(run_build(w.con)) == (1, 0, 1)
    # a message written into core.sms_messages behind the overlay's back is not among the
    # days it rewrote: the marts' verify stops the build
    w.con.execute(
        "insert into core.sms_messages (message_id, user_id, sent_at, origin) "
        "values ('zz', 'u5', '2024-03-25 09:00:00+08', 'log')"
    )
    with pytest.raises(RuntimeError, match="written outside the receipts overlay"):
        run_build(w.con)


BNPL = "marts/bnpl_orders"


def _bnpl(w: Warehouse) -> list[tuple]:
    return w.rows(
        "select user_id, cast(local_date as varchar), amount, payment_method "
        "from mart.bnpl_orders order by local_date, user_id"
    )


def test_bnpl_orders_update_by_local_date_of_their_orders():
    """mart.bnpl_orders recomputes the local dates whose orders changed (pipelines.marts.by_date):
    each step equals a full rebuild, and recomputes exactly these dates."""
    w = _base()  # u1's BNPL order on 03-03, u5's on 03-18
    # card orders on eight more days: a step's dates stay under half of the days with orders
    for day in range(5, 13):
        w.add(
            "orders",
            user_id="u4",
            created_at=f"2024-03-{day:02d} 12:00:00+08",
            payment_method="card",
        )
    assert _dates(run_build(w.con), BNPL) == "full"  # no state yet
    assert _dates(run_build(w.con), BNPL) == ()  # nothing changed
    # a new BNPL order at 23:30 local (15:30 UTC): its local date
    late = w.add("orders", user_id="u2", created_at="2024-03-20 15:30:00+00", payment_method="bnpl")
    plan = run_build(w.con)
    assert _dates(plan, BNPL) == ("2024-03-20",)
    _assert_equals_full_rebuild(w)
    # only the amount of u1's order changes: a column the conversion days do not read
    w.con.execute("update core.orders set amount = 25 where user_id = 'u1'")
    assert _dates(run_build(w.con), BNPL) == ("2024-03-03",)
    # u5's order moves to 00:10 local on 03-25 (16:10 UTC on 03-24): both days
    w.con.execute(
        "update core.orders set created_at = '2024-03-24 16:10:00+00' where user_id = 'u5'"
    )
    assert _dates(run_build(w.con), BNPL) == ("2024-03-18", "2024-03-25")
    # the late order is withdrawn, and a card order on 03-21 adds no row but is recomputed
    w.con.execute("delete from core.orders where order_id = ?", [late])
    w.add("orders", user_id="u3", created_at="2024-03-21 09:00:00+08", payment_method="card")
    plan = run_build(w.con)
    assert _dates(plan, BNPL) == ("2024-03-20", "2024-03-21")
    _assert_equals_full_rebuild(w)
    assert _bnpl(w) == [("u1", "2024-03-03", 25.0, "bnpl"), ("u5", "2024-03-25", 10.0, "bnpl")]
    # state kept by code before this one (no h_bnpl): rebuilt in full once, then by date again
    w.con.execute("alter table mart_build.orders_days drop column h_bnpl")
    plan = run_build(w.con)
    assert _dates(plan, BNPL) == "full" and "no state" in plan.daily_plans[BNPL].reason
    assert _dates(run_build(w.con), BNPL) == ()


CHECKOUT = "marts/checkout_days"


def _checkout(w: Warehouse, day: str) -> list[tuple]:
    """(metric, segment, numerator, denominator) of the checkout family on a day."""
    return w.rows(
        "select metric, segment, numerator, denominator from mart.metrics "
        "where metric in ('checkout_sessions', 'checkout_conversion_rate', 'bnpl_take_rate') "
        "and period = ? order by metric, segment",
        [day],
    )


def test_checkout_metrics_recompute_the_days_whose_sessions_changed():
    """The checkout family of mart.metrics sums mart_int.checkout_days, which recomputes the
    local dates whose sessions changed (pipelines.marts.by_date); each step equals a full
    rebuild and recomputes exactly the dates named."""
    w = _base()
    # sessions on eight days: a step's dates stay under half of the days with sessions
    for day in range(1, 9):
        w.add("checkout_sessions", user_id="u4", started_at=f"2024-03-{day:02d} 12:00:00+08")
    assert _dates(run_build(w.con), CHECKOUT) == "full"  # no state yet
    assert _dates(run_build(w.con), CHECKOUT) == ()  # nothing changed
    # a session at 23:30 local on 03-04 (15:30 UTC), offered and completed with BNPL
    sid = w.add(
        "checkout_sessions",
        user_id="u1",
        started_at="2024-03-04 15:30:00+00",
        status="completed",
        payment_method="bnpl",
    )
    plan = run_build(w.con)
    assert _dates(plan, CHECKOUT) == ("2024-03-04",)
    _assert_equals_full_rebuild(w)
    # 03-04 by hand: u4's abandoned session and u1's BNPL completion, both offered
    assert _checkout(w, "2024-03-04") == [
        ("bnpl_take_rate", "all", 1.0, 1.0),
        ("checkout_conversion_rate", "all", 1.0, 2.0),
        ("checkout_conversion_rate", "bnpl_offered=true", 1.0, 2.0),
        ("checkout_sessions", "all", 2.0, None),
        ("checkout_sessions", "bnpl_offered=true", 2.0, None),
    ]
    # it was paid by card after all: its day, no BNPL take
    w.con.execute(
        "update core.checkout_sessions set payment_method = 'card' where session_id = ?", [sid]
    )
    assert _dates(run_build(w.con), CHECKOUT) == ("2024-03-04",)
    assert _checkout(w, "2024-03-04")[0] == ("bnpl_take_rate", "all", 0.0, 1.0)
    # and it moves to 00:10 local on 03-06 (16:10 UTC on 03-05): both days
    w.con.execute(
        "update core.checkout_sessions set started_at = '2024-03-05 16:10:00+00' "
        "where session_id = ?",
        [sid],
    )
    assert _dates(run_build(w.con), CHECKOUT) == ("2024-03-04", "2024-03-06")
    _assert_equals_full_rebuild(w)
    assert _checkout(w, "2024-03-06") == [
        ("bnpl_take_rate", "all", 0.0, 1.0),
        ("checkout_conversion_rate", "all", 1.0, 2.0),
        ("checkout_conversion_rate", "bnpl_offered=true", 1.0, 2.0),
        ("checkout_sessions", "all", 2.0, None),
        ("checkout_sessions", "bnpl_offered=true", 2.0, None),
    ]
    # withdrawn: its day only
    w.con.execute("delete from core.checkout_sessions where session_id = ?", [sid])
    assert _dates(run_build(w.con), CHECKOUT) == ("2024-03-06",)
    _assert_equals_full_rebuild(w)
    assert _checkout(w, "2024-03-06") == [
        ("checkout_conversion_rate", "all", 0.0, 1.0),
        ("checkout_conversion_rate", "bnpl_offered=true", 0.0, 1.0),
        ("checkout_sessions", "all", 1.0, None),
        ("checkout_sessions", "bnpl_offered=true", 1.0, None),
    ]
    # no state of an older build: rebuilt in full once, then by date again
    w.con.execute("drop table mart_build.sessions_days")
    plan = run_build(w.con)
    assert _dates(plan, CHECKOUT) == "full" and "no state" in plan.daily_plans[CHECKOUT].reason
    assert _dates(run_build(w.con), CHECKOUT) == ()
