"""Read landing files into the temporary table `raw`: every contract field as VARCHAR.

A CSV file's header is taken from its first record in Python (decoded with the encoding the
fingerprint detected), not sniffed by DuckDB. Files with the same format and the same column
layout are read by one DuckDB call with explicit positional columns (no sniffing, no
union_by_name); when such a call fails, its files are retried one by one so that only the
broken file is recorded as failed. Columns outside the contract (phone columns included) are
never selected, so they never reach any table; they are reported per file (masked).

Below the file level, a line that is not a record is that line's problem only: a CSV line with
too few or too many fields, an unterminated quote, bytes that are not valid text, a line longer
than MAX_LINE_BYTES, a JSONL line that is not a JSON object. DuckDB skips it and records it
(`store_rejects`), and it becomes a row of `raw_bad` with a reason code, its line number and its
raw text, masked and shortened; the rest of the file loads. JSONL is read as lines of text
(one VARCHAR column, no quoting) so that every line is seen, a leading byte order mark included.

Paths are never glob patterns: a file whose name holds a glob character is read through a link
with a plain name in the run's temporary folder, pointing at exactly that file.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import shutil
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import PHONE_COLUMNS, REASON_CODES, SOURCES
from pipelines.ingest.files import LandingFile, open_exact, transcode_to_utf8
from pipelines.ingest.mask import mask_sql, mask_text
from pipelines.ingest.validate import lit, q
from pipelines.ingest.warehouse import fill_temp

# hive_partitioning off: the dt=… folder must not turn into a column of the data.
# The columns are given explicitly (positional names c0, c1, …), so DuckDB does not sniff.
CSV_OPTIONS = (
    "header = true, auto_detect = false, delim = ',', quote = '\"', escape = '\"', "
    "hive_partitioning = false"
)
MAX_ERROR = 500
HEADER_CHUNK = 64 << 10
MAX_HEADER_BYTES = 4 << 20
# The longest line (CSV record or JSONL line) that loads; a longer one is quarantined
# (reason line_too_long). DuckDB's own default is 2 MB.
MAX_LINE_BYTES = 32 << 20
# Raw text of a quarantined malformed line: masked, then cut to this many characters.
RAW_TEXT_CHARS = 1000
GLOB_CHARS = frozenset("*?[]{}\\")
# JSONL lines are read as one text column: a separator that valid JSON never holds unescaped.
LINE_OPTIONS = (
    "header = false, auto_detect = false, delim = '\x01', quote = '', escape = '', "
    "strict_mode = false, hive_partitioning = false"
)
REJECTS = (
    "ignore_errors = true, store_rejects = true, rejects_table = 'ingest_rejects', "
    f"rejects_scan = 'ingest_rejects_scan', max_line_size = {MAX_LINE_BYTES}"
)
# DuckDB's error type of a skipped line -> our reason code.
REJECT_REASONS = {
    "MISSING COLUMNS": "malformed_row",
    "TOO MANY COLUMNS": "malformed_row",
    "UNQUOTED VALUE": "malformed_row",
    "CAST": "malformed_row",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "INVALID ENCODING": "bad_encoding",
    "INVALID UNICODE": "bad_encoding",
}


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
    """The first line of an error, phone numbers masked, at most MAX_ERROR characters.

    DuckDB's messages go on with detail lines (the file's options, sometimes the offending
    line itself); only the first line is kept, so no file content ends up in an error."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    text = " ".join((lines[0] if lines else type(exc).__name__).split())
    text = text.split(" LINE 1:")[0]  # DuckDB appends the (internal) SQL it was running
    text = mask_text(text) or ""
    return text[:MAX_ERROR]


