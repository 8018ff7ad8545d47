"""Staging: bring one source's landing files of a dt range into the warehouse.

For each file: unchanged (same size and mtime, or same content hash) → nothing happens;
new or changed → it is read, validated, and in one transaction per batch its previous
contribution (staged rows, quarantine rows, ledger row) is replaced by the new one and the keys
it touches are queued for the core merge; removed from the landing folder → its contribution
is withdrawn the same way. A run killed at any point leaves either the old or the new state of
a batch, never a mix, and the next run picks up where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from pipelines import sqlfiles
from pipelines.contract import RECEIPTS, SOURCES
from pipelines.ingest import files as landing_files
from pipelines.ingest import receipts
from pipelines.ingest.readers import (
    TMP_DIR_NAME,
    FileRead,
    drop_raw,
    read_files,
    remove_leftovers,
    temp_dir,
)
from pipelines.ingest.validate import q, validation_sql
from pipelines.ingest.warehouse import ensure, file_filter, fill_temp, pending_table, pk_cols

# A batch is read, validated and committed together; bounded so memory stays bounded.
BATCH_BYTES = 512 << 20
BATCH_FILES = 400
# the batch's ledger rows and the files' stat, kept in temp tables: (column, type)
NEW_FILES_COLUMNS = (
    ("path", "VARCHAR"),
    ("dt", "DATE"),
    ("size", "BIGINT"),
    ("content_hash", "VARCHAR"),
    ("format", "VARCHAR"),
    ("encoding", "VARCHAR"),
    ("dropped_columns", "VARCHAR[]"),
    ("status", "VARCHAR"),
    ("error", "VARCHAR"),
)
STAT_COLUMNS = (
    ("path", "VARCHAR"),
    ("size", "BIGINT"),
    ("mtime_ns", "BIGINT"),
    ("content_hash", "VARCHAR"),
)

GZ_FACTOR = 6  # a csv.gz byte is worth about this many bytes of text

Progress = Callable[[int, int], None]


@dataclass
class StageResult:
    source: str
    files_seen: int = 0
    files_unchanged: int = 0
    files_read: int = 0
    files_failed: int = 0
    files_removed: int = 0
    rows_read: int = 0
    rows_quarantined: int = 0
    failed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # source folders that cannot be listed

    def as_metadata(self) -> dict:
        return {
            "files_seen": self.files_seen,
            "files_unchanged": self.files_unchanged,
            "files_read": self.files_read,
            "files_failed": self.files_failed,
            "files_removed": self.files_removed,
            "rows_read": self.rows_read,
            "rows_quarantined": self.rows_quarantined,
        }


def _batches(reads: list[FileRead]) -> list[list[FileRead]]:
    out: list[list[FileRead]] = []
    cur: list[FileRead] = []
    weight = 0
    for fr in reads:
        w = fr.file.size * (GZ_FACTOR if fr.file.format == "csv.gz" else 1)
        if cur and (weight + w > BATCH_BYTES or len(cur) >= BATCH_FILES):
            out.append(cur)
            cur, weight = [], 0
        cur.append(fr)
        weight += w
    if cur:
        out.append(cur)
    return out


def stage_source(
    con: duckdb.DuckDBPyConnection,
    source: str,
    landing: Path,
    start: date,
    end: date,
    run_id: str,
    progress: Progress | None = None,
) -> StageResult:
    """Stage every new, changed or removed file of `source` with dt in [start, end]."""
    ensure(con)
    result = StageResult(source)
    found = landing_files.scan(landing, (source,), start, end)
    result.files_seen = len(found.files)
    result.ignored = found.ignored
    known = {
        row[0]: row
        for row in sqlfiles.run(
            con, "ingest/known_files", {"source": source, "start": start, "end": end}
        ).fetchall()
    }
    # path -> (path, dt, size, content_hash, status, stat_size, stat_mtime_ns, stat_hash)
    todo: list[FileRead] = []
    restat: list[tuple] = []
    on_disk = set()
    for f in found.files:
        on_disk.add(f.path)
        k = known.get(f.path)
        if k is not None and k[5] == f.size and k[6] == f.mtime_ns and k[7] == k[3]:
            result.files_unchanged += 1
            continue
        try:
            fp = landing_files.fingerprint(f)
        except OSError as exc:  # e.g. no read permission: this file fails, the rest loads
            reason = f"cannot read the file: {landing_files.os_reason(exc)}"
            todo.append(FileRead(f, None, "", error=reason))
            continue
        if k is not None and k[3] == fp.content_hash:
            result.files_unchanged += 1  # touched or re-delivered with identical content
            restat.append((f.path, f.size, f.mtime_ns, fp.content_hash))
            continue
        todo.append(FileRead(f, fp.encoding, fp.content_hash))
    for rel, dt, reason in found.unreadable:
        if dt is None:  # a whole source folder: no partition to record it under
            result.failed.append(f"{rel}: {reason}")
            result.unreadable.append(f"{rel}: {reason}")
            continue
        # a dt folder (path ends with '/') or a file that cannot be inspected: a failed
        # ledger entry, retried by every run until it can be read
        path = rel + "/" if not landing_files.file_format(rel) else rel
        lf = landing_files.LandingFile(source, dt, path, landing / rel, 0, 0)
        todo.append(FileRead(lf, None, "", error=reason))
        on_disk.add(path)
    # Files below a folder that cannot be listed are not gone: they stay as they are.
    removed = sorted(p for p in known if p not in on_disk and not found.blocked(p))
    result.files_removed = len(removed)

    if restat:
        _write_stat(con, restat)
    total = len(todo)
    done = 0
    if progress:
        progress(0, total)
    tmp_base = _tmp_base(con)
    if tmp_base is not None:
        remove_leftovers(tmp_base)  # what a killed run left; this run holds the warehouse
    with temp_dir(tmp_base) as tmp:
        for batch in _batches(todo):
            _stage_batch(con, source, batch, [], Path(tmp), run_id, result, set(known))
            done += len(batch)
            if progress:
                progress(done, total)
    if removed:
        _stage_batch(con, source, [], removed, Path(), run_id, result, set(known))
    return result


def _tmp_base(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The staging calls' temporary folder next to the warehouse file (None: in memory)."""
    row = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    if not row or not row[0]:
        return None
    return Path(row[0]).parent / TMP_DIR_NAME


