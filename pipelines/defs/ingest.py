"""Staging (one asset per source), core tables, and their checks.

Staging validates every new or changed landing file of the run's dt range and keeps its valid
rows; bad rows go to `ingest.quarantine`. Blocking checks on staging stop the promotion
into core when the staged data does not reconcile with the ledger or breaks the contract.
Core merges the winners of the keys staging changed. Orphan references are a warning.
The checks look at what the run changed (the files staged and not merged yet, the files the
merge touched); a run tagged `nudgescope/full_checks=true` (the daily schedule) checks whole
tables.

The staging assets are not partitioned: what is loaded is recorded in `ingest.file_ledger`,
and a run materializes each staged source once, whatever the number of days it covers (a
Dagster partition per day cost one stored event per source and day, about 16 ms each). The
run's dt range comes from its tags (DT_START_TAG, DT_END_TAG, set from the plan by
pipelines.orchestration.jobs); a run without them (materialized from the UI) covers every
date (settings.dt_bounds).
"""

from collections.abc import Mapping
from datetime import date

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.contract import LANDING_SOURCES
from pipelines.defs.resources import DataPaths
from pipelines.ingest import checks, progress
from pipelines.ingest.merge import merge_source
from pipelines.ingest.stage import stage_source
from pipelines.ingest.warehouse import configure, ensure
from pipelines.settings import dt_bounds

POOL = "warehouse"
# A run with this tag set to "true" checks whole tables (the daily schedule's runs); every
# other run checks only what it changed.
FULL_CHECKS_TAG = "nudgescope/full_checks"
# The first and last dt folder (ISO dates, inclusive) a run stages; both or neither.
DT_START_TAG = "nudgescope/dt_start"
DT_END_TAG = "nudgescope/dt_end"
STAGING_KEYS = [dg.AssetKey(["staging", s]) for s in LANDING_SOURCES]
CORE_KEYS = [dg.AssetKey(["core", s]) for s in LANDING_SOURCES]


def dt_range(tags: Mapping[str, str]) -> tuple[date, date]:
    """The dt range a run stages: its DT_START_TAG … DT_END_TAG, or every date when it has
    neither. A dg.Failure (a message, not a traceback) for one without the other, a value that
    is not a date, or a start after the end."""
    start, end = tags.get(DT_START_TAG), tags.get(DT_END_TAG)
    if start is None and end is None:
        start, end = dt_bounds()
    elif start is None or end is None:
        raise dg.Failure(
            f"the run has only one of the tags {DT_START_TAG} and {DT_END_TAG}: set both "
            "(dates, YYYY-MM-DD) or neither (every date)"
        )
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise dg.Failure(
            f"run tags {DT_START_TAG}={start!r} and {DT_END_TAG}={end!r}: "
            "both must be dates (YYYY-MM-DD)"
        ) from None
    if first > last:
        raise dg.Failure(f"run tags: {DT_START_TAG} {start} is after {DT_END_TAG} {end}")
    return first, last


def _staging_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["staging", source],
        pool=POOL,
        kinds={"duckdb"},
        group_name="ingest",
        description=f"Validated rows of every {source} landing file; bad rows quarantined. "
        f"Stages the run's dt range (tags {DT_START_TAG}, {DT_END_TAG}), every date without.",
    )
    def staging(
        context: dg.AssetExecutionContext, duckdb: DuckDBResource, data_paths: DataPaths
    ) -> dg.MaterializeResult:
        start, end = dt_range(context.run.tags)
        run_id = context.run.run_id
        with duckdb.get_connection() as con:
            configure(con)
            result = stage_source(
                con,
                source,
                data_paths.landing_path,
                start,
                end,
                run_id,
                progress=lambda done, total: progress.report(f"staging {source}", done, total),
            )
        for line in result.failed:
            context.log.warning(f"failed file {line}")
        context.log.info(
            f"staging {source} {start} … {end}: {result.files_read} file(s) read "
            f"({result.files_unchanged} unchanged, {result.files_removed} removed, "
            f"{result.files_failed} failed), {result.rows_read} rows read, "
            f"{result.rows_quarantined} quarantined"
        )
        return dg.MaterializeResult(
            metadata={
                **result.as_metadata(),
                "dt_start": start.isoformat(),
                "dt_end": end.isoformat(),
                "failed": dg.MetadataValue.md("\n".join(f"- {x}" for x in result.failed) or "none"),
            }
        )

    return staging


