"""Resources in one place: the warehouse connection and the folders the pipeline reads/writes.

Paths come from `pipelines.settings` (environment variables with defaults under data/) and are
resolved when the definitions load, so tests that point NUDGESCOPE_DATA_DIR at a temporary
folder get their own warehouse.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource
from pydantic import PrivateAttr

from pipelines import settings
from pipelines.ingest import vacuum
from pipelines.ingest.warehouse import configure


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource, but the connection is closed when the asset raises too.

    The library's `get_connection` closes it only after a clean exit; after a failed step the
    open connection kept the warehouse locked in this process until garbage collection, so the
    next in-process run (or a reader opening it read-only) could not open the file.

    For the length of a run it also holds one extra connection open (`setup_for_execution`,
    closed in `teardown_after_execution`, which Dagster runs after a failed step too). DuckDB's
    Python client keeps one database instance per file while any connection to it is open, so
    each step's `duckdb.connect` then attaches a new session to that instance instead of
    starting an instance: measured at scale m, about 20 ms of CPU per connection without it
    (almost all of it instance start-up, an in-memory database costs the same) and under 1 ms
    with it, for some 55 connections per run. Each step still gets its own session (its own
    temp tables and transaction), closed when the step ends.

    That held connection also decides, before any step, whether this run's checkpoints vacuum
    the warehouse's row groups (`pipelines.ingest.vacuum`: every N-th run does).
    """

    _instance: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        if self.database != ":memory:":
            Path(self.database).parent.mkdir(parents=True, exist_ok=True)
            # opened exactly as every step's connection is (DuckDB reuses an open instance
            # only for the same path and configuration); the library's exit closes it
            held = super().get_connection()
            con = held.__enter__()
            # whether this run's checkpoints vacuum (set for the instance the steps share)
            try:
                vacuums = vacuum.plan_run(con)
            except BaseException:
                held.__exit__(None, None, None)  # the run stops here: leave the file free
                raise
            self._instance = held
            if vacuums:
                context.log.info("this run lets DuckDB vacuum the warehouse's row groups")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        held, self._instance = self._instance, None
        if held is not None:
            held.__exit__(None, None, None)

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
