"""The marts: every table of sql/marts, built from core after each ingestion run.

One multi-asset runs `run_build` (all files, one transaction; on DuckDB the message-level
flags only for the dates and users that changed, see pipelines.marts.state) and reports each
table as its own asset `["mart", <table>]` (intermediate tables `["mart_int", <table>]`), with
lineage read from the SQL itself. The metric settings are run configuration (`MartSettings`)
with the defaults of metrics.md; the values used are stored in `mart.run_context`, which the
publish step copies into `meta.settings`.
"""

# No `from __future__ import annotations`: Dagster reads the config annotation at runtime.
import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import CORE_KEYS, POOL
from pipelines.defs.spark import SparkResource
from pipelines.engines import engine_name
from pipelines.marts import (
    BUILT_TABLES,
    DEFAULT_PROMO_KEYWORDS,
    HELPER_TABLES,
    MART_TABLES,
    SPEC_TABLES,
    MetricSettings,
    built_row_counts,
    run_build,
    table_inputs,
    table_row_counts,
)

OVERLAY_INPUTS = {
    ("core", table): (("core", "sms_logs"), ("core", "sms_receipts"))
    for table in ("sms_messages", "sms_receipt_matches")
}
MART_ASSET_KEYS = [dg.AssetKey(["mart", table]) for table in MART_TABLES]
# the intermediate tables (schema mart_int): assets for lineage, never published
HELPER_ASSET_KEYS = [dg.AssetKey(table.split(".")) for table in HELPER_TABLES]
PREVIEW_ROWS = 5

_DEFAULTS = MetricSettings()


class MartSettings(dg.Config):
    """Metric settings of a run (defaults: metrics.md)."""

    duplicate_window_minutes: int = _DEFAULTS.duplicate_window_minutes
    quiet_start_hour: int = _DEFAULTS.quiet_start_hour
    quiet_end_hour: int = _DEFAULTS.quiet_end_hour
    daily_cap: int = _DEFAULTS.daily_cap
    promo_keywords: list[str] = list(DEFAULT_PROMO_KEYWORDS)
    incident_min_duplicates: int = _DEFAULTS.incident_min_duplicates
    incident_rate_multiple: float = _DEFAULTS.incident_rate_multiple
    # "duckdb" or "spark"; empty: $NUDGESCOPE_ENGINE, else duckdb (see pipelines.engines)
    engine: str = ""

    def to_settings(self) -> MetricSettings:
        return MetricSettings(
            duplicate_window_minutes=self.duplicate_window_minutes,
            quiet_start_hour=self.quiet_start_hour,
            quiet_end_hour=self.quiet_end_hour,
            daily_cap=self.daily_cap,
            promo_keywords=tuple(self.promo_keywords),
            incident_min_duplicates=self.incident_min_duplicates,
            incident_rate_multiple=self.incident_rate_multiple,
        )


def _spec(qualified: str, inputs: set[tuple[str, str]]) -> dg.AssetSpec:
    # run_context records as_of of the loaded data, so it follows every core table; the other
    # tables follow exactly the core and mart tables their SQL reads
    schema, table = qualified.split(".")
    if qualified == "mart.run_context":
        deps = list(CORE_KEYS)
    else:
        # core.sms_messages and core.sms_receipt_matches are built with the marts from the
        # log and the receipts (pipelines.ingest.receipts.overlay): they follow those two
        expanded = {dep for read in inputs for dep in OVERLAY_INPUTS.get(read, (read,))}
        deps = [dg.AssetKey([s, name]) for s, name in sorted(expanded)]
    return dg.AssetSpec(
        key=[schema, table],
        deps=deps,
        kinds={"duckdb"},
        group_name="marts",
        tags={"nudgescope/spec": "true"} if table in SPEC_TABLES else None,
        description=f"{qualified}, built by sql/marts (see docs/metrics.md).",
    )


def _preview(con, table: str) -> dg.MetadataValue:
    """The first rows of a table ("mart.metrics") as a markdown table."""
    relation = con.table(table).limit(PREVIEW_ROWS)
    columns = relation.columns
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
        *("| " + " | ".join(str(v) for v in row) + " |" for row in relation.fetchall()),
    ]
    return dg.MetadataValue.md("\n".join(lines))


_INPUTS = table_inputs()


@dg.multi_asset(
    specs=[_spec(table, _INPUTS[table]) for table in BUILT_TABLES],
    pool=POOL,
    name="marts",
)
def marts(
    context: dg.AssetExecutionContext,
    config: MartSettings,
    duckdb: DuckDBResource,
    spark: SparkResource,
):
    """Every mart table from core in one transaction (on DuckDB or Spark); on DuckDB the
    message-level flags are updated for the changed dates and users only (pipelines.marts.state).
    """
    settings = config.to_settings()
    engine = engine_name(config.engine or None)
    session = spark.get_session() if engine == "spark" else None
    with duckdb.get_connection() as con:
        build = run_build(con, settings, engine=engine, spark=session)
        counts = table_row_counts(con)
        as_of = con.table("mart.run_context").project("cast(as_of as varchar)").fetchall()[0][0]
        # in BUILT_TABLES order: Dagster wants each table after the tables it reads
        for table, rows in built_row_counts(con).items():
            yield dg.MaterializeResult(
                asset_key=table.split("."),
                metadata={
                    "dagster/row_count": rows,
                    "as_of": str(as_of),
                    "preview": _preview(con, table),
                },
            )
    flags = build.flags
    how = (
        f"full ({flags.reason})"
        if flags.full
        else (
            f"incremental ({flags.scope_dates} local dates, {flags.scope_users} users, "
            f"{flags.scope_pairs} user days)"
        )
    )
    aggregates = (
        "full" if build.aggregates_full else f"{len(build.aggregate_dates)} local dates recomputed"
    )
    # the marts updated by key: full, or how many rows of how many were recomputed
    by_key = ", ".join(
        f"{name.partition('/')[2]} "
        + ("full" if plan.full else f"{plan.rows} of {plan.of} rows ({plan.keys} keys) recomputed")
        for name, plan in build.keyed_plans.items()
    )
    slowest = sorted(build.seconds.items(), key=lambda item: -item[1])[:5]
    context.log.info(
        f"marts built on {engine} for as_of {as_of}, flags {how}, dashboard aggregates "
        f"{aggregates}, {by_key}; slowest files: "
        + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest)
        + f"; rows: {counts}"
    )
