"""Build the mart schema from core: the SQL files of sql/marts in dependency order.

`build_marts(con, settings, engine=...)` is a plain function so the tests and the Dagster
assets can call it; with engine `spark` the same files run on Spark SQL (pipelines.engines).
Only `sql/marts/run_context.sql` takes parameters (the settings); every other file reads them
from `mart.run_context`.

The order is not kept by hand: it follows from the tables each file writes and reads
(pipelines.marts.lineage), so a new file runs after what it reads. Tables in schema `mart`
are published; tables in schema `mart_int` are intermediate (read by other marts only) and
stay in the warehouse (publish drops every schema but core, mart and two ingest tables).
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb

from pipelines import engines, sqlfiles
from pipelines.ingest import changes
from pipelines.ingest.receipts import overlay
from pipelines.ingest.warehouse import any_row_order, late_rows, setting
from pipelines.marts import bills, by_date, cycle, daily, diff, keyed, lineage, preferences, temp
from pipelines.marts import state as mart_state
from pipelines.marts.rewrite import scoped_insert

# Promotion keywords of metrics.md: a service message containing one is "marketing in service".
DEFAULT_PROMO_KEYWORDS: tuple[str, ...] = (
    "优惠",
    "领券",
    "红包",
    "立减",
    "折扣",
    "限时",
    "活动",
    "免息券",
    "抽奖",
    "福利",
)


@dataclass(frozen=True)
class MetricSettings:
    """Run configuration of the marts; defaults are the ones of metrics.md."""

    duplicate_window_minutes: int = 10
    quiet_start_hour: int = 22
    quiet_end_hour: int = 8
    daily_cap: int = 3
    promo_keywords: tuple[str, ...] = field(default=DEFAULT_PROMO_KEYWORDS)
    # Duplicate incidents (beyond the spec): an hour is anomalous with at least this many
    # duplicates and a duplicate rate at least this multiple of the overall rate.
    incident_min_duplicates: int = 5
    incident_rate_multiple: float = 5.0

    def as_params(self) -> dict[str, Any]:
        params = asdict(self)
        params["promo_keywords"] = list(self.promo_keywords)
        return params


# The published marts, and the intermediate tables only other marts read.
MART_SCHEMA = "mart"
HELPER_SCHEMA = "mart_int"

# The dashboard's aggregates of the flags: rows keyed by local_date (then score band,
# experiment scope and the rest), each a sum over the flags rows of that date, joined to the
# user's current score band and experiments. An incremental build recomputes them for the
# dates D whose input changed (see _plan_aggregates) by running the same file over the flags
# rows of D, keeping its output rows of D, replacing those rows of the table.
AGG_FILES: tuple[str, ...] = (
    "marts/sms_daily_flags",
    "marts/sms_day_hour",
    "marts/sms_non_permitted",
    "marts/sms_never_sent",
    "marts/policy_cap_histogram",
)
# what planning D reads (at the first of AGG_FILES the build reaches): each of them runs after
# these tables are built
AGG_PLAN_READS = ("mart.sms_message_flags", "mart.user_cycle", "mart_int.user_scopes")

# Every file of sql/marts with what it writes and reads, in the order they run.
BUILD_ORDER: tuple[lineage.MartFile, ...] = tuple(
    lineage.build_order(
        lineage.read_files("marts"),
        extra_reads={name: AGG_PLAN_READS for name in AGG_FILES} | daily.PLAN_READS,
    )
)

# (file under sql/, mart table it creates or None), in build order; None for a schema, an
# insert into a table another file created, or an intermediate table (HELPER_TABLES).
MART_FILES: tuple[tuple[str, str | None], ...] = tuple(
    (f.name, f.table.partition(".")[2] if f.table and f.schema == MART_SCHEMA else None)
    for f in BUILD_ORDER
)

# Every table the marts create, schema-qualified, in the order they are complete (by their
# last writer: mart.metrics after the last file inserting into it), so each comes after every
# table its files read.
BUILT_TABLES: tuple[str, ...] = tuple(
    sorted(
        {f.writes for f in BUILD_ORDER if f.kind != "schema"},
        key=lambda table: max(i for i, f in enumerate(BUILD_ORDER) if f.writes == table),
    )
)

# Every table the marts publish (in schema mart), in that order.
MART_TABLES: tuple[str, ...] = tuple(
    table.partition(".")[2] for table in BUILT_TABLES if table.startswith(f"{MART_SCHEMA}.")
)

# The intermediate tables, schema-qualified ("mart_int.user_scopes"), in that order.
HELPER_TABLES: tuple[str, ...] = tuple(
    table for table in BUILT_TABLES if table.startswith(f"{HELPER_SCHEMA}.")
)


# The tables the spec (metrics.md) names; the rest are helpers and dashboard extras.
SPEC_TABLES: tuple[str, ...] = (
    "sms_message_flags",
    "metrics",
    "metric_catalog",
    "user_cycle",
    "volume_outcome_curve",
    "experiment_effects",
)


def build_marts(
    con: duckdb.DuckDBPyConnection,
    settings: MetricSettings | None = None,
    *,
    engine: str | None = None,
    spark: Any = None,
    incremental: bool = True,
) -> dict[str, int]:
    """Run every mart SQL file in one transaction on `con`; returns rows per mart table.

    Needs core.<source> for the nine sources and ingest.file_ledger (dt, status). `engine`:
    `duckdb` (default, or $NUDGESCOPE_ENGINE) or `spark`, whose results land in the same tables
    of `con`; `spark` is the session to use (default: a local one).

    With `incremental` (the default) and the duckdb engine, `mart.sms_message_flags` is
    updated for the local dates and users whose core rows changed since the last build (see
    pipelines.marts.state); every other file runs as it is. The first build, a build after a
    settings or mart SQL change, and every spark build recompute everything (and record the
    state, so the next duckdb build can be incremental again).
    """
    run_build(con, settings, engine=engine, spark=spark, incremental=incremental)
    return table_row_counts(con)


def run_build(
    con: duckdb.DuckDBPyConnection,
    settings: MetricSettings | None = None,
    *,
    engine: str | None = None,
    spark: Any = None,
    incremental: bool = True,
) -> BuildPlan:
    """build_marts, returning what it did: the flags plan and the seconds per file."""
    build = build_plan(con, settings, engine=engine, incremental=incremental)
    # A mart is a set of rows (or sorted by its own ORDER BY): insertion order means nothing
    # to it, and preserving it makes DuckDB hold whole intermediate results in memory. At scale
    # l the flags ran out of the pipeline's 5 GB budget with it, and fit without it.
    with any_row_order(con):
        temp.drop_all(con)
        con.execute("begin transaction")
        try:
            _run_plan(con, build, spark=spark)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
        finally:
            temp.drop_all(con)
    return build


@dataclass
class BuildPlan:
    """How build_marts will run: the files, the engine and the plan for the flags."""

    settings: MetricSettings
    engine: str
    names: list[str]
    fingerprint: str
    incremental: bool
    flags: mart_state.FlagsPlan | None = None
    # the dashboard's aggregates: full, or the local dates recomputed (AGG_FILES)
    aggregates_full: bool = True
    aggregate_dates: tuple = ()
    # the per-date marts that read core (daily.FILES, by_date.FILES): full, or the local dates
    # recomputed
    daily_plans: dict[str, daily.DailyPlan] = field(default_factory=dict)
    # the marts updated by key (KEYED_FILES): full, or the keys recomputed
    keyed_plans: dict[str, keyed.KeyedPlan] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per file, duckdb only
    # what the receipts overlay did, and the epoch days of core.sms_messages fingerprinted
    # again (None: every day)
    overlay_refresh: overlay.Refresh | None = None
    message_days: int | None = None

    @property
    def bills_plan(self) -> keyed.KeyedPlan | None:
        return self.keyed_plans.get(bills.FILE)

    @property
    def cycle_plan(self) -> keyed.KeyedPlan | None:
        return self.keyed_plans.get(cycle.FILE)

    @property
    def preferences_plan(self) -> keyed.KeyedPlan | None:
        return self.keyed_plans.get(preferences.FILE)


def build_plan(
    con: duckdb.DuckDBPyConnection,
    settings: MetricSettings | None = None,
    *,
    engine: str | None = None,
    incremental: bool = True,
) -> BuildPlan:
    settings = settings or MetricSettings()
    names = [f.name for f in BUILD_ORDER]
    return BuildPlan(
        settings=settings,
        engine=engines.engine_name(engine),
        names=names,
        fingerprint=mart_state.build_fingerprint(settings.as_params(), names),
        incremental=incremental,
    )


def _run_plan(con: duckdb.DuckDBPyConnection, build: BuildPlan, *, spark: Any = None) -> None:
    """The body of build_marts, inside the caller's transaction."""
    params = {"marts/run_context": build.settings.as_params()}
    build.overlay_refresh = overlay.refresh(con)  # core.sms_messages: the log with receipts
    build.message_days = mart_state.snapshot(con)
    daily.snapshot(con)
    by_date.snapshot(con)
    if build.incremental and build.engine == "duckdb":
        build.flags = mart_state.plan_flags(
            con, build.fingerprint, build.settings.duplicate_window_minutes
        )
    else:
        build.flags = mart_state.FlagsPlan(full=True, reason="full build requested")
    if build.flags.full and mart_state.FLAGS_FILE in build.names:
        changes.record_whole(con, "mart.sms_message_flags")
    if build.engine != "duckdb":
        engines.run_sql_files(con, build.names, engine=build.engine, params=params, spark=spark)
        for name in DATED_TABLES:
            changes.record_whole(con, DATED_TABLES[name])
    else:
        agg_ready = _agg_state_exists(con) and not build.flags.full
        agg_planned = False
        for name in build.names:
            started = time.perf_counter()
            if name == mart_state.FLAGS_FILE and not build.flags.full:
                build.flags.scope_pairs = mart_state.plan_pairs(
                    con, build.settings.duplicate_window_minutes
                )
                if build.flags.scope_dates or build.flags.scope_users or build.flags.scope_pairs:
                    _flags_scope_rows(con, "_agg_flags_old")
                    mart_state.update_flags(con)
                    _flags_scope_rows(con, "_agg_flags_new")
                    _flags_changed_rows(con)
                    # the dates of the rows that differ: a publish hashes those again
                    changes.record(
                        con, "mart.sms_message_flags", "select local_date from _agg_changed"
                    )
            elif name in DATED_FILES:
                module = DATED_FILES[name]
                plan = module.plan(con, name, flags_full=build.flags.full)
                build.daily_plans[name] = plan
                if plan.full:
                    _run_whole(con, name, params.get(name))
                else:
                    module.update(con, name)
            elif name in KEYED_FILES:
                # the per-date marts updated by date (not rebuilt): the dates they recomputed
                dates = {
                    file: by_date.scope_table(file)
                    for file, plan in build.daily_plans.items()
                    if file in by_date.SPECS and not plan.full
                }
                module = KEYED_FILES[name]
                plan = module.plan(con, flags_full=build.flags.full, dates=dates)
                build.keyed_plans[name] = plan
                if plan.full:
                    _run_whole(con, name, params.get(name))
                else:
                    module.update(con)
            elif name in mart_state.SCOPED_FILES and not build.flags.full:
                mart_state.update_scoped_file(con, name)
            elif name in AGG_FILES and agg_ready:
                if not agg_planned:
                    agg_planned = True
                    build.aggregates_full, build.aggregate_dates = _plan_aggregates(
                        con, cycle_keyed=_cycle_keyed(build)
                    )
                if build.aggregates_full:
                    _run_whole(con, name, params.get(name))
                else:
                    _update_aggregate(con, name)
            else:
                _run_whole(con, name, params.get(name))
            build.seconds[name] = time.perf_counter() - started
        if not agg_planned:
            build.aggregates_full = True
    mart_state.save(con, build.fingerprint, flags_full=build.flags.full)
    daily.save(con)
    by_date.save(con)
    cycle.save(con)
    preferences.save(con)
    _save_agg_state(con, cycle_keyed=_cycle_keyed(build))


