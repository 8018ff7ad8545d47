"""The persistent Dagster instance of a data folder: <data-dir>/dagster, the one `make dagster`
serves, where `nudgescope run` records its runs next to the sensor's and the schedule's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines import settings

if TYPE_CHECKING:
    import dagster as dg

# The instance template `make dagster` copies too (the warehouse pool is limited to 1).
INSTANCE_TEMPLATE = settings.REPO_ROOT / "pipelines" / "dagster.yaml"

_RELAXED: set[str] = set()


def _relax_sqlite_sync(home: Path) -> None:
    """No fsync per commit for the instance's sqlite files written by this process.

    Every event of a run (a few hundred: step starts and ends, one materialization per asset,
    the check results) is its own sqlite commit in Dagster's storage; with an fsync each that
    cost ~150 ms/event on a busy disk, without ~35 ms. The price: an OS crash or power loss
    (not a killed process) can damage the run history in <data-dir>/dagster, never the
    warehouse; delete that folder to start it afresh.
    """
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    prefix = str(home.resolve()) + os.sep
    if not _RELAXED:

        @event.listens_for(Engine, "connect")
        def _pragma(dbapi_con, _record) -> None:
            if isinstance(dbapi_con, sqlite3.Connection):
                row = dbapi_con.execute("pragma database_list").fetchone()
                if row and row[2] and any(row[2].startswith(p) for p in _RELAXED):
                    dbapi_con.execute("pragma synchronous = off")

    _RELAXED.add(prefix)


def relax_for_dagster_home() -> None:
    """The same for the instance of $DAGSTER_HOME (the run workers of `make dagster`)."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        _relax_sqlite_sync(Path(home))


def instance_for(paths: settings.Paths) -> dg.DagsterInstance:
    """The persistent Dagster instance of a data folder, with the project's dagster.yaml."""
    import dagster as dg

    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_TEMPLATE.read_bytes():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    _relax_sqlite_sync(home)
    return dg.DagsterInstance.from_config(str(home))
