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

    A run writes one materialization event per staged partition (a first load: every source
    × every day, about 4,000 events at 15 months), each its own sqlite commit in Dagster's
    storage; with an fsync each that cost ~150 ms/event on a busy disk, without ~35 ms. The
    price: an OS crash or power loss (not a killed process) can damage the run history in
    <data-dir>/dagster, never the warehouse; delete that folder to start it afresh.
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


# With this set, Dagster hands the materializations of one partition range (and a run's
# "planned" events) to the storage as one batch; `make dagster` sets it too.
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = "1000"


def _install_batch_writer() -> None:
    """One sqlite transaction per batch of asset events instead of one (and a new engine) each.

    Dagster's sqlite event log inherits a `store_event_batch` that stores the events one by
    one; for a batch of asset events of one run this does what its `store_event` does for
    each (the run shard row; the index shard row, its tags and the asset's latest record), in
    one transaction per shard. Any other batch goes through `store_event` as before.
    Written against dagster 1.13 (pinned); tests/test_orchestration.py reads the result back.
    """
    from dagster._core.events import ASSET_EVENTS
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
    from dagster._core.storage.sqlalchemy_compat import db_result

    if getattr(SqliteEventLogStorage.store_event_batch, "nudgescope", False):
        return

    def store_event_batch(self, events) -> None:
        if len({e.run_id for e in events}) != 1 or not all(
            e.is_dagster_event
            and e.dagster_event_type in ASSET_EVENTS
            and e.dagster_event.asset_key
            for e in events
        ):
            for event in events:
                self.store_event(event)
            return
        statements = [self.prepare_insert_event(e) for e in events]
        with self.run_connection(events[0].run_id) as conn:
            for statement in statements:
                conn.execute(statement)
        with self.index_transaction() as conn:
            for event, statement in zip(events, statements, strict=True):
                with db_result(conn, statement) as result:
                    event_id = result.inserted_primary_key[0]
                self._store_asset_event_tags(conn, [event], [event_id])
                self._store_asset_event(conn, event, event_id)

    store_event_batch.nudgescope = True
    SqliteEventLogStorage.store_event_batch = store_event_batch


def relax_for_dagster_home() -> None:
    """The same for the instance of $DAGSTER_HOME (the run workers of `make dagster`)."""
    home = os.environ.get("DAGSTER_HOME")
    if home:
        _relax_sqlite_sync(Path(home))
        _install_batch_writer()


def instance_for(paths: settings.Paths) -> dg.DagsterInstance:
    """The persistent Dagster instance of a data folder, with the project's dagster.yaml."""
    import dagster as dg

    home = paths.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != INSTANCE_TEMPLATE.read_bytes():
        shutil.copyfile(INSTANCE_TEMPLATE, target)
    _relax_sqlite_sync(home)
    _install_batch_writer()
    return dg.DagsterInstance.from_config(str(home))
