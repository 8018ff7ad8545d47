"""Resources in one place: the warehouse connection and the folders the pipeline reads/writes.

Paths come from `pipelines.settings` (environment variables with defaults under data/) and are
resolved when the definitions load, so tests that point NUDGESCOPE_DATA_DIR at a temporary
folder get their own warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines import settings
from pipelines.ingest.warehouse import configure


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, but the connection is closed when the asset raises too.

    The library's `get_connection` closes it only after a clean exit; after a failed step the
    open connection kept the warehouse locked in this process until garbage collection, so the
    next in-process run (or a reader opening it read-only) could not open the file.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with super().get_connection() as conn:
            try:
                configure(conn)
                yield conn
            finally:
                conn.close()


class DataPaths(dg.ConfigurableResource):
    """The landing folder (read) and the published database (written by `serve_db`)."""

    landing: str
    serve: str

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def serve_path(self) -> Path:
        return Path(self.serve)


@dg.definitions
def resources() -> dg.Definitions:
    paths = settings.paths()
    return dg.Definitions(
        resources={
            "duckdb": WarehouseResource(database=str(paths.warehouse)),
            "data_paths": DataPaths(landing=str(paths.landing), serve=str(paths.serve)),
        }
    )
