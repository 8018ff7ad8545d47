"""Publishing: the readers' database, built fresh from the warehouse and swapped in atomically.

Readers open `serve.duckdb` read-only, one query at a time. The large message-level tables (and
the bills and repayments: `segments.SEGMENTED`) are published as immutable segments, about a
month of rows each (`pipelines.serve.segments`), and so are the tables whose old rows a day
revises (`segments.HISTORY`: the bills' state and cycles, the incidents' messages), one file per
month of their own: a publish first writes the segments whose content is new (a new day: its
own day's file, and the months of those tables it revised), then creates a new, empty database
file next to `serve.duckdb` under a temporary name, copies into it table by table the other
tables readers get (core.*, mart.*, the ledger and the quarantine), lists the segments and
makes each segmented table a view over them, adds the `meta` row, checkpoints it, fsyncs it and
`os.replace`s it over the old file. A reader sees either the previous publish or this one,
never a mix, and a run killed at any moment leaves the previous file and its segments untouched
(the stray temporary files are removed by the next publish).

The file is written from the tables' current rows only, never copied byte for byte from the
warehouse: the warehouse's free blocks still hold what was deleted or replaced there (a
withdrawn file's rows, superseded copies, staging), and none of that may be recoverable from
the published file. `meta.build_fingerprint` (a hash of the SQL under `sql/`) lets a later run
see that nothing needs rebuilding.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import LANDING_SOURCES
from pipelines.ingest import changes
from pipelines.ingest.receipts import overlay
from pipelines.ingest.validate import lit, q
from pipelines.serve import segments
from pipelines.settings import SQL_DIR

TMP_SUFFIX = ".publishing"
# alerts: incidents, their messages and the notification log (pipelines/alerts)
PUBLISHED_SCHEMAS = ("core", "mart", "alerts")
COPIED_INGEST_TABLES = ("file_ledger", "quarantine")
# A published table that is a projection of another one: each row of core.sms_receipt_matches
# is a receipt of core.sms_receipts with every one of its columns, plus the match. Readers get
# core.sms_receipts as a view selecting those columns, instead of a second copy of 5.4 M rows
# at m (6-9 CPU-s of a full publish, 18 % of the segments' disk), whenever the matches are
# current: the receipts overlay has read every note of a receipts change (its queue for the
# build holds none for the table, and the overlay's marker says the queue is trusted) and both
# have the same rows. Otherwise the table is published as a table, as before.
DERIVED: dict[tuple[str, str], tuple[str, str]] = {
    ("core", "sms_receipts"): ("core", "sms_receipt_matches"),
}


@dataclass
class PublishResult:
    path: Path
    tables: int
    rows_per_source: dict[str, int]
    seconds: float
    segments: int = 0  # segments the published file lists
    segments_written: int = 0  # of which this publish wrote (the others were unchanged)
    months_merged: list[str] = field(default_factory=list)  # compact: months made one file
    history_segments: int = 0  # the HISTORY tables' month files the published file lists
    history_written: int = 0  # of which this publish wrote


def build_fingerprint() -> str:
    """Hash of every SQL file the pipeline runs: a publish made by other SQL is out of date."""
    h = hashlib.sha256()
    for path in sorted(SQL_DIR.rglob("*.sql")):
        h.update(str(path.relative_to(SQL_DIR)).encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def ledger_signature(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> str:
    """A digest of `ingest.file_ledger`: equal digests mean the same files in the same state."""
    prefix = f"{q(catalog)}." if catalog else ""
    n, digest = con.execute(
        f"""select count(*), coalesce(bit_xor(hash(
                path, content_hash, status, rows_read, rows_loaded, rows_quarantined,
                rows_superseded, run_id)), 0)
        from {prefix}ingest.file_ledger"""
    ).fetchone()
    return f"{n}:{digest}"


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    return con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = $c and not temporary order by schema_name, table_name",
        {"c": catalog},
    ).fetchall()


def _remove_stale(serve: Path) -> None:
    for p in serve.parent.glob(f".{serve.name}.*{TMP_SUFFIX}*"):
        p.unlink(missing_ok=True)
    for p in serve.parent.glob(f".{segments.attach_script(serve).name}.*{segments.TMP_SUFFIX}"):
        p.unlink(missing_ok=True)


def _database_file(con: duckdb.DuckDBPyConnection) -> Path:
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    if row is None or not row[0]:
        raise ValueError("publish needs a warehouse stored in a file, not an in-memory database")
    return Path(row[0])


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> list:
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = $c "
        "and schema_name = $s and table_name = $t order by column_index",
        {"c": catalog, "s": schema, "t": table},
    ).fetchall()


def derived(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[tuple[str, str], list[str]]:
    """The DERIVED tables this publish gives readers as a view over their source: (schema,
    table) -> the columns to select (see DERIVED)."""
    have = set(_tables(con, catalog))
    out: dict[tuple[str, str], list[str]] = {}
    for (schema, table), (src_schema, src_table) in DERIVED.items():
        if (schema, table) not in have or (src_schema, src_table) not in have:
            continue
        name = f"{schema}.{table}"
        if name in changes.BUILD_INPUTS and changes.for_build(con, name) != (False, set()):
            continue  # changed since the overlay last read it: the matches are behind
        if (overlay.STATE_SCHEMA, overlay.QUEUE_MARK_TABLE) not in have:
            continue  # no build has read the queue yet
        cols = _columns(con, catalog, schema, table)
        if not set(cols) <= set(_columns(con, catalog, src_schema, src_table)):
            continue
        n, m = con.execute(
            f"select (select count(*) from {q(catalog)}.{q(schema)}.{q(table)}), "
            f"(select count(*) from {q(catalog)}.{q(src_schema)}.{q(src_table)})"
        ).fetchone()
        if n == m:
            out[(schema, table)] = [c for c, _ in cols]
    return out


def _create_derived(con: duckdb.DuckDBPyConnection, views: dict) -> None:
    for (schema, table), cols in views.items():
        src_schema, src_table = DERIVED[(schema, table)]
        con.execute(
            f"create view pub.{q(schema)}.{q(table)} as select "
            + ", ".join(q(c) for c in cols)
            + f" from pub.{q(src_schema)}.{q(src_table)}"
        )


def _copy_tables(
    con: duckdb.DuckDBPyConnection, catalog: str, skip: set[tuple[str, str]] = frozenset()
) -> int:
    """Copy into the empty database `pub` every table readers get but the segmented ones (and
    HISTORY's) and `skip`; returns how many."""
    n = 0
    for schema, table in _tables(con, catalog):
        key = (schema, table)
        if key in skip or key in segments.SEGMENTED or key in segments.HISTORY:
            continue
        if schema in PUBLISHED_SCHEMAS or (schema == "ingest" and table in COPIED_INGEST_TABLES):
            con.execute(f"create schema if not exists pub.{q(schema)}")
            con.execute(
                f"create table pub.{q(schema)}.{q(table)} as "
                f"from {q(catalog)}.{q(schema)}.{q(table)}"
            )
            n += 1
    return n


def published_segments(serve: Path) -> tuple[set[str], list[str]] | None:
    """The segment files the current published database lists, and the slices of the
    SEGMENTED tables' segments among them (None: unknown)."""
    if not serve.is_file():
        return set(), []
    try:
        with duckdb.connect(str(serve), read_only=True) as old:
            catalog = old.execute("select current_database()").fetchone()[0]
            if segments.listed(old, catalog) is None:
                return set(), []
            rows = old.execute(f"select file, slice from main.{segments.LIST_TABLE}").fetchall()
    except duckdb.Error:
        return None
    return {file for file, _ in rows}, segments.date_slices([key for _, key in rows])


def unpublished(con: duckdb.DuckDBPyConnection, serve: Path) -> str | None:
    """Why the warehouse behind `con` holds more than the published database `serve` shows (a
    run that has not published yet), or None when the publish shows it as it is."""
    if any(whole or dates for whole, dates in changes.pending(con).values()):
        return "the warehouse has writes that are not published yet"
    try:
        with duckdb.connect(str(serve), read_only=True) as old:
            fingerprint, ledger = old.execute(
                "select build_fingerprint, ledger_signature from meta"
            ).fetchone()
    except (duckdb.Error, TypeError):
        return f"{Path(serve).name} cannot be read"
    if ledger != ledger_signature(con):
        return f"{Path(serve).name} is older than the warehouse (a run did not finish)"
    if fingerprint != build_fingerprint():
        return "the SQL changed since the last publish"
    return None


def compactable(serve: Path) -> list[str]:
    """The months (YYYY-MM) of the published database `serve` that a compaction would write as
    one file: the months before its latest one still held in thirds."""
    listed = published_segments(Path(serve))
    return segments.to_compact(listed[1]) if listed else []


def _write_meta(con: duckdb.DuckDBPyConnection, catalog: str, run_id: str) -> str:
    """Write `pub.main.meta` (what the published file holds, and of which run); return its
    rows per source (JSON)."""
    counts_sql = ", ".join(
        f"{lit(s)}, (select count(*) from {q(catalog)}.core.{q(s)})" for s in LANDING_SOURCES
    )
    has_context = ("mart", "run_context") in _tables(con, "pub")
    settings_sql = (
        "(select to_json(r) from (select * exclude (as_of) from pub.mart.run_context) as r)"
        if has_context
        else "null::json"
    )
    con.execute(
        f"""create or replace table pub.main.meta as
        select
            (select max(dt) from pub.ingest.file_ledger where status = 'loaded')
                as as_of,
            now() as published_at,
            $run_id as run_id,
            $run_id || '-' || epoch_ms(now())::varchar as data_version,
            json_object({counts_sql}) as rows_per_source,
            {settings_sql} as settings,
            $fingerprint as build_fingerprint,
            $ledger as ledger_signature""",
        {
            "run_id": run_id,
            "fingerprint": build_fingerprint(),
            "ledger": ledger_signature(con, "pub"),
        },
    )
    return con.execute("select rows_per_source from pub.main.meta").fetchone()[0]


def publish(
    con: duckdb.DuckDBPyConnection, serve: Path, run_id: str, *, compact: bool = False
) -> PublishResult:
    """Publish the warehouse behind `con`: core.*, mart.*, the ledger, quarantine and `meta`.

    The months before the latest one keep the slices the previous publish gave them (a month
    that ended stays in thirds); `compact` writes every such month as one month file.
    """
    t0 = time.monotonic()
    serve = Path(serve)
    serve.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(serve)
    _database_file(con)  # an in-memory warehouse has nothing to publish
    catalog = con.execute("select current_database()").fetchone()[0]
    previous = published_segments(serve)
    folder = segments.segments_dir(serve)
    views = derived(con, catalog)
    large = [t for t in segments.present(con, catalog) if (t[0], t[1]) not in views]
    parts = segments.fingerprint_days(con, catalog, large)
    split = frozenset() if compact or previous is None else segments.split_months(previous[1])
    merged = segments.to_compact(previous[1]) if compact and previous is not None else []
    planned = segments.plan(parts, large, split)
    written = sum(segments.write(con, catalog, large, seg, folder) for seg in planned)
    history = segments.present(con, catalog, segments.HISTORY)
    by_month = segments.plan_months(segments.fingerprint_months(con, catalog, history), history)
    history_written = sum(segments.write(con, catalog, history, seg, folder) for seg in by_month)
    if planned or by_month:
        segments.fsync(folder)
    tmp = serve.parent / f".{serve.name}.{os.getpid()}.{int(time.time() * 1000)}{TMP_SUFFIX}"
    try:
        con.execute(f"attach {lit(str(tmp))} as pub")
        try:
            with segments.write_once(con):
                n = _copy_tables(con, catalog, set(views))
                segments.list_segments(con, "pub", planned + by_month, folder)
                segments.create_views(con, catalog, large, "pub", planned)
                segments.create_views(con, catalog, history, "pub", by_month)
                _create_derived(con, views)
                rows = _write_meta(con, catalog, run_id)
                con.execute("checkpoint pub")
        finally:
            con.execute("detach pub")
            segments.detach_all(con, planned + by_month)
        segments.fsync(tmp)
        os.replace(tmp, serve)
    except BaseException:
        _remove_stale(serve)
        raise
    segments.write_attach_script(serve, planned + by_month)
    segments.fsync(serve.parent)
    if previous is not None:  # else keep every file: a reader may still need one
        segments.collect_garbage(folder, previous[0] | {seg.file for seg in planned + by_month})
    changes.save_parts(con, parts)  # the next publish rehashes only the dates written since
    return PublishResult(
        serve,
        n + len(large) + len(history) + len(views) + 1,
        json.loads(rows),
        time.monotonic() - t0,
        len(planned),
        written,
        merged,
        len(by_month),
        history_written,
    )