def _cycle_keyed(build: BuildPlan) -> bool:
    """Whether mart.user_cycle was updated by bill in this build: its rows outside the temp
    `cycle_scope_bills` are then those of the previous build."""
    plan = build.cycle_plan
    return plan is not None and not plan.full


# the marts that read core and are updated by local date: the two SMS marts, the BNPL orders
# and the checkout sessions' days
DATED_FILES = {**dict.fromkeys(daily.FILES, daily), **dict.fromkeys(by_date.FILES, by_date)}
# the marts updated by key (pipelines.marts.keyed): file -> its module (plan, update, and its
# state saved at the end of every build where it keeps one)
KEYED_FILES = {bills.FILE: bills, preferences.FILE: preferences, cycle.FILE: cycle}
# Every table whose rows a build replaces by local date (the files above and the dashboard's
# aggregates), by file: its writers note the dates they replace in the change log, or `whole`
# when the file ran in full, so a publish can keep it in segments and rewrite only those
# dates' (pipelines.ingest.changes, pipelines.serve.segments).
DATED_TABLES = {name: lineage.file_table(name) for name in (*DATED_FILES, *AGG_FILES)}


# Files whose run over all their input needs more memory than DuckDB can spill when two
# threads build their hash tables and window partitions side by side: run on one thread.
# policy_cap_histogram (every message of a busy user-day under every subset of its day's
# flags) ran out of the 5 GB budget at 250,000 users x 12 months (76.6 M rows) on two
# threads; a scoped update reads a few days and keeps both threads.
ONE_THREAD_FILES = ("marts/policy_cap_histogram",)


