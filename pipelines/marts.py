"""Build the mart schema from core: the SQL files of sql/marts in dependency order.

`build_marts(con, settings, engine=...)` is a plain function so the tests and the Dagster
assets can call it; with engine `spark` the same files run on Spark SQL (pipelines.engines).
Only `sql/marts/run_context.sql` takes parameters (the settings); every other file reads them
from `mart.run_context`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from pipelines import engines, mart_state, sqlfiles
from pipelines.ingest.receipts import overlay

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


# (file under sql/, table it writes or None for statements that only add rows), in the order
# they must run: every file reads only tables written by files above it.
MART_FILES: tuple[tuple[str, str | None], ...] = (
    ("marts/schema", None),
    ("marts/run_context", "run_context"),
    ("marts/sms_message_flags", "sms_message_flags"),
    ("marts/sms_user_days", "sms_user_days"),
    ("marts/sms_bill_reminders", "sms_bill_reminders"),
    ("marts/complaints_classified", "complaints_classified"),
    ("marts/bnpl_orders", "bnpl_orders"),
    ("marts/sms_conversion_days", "sms_conversion_days"),
    ("marts/bill_state", "bill_state"),
    ("marts/active_accounts", "active_accounts"),
    ("marts/user_cycle", "user_cycle"),
    ("marts/metrics", "metrics"),
    ("marts/metrics_bills", None),
    ("marts/metrics_balance", None),
    ("marts/metrics_checkout", None),
    ("marts/metrics_bnpl", None),
    ("marts/metrics_sms", None),
    ("marts/metrics_sms_conversion", None),
    ("marts/metrics_complaints", None),
    ("marts/metric_catalog", "metric_catalog"),
    ("marts/volume_outcome_curve", "volume_outcome_curve"),
    ("marts/experiment_effects", "experiment_effects"),
    ("marts/vintage_curve", "vintage_curve"),
    ("marts/cohort_retention", "cohort_retention"),
    ("marts/sms_hour_weekday", "sms_hour_weekday"),
    ("marts/duplicate_incidents", "duplicate_incidents"),
    ("marts/sms_gateway_reconciliation", "sms_gateway_reconciliation"),
    # small aggregates the dashboard reads instead of the message-level marts
    ("marts/sms_daily_flags", "sms_daily_flags"),
    ("marts/sms_day_hour", "sms_day_hour"),
    ("marts/sms_non_permitted", "sms_non_permitted"),
    ("marts/policy_cap_histogram", "policy_cap_histogram"),
    ("marts/user_cycle_summary", "user_cycle_summary"),
    ("marts/opt_outs_daily", "opt_outs_daily"),
)

# Every table the marts publish, in build order.
MART_TABLES: tuple[str, ...] = tuple(table for _, table in MART_FILES if table is not None)

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
    pipelines.mart_state); every other file runs as it is. The first build, a build after a
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
    (preserved,) = con.execute("select current_setting('preserve_insertion_order')").fetchone()
    con.execute("set preserve_insertion_order = false")
    con.execute("begin transaction")
    try:
        _run_plan(con, build, spark=spark)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        con.execute(f"set preserve_insertion_order = {'true' if preserved else 'false'}")
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
    seconds: dict[str, float] = field(default_factory=dict)  # per file, duckdb only


def build_plan(
    con: duckdb.DuckDBPyConnection,
    settings: MetricSettings | None = None,
    *,
    engine: str | None = None,
    incremental: bool = True,
) -> BuildPlan:
    settings = settings or MetricSettings()
    names = [name for name, _ in MART_FILES]
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
    overlay.refresh(con)  # core.sms_messages: the log with its gateway receipts
    mart_state.snapshot(con)
    con.execute(f"create or replace temp table _agg_users_now as {_AGG_USERS_SQL}")
    for table in ("_agg_flags_old", "_agg_flags_new", "agg_flags_dates", "agg_flags_bills"):
        con.execute(f"drop table if exists {table}")
    if build.incremental and build.engine == "duckdb":
        build.flags = mart_state.plan_flags(
            con, build.fingerprint, build.settings.duplicate_window_minutes
        )
    else:
        build.flags = mart_state.FlagsPlan(full=True, reason="full build requested")
    if build.engine != "duckdb":
        engines.run_sql_files(con, build.names, engine=build.engine, params=params, spark=spark)
    else:
        agg_ready = _agg_state_exists(con) and not build.flags.full
        agg_planned = False
        for name in build.names:
            started = time.perf_counter()
            if name == mart_state.FLAGS_FILE and not build.flags.full:
                if build.flags.scope_dates or build.flags.scope_users:
                    _flags_scope_rows(con, "_agg_flags_old")
                    mart_state.update_flags(con)
                    _flags_scope_rows(con, "_agg_flags_new")
            elif name in mart_state.SCOPED_FILES and not build.flags.full:
                mart_state.update_scoped_file(con, name)
            elif name in AGG_FILES and agg_ready:
                if not agg_planned:
                    agg_planned = True
                    build.aggregates_full, build.aggregate_dates = _plan_aggregates(con)
                if build.aggregates_full:
                    sqlfiles.run(con, name, params.get(name))
                else:
                    _update_aggregate(con, name)
            else:
                sqlfiles.run(con, name, params.get(name))
            build.seconds[name] = time.perf_counter() - started
        if not agg_planned:
            build.aggregates_full = True
    mart_state.save(con, build.fingerprint)
    _save_agg_state(con)


# The dashboard's aggregates of the flags: rows keyed by local_date (then score band,
# experiment scope and the rest), each a sum over the flags rows of that date, joined to the
# user's current score band and experiments. An incremental build recomputes them for the
# dates D whose input changed (see _plan_aggregates) by running the same file over the flags
# rows of D, keeping its output rows of D, replacing those rows of the table. file -> table.
AGG_FILES: dict[str, str] = {
    "marts/sms_daily_flags": "mart.sms_daily_flags",
    "marts/sms_day_hour": "mart.sms_day_hour",
    "marts/sms_non_permitted": "mart.sms_non_permitted",
    "marts/policy_cap_histogram": "mart.policy_cap_histogram",
}
# a reminder's rank runs over its bill's whole pre-due sequence: this file also reads every
# flags row of the bills that have a message on a date of D
AGG_BILL_FILES = ("marts/policy_cap_histogram",)
# the purposes of its pre-due reminders (with local_date <= the bill's due date)
PRE_DUE_PURPOSES = "('bill_notice', 'due_reminder')"

_AGG_USERS_SQL = """
select
    coalesce(u.user_id, e.user_id) as user_id,
    u.score_band,
    e.experiments
