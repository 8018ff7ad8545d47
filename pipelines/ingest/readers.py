"""Read landing files into the temporary table `raw`: every contract field as VARCHAR.

A CSV file's header is taken from its first record in Python (decoded with the encoding the
fingerprint detected), not sniffed by DuckDB. Files with the same format and the same column
layout are read by one DuckDB call with explicit positional columns (no sniffing, no
union_by_name); when such a call fails, its files are retried one by one so that only the
broken file is recorded as failed. Columns outside the contract (phone columns included) are
never selected, so they never reach any table; they are reported per file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import PHONE_COLUMNS, SOURCES
from pipelines.ingest.files import LandingFile, transcode_to_utf8
from pipelines.ingest.mask import mask_text
from pipelines.ingest.validate import lit, q

# hive_partitioning off: the dt=… folder must not turn into a column of the data.
# The columns are given explicitly (positional names c0, c1, …), so DuckDB does not sniff.
CSV_OPTIONS = (
    "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "hive_partitioning = false"
)
MAX_ERROR = 500
HEADER_CHUNK = 64 << 10
MAX_HEADER_BYTES = 4 << 20


@dataclass
class FileRead:
    """What reading one file gave: its column mapping, dropped columns, or its error."""

    file: LandingFile
    encoding: str | None
    content_hash: str = ""
    dropped: list[str] = field(default_factory=list)
    error: str | None = None
    read_path: str = ""  # what DuckDB reads (a UTF-8 copy for GB18030 text)
    columns: dict[str, list[str]] = field(default_factory=dict)  # field -> file columns
    types: dict[str, str] = field(default_factory=dict)  # parquet column -> DuckDB type
    width: int = 0  # CSV: number of columns in the header


class FileError(Exception):
    pass


def clean_error(exc: BaseException | str) -> str:
    """One line, phone numbers masked, at most MAX_ERROR characters."""
    text = " ".join(str(exc).split())
    text = text.split(" LINE 1:")[0]  # DuckDB appends the (internal) SQL it was running
    text = mask_text(text) or ""
    return text[:MAX_ERROR]


def _map_columns(
    source: str, names: list[str], ids: list[str] | None = None
) -> tuple[dict[str, list[str]], list[str]]:
    """field -> the file's columns holding it (as `ids`, default the names), dropped names."""
    wanted = set(SOURCES[source].field_names)
    columns: dict[str, list[str]] = defaultdict(list)
    dropped: list[str] = []
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in wanted and key not in PHONE_COLUMNS:
            columns[key].append(ids[i] if ids else name)
        else:
            dropped.append(name.strip())
    return dict(columns), dropped


def _raw_table_sql(source: str) -> str:
    cols = ", ".join(f"{q(f)} VARCHAR" for f in SOURCES[source].field_names)
    return f"create or replace temp table raw_read ({cols}, _src VARCHAR)"


def _record_end(text: str) -> int:
    """Index of the first line break outside double quotes, or -1."""
    in_quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif (ch == "\n" or ch == "\r") and not in_quote:
            return i
    return -1


def csv_header(path: Path, encoding: str, gz: bool) -> list[str]:
    """The column names of a CSV file: its first record (RFC 4180), decoded with `encoding`
    (a UTF-8 byte order mark is dropped)."""
    opener = gzip.open if gz else open
    dec = codecs.getincrementaldecoder(encoding)()
    text = ""
    try:
        with opener(path, "rb") as fh:
            while True:
                chunk = fh.read(HEADER_CHUNK)
                text += dec.decode(chunk, final=not chunk)
                end = _record_end(text)
                if end >= 0:
                    text = text[:end]
                    break
                if not chunk:
                    break
                if len(text) > MAX_HEADER_BYTES:
                    raise FileError("header line longer than 4 MB")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise FileError(f"cannot read the header: {clean_error(exc)}") from exc
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise FileError("empty file (no header)")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (csv.Error, StopIteration) as exc:
        raise FileError(f"cannot parse the header: {exc}") from exc
    return [h if h.strip() else f"column{i}" for i, h in enumerate(header)]


def _inspect(con: duckdb.DuckDBPyConnection, fr: FileRead, tmp: Path) -> None:
    """Fill fr.columns/types/dropped/read_path, or raise FileError."""
    f = fr.file
    fmt = f.format
    if f.size == 0:
        raise FileError("empty file (no header)")
    if fmt in ("csv", "csv.gz"):
        if fr.encoding is None:
            raise FileError("text is neither UTF-8 nor GB18030 (binary or corrupt file)")
        names = csv_header(f.abspath, fr.encoding, gz=(fmt == "csv.gz"))
        fr.width = len(names)
        fr.read_path = str(f.abspath)
        fr.columns, fr.dropped = _map_columns(f.source, names, [f"c{i}" for i in range(len(names))])
        if fr.columns and fr.encoding == "gb18030":
            out = tmp / (re.sub(r"[^A-Za-z0-9_.-]", "_", f.path) + ".utf8.csv")
            transcode_to_utf8(f.abspath, out, "gb18030", gz=(fmt == "csv.gz"))
            fr.read_path = str(out)
    elif fmt == "parquet":
        fr.read_path = str(f.abspath)
        rows = con.execute(
            "describe select * from read_parquet($p, hive_partitioning = false)",
            {"p": fr.read_path},
        ).fetchall()
        names = [r[0] for r in rows]
        fr.types = {r[0]: r[1] for r in rows}
        fr.columns, fr.dropped = _map_columns(f.source, names)
    elif fmt == "jsonl":
        fr.read_path = str(f.abspath)
        rows = con.execute(
            "select distinct unnest(json_keys(json)) from "
            "read_json_objects($p, format = 'newline_delimited', hive_partitioning = false) "
            "order by 1",
            {"p": fr.read_path},
        ).fetchall()
        names = [r[0] for r in rows]
        fr.columns, fr.dropped = _map_columns(f.source, names)
    else:  # pragma: no cover - scan() only returns known formats
        raise FileError(f"unsupported file type {f.path}")
    if not fr.columns:
        shown = ", ".join(names[:8])
        raise FileError(f"no column matches the {f.source} contract (header: {shown})")