def _run_whole(con: duckdb.DuckDBPyConnection, name: str, params: Any) -> None:
    """Run the file as it is (over all its input); note its table whole if it is dated."""
    with setting(con, "threads", 1) if name in ONE_THREAD_FILES else nullcontext():
        sqlfiles.run(con, name, params)
    if name in DATED_TABLES:
        changes.record_whole(con, DATED_TABLES[name])


# a reminder's rank and masks run over its bill's whole pre-due sequence: this file also reads
# the due reminders of the bills that have one on a date of D (RANKED_PURPOSE)
AGG_BILL_FILES = ("marts/policy_cap_histogram",)
# the purposes of its pre-due reminders (with local_date <= the bill's due date)
PRE_DUE_PURPOSES = "('bill_notice', 'due_reminder')"
# the one purpose it ranks per bill (`is_pre_due`): the bill notice only holds rank 1's slot,
# and a bill's other messages count on their own day only
RANKED_PURPOSE = "due_reminder"

_AGG_STATE = ("agg_user_scopes", "agg_bills")


def _agg_state_exists(con: duckdb.DuckDBPyConnection) -> bool:
    schema = mart_state.SCHEMA
    return all(temp.table_exists(con, schema, table) for table in _AGG_STATE) and all(
        temp.table_exists(con, *lineage.file_table(name).split(".")) for name in AGG_FILES
    )


