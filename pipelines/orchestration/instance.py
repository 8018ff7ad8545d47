"""The persistent Dagster instance of a data folder: <data-dir>/dagster, the one `make dagster`
serves, where `nudgescope run` records its runs next to the sensor's and the schedule's."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    _reuse_event_log_engines()


# run shards whose engines stay open: the index shard and the runs of the last few minutes
_ENGINES_KEPT = 8


def _reuse_event_log_engines() -> None:
    """Dagster's sqlite event log opens a new SQLAlchemy engine and sqlite connection for every
    read and write (`SqliteEventLogStorage._connect`, NullPool): a run at scale m stores about
    400 events through some 2,600 such connections, about 2 CPU-s of a new day's run. This keeps
    one pooled engine per shard file, the last `_ENGINES_KEPT` used (an evicted one is disposed).
    `has_table`, which the storage asks on every stored asset or check event (does the index
    shard have the asset-check and tag tables?), opened an engine of its own each time too:
    about 0.4 CPU-s of a day's run at m (py-spy, 2026-11-27). It asks through the index shard's
    pooled engine now; the answer is not cached, so a table a migration adds is seen.

    The same statements run in the same transactions under the same per-storage lock; only
    the connections are reused. Idle sqlite connections hold no lock, so the UI, the daemon and
    a CLI run still share the files as before. Skipped (Dagster's own behaviour) when the
    installed Dagster's storage lacks what it replaces.
    """
    from dagster._core.storage.event_log.sqlite import sqlite_event_log as sel

    storage = sel.SqliteEventLogStorage
    if getattr(storage, "_nudgescope_engines", None) is not None:
        return  # done in this process
    methods = ("_connect", "_initdb", "conn_string_for_shard", "has_table")
    if not all(callable(getattr(storage, m, None)) for m in methods) or not all(
        hasattr(sel, name) for name in ("SQLITE_BUSY_TIMEOUT_SECONDS", "INDEX_SHARD_NAME")
    ):
        return
    from collections import OrderedDict
    from contextlib import contextmanager

    from dagster._core.storage.sql import create_engine

    engines: OrderedDict[str, Any] = OrderedDict()
    guard = threading.Lock()

    def engine_for(conn_string: str) -> Any:
        with guard:
            engine = engines.pop(conn_string, None)
            if engine is None:
                engine = create_engine(
                    conn_string, connect_args={"timeout": sel.SQLITE_BUSY_TIMEOUT_SECONDS}
                )
            engines[conn_string] = engine
            evicted = []
            while len(engines) > _ENGINES_KEPT:
                evicted.append(engines.popitem(last=False)[1])
        for old in evicted:
            old.dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str):
        with self._db_lock:
            engine = engine_for(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def has_table(self, table_name: str) -> bool:
        engine = engine_for(self.conn_string_for_shard(sel.INDEX_SHARD_NAME))
        with engine.connect() as conn:
            return bool(engine.dialect.has_table(conn, table_name))

    storage._connect = _connect
    storage.has_table = has_table
    storage._nudgescope_engines = engines


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
