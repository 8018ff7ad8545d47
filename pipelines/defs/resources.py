"""Resources in one place: the warehouse connection and the folders the pipeline reads/writes.

Paths come from `pipelines.settings` (environment variables with defaults under data/) and are
resolved when the definitions load, so tests that point NUDGESCOPE_DATA_DIR at a temporary
folder get their own warehouse.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import settings


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
            "duckdb": DuckDBResource(database=str(paths.warehouse)),
            "data_paths": DataPaths(landing=str(paths.landing), serve=str(paths.serve)),
        }
    )