def _flags_scope_rows(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """The flags rows of the flags' scope (S, U or P), before or after the scoped update."""
    temp.create(
        con, name, late_rows("mart.sms_message_flags", f"where {mart_state.in_flags_scope()}")
    )


def _flags_changed_rows(con: duckdb.DuckDBPyConnection) -> None:
    """Temp `_agg_changed`: the flags rows that changed in the scoped update (the symmetric
    difference of the scope's rows before and after it; rows outside the scope are not
    touched). The aggregates' scope D, mart.sms_gateway_reconciliation's read and
    mart.user_cycle's scope read it. A message has one flags row (the grain check), so the
    rows of the messages whose row differs are found by a join on message_id (at half of l
    1.27 CPU-s as `except all` both ways)."""
    values = [c for c in temp.columns(con, "_agg_flags_old") if c != "message_id"]
    changed = diff.changed_keys("_agg_flags_old", "_agg_flags_new", ("message_id",), values)
    temp.create(
        con,
        "_agg_changed",
        f"""with changed as ({changed})
        select * from _agg_flags_old semi join changed using (message_id)
        union all
        select * from _agg_flags_new semi join changed using (message_id)""",
    )


def _plan_aggregates(
    con: duckdb.DuckDBPyConnection, *, cycle_keyed: bool = False
) -> tuple[bool, tuple]:
    """Fill temp agg_scope_dates (D); returns (full, D as a sorted tuple of dates).

    D = the local dates of flags rows that changed (the symmetric difference of the flags
    scope's rows before and after the update: rows outside that scope are untouched), every
    date of the bills of such rows or whose due date in mart.user_cycle changed (a reminder's
    rank and pre-due status follow its bill), and every date of the users whose score band or
    experiments changed (their rows move to other keys).

    `cycle_keyed`: mart.user_cycle was updated by bill (_cycle_keyed), so only the bills of
    `cycle_scope_bills` can have a new due date: only theirs are compared with the state
    (which holds every bill's due date of the previous build, _save_agg_state).
    """
    schema = mart_state.SCHEMA
    if not temp.exists(con, "_agg_changed"):  # the flags were not touched
        temp.create(con, "_agg_changed", "select * from mart.sms_message_flags limit 0")
    in_scope = "semi join cycle_scope_bills as s on s.bill_id = t.bill_id" if cycle_keyed else ""
    # bills whose pre-due reminders' ranks or pre-due status may change, and from which
    # local date: a changed pre-due row changes the ranks of its bill's later pre-due rows
    # only; a moved due date changes which of its reminders are pre-due (from_date null: all)
    temp.create(
        con,
        "_agg_changed_bills",
        f"""with moved as (
            select coalesce(a.bill_id, b.bill_id) as bill_id
            from (select t.bill_id, t.due_date from mart.user_cycle as t {in_scope}) as a
            full outer join (
                select t.bill_id, t.due_date from {schema}.agg_bills as t {in_scope}
            ) as b
                on b.bill_id = a.bill_id
            where a.bill_id is null or b.bill_id is null
                or a.due_date is distinct from b.due_date
        ),
        ranked as (
            select c.bill_id, min(c.local_date) as from_date
            from _agg_changed as c
            inner join mart.user_cycle as uc
                on uc.bill_id = c.bill_id
            where c.purpose in {PRE_DUE_PURPOSES} and c.local_date <= uc.due_date
            group by c.bill_id
        )
        select
            coalesce(r.bill_id, m.bill_id) as bill_id,
            case when m.bill_id is null then r.from_date end as from_date
        from ranked as r
        full outer join moved as m
            on m.bill_id = r.bill_id""",
    )
    temp.create(con, "agg_scope_dates", "select local_date from _agg_changed")
    # the dates of those bills' reminders and every date of those users (each scan of the
    # flags skipped when there are none)
    if temp.count(con, "_agg_changed_bills"):
        con.execute(
            f"""insert into agg_scope_dates
            select distinct f.local_date
            from mart.sms_message_flags as f
            inner join _agg_changed_bills as b
                on b.bill_id = f.bill_id
            where f.purpose in {PRE_DUE_PURPOSES}
                and (b.from_date is null or f.local_date >= b.from_date)"""
        )
    # every date of the users whose score band or experiments changed
    mart_state.changed_user_dates(con)
    con.execute("insert into agg_scope_dates select local_date from _changed_user_dates")
    temp.create(con, "agg_scope_dates", "select distinct local_date from agg_scope_dates")
    dates = tuple(
        r[0] for r in con.execute("select local_date from agg_scope_dates order by 1").fetchall()
    )
    (n_all,) = con.execute(f"select count(*) from {schema}.sms_days").fetchone()
    full = bool(n_all) and len(dates) > mart_state.FULL_SCOPE_SHARE * n_all
    return full, dates


def _aggregate_sql(name: str, source: str) -> str:
    """An AGG_FILES file reading `source` instead of the flags, inserting its rows of D."""
    return scoped_insert(
        name,
        {"mart.sms_message_flags": source},
        "q.local_date in (select local_date from agg_scope_dates)",
    )


def _update_aggregate(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of D of an AGG_FILES table (after _plan_aggregates)."""
    if temp.count(con, "agg_scope_dates") == 0:
        return
    table = lineage.file_table(name)
    in_dates = "local_date in (select local_date from agg_scope_dates)"
    if not temp.exists(con, "agg_flags_dates"):
        # one scan: the flags are not in date order, so a dates' range would skip nothing
        temp.create(
            con,
            "agg_flags_dates",
            f"select * from mart.sms_message_flags where {in_dates}",
        )
    source = "agg_flags_dates"
    if name in AGG_BILL_FILES:
        source = "agg_flags_bills"
        if not temp.exists(con, source):
            # the other due reminders of the bills with one in D, found by bill and purpose
            # first: only a due reminder of D is ranked over its bill's sequence (reading every
            # bill with a message in D too: 1.7x the bills, 1.26x the rows and about 1.4x the
            # CPU at half of l)
            others = late_rows(
                "mart.sms_message_flags",
                f"""semi join (
                    select distinct bill_id from agg_flags_dates
                    where purpose = '{RANKED_PURPOSE}'
                ) as b
                    on b.bill_id = f.bill_id
                where f.purpose = '{RANKED_PURPOSE}' and not coalesce(f.{in_dates}, false)""",
                alias="f",
            )
            temp.create(con, source, f"select * from agg_flags_dates union all {others}")
    con.execute(f"delete from {table} where {in_dates}")
    con.execute(_aggregate_sql(name, source))
    changes.record(con, table, "select local_date from agg_scope_dates")


def _save_agg_state(con: duckdb.DuckDBPyConnection, *, cycle_keyed: bool = False) -> None:
    """Record the users' score bands and experiments and the bills' due dates of this build.
    The due dates are rewritten for the bills of `cycle_scope_bills` only when mart.user_cycle
    was updated by bill (`cycle_keyed`) and the state is there: the other bills' rows are
    unchanged since the previous build, which saved them (at half of l a whole rewrite cost
    0.84 CPU-s a day)."""
    schema = mart_state.SCHEMA
    con.execute(f"drop table if exists {schema}.agg_users")  # the state of older builds
    con.execute(
        f"create or replace table {schema}.agg_user_scopes as {mart_state.USER_SCOPES_STATE_SQL}"
    )
    if cycle_keyed and temp.table_exists(con, schema, "agg_bills"):
        diff.replace_rows(
            con,
            f"{schema}.agg_bills",
            "(select bill_id, due_date from mart.user_cycle)",
            "select bill_id from cycle_scope_bills",
            ("bill_id",),
        )
        return
    con.execute(
        f"""create or replace table {schema}.agg_bills as
        select bill_id, due_date from mart.user_cycle"""
    )


def table_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every mart table (the names come from MART_TABLES, never from input)."""
    return {table: con.table(f"mart.{table}").count("*").fetchall()[0][0] for table in MART_TABLES}


def built_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every table the marts create, by qualified name, in BUILT_TABLES order."""
    return {table: con.table(table).count("*").fetchall()[0][0] for table in BUILT_TABLES}


def table_inputs() -> dict[str, set[tuple[str, str]]]:
    """Table the marts create ("mart.metrics", "mart_int.user_scopes") -> the (schema, table)
    pairs the files writing it read, for asset lineage."""
    inputs: dict[str, set[tuple[str, str]]] = {f.table: set() for f in BUILD_ORDER if f.table}
    for f in BUILD_ORDER:
        if f.kind != "schema":
            inputs[f.writes] |= {tuple(t.split(".", 1)) for t in f.reads}
    return inputs