def _core_asset(source: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["core", source],
        deps=[dg.AssetKey(["staging", source])],
        pool=POOL,
        kinds={"duckdb"},
        group_name="core",
        description=f"The current winner of every {source} key (latest dt, file, row).",
    )
    def core(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
        progress.report(f"core {source}", 0, 1)
        with duckdb.get_connection() as con:
            configure(con)
            result = merge_source(con, source)
        progress.report(f"core {source}", 1, 1)
        context.log.info(f"core {source}: {result.keys_merged} key(s) merged, {result.rows} rows")
        return dg.MaterializeResult(
            metadata={"keys_merged": result.keys_merged, "dagster/row_count": result.rows}
        )

    return core


STAGING_CHECKS = [
    spec
    for s in LANDING_SOURCES
    for spec in (
        dg.AssetCheckSpec(
            "reconciles_with_ledger",
            asset=["staging", s],
            blocking=True,
            description="Every file: rows read = staged + quarantined; no staged row without "
            "its loaded file.",
        ),
        dg.AssetCheckSpec(
            "meets_contract",
            asset=["staging", s],
            blocking=True,
            description="Staged rows have every required field, valid enums and ids, masked "
            "phone numbers.",
        ),
    )
]
CORE_CHECKS = [
    dg.AssetCheckSpec(
        "unique_key", asset=["core", s], blocking=True, description="One row per primary key."
    )
    for s in LANDING_SOURCES
] + [
    dg.AssetCheckSpec(
        "references_known",
        asset=["core", s],
        additional_deps=[
            dg.AssetKey(["core", p])
            for p in sorted({p for c, _, p, _ in checks.REFERENCES if c == s})
        ],
        description="References to keys not loaded (kept and counted): a warning with counts.",
    )
    for s in LANDING_SOURCES
    if any(c == s for c, *_ in checks.REFERENCES)
]


def full_checks(context) -> bool:
    """Whether the run checks whole tables (tag FULL_CHECKS_TAG: the daily schedules' runs)."""
    return context.run.tags.get(FULL_CHECKS_TAG) == "true"


@dg.multi_asset_check(specs=STAGING_CHECKS, can_subset=True, pool=POOL, name="staging_checks")
def staging_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    """Structure and contract checks of staging; they block the promotion into core."""
    full = full_checks(context)
    with duckdb.get_connection() as con:
        configure(con)
        ensure(con)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
            source = key.asset_key.path[-1]
            paths = (
                None
                if full
                else checks.narrow(
                    con, source, checks.staging_scope(con, source, context.run.run_id)
                )
            )
            if key.name == "reconciles_with_ledger":
                problems = checks.reconcile_problems(con, source, paths)
            else:
                problems = checks.contract_problems(con, source, "staging", paths)
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=not any(problems.values()),
                metadata=problems,
            )


@dg.multi_asset_check(specs=CORE_CHECKS, can_subset=True, pool=POOL, name="core_checks")
def core_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    """Unique keys (blocking) and references to unknown keys (a warning with counts)."""
    full = full_checks(context)
    with duckdb.get_connection() as con:
        configure(con)
        ensure(con)
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
            source = key.asset_key.path[-1]
            paths = None if full else checks.narrow(con, source, checks.core_scope(con, source))
            if key.name == "unique_key":
                n = checks.duplicate_keys(con, source, paths)
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=key.name,
                    passed=n == 0,
                    metadata={"duplicate_keys": n},
                )
            else:
                counts = checks.orphan_counts(con, source, paths)
                yield dg.AssetCheckResult(
                    asset_key=key.asset_key,
                    check_name=key.name,
                    passed=not any(counts.values()),
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={k: int(v) for k, v in counts.items()},
                )


staging_assets = [_staging_asset(s) for s in LANDING_SOURCES]
core_assets = [_core_asset(s) for s in LANDING_SOURCES]