def _write_stat(con: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    con.execute("begin")
    try:
        fill_temp(con, "new_stat", STAT_COLUMNS, rows)
        sqlfiles.run(con, "ingest/delete_file_stat", {"paths": [r[0] for r in rows]})
        sqlfiles.run(con, "ingest/insert_file_stat")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


def _stage_batch(
    con: duckdb.DuckDBPyConnection,
    source: str,
    batch: list[FileRead],
    removed: list[str],
    tmp: Path,
    run_id: str,
    result: StageResult,
    known: set[str],
) -> None:
    """Read and validate `batch`, then in one transaction replace what those files (and the
    `removed` ones) contributed. `known`: paths the ledger holds (only those have staged rows
    to withdraw; a batch of new files never scans the staged table)."""
    fields = ", ".join(q(f) for f in SOURCES[source].field_names)
    staging = f'staging."{source}"'
    formats: dict[str, str] = {}  # receipts: path -> the gateway format recognised
    if batch and source == RECEIPTS:
        formats = receipts.read_files(con, batch, tmp)
        con.execute(f"create or replace temp table checked as {receipts.validation_sql()}")
    elif batch:
        read_files(con, source, batch, tmp)  # autocommit: a failing read rolls back alone
        con.execute(f"create or replace temp table checked as {validation_sql(source)}")
        # lines that were not records at all: quarantined like any bad row
        con.execute(
            "insert into checked by name "
            "select _dt, _file, _row, reason_code, message, raw_row from raw_bad"
        )
    else:
        con.execute(
            "create or replace temp table checked (_dt DATE, _file VARCHAR, _row BIGINT, "
            "reason_code VARCHAR, message VARCHAR, raw_row VARCHAR)"
        )
    new_files = [
        (
            fr.file.path,
            fr.file.dt,
            fr.file.size,
            fr.content_hash or None,
            formats.get(fr.file.path, fr.file.format),
            fr.encoding,
            fr.dropped,
            "failed" if fr.error else "loaded",
            fr.error,
        )
        for fr in batch
    ]
    # no stat for what could not be read: the next run tries it again
    stats = [
        (fr.file.path, fr.file.size, fr.file.mtime_ns, fr.content_hash)
        for fr in batch
        if fr.content_hash
    ]
    replaced = [fr.file.path for fr in batch] + removed
    withdrawn = [p for p in replaced if p in known]
    pending = pending_table(source)
    keys = pk_cols(source)
    con.execute("begin")
    try:
        if withdrawn:
            # withdraw what the replaced/removed files contributed; their keys need a new winner
            where = file_filter(withdrawn)
            con.execute(f"insert into {pending} select {keys}, NULL from {staging} where {where}")
            con.execute(f"delete from {staging} where {where}")
        sqlfiles.run(con, "ingest/delete_quarantine", {"source": source, "paths": replaced})
        sqlfiles.run(con, "ingest/delete_ledger", {"source": source, "paths": replaced})
        sqlfiles.run(con, "ingest/delete_file_stat", {"paths": replaced})
        if batch:
            con.execute(
                f"insert into {staging} select {fields}, _dt, _file, _row from checked "
                "where reason_code is null"
            )
            con.execute(
                f"insert into {pending} select {keys}, _file from checked where reason_code is null"
            )
            sqlfiles.run(con, "ingest/insert_quarantine", {"source": source, "run_id": run_id})
            fill_temp(con, "new_files", NEW_FILES_COLUMNS, new_files)
            sqlfiles.run(con, "ingest/insert_ledger", {"source": source, "run_id": run_id})
            fill_temp(con, "new_stat", STAT_COLUMNS, stats)
            sqlfiles.run(con, "ingest/insert_file_stat")
        counts = con.execute(
            "select count(*), count(*) filter (where reason_code is not null) from checked"
        ).fetchone()
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        drop_raw(con)
        con.execute("drop table if exists checked")
    result.files_read += len(batch)
    result.rows_read += counts[0]
    result.rows_quarantined += counts[1]
    for fr in batch:
        if fr.error:
            result.files_failed += 1
            result.failed.append(f"{fr.file.path}: {fr.error}")