def _value_expr(fr: FileRead, name: str) -> str:
    """VARCHAR expression for one file column."""
    fmt = fr.file.format
    if fmt == "jsonl":
        return f"(json ->> {lit(name)})"
    if fmt == "parquet":
        t = fr.types.get(name, "VARCHAR").upper()
        col = q(name)
        if t.startswith("TIMESTAMP WITH TIME ZONE"):
            return f"strftime(timezone('UTC', {col}), '%Y-%m-%d %H:%M:%S.%f') || 'Z'"
        if t.startswith("TIMESTAMP"):
            return f"strftime({col}::timestamp, '%Y-%m-%d %H:%M:%S.%f')"
        return f"{col}::varchar"
    return q(name)


def _select_sql(source: str, fr: FileRead) -> str:
    exprs = []
    for fname in SOURCES[source].field_names:
        cols = fr.columns.get(fname)
        if not cols:
            exprs.append("NULL")
        elif len(cols) == 1:
            exprs.append(_value_expr(fr, cols[0]))
        else:
            exprs.append("coalesce(" + ", ".join(_value_expr(fr, c) for c in cols) + ")")
    select = ", ".join(exprs)
    fmt = fr.file.format
    if fmt in ("csv", "csv.gz"):
        layout = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(fr.width))
        scan = f"read_csv($files, {CSV_OPTIONS}, columns = {{{layout}}}, filename = true)"
    elif fmt == "parquet":
        scan = "read_parquet($files, filename = true, hive_partitioning = false)"
    else:
        scan = (
            "read_json_objects($files, format = 'newline_delimited', filename = true, "
            "hive_partitioning = false)"
        )
    return f"insert into raw_read select {select}, filename from {scan}"


def _group_key(fr: FileRead) -> tuple:
    fmt = fr.file.format
    if fmt == "parquet":
        return (fmt, tuple(sorted(fr.types.items())))
    cols = tuple(sorted((k, tuple(v)) for k, v in fr.columns.items()))
    if fmt in ("csv", "csv.gz"):  # same width and same positions: one read, whatever names
        return (fmt, fr.width, cols)
    return (fmt, cols)


def read_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    reads: list[FileRead],
    tmp: Path,
) -> None:
    """Create temp table `raw_read` and temp view `raw` (contract fields as VARCHAR + _dt,
    _file, _row) from `reads`.

    Runs in autocommit mode: a failing read rolls back only itself. Sets fr.error on failures.
    """
    con.execute(_raw_table_sql(source))
    groups: dict[tuple, list[FileRead]] = defaultdict(list)
    for fr in reads:
        try:
            _inspect(con, fr, tmp)
        except FileError as exc:
            fr.error = clean_error(exc)
        except duckdb.Error as exc:
            fr.error = clean_error(exc)
        else:
            groups[_group_key(fr)].append(fr)
    for members in groups.values():
        try:
            con.execute(_select_sql(source, members[0]), {"files": [m.read_path for m in members]})
        except duckdb.Error as exc:
            if len(members) == 1:
                members[0].error = clean_error(exc)
                continue
            for m in members:  # isolate the broken file(s)
                try:
                    con.execute(_select_sql(source, m), {"files": [m.read_path]})
                except duckdb.Error as exc1:
                    m.error = clean_error(exc1)
    good = [fr for fr in reads if fr.error is None]
    con.execute("create or replace temp table raw_files (_src VARCHAR, _dt DATE, _file VARCHAR)")
    if good:
        con.executemany(
            "insert into raw_files values (?, ?, ?)",
            [(fr.read_path, fr.file.dt, fr.file.path) for fr in good],
        )
    # Inserts keep the files' row order (preserve_insertion_order), so a file's rows are one
    # contiguous, ordered run of rowids: the 1-based row number is the offset within that run.
    con.execute(
        """create or replace temp table raw_first as
        select m._src, m._dt, m._file, min(r.rowid) as _first
        from raw_read as r join raw_files as m on m._src = r._src
        group by all"""
    )
    fields = ", ".join(f"r.{q(f)}" for f in SOURCES[source].field_names)
    con.execute(
        f"""create or replace temp view raw as
        select {fields}, m._dt, m._file, r.rowid - m._first + 1 as _row
        from raw_read as r join raw_first as m on m._src = r._src"""
    )


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop view if exists raw")
    con.execute("drop table if exists raw_first")
    con.execute("drop table if exists raw_files")
    con.execute("drop table if exists raw_read")


def temp_dir(base: Path | None = None) -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="nudgescope-ingest-", dir=base)