def _map_columns(
    source: str, names: list[str], ids: list[str] | None = None, unique: bool = True
) -> tuple[dict[str, list[str]], list[str]]:
    """field -> the file's columns holding it (as `ids`, default the names), dropped names
    (phone numbers masked). With `unique`, a contract field named by two columns is an error:
    which one holds the value is anybody's guess."""
    wanted = set(SOURCES[source].field_names)
    columns: dict[str, list[str]] = defaultdict(list)
    positions: dict[str, list[int]] = defaultdict(list)
    dropped: list[str] = []
    for i, name in enumerate(names):
        key = name.strip().lower()
        if key in wanted and key not in PHONE_COLUMNS:
            columns[key].append(ids[i] if ids else name)
            positions[key].append(i + 1)
        else:
            dropped.append(mask_text(name.strip()) or "")
    if unique:
        for key, at in positions.items():
            if len(at) > 1:
                shown = ", ".join(str(i) for i in at)
                raise FileError(
                    f"column {key} appears {len(at)} times in the header (columns {shown}): "
                    "ambiguous, the file is not loaded"
                )
    return dict(columns), dropped


def _raw_table_sql(source: str) -> str:
    cols = ", ".join(f"{q(f)} VARCHAR" for f in SOURCES[source].field_names)
    return (
        f"create or replace temp table raw_read ({cols}, _src VARCHAR, _bad VARCHAR, _text VARCHAR)"
    )


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
    (a UTF-8 byte order mark is dropped). Bytes after the header are not judged here: a bad
    line further down is that line's problem."""
    dec = codecs.getincrementaldecoder(encoding)(errors="replace")
    text = ""
    try:
        with open_exact(path) as raw, gzip.open(raw, "rb") if gz else raw as fh:
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
    except (OSError, EOFError) as exc:
        raise FileError(f"cannot read the header: {clean_error(exc)}") from exc
    if "\ufffd" in text:
        raise FileError(f"the header line is not valid {encoding} text")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise FileError("empty file (no header)")
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True))
    except (csv.Error, StopIteration) as exc:
        raise FileError(f"cannot parse the header: {exc}") from exc
    return [h if h.strip() else f"column{i}" for i, h in enumerate(header)]


def _exact_path(f: LandingFile, tmp: Path) -> str:
    """A path DuckDB reads as exactly this file: the file itself, or, when its name holds a
    glob character, a link with a plain name in `tmp` pointing at it."""
    path = str(f.abspath)
    if not GLOB_CHARS.intersection(path):
        return path
    link = tmp / f"exact-{hashlib.sha256(path.encode()).hexdigest()[:16]}.{f.format}"
    if not link.is_symlink():
        link.symlink_to(f.abspath)
    return str(link)


def _lines_scan(files_param: str, extra: str = "") -> str:
    """Every line of JSONL files as one VARCHAR column `line` (plus `filename`)."""
    return (
        f"read_csv({files_param}, {LINE_OPTIONS}, columns = {{'line': 'VARCHAR'}}, "
        f"filename = true{extra})"
    )


_JSON_OBJECT = "(json_valid(line) and json_type(line::json) = 'OBJECT')"


