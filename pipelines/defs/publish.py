"""Publishing: the readers' database `serve.duckdb`, rebuilt and swapped in after each run."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines.defs.ingest import CORE_KEYS, POOL
from pipelines.defs.marts import MART_ASSET_KEYS
from pipelines.defs.resources import DataPaths
from pipelines.ingest import progress
from pipelines.ingest.warehouse import configure, ensure
from pipelines.serve.publish import publish


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
    progress.report("publish", 0, 1)
    with duckdb.get_connection() as con:
        configure(con)
        ensure(con)
        result = publish(con, data_paths.serve_path, context.run.run_id)
    progress.report("publish", 1, 1)
    context.log.info(f"published {result.path} ({result.tables} tables, {result.seconds:.1f} s)")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(result.path)),
            "tables": result.tables,
            "seconds": round(result.seconds, 2),
            "rows_per_source": dg.MetadataValue.json(result.rows_per_source),
        }
    )