from core.users as u
full outer join (
    select user_id, list(distinct experiment_id order by experiment_id) as experiments
    from core.experiment_assignments
    group by user_id
) as e
    on e.user_id = u.user_id
"""


def _temp_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where temporary and table_name = ?", [table]
        ).fetchone()[0]
    )


def _agg_state_exists(con: duckdb.DuckDBPyConnection) -> bool:
    return all(
        mart_state._exists(con, mart_state.SCHEMA, table) for table in ("agg_users", "agg_bills")
    ) and all(mart_state._exists(con, "mart", table.split(".")[1]) for table in AGG_FILES.values())


def _flags_scope_rows(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """The flags rows of the flags' scope (S or U), before or after the scoped update."""
    con.execute(
        f"""create or replace temp table {name} as
        select *
        from mart.sms_message_flags
        where local_date in (select local_date from flags_scope_dates)
            or user_id in (select user_id from flags_scope_users)"""
    )


def _plan_aggregates(con: duckdb.DuckDBPyConnection) -> tuple[bool, tuple]:
    """Fill temp agg_scope_dates (D); returns (full, D as a sorted tuple of dates).

    D = the local dates of flags rows that changed (the symmetric difference of the flags
    scope's rows before and after the update: rows outside that scope are untouched), every
    date of the bills of such rows or whose due date in mart.user_cycle changed (a reminder's
    rank and pre-due status follow its bill), and every date of the users whose score band or
    experiments changed (their rows move to other keys).
    """
    schema = mart_state.SCHEMA
    if _temp_exists(con, "_agg_flags_old"):
        con.execute(
            """create or replace temp table _agg_changed as
            (select * from _agg_flags_old except all select * from _agg_flags_new)
            union all
            (select * from _agg_flags_new except all select * from _agg_flags_old)"""
        )
    else:
        con.execute(
            "create or replace temp table _agg_changed as "
            "select * from mart.sms_message_flags limit 0"
        )
    # bills whose pre-due reminders' ranks or pre-due status may change, and from which
    # local date: a changed pre-due row changes the ranks of its bill's later pre-due rows
    # only; a moved due date changes which of its reminders are pre-due (from_date null: all)
    con.execute(
        f"""create or replace temp table _agg_changed_bills as
        with moved as (
            select coalesce(a.bill_id, b.bill_id) as bill_id
            from (select bill_id, due_date from mart.user_cycle) as a
            full outer join {schema}.agg_bills as b
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
            on m.bill_id = r.bill_id"""
    )
    con.execute(
        f"""create or replace temp table _agg_changed_users as
        select coalesce(a.user_id, b.user_id) as user_id
        from _agg_users_now as a
        full outer join {schema}.agg_users as b
            on b.user_id = a.user_id
        where a.score_band is distinct from b.score_band
            or a.experiments is distinct from b.experiments"""
    )
    con.execute(
        "create or replace temp table agg_scope_dates as select local_date from _agg_changed"
    )
    # the dates of those bills' reminders and every date of those users (each scan of the
    # flags skipped when there are none)
    if con.execute("select count(*) from _agg_changed_bills").fetchone()[0]:
        con.execute(
            f"""insert into agg_scope_dates
            select distinct f.local_date
            from mart.sms_message_flags as f
            inner join _agg_changed_bills as b
                on b.bill_id = f.bill_id
            where f.purpose in {PRE_DUE_PURPOSES}
                and (b.from_date is null or f.local_date >= b.from_date)"""
        )
    if con.execute("select count(*) from _agg_changed_users").fetchone()[0]:
        con.execute(
            """insert into agg_scope_dates
            select distinct f.local_date
            from mart.sms_message_flags as f
            semi join _agg_changed_users as u
                on u.user_id = f.user_id"""
        )
    con.execute(
        "create or replace temp table agg_scope_dates as "
        "select distinct local_date from agg_scope_dates"
    )
    dates = tuple(
        r[0] for r in con.execute("select local_date from agg_scope_dates order by 1").fetchall()
    )
    (n_all,) = con.execute(f"select count(*) from {schema}.sms_days").fetchone()
    full = bool(n_all) and len(dates) > mart_state.FULL_SCOPE_SHARE * n_all
    return full, dates


