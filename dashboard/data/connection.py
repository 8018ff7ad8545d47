"""Connections and version consistency of the dashboard's reads (no page queries here).

Every query runs one aggregating statement with bound parameters on the published
`serve.duckdb`, read-only (through `pipelines.serve.sandbox.connect`, so every connection of the
process has the same locked-down configuration). Results are cached with `st.cache_data`, keyed
on the SQL, the parameters and the published `meta.data_version`: a new publish invalidates
everything.

Connections: the app wraps each script run in `page_run()`. Within it, the first query that
misses the cache opens one read-only connection and every later query of the same run reuses
it; it is closed when the run ends (also on `st.stop()` and reruns). A run that started before
a publish reads the old file consistently to its end. Outside a page run (tests, scripts) each
query opens and closes its own connection.

Between runs, the app process (and only it: `hold_between_runs()`, called by `dashboard/app.py`)
keeps one more read-only connection to the current published file. DuckDB keeps a database
instance per file while any connection to it is open, so each page run's connection then joins
that instance instead of starting one (opening the file and attaching its segments cost about
50 ms a page run at scale m), and the instance's buffer pool stays warm between runs. The pipeline
is never blocked by it: a publish writes new files and `os.replace`s the published one. The first
`meta()` that sees a new file lets the old instance go before it reads the new one.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from pipelines.serve import sandbox
from pipelines.serve.sandbox import SandboxError

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def serve_path() -> Path:
    return sandbox.paths().serve


def connect(db: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection (tests count the calls through this name)."""
    return sandbox.connect(db)


_META: dict[tuple, dict | None] = {}

# DuckDB shares one database instance among the connections of a process to the same path
# while any of them is open: a connection opened just after a publish still reads the old file
# if another one (another session's page run) holds it. So: count the open connections, cache
# a meta read only if none was open around it, and cache a query result only under the version
# its connection actually read.
_OPEN_LOCK = threading.Lock()
_OPEN = [0, 0]  # connections open now, connections opened ever


def _open(db: str | Path) -> duckdb.DuckDBPyConnection:
    con = connect(db)
    with _OPEN_LOCK:
        _OPEN[0] += 1
        _OPEN[1] += 1
    return con


def _close(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.close()
    finally:
        with _OPEN_LOCK:
            _OPEN[0] -= 1


class _Held:
    """The connection kept between page runs (see the module docstring): off unless turned on."""

    on = False
    key: tuple | None = None  # the file it reads: (path, inode, mtime, size)
    con: duckdb.DuckDBPyConnection | None = None


_HELD = _Held()
_HELD_LOCK = threading.Lock()


def hold_between_runs(on: bool = True) -> None:
    """Keep the published file's database instance open between page runs (the app process)."""
    _HELD.on = on
    if not on:
        _release()


def _release() -> None:
    with _HELD_LOCK:
        con, _HELD.con, _HELD.key = _HELD.con, None, None
    if con is not None:
        con.close()


def _hold(path: Path, key: tuple, version: str | None) -> None:
    """Open the connection to keep for `key`, if it reads `version` (the file itself)."""
    with _HELD_LOCK:
        if _HELD.key == key:
            return
        try:
            con = connect(path)
        except SandboxError:
            return
        if _data_version(con) != version:  # another file's instance (a publish meanwhile)
            con.close()
            return
        old, _HELD.con, _HELD.key = _HELD.con, con, key
    if old is not None:
        old.close()


def meta() -> dict | None:
    """The published `main.meta` row, or None if nothing is published.

    Read again only when the file changes (a publish `os.replace`s it: new inode and mtime), so
    a page run costs one `stat`, not one connection, to learn the data version.
    """
    path = serve_path()
    try:
        st_ = path.stat()
    except OSError:
        return None
    key = (str(path), st_.st_ino, st_.st_mtime_ns, st_.st_size)
    if key in _META:
        return _META[key]
    if _HELD.key is not None and _HELD.key != key:
        _release()  # another file now: the old instance must go before the new one is read
    with _OPEN_LOCK:
        before = tuple(_OPEN)
    value = _read_meta(path)
    with _OPEN_LOCK:
        after = (_OPEN[0], _OPEN[1] - 1)  # less the meta read's own connection
    if before[0] == 0 and after == before:  # read from the file itself, not a shared instance
        _META.clear()
        _META[key] = value
        if _HELD.on and value is not None:
            _hold(path, key, value.get("data_version"))
    return value


def _read_meta(path: Path) -> dict | None:
    try:
        con = _open(path)
    except SandboxError:
        return None
    try:
        cur = con.execute("select * from main.meta")
        row = cur.fetchone()
        if row is None:
            return None
        return dict(zip([d[0] for d in cur.description], row, strict=True))
    except duckdb.Error:
        return None
    finally:
        _close(con)


def query(sql: str, params: dict[str, object] | None = None) -> pd.DataFrame:
    """Run one aggregating query (cached per published data version)."""
    m = meta()
    version = m["data_version"] if m else None
    used = set(_PARAM.findall(sql))
    bound = {k: v for k, v in (params or {}).items() if k in used}
    try:
        return _cached(sql, bound, version, str(serve_path()))
    except _Uncached as read:
        return read.df


class _Uncached(Exception):  # noqa: N818 - not an error: a result not to cache
    """A result read from another version than the cache key names: returned, not cached."""

    def __init__(self, df: pd.DataFrame) -> None:
        super().__init__("read from another published version")
        self.df = df


@st.cache_data(ttl=3600, max_entries=512, show_spinner=False)
def _cached(sql: str, params: dict[str, object], version: str | None, db: str) -> pd.DataFrame:
    con, owned, read_version = _connection(db)
    try:
        df = con.execute(sql, params).df()
    finally:
        if owned:
            _close(con)
    if read_version != version:
        raise _Uncached(df)
    return df


class _Run(threading.local):
    """The connection of the current script run (Streamlit runs each session's script in its
    own thread, so this is per run): None until a query needs it."""

    active = False
    con: duckdb.DuckDBPyConnection | None = None
    db: str | None = None
    version: str | None = None


_RUN = _Run()


@contextmanager
def page_run() -> Iterator[None]:
    """Share one read-only connection among the queries of a script run; close it at the end."""
    if _RUN.active:  # nested: the outer run owns the connection
        yield
        return
    _RUN.active = True
    try:
        yield
    finally:
        con, _RUN.con, _RUN.db, _RUN.version = _RUN.con, None, None, None
        _RUN.active = False
        if con is not None:
            _close(con)


def _data_version(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        row = con.execute("select data_version from main.meta").fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def _connection(db: str) -> tuple[duckdb.DuckDBPyConnection, bool, str | None]:
    """(connection, whether the caller must close it, the data version it reads).

    In a page run: the run's connection, opened on first use and kept to the end of the run, so
    the run reads one published file throughout (also when a publish happens meanwhile)."""
    if not _RUN.active:
        con = _open(db)
        return con, True, _data_version(con)
    if _RUN.con is not None and _RUN.db != db:
        _close(_RUN.con)
        _RUN.con = None
    if _RUN.con is None:
        _RUN.con = _open(db)
        _RUN.db = db
        _RUN.version = _data_version(_RUN.con)
    return _RUN.con, False, _RUN.version