def _inspect(con: duckdb.DuckDBPyConnection, fr: FileRead, tmp: Path) -> None:
    """Fill fr.columns/types/dropped/read_path, or raise FileError."""
    f = fr.file
    fmt = f.format
    if f.size == 0:
        raise FileError("empty file (no header)")
    if fmt in ("csv", "csv.gz"):
        gz = fmt == "csv.gz"
        if fr.encoding is None:
            # Not all of it decodes: read it as UTF-8 when its header does, so that only the
            # lines with bad bytes are quarantined; binary garbage fails as a file.
            try:
                names = csv_header(f.abspath, "utf-8", gz)
            except FileError:
                raise FileError(
                    "text is neither UTF-8 nor GB18030 (binary or corrupt file)"
                ) from None
            fr.encoding = "utf-8"
        else:
            names = csv_header(f.abspath, fr.encoding, gz)
        fr.width = len(names)
        fr.read_path = _exact_path(f, tmp)
        fr.columns, fr.dropped = _map_columns(f.source, names, [f"c{i}" for i in range(len(names))])
        if fr.columns and fr.encoding == "gb18030":
            out = tmp / (re.sub(r"[^A-Za-z0-9_.-]", "_", f.path) + ".utf8.csv")
            transcode_to_utf8(f.abspath, out, "gb18030", gz=gz)
            fr.read_path = str(out)
    elif fmt == "parquet":
        fr.read_path = _exact_path(f, tmp)
        rows = con.execute(
            "describe select * from read_parquet($p, hive_partitioning = false)",
            {"p": fr.read_path},
        ).fetchall()
        names = [r[0] for r in rows]
        fr.types = {r[0]: r[1] for r in rows}
        # DuckDB renames a repeated column name (USER_ID -> USER_ID_1): judge the file's own
        # names, from its schema, for columns that name one contract field twice
        schema = con.execute(
            "select name, num_children from parquet_schema($p)", {"p": fr.read_path}
        ).fetchall()
        _map_columns(f.source, _top_level_names(schema[1:]))
        fr.columns, fr.dropped = _map_columns(f.source, names)
    elif fmt == "jsonl":
        fr.read_path = _exact_path(f, tmp)
        rows = con.execute(
            "select distinct unnest(json_keys(line::json)) from "
            f"{_lines_scan('$p', f', ignore_errors = true, max_line_size = {MAX_LINE_BYTES}')} "
            f"where {_JSON_OBJECT} order by 1",
            {"p": fr.read_path},
        ).fetchall()
        names = [r[0] for r in rows]
        if not names:
            raise FileError("no line of the file is a JSON object with keys")
        # keys are collected over all lines: a key spelled in two cases on different lines
        # is one column, not an ambiguity
        fr.columns, fr.dropped = _map_columns(f.source, names, unique=False)
    else:  # pragma: no cover - scan() only returns known formats
        raise FileError(f"unsupported file type {f.path}")
    if not fr.columns:
        raise FileError(
            f"no column matches the {f.source} contract ({len(names)} column(s) found, "
            "none of them a contract field)"
        )


def _top_level_names(schema: list[tuple[str, int | None]]) -> list[str]:
    """The top-level column names of a flattened Parquet schema (depth-first, each element
    followed by its children)."""
    names: list[str] = []
    i = 0

    def skip(j: int) -> int:
        children = schema[j][1] or 0
        j += 1
        for _ in range(children):
            j = skip(j)
        return j

    while i < len(schema):
        names.append(schema[i][0])
        i = skip(i)
    return names


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
        scan = (
            f"read_csv($files, {CSV_OPTIONS}, columns = {{{layout}}}, filename = true, {REJECTS})"
        )
        return f"insert into raw_read select {select}, filename, NULL, NULL from {scan}"
    if fmt == "parquet":
        scan = "read_parquet($files, filename = true, hive_partitioning = false)"
        return f"insert into raw_read select {select}, filename, NULL, NULL from {scan}"
    # JSONL: every line, so that line numbers are exact; blank lines are marked and skipped,
    # lines that are not a JSON object are marked bad with their (masked, shortened) text.
    # An object naming one contract field twice ("amount" twice, or "amount" and "AMOUNT")
    # is ambiguous: which value is meant is not knowable, so the line is quarantined.
    wanted = "[" + ", ".join(lit(f) for f in SOURCES[source].field_names) + "]"
    keys = (
        "list_filter(list_transform(json_keys(json), lambda k: lower(trim(k))), "
        f"lambda k: list_contains({wanted}, k))"
    )
    raw_text = f"left({mask_sql('line')}, {RAW_TEXT_CHARS})"
    return f"""insert into raw_read
        select {select}, filename,
            case when trim(coalesce(line, '')) = '' then 'blank'
                when json is null then 'bad_json'
                when len({keys}) > len(list_distinct({keys})) then 'key_twice' end,
            case when (json is null or len({keys}) > len(list_distinct({keys})))
                and trim(coalesce(line, '')) <> '' then {raw_text} end
        from (
            select line, filename, case when {_JSON_OBJECT} then line::json end as json
            from {_lines_scan("$files", ", " + REJECTS)}
        )"""


