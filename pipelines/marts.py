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
    con.execute("begin transaction")
    try:
        _run_plan(con, build, spark=spark)
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
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
    mart_state.snapshot(con)
    if build.incremental and build.engine == "duckdb":
        build.flags = mart_state.plan_flags(
            con, build.fingerprint, build.settings.duplicate_window_minutes
        )
    else:
        build.flags = mart_state.FlagsPlan(full=True, reason="full build requested")
    if build.engine != "duckdb":
        engines.run_sql_files(con, build.names, engine=build.engine, params=params, spark=spark)
    else:
        for name in build.names:
            started = time.perf_counter()
            if name == mart_state.FLAGS_FILE and not build.flags.full:
                if build.flags.scope_dates or build.flags.scope_users:
                    mart_state.update_flags(con)
            elif name in mart_state.SCOPED_FILES and not build.flags.full:
                mart_state.update_scoped_file(con, name)
            else:
                sqlfiles.run(con, name, params.get(name))
            build.seconds[name] = time.perf_counter() - started
    mart_state.save(con, build.fingerprint)


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
