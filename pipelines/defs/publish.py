"""Publishing: the readers' database `serve.duckdb`, rebuilt and swapped in after each run."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import CORE_KEYS, POOL
from pipelines.defs.marts import MART_ASSET_KEYS
from pipelines.defs.resources import DataPaths
from pipelines.ingest import progress
from pipelines.ingest.warehouse import configure, ensure
from pipelines.serve.publish import publish, unpublished

# A run with this tag set to "true" (the `compact_segments` job) publishes the warehouse as it
# is, with every month before the latest one written as one segment file (see
# pipelines.serve.segments); it refuses when the warehouse holds writes not published yet.
COMPACT_TAG = "nudgescope/compact"


@dg.asset(
    key=["serve_db"],
    # alerts: incident state published with this run's evaluation (pipelines/defs/alerts.py)
    deps=[*CORE_KEYS, *MART_ASSET_KEYS, dg.AssetKey(["alerts", "incidents"])],
    pool=POOL,
    kinds={"duckdb"},
    group_name="publish",
)
def serve_db(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, data_paths: DataPaths
) -> dg.MaterializeResult:
    """The published database: core, marts, ledger, quarantine and meta, swapped in atomically."""
    compact = context.run.tags.get(COMPACT_TAG) == "true"
    progress.report("publish", 0, 1)
    with duckdb.get_connection() as con:
        configure(con)
        ensure(con)
        if compact:
            # the check holds the warehouse's pool slot: no other run's step writes meanwhile
            reason = unpublished(con, data_paths.serve_path)
            if reason is not None:
                raise dg.Failure(
                    description=f"compaction refused: {reason}; the next pipeline run "
                    "publishes it (and a later compaction merges the months)"
                )
        result = publish(con, data_paths.serve_path, context.run.run_id, compact=compact)
    progress.report("publish", 1, 1)
    context.log.info(
        f"published {result.path} ({result.tables} tables, {result.segments_written} of "
        f"{result.segments} segments and {result.history_written} of "
        f"{result.history_segments} history months written, {result.seconds:.1f} s)"
        + (f"; months merged: {', '.join(result.months_merged) or 'none'}" if compact else "")
    )
    metadata = {
        "path": dg.MetadataValue.path(str(result.path)),
        "tables": result.tables,
        "seconds": round(result.seconds, 2),
        "rows_per_source": dg.MetadataValue.json(result.rows_per_source),
        "segments": result.segments,
        "segments_written": result.segments_written,
        "history_segments": result.history_segments,
        "history_written": result.history_written,
    }
    if compact:
        metadata["months_merged"] = dg.MetadataValue.json(result.months_merged)
    return dg.MaterializeResult(metadata=metadata)