def _group_key(fr: FileRead) -> tuple:
    fmt = fr.file.format
    if fmt == "parquet":
        return (fmt, tuple(sorted(fr.types.items())))
    cols = tuple(sorted((k, tuple(v)) for k, v in fr.columns.items()))
    if fmt in ("csv", "csv.gz"):  # same width and same positions: one read, whatever names
        return (fmt, fr.width, cols)
    return (fmt, cols)


def _read(con: duckdb.DuckDBPyConnection, source: str, members: list[FileRead]) -> None:
    """One DuckDB read of `members` into raw_read, and the lines it skipped into raw_rejects
    (nothing of either when it fails)."""
    con.execute("drop table if exists ingest_rejects")
    con.execute("drop table if exists ingest_rejects_scan")
    con.execute(_select_sql(source, members[0]), {"files": [m.read_path for m in members]})
    if members[0].file.format == "parquet":
        return
    con.execute(
        """insert into raw_rejects
        select s.file_path, e.line, e.error_type, e.csv_line, e.error_message
        from ingest_rejects as e
        join ingest_rejects_scan as s using (scan_id, file_id)"""
    )


def read_files(
    con: duckdb.DuckDBPyConnection,
    source: str,
    reads: list[FileRead],
    tmp: Path,
) -> None:
    """Create temp table `raw_read`, temp view `raw` (contract fields as VARCHAR + _dt,
    _file, _row) and temp table `raw_bad` (lines that are not records: _dt, _file, _row,
    reason_code, message, raw_row) from `reads`.

    Runs in autocommit mode: a failing read rolls back only itself. Sets fr.error on failures.
    Files whose error is already set (unreadable) are not touched.
    """
    con.execute(_raw_table_sql(source))
    con.execute(
        "create or replace temp table raw_rejects (_src VARCHAR, line BIGINT, "
        "error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR)"
    )
    groups: dict[tuple, list[FileRead]] = defaultdict(list)
    for fr in reads:
        if fr.error is not None:
            continue
        try:
            _inspect(con, fr, tmp)
        except FileError as exc:
            fr.error = clean_error(exc)
        except (duckdb.Error, OSError) as exc:
            fr.error = clean_error(exc)
        else:
            groups[_group_key(fr)].append(fr)
    for members in groups.values():
        try:
            _read(con, source, members)
        except duckdb.Error as exc:
            if len(members) == 1:
                members[0].error = clean_error(exc)
                continue
            for m in members:  # isolate the broken file(s)
                try:
                    _read(con, source, [m])
                except duckdb.Error as exc1:
                    m.error = clean_error(exc1)
    for fr in reads:
        if fr.error is not None:
            fr.dropped = []  # nothing of a file that did not load is kept, not even its header
    good = [fr for fr in reads if fr.error is None]
    fill_temp(
        con,
        "raw_files",
        (("_src", "VARCHAR"), ("_dt", "DATE"), ("_file", "VARCHAR"), ("_header", "INTEGER")),
        [
            (fr.read_path, fr.file.dt, fr.file.path, int(fr.file.format in ("csv", "csv.gz")))
            for fr in good
        ],
    )
    # Inserts keep the files' row order (preserve_insertion_order), so a file's rows are one
    # contiguous, ordered run of rowids: the 1-based row number is the offset within that run.
    con.execute(
        """create or replace temp table raw_first as
        select m._src, m._dt, m._file, min(r.rowid) as _first
        from raw_read as r join raw_files as m on m._src = r._src
        group by all"""
    )
    # Skipped lines, one per line, numbered like rows (CSV: the header line is not a row).
    # `_d` = how many rows were read before the i-th skipped line: a row read as the k-th one
    # is row k + (number of skipped lines with _d < k) of its file.
    con.execute(
        """create or replace temp table raw_skipped as
        select m._dt, m._file, x._src, x.line - m._header as _row,
            x.error_type, x.csv_line, x.error_message,
            x.line - m._header - row_number() over (partition by x._src order by x.line) as _d,
            row_number() over (partition by x._src order by x.line) as _i
        from (
            select _src, line, arg_min(error_type, error_type) as error_type,
                arg_min(csv_line, error_type) as csv_line,
                arg_min(error_message, error_type) as error_message
            from raw_rejects group by _src, line
        ) as x
        join raw_files as m on m._src = x._src"""
    )
    fields = ", ".join(f"r.{q(f)}" for f in SOURCES[source].field_names)
    ordinal = "r.rowid - m._first + 1"
    if con.execute("select count(*) from raw_skipped").fetchone()[0]:
        row = f"{ordinal} + coalesce(a._i, 0)"
        skip_join = f"asof left join raw_skipped as a on a._src = r._src and {ordinal} > a._d"
    else:
        row, skip_join = ordinal, ""
    con.execute(
        f"""create or replace temp view raw_all as
        select {fields}, m._dt, m._file, {row} as _row, r._bad, r._text
        from raw_read as r join raw_first as m on m._src = r._src
        {skip_join}"""
    )
    con.execute(
        f"""create or replace temp view raw as
        select {", ".join(q(f) for f in SOURCES[source].field_names)}, _dt, _file, _row
        from raw_all where _bad is null"""
    )
    reason = (
        "case "
        + " ".join(
            f"when s.error_type = {lit(t)} then {lit(code)}" for t, code in REJECT_REASONS.items()
        )
        + " else 'malformed_row' end"
    )
    described = (
        "case "
        + " ".join(
            f"when s.error_type = {lit(t)} then {lit(REASON_CODES[code])}"
            for t, code in REJECT_REASONS.items()
        )
        + f" else {lit(REASON_CODES['malformed_row'])} end"
    )
    con.execute(
        f"""create or replace temp table raw_bad as
        select _dt, _file, _row, 'bad_json' as reason_code,
            case when _bad = 'key_twice'
                then 'a JSON object names one contract field twice (ambiguous)'
                else {lit(REASON_CODES["bad_json"])} end as message,
            _text as raw_row
        from raw_all where _bad in ('bad_json', 'key_twice')
        union all by name
        select s._dt, s._file, s._row, {reason} as reason_code,
            {described} || ' (' || {mask_sql("left(s.error_message, 200)")} || ')' as message,
            left({mask_sql("s.csv_line")}, {RAW_TEXT_CHARS}) as raw_row
        from raw_skipped as s"""
    )


def drop_raw(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("drop view if exists raw")
    con.execute("drop view if exists raw_all")
    con.execute("drop table if exists raw_bad")
    con.execute("drop table if exists raw_skipped")
    con.execute("drop table if exists raw_rejects")
    con.execute("drop table if exists ingest_rejects")
    con.execute("drop table if exists ingest_rejects_scan")
    con.execute("drop table if exists raw_first")
    con.execute("drop table if exists raw_files")
    con.execute("drop table if exists raw_read")


TMP_DIR_NAME = ".ingest-tmp"


def temp_dir(base: Path | None = None) -> tempfile.TemporaryDirectory:
    """A temporary folder for one staging call, under `base` when given."""
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix="nudgescope-ingest-", dir=base)


def remove_leftovers(base: Path) -> list[str]:
    """Remove what killed runs left in `base` (call it only while holding the warehouse, so
    no other run can be using it); returns the names removed."""
    removed = []
    if not base.is_dir():
        return removed
    for p in sorted(base.iterdir()):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed
