"""Publishing: build the readers' database in a temporary file and swap it in atomically.

Readers open `serve.duckdb` read-only, one query at a time. The new file is written next to
it under a temporary name, checkpointed, detached (closed), fsynced and `os.replace`d over the
old one, so a reader sees either the previous publish or this one — never a mix — and a run
killed at any moment leaves the previous file untouched (the stray temporary file is removed
by the next publish).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.contract import SOURCE_NAMES
from pipelines.ingest.validate import lit, q

TMP_SUFFIX = ".publishing"
COPIED_INGEST_TABLES = ("file_ledger", "quarantine")


@dataclass
class PublishResult:
    path: Path
    tables: int
    rows_per_source: dict[str, int]
    seconds: float


def _tables(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = con.execute(
        "select table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name = $s and not temporary "
        "order by table_name",
        {"s": schema},
    ).fetchall()
    return [r[0] for r in rows]


def _remove_stale(serve: Path) -> None:
    for p in serve.parent.glob(f".{serve.name}.*{TMP_SUFFIX}*"):
        p.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(con: duckdb.DuckDBPyConnection, serve: Path, run_id: str) -> PublishResult:
    """Copy core.*, mart.*, the ledger and quarantine and a `meta` row into a new serve file."""
    t0 = time.monotonic()
    serve = Path(serve)
    serve.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(serve)
    tmp = serve.parent / f".{serve.name}.{os.getpid()}.{int(time.time() * 1000)}{TMP_SUFFIX}"
    con.execute(f"attach {lit(str(tmp))} as pub")
    n = 0
    try:
        for schema in ("core", "mart"):
            con.execute(f"create schema pub.{schema}")
            for t in _tables(con, schema):
                con.execute(f"create table pub.{schema}.{q(t)} as select * from {schema}.{q(t)}")
                n += 1
        con.execute("create schema pub.ingest")
        for t in COPIED_INGEST_TABLES:
            con.execute(f"create table pub.ingest.{q(t)} as select * from ingest.{q(t)}")
            n += 1
        counts_sql = ", ".join(
            f"{lit(s)}, (select count(*) from core.{q(s)})" for s in SOURCE_NAMES
        )
        has_context = "run_context" in _tables(con, "mart")
        settings_sql = (
            "(select to_json(r) from (select * exclude (as_of) from mart.run_context) as r)"
            if has_context
            else "null::json"
        )
        con.execute(
            f"""create table pub.main.meta as
            select
                (select max(dt) from ingest.file_ledger where status = 'loaded') as as_of,
                now() as published_at,
                $run_id as run_id,
                $run_id || '-' || epoch_ms(now())::varchar as data_version,
                json_object({counts_sql}) as rows_per_source,
                {settings_sql} as settings""",
            {"run_id": run_id},
        )
        rows = con.execute("select rows_per_source from pub.main.meta").fetchone()[0]
        con.execute("checkpoint pub")
    except BaseException:
        con.execute("detach pub")
        _remove_stale(serve)
        raise
    con.execute("detach pub")
    _fsync(tmp)
    os.replace(tmp, serve)
    _fsync(serve.parent)
    return PublishResult(serve, n + 1, json.loads(rows), time.monotonic() - t0)