def _aggregate_sql(name: str, source: str) -> str:
    """An AGG_FILES file reading `source` instead of the flags, inserting its rows of D."""
    table = AGG_FILES[name]
    text = sqlfiles.load(name)
    _, found, query = text.partition(f"create or replace table {table} as")
    if not found or "mart.sms_message_flags" not in query:
        raise RuntimeError(f"{name}: unexpected shape for the scoped update")
    query = query.strip().rstrip(";").replace("mart.sms_message_flags", source)
    return f"""insert into {table} by name
    select q.*
    from ({query}) as q
    where q.local_date in (select local_date from agg_scope_dates)"""


def _update_aggregate(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Replace the rows of D of an AGG_FILES table (after _plan_aggregates)."""
    if con.execute("select count(*) = 0 from agg_scope_dates").fetchone()[0]:
        return
    table = AGG_FILES[name]
    in_dates = "local_date in (select local_date from agg_scope_dates)"
    if not _temp_exists(con, "agg_flags_dates"):
        con.execute(
            f"""create temp table agg_flags_dates as
            select * from mart.sms_message_flags where {in_dates}"""
        )
    source = "agg_flags_dates"
    if name in AGG_BILL_FILES:
        source = "agg_flags_bills"
        if not _temp_exists(con, source):
            con.execute(
                f"""create temp table agg_flags_bills as
                select * from agg_flags_dates
                union all
                select f.*
                from mart.sms_message_flags as f
                semi join (
                    select distinct bill_id from agg_flags_dates where bill_id is not null
                ) as b
                    on b.bill_id = f.bill_id
                where f.purpose in {PRE_DUE_PURPOSES} and not coalesce(f.{in_dates}, false)"""
            )
    con.execute(f"delete from {table} where {in_dates}")
    con.execute(_aggregate_sql(name, source))


def _save_agg_state(con: duckdb.DuckDBPyConnection) -> None:
    """Record the users' score bands and experiments and the bills' due dates of this build."""
    schema = mart_state.SCHEMA
    if not _temp_exists(con, "_agg_users_now"):
        con.execute(f"create or replace temp table _agg_users_now as {_AGG_USERS_SQL}")
    con.execute(f"create or replace table {schema}.agg_users as select * from _agg_users_now")
    con.execute(
        f"""create or replace table {schema}.agg_bills as
        select bill_id, due_date from mart.user_cycle"""
    )
    for table in (
        "_agg_users_now",
        "_agg_flags_old",
        "_agg_flags_new",
        "_agg_changed",
        "_agg_changed_bills",
        "_agg_changed_users",
        "agg_scope_dates",
        "agg_flags_dates",
        "agg_flags_bills",
    ):
        con.execute(f"drop table if exists {table}")


def table_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of every mart table (the names come from MART_TABLES, never from input)."""
    return {table: con.table(f"mart.{table}").count("*").fetchall()[0][0] for table in MART_TABLES}


def _file_tables(name: str) -> tuple[str | None, set[tuple[str, str]]]:
    """(mart table the file writes, {(schema, table)} it reads), from the parsed SQL."""
    tree = sqlglot.parse_one(sqlfiles.load(name), read="duckdb")
    written = None
    if isinstance(tree, exp.Create | exp.Insert):
        target = tree.this.find(exp.Table) if not isinstance(tree.this, exp.Table) else tree.this
        if target is not None and target.db == "mart" and target.name:
            written = target.name
    read = {
        (table.db, table.name)
        for table in tree.find_all(exp.Table)
        if table.db and table.name and table.name != written
    }
    return written, read


def table_inputs() -> dict[str, set[tuple[str, str]]]:
    """Mart table -> the (schema, table) pairs its SQL files read, for asset lineage."""
    inputs: dict[str, set[tuple[str, str]]] = {table: set() for table in MART_TABLES}
    for name, _ in MART_FILES:
        written, read = _file_tables(name)
        if written is not None:
            inputs[written] |= read
    return inputs
