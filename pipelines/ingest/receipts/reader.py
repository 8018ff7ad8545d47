"""Read gateway receipt files into the temporary view `raw` (the normalised fields as text).

Every file is recognised on its own, from its field names (and envelope), never from its name:
DuckDB lists the keys of the file's JSON documents (or Python reads the CSV header), and
`formats.recognise` picks the format. The records are then pulled out of their envelope and
their fields mapped. Phone fields are never selected. A file in no known format, or one DuckDB
cannot parse, gets `error` and contributes no row.

JSON files are read in chunks of many files, each step one set-based statement per chunk (not
per file), and every record is parsed as few times as possible: DuckDB's JSON values are text,
so each JSON function call parses its argument again. A record's mapped fields are taken with
one `json_extract_string(rec, [paths])` (one parse) rather than one `->>` per field. When any
statement of a chunk fails, its files are read again one by one, so that only the broken file
fails, with the error it gives on its own. Which row came from where is in `_file` and `_row`
(a file's records in order); the table itself holds them in no particular order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipelines.contract import PHONE_COLUMNS
from pipelines.ingest.files import transcode_to_utf8
from pipelines.ingest.readers import (
    CSV_OPTIONS,
    GLOB_CHARS,
    FileError,
    FileRead,
    clean_error,
    csv_header,
)
from pipelines.ingest.receipts.formats import (
    FORMAT_NAMES,
    FORMATS,
    RAW_FIELDS,
    ReceiptFormat,
    recognise,
)
from pipelines.ingest.validate import lit, q
from pipelines.ingest.warehouse import fill_temp

_RAW_COLUMNS = ", ".join(f"{q(f)} VARCHAR" for f in RAW_FIELDS)
_RAW_TABLE = (
    f"create or replace temp table raw_read ({_RAW_COLUMNS}, _dt DATE, _file VARCHAR, _row BIGINT)"
)
MAX_KEYS_SHOWN = 8
# JSON files read together: bounded so that the chunk's documents stay within memory (a
# staging batch, pipelines.ingest.stage, holds at most 512 MB anyway). Each chunk is a round of
# temp tables filled and dropped, and that churn costs: reading the 1.1 GB of receipts at
# scale m took 22.5 CPU-s (1.07 GB RSS) in 96 MB chunks, 17.8 (2.2 GB) in 256 MB ones.
CHUNK_BYTES = 256 << 20
CHUNK_FILES = 400
_LAYOUT = {"json": "unstructured", "jsonl": "newline_delimited"}
_TEMP_TABLES = ("rc_recs", "rc_elems", "rc_files", "rc_csv")


def read_files(con: duckdb.DuckDBPyConnection, reads: list[FileRead], tmp: Path) -> dict[str, str]:
    """Fill temp table `raw_read` and view `raw` from `reads`; returns path -> format name of
    every file that was read. Sets fr.error (and fr.dropped) per file."""
    con.execute(_RAW_TABLE)
    found: dict[str, str] = {}
    chunk: list[FileRead] = []
    size = 0
    try:
        for fr in reads:
            if not _chunkable(fr):
                _read_single(con, fr, tmp, found)
                continue
            chunk.append(fr)
            size += fr.file.size
            if size >= CHUNK_BYTES or len(chunk) >= CHUNK_FILES:
                _read_chunk_or_each(con, chunk, tmp, found)
                chunk, size = [], 0
        if chunk:
            _read_chunk_or_each(con, chunk, tmp, found)
    finally:
        _drop_temp(con)
    con.execute("create or replace temp view raw as select * from raw_read")
    return found


def _drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    for t in _TEMP_TABLES:
        con.execute(f"drop table if exists {t}")


def _chunkable(fr: FileRead) -> bool:
    """A JSON file read together with others (anything else, a file whose reading already
    failed included, goes through `_read_one` on its own)."""
    f = fr.file
    return (
        fr.error is None
        and f.size > 0
        and f.format in _LAYOUT
        and not GLOB_CHARS.intersection(str(f.abspath))
    )


def _read_single(
    con: duckdb.DuckDBPyConnection, fr: FileRead, tmp: Path, found: dict[str, str]
) -> None:
    try:
        fmt = _read_one(con, fr, tmp)
    except (FileError, duckdb.Error) as exc:
        fr.error = clean_error(exc)
        con.execute("delete from raw_read where _file = $f", {"f": fr.file.path})
    else:
        found[fr.file.path] = fmt.name
    finally:
        _drop_temp(con)


def _no_format(keys: set[str]) -> FileError:
    shown = ", ".join(sorted(keys)[:MAX_KEYS_SHOWN]) or "none"
    return FileError(
        f"not a known gateway receipt format (expected one of {', '.join(FORMAT_NAMES)}; "
        f"fields found: {shown})"
    )


def _read_one(con: duckdb.DuckDBPyConnection, fr: FileRead, tmp: Path) -> ReceiptFormat:
    f = fr.file
    if f.size == 0:
        raise FileError("empty file")
    if f.format in ("csv", "csv.gz"):
        return _read_csv(con, fr, tmp)
    if f.format not in _LAYOUT:
        raise FileError(f"receipts come as json, jsonl, csv or csv.gz, not {f.format}")
    out = _read_json(con, [fr])[fr.file.path]
    if out.error:
        raise FileError(out.error)
    fr.read_path = str(f.abspath)
    fr.dropped = out.dropped
    assert out.fmt is not None
    return out.fmt


class _Retry(Exception):
    """The chunk cannot be read together: read its files one by one."""


@dataclass
class _Outcome:
    """What reading one JSON file of a chunk gave."""

    fmt: ReceiptFormat | None = None
    dropped: list[str] = field(default_factory=list)
    error: str | None = None


def _read_chunk_or_each(
    con: duckdb.DuckDBPyConnection,
    chunk: list[FileRead],
    tmp: Path,
    found: dict[str, str],
) -> None:
    """Read `chunk` (JSON files) together; when DuckDB fails on it, file by file."""
    try:
        outcomes = _read_json(con, chunk)
    except (duckdb.Error, _Retry):
        _drop_temp(con)
        for fr in chunk:
            _read_single(con, fr, tmp, found)
        return
    finally:
        _drop_temp(con)
    for fr in chunk:
        out = outcomes[fr.file.path]
        fr.read_path = str(fr.file.abspath)
        if out.error:
            fr.error = clean_error(out.error)
            continue
        assert out.fmt is not None
        fr.dropped = out.dropped
        found[fr.file.path] = out.fmt.name


def _keys(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, set[str]]:
    """The distinct keys of the object records of `table`, per file (json_keys gives [] for
    anything that is not an object)."""
    rows = con.execute(
        f"select _src, list(distinct k) from (select _src, unnest(json_keys(rec)) as k "
        f"from {table}) group by _src"
    ).fetchall()
    return {src: set(keys) for src, keys in rows}


def _read_json(con: duckdb.DuckDBPyConnection, chunk: list[FileRead]) -> dict[str, _Outcome]:
    """Read the JSON files of `chunk` into raw_read (one insert, so all or nothing); returns
    per file path what came of it. Raises duckdb.Error when a statement fails."""
    by_src = {str(fr.file.abspath): fr for fr in chunk}
    single = chunk[0] if len(chunk) == 1 else None
    # The records at the top level: each object document, or each element of an array
    # document (`kind` 0 and 1); any other document holds none. Documents are numbered in
    # reading order (a file's documents are read in order). Elements come out of a list
    # (json_extract with [*]), not json_each: json_each carries the whole document along with
    # every element, which for one document of thousands of receipts (an API response of
    # several MB) grows quadratically and runs out of memory.
    con.execute(
        "create or replace temp table rc_recs "
        "(_src VARCHAR, kind INTEGER, top BIGINT, idx BIGINT, rec JSON)"
    )
    for fmt_name, layout in _LAYOUT.items():
        paths = [src for src, fr in by_src.items() if fr.file.format == fmt_name]
        if not paths:
            continue
        # one file alone is read by its own path, and whatever that gives is that file's
        src = "$s" if single is not None else "filename"
        con.execute(
            f"""insert into rc_recs
            select _src, kind, top, unnest(range(len(elems)))::bigint, unnest(elems)
            from (
                select _src, top, (t = 'ARRAY')::integer as kind,
                    case when t = 'OBJECT' then [doc]
                        when t = 'ARRAY' then json_extract(doc, '$[*]')
                        else []::json[] end as elems
                from (
                    select {src} as _src, row_number() over () as top,
                        json_type(json) as t, json as doc
                    from read_json_objects($p, format = $layout, filename = true,
                        hive_partitioning = false)
                )
            )""",
            {"p": paths if single is None else paths[0], "layout": layout}
            | ({"s": paths[0]} if single is not None else {}),
        )
    if single is None:
        stray = con.execute(
            "select distinct _src from rc_recs where _src not in (select unnest($p::varchar[]))",
            {"p": list(by_src)},
        ).fetchall()
        if stray:  # DuckDB named a file otherwise than it was given: read them one by one
            raise _Retry(f"unexpected file name {stray[0][0]!r}")
    keys = _keys(con, "rc_recs")
    outcomes: dict[str, _Outcome] = {}
    for src, fr in by_src.items():
        k = keys.get(src, set())
        fmt = recognise("json", k)
        if fmt is None:
            outcomes[fr.file.path] = _Outcome(error=str(_no_format(k)))
        else:
            outcomes[fr.file.path] = _Outcome(fmt=fmt)
    _check_envelopes(con, by_src, outcomes)

    def files_of(fmt: ReceiptFormat) -> list[str]:
        return [s for s, fr in by_src.items() if outcomes[fr.file.path].fmt is fmt]

    con.execute(
        "create or replace temp table rc_elems "
        "(_src VARCHAR, top BIGINT, idx BIGINT, sub BIGINT, rec JSON)"
    )
    enveloped = [fmt for fmt in FORMATS if fmt.envelope and files_of(fmt)]
    for fmt in enveloped:
        con.execute(
            f"""insert into rc_elems
            select _src, top, idx, unnest(range(len(elems)))::bigint as sub,
                unnest(elems) as rec
            from (
                select _src, top, idx, json_extract(rec, {lit(fmt.envelope + "[*]")}) as elems
                from rc_recs
                where _src in (select unnest($srcs::varchar[]))
            )""",
            {"srcs": files_of(fmt)},
        )
    inner = _keys(con, "rc_elems") if enveloped else {}
    for src, fr in by_src.items():
        out = outcomes[fr.file.path]
        if out.fmt is None:
            continue
        fields = {name for _, name in out.fmt.fields}
        k = keys.get(src, set())
        if out.fmt.envelope:
            out.dropped = sorted(k - out.fmt.envelope_keys - {"Code", "Message", "RequestId"})
            out.dropped += sorted(inner.get(src, set()) - fields)
        else:
            out.dropped = sorted(k - fields)

    ok = [
        (src, fr.file.dt, fr.file.path)
        for src, fr in by_src.items()
        if outcomes[fr.file.path].fmt is not None
    ]
    fill_temp(con, "rc_files", (("_src", "VARCHAR"), ("_dt", "DATE"), ("_file", "VARCHAR")), ok)
    parts = []
    for fmt in FORMATS:
        srcs = files_of(fmt)
        if fmt.kind != "json" or not srcs:
            continue
        parts.append(_extract_sql(fmt, "rc_elems" if fmt.envelope else "rc_recs", srcs))
    if parts:
        select = "\nunion all\n".join(parts)
        cols = ", ".join(q(f) for f in RAW_FIELDS)
        con.execute(
            f"""insert into raw_read
            select {cols}, m._dt, m._file, x._row
            from ({select}) as x
            join rc_files as m using (_src)"""
        )
    return outcomes


def _extract_sql(fmt: ReceiptFormat, table: str, srcs: list[str]) -> str:
    """The normalised fields of the records of `srcs` (files in format `fmt`) in `table`."""
    mapping = dict(fmt.fields)
    names = list(dict.fromkeys(mapping.values()))
    exprs = []
    for name in RAW_FIELDS:
        if name == "provider":
            value = lit(fmt.provider)
        elif name == "receipt_format":
            value = lit(fmt.name)
        elif name in mapping:
            value = f"v[{names.index(mapping[name]) + 1}]"
        else:
            value = "NULL"
        exprs.append(f"{value} as {q(name)}")
    paths = "[" + ", ".join(lit(n) for n in names) + "]"
    in_srcs = "_src in (select unnest([" + ", ".join(lit(s) for s in srcs) + "]::varchar[]))"
    # A file's records are one run of rowids in (top, idx, sub) order: both tables are filled
    # by order-preserving inserts (preserve_insertion_order) from documents read in order,
    # each record unnested in place. So the record number is the offset in that run (as for
    # CSV files in pipelines.ingest.readers), not a row_number() window, whose sort cost
    # about half of this statement (3-4 CPU-s for the 5.4 M receipts at scale m).
    return f"""select _src, t._rid - f._first + 1 as _row, {", ".join(exprs)}
        from (
            select _src, rowid as _rid, json_extract_string(rec, {paths}) as v
            from {table}
            where {in_srcs}
        ) as t
        join (
            select _src, min(rowid) as _first from {table} where {in_srcs} group by _src
        ) as f using (_src)"""


def _check_envelopes(
    con: duckdb.DuckDBPyConnection,
    by_src: dict[str, FileRead],
    outcomes: dict[str, _Outcome],
) -> None:
    """An API response that reports an error (Aliyun `Code` other than OK, a Tencent
    `Response.Error`) carries no receipts: the file fails with the provider's message (of its
    first such record)."""
    checks = {
        "aliyun_query_send_details": (
            "rec ->> 'Code', rec ->> 'Message'",
            "coalesce(rec ->> 'Code', 'OK') <> 'OK'",
        ),
        "tencent_pull_status": (
            "json_extract_string(rec, '$.Response.Error.Code'), "
            "json_extract_string(rec, '$.Response.Error.Message')",
            "json_extract(rec, '$.Response.Error') is not null",
        ),
    }
    for name, (values, cond) in checks.items():
        srcs = [
            s
            for s, fr in by_src.items()
            if (fmt := outcomes[fr.file.path].fmt) is not None and fmt.name == name
        ]
        if not srcs:
            continue
        rows = con.execute(
            f"""select _src, {values} from rc_recs
            where _src in (select unnest($srcs::varchar[])) and {cond}
            qualify row_number() over (partition by _src order by kind, top, idx) = 1""",
            {"srcs": srcs},
        ).fetchall()
        for src, code, message in rows:
            path = by_src[src].file.path
            outcomes[path] = _Outcome(
                error=f"the gateway's response is an error: {code}: {message}"
            )


def _read_csv(con: duckdb.DuckDBPyConnection, fr: FileRead, tmp: Path) -> ReceiptFormat:
    f = fr.file
    gz = f.format == "csv.gz"
    if fr.encoding is None:
        raise FileError("text is neither UTF-8 nor GB18030 (binary or corrupt file)")
    names = csv_header(f.abspath, fr.encoding, gz=gz)
    lowered = [n.strip().lower() for n in names]
    fmt = recognise("csv", set(lowered))
    if fmt is None:
        raise _no_format(set(n.strip() for n in names))
    fr.read_path = str(f.abspath)
    if fr.encoding == "gb18030":
        out = tmp / (re.sub(r"[^A-Za-z0-9_.-]", "_", f.path) + ".utf8.csv")
        transcode_to_utf8(f.abspath, out, "gb18030", gz=gz)
        fr.read_path = str(out)
    wanted = {name for _, name in fmt.fields}
    position = {}
    for j, name in enumerate(lowered):
        if name in wanted and name not in PHONE_COLUMNS and name not in position:
            position[name] = f"c{j}"
    fr.dropped = [n.strip() for n, low in zip(names, lowered, strict=True) if low not in position]
    layout = ", ".join(f"'c{j}': 'VARCHAR'" for j in range(len(names)))
    # only the mapped columns are kept: the recipient (`To`) never reaches a table
    kept = ", ".join(sorted(set(position.values())))
    con.execute(
        f"create or replace temp table rc_csv as select {kept} "
        f"from read_csv($p, {CSV_OPTIONS}, columns = {{{layout}}})",
        {"p": fr.read_path},
    )
    mapping = dict(fmt.fields)
    exprs = []
    for name in RAW_FIELDS:
        if name == "provider":
            exprs.append(lit(fmt.provider))
        elif name == "receipt_format":
            exprs.append(lit(fmt.name))
        elif name in mapping and mapping[name] in position:
            exprs.append(q(position[mapping[name]]))
        else:
            exprs.append("NULL")
    con.execute(
        f"""insert into raw_read
        select {", ".join(exprs)}, $dt, $file, rowid + 1
        from rc_csv""",
        {"dt": f.dt, "file": f.path},
    )
    return fmt
