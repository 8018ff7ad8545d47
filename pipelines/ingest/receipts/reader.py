"""Read gateway receipt files into the temporary view `raw` (the normalised fields as text).

Every file is recognised on its own, from its field names (and envelope), never from its name:
DuckDB lists the keys of the file's JSON documents (or Python reads the CSV header), and
`formats.recognise` picks the format. The records are then pulled out of their envelope and
their fields mapped, in one set-based statement per file. Phone fields are never selected.
A file in no known format, or one DuckDB cannot parse, gets `error` and contributes no row.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pipelines.contract import PHONE_COLUMNS
from pipelines.ingest.files import transcode_to_utf8
from pipelines.ingest.readers import CSV_OPTIONS, FileError, FileRead, clean_error, csv_header
from pipelines.ingest.receipts.formats import FORMAT_NAMES, RAW_FIELDS, ReceiptFormat, recognise
from pipelines.ingest.validate import lit, q

_RAW_TABLE = (
    "create or replace temp table raw_read ("
    + ", ".join(f"{q(f)} VARCHAR" for f in RAW_FIELDS)
    + ", _dt DATE, _file VARCHAR, _row BIGINT)"
)
MAX_KEYS_SHOWN = 8


def read_files(con: duckdb.DuckDBPyConnection, reads: list[FileRead], tmp: Path) -> dict[str, str]:
    """Fill temp table `raw_read` and view `raw` from `reads`; returns path -> format name of
    every file that was read. Sets fr.error (and fr.dropped) per file."""
    con.execute(_RAW_TABLE)
    found: dict[str, str] = {}
    for fr in reads:
        try:
            fmt = _read_one(con, fr, tmp)
        except (FileError, duckdb.Error) as exc:
            fr.error = clean_error(exc)
            con.execute("delete from raw_read where _file = $f", {"f": fr.file.path})
        else:
            found[fr.file.path] = fmt.name
        finally:
            for t in ("rc_docs", "rc_recs", "rc_elems", "rc_csv"):
                con.execute(f"drop table if exists {t}")
    con.execute("create or replace temp view raw as select * from raw_read")
    return found


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
    if f.format not in ("json", "jsonl"):
        raise FileError(f"receipts come as json, jsonl, csv or csv.gz, not {f.format}")
    fr.read_path = str(f.abspath)
    layout = "newline_delimited" if f.format == "jsonl" else "unstructured"
    con.execute(
        "create or replace temp table rc_docs as "
        "select row_number() over () as top, json as doc "
        "from read_json_objects($p, format = $layout, hive_partitioning = false)",
        {"p": fr.read_path, "layout": layout},
    )
    # records at the top level: each object document, or each element of an array document.
    # Elements come out of a list (json_extract with [*]), not json_each: json_each carries the
    # whole document along with every element, which for one document of thousands of
    # receipts (an API response of several MB) grows quadratically and runs out of memory.
    con.execute(
        """create or replace temp table rc_recs as
        select top, 0::bigint as idx, doc as rec from rc_docs where json_type(doc) = 'OBJECT'
        union all
        select top, unnest(range(len(elems)))::bigint as idx, unnest(elems) as rec
        from (
            select top, json_extract(doc, '$[*]') as elems
            from rc_docs
            where json_type(doc) = 'ARRAY'
        )"""
    )
    keys = {
        r[0]
        for r in con.execute(
            "select distinct unnest(json_keys(rec)) from rc_recs where json_type(rec) = 'OBJECT'"
        ).fetchall()
    }
    fmt = recognise("json", keys)
    if fmt is None:
        raise _no_format(keys)
    if fmt.envelope:
        _check_envelope(con, fmt)
        con.execute(
            f"""create or replace temp table rc_elems as
            select top, idx, unnest(range(len(elems)))::bigint as sub, unnest(elems) as rec
            from (
                select top, idx, json_extract(rec, {lit(fmt.envelope + "[*]")}) as elems
                from rc_recs
            )"""
        )
        inner = {
            r[0]
            for r in con.execute(
                "select distinct unnest(json_keys(rec)) from rc_elems "
                "where json_type(rec) = 'OBJECT'"
            ).fetchall()
        }
        fr.dropped = sorted(keys - fmt.envelope_keys - {"Code", "Message", "RequestId"})
        fr.dropped += sorted(inner - {name for _, name in fmt.fields})
    else:
        con.execute(
            "create or replace temp table rc_elems as select top, idx, 0::bigint as sub, rec "
            "from rc_recs"
        )
        fr.dropped = sorted(keys - {name for _, name in fmt.fields})
    mapping = dict(fmt.fields)
    exprs = []
    for field in RAW_FIELDS:
        if field == "provider":
            exprs.append(lit(fmt.provider))
        elif field == "receipt_format":
            exprs.append(lit(fmt.name))
        elif field in mapping:
            exprs.append(f"(rec ->> {lit(mapping[field])})")
        else:
            exprs.append("NULL")
    con.execute(
        f"""insert into raw_read
        select {", ".join(exprs)}, $dt, $file, row_number() over (order by top, idx, sub)
        from rc_elems""",
        {"dt": f.dt, "file": f.path},
    )
    return fmt


def _check_envelope(con: duckdb.DuckDBPyConnection, fmt: ReceiptFormat) -> None:
    """An API response that reports an error (Aliyun `Code` other than OK, a Tencent
    `Response.Error`) carries no receipts: the file fails with the provider's message."""
    if fmt.name == "aliyun_query_send_details":
        bad = con.execute(
            "select rec ->> 'Code', rec ->> 'Message' from rc_recs "
            "where coalesce(rec ->> 'Code', 'OK') <> 'OK' limit 1"
        ).fetchone()
    elif fmt.name == "tencent_pull_status":
        bad = con.execute(
            "select json_extract_string(rec, '$.Response.Error.Code'), "
            "json_extract_string(rec, '$.Response.Error.Message') from rc_recs "
            "where json_extract(rec, '$.Response.Error') is not null limit 1"
        ).fetchone()
    else:
        bad = None
    if bad:
        raise FileError(f"the gateway's response is an error: {bad[0]}: {bad[1]}")


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
    for i, name in enumerate(lowered):
        if name in wanted and name not in PHONE_COLUMNS and name not in position:
            position[name] = f"c{i}"
    fr.dropped = [n.strip() for n, low in zip(names, lowered, strict=True) if low not in position]
    layout = ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(names)))
    # only the mapped columns are kept: the recipient (`To`) never reaches a table
    kept = ", ".join(sorted(set(position.values())))
    con.execute(
        f"create or replace temp table rc_csv as select {kept} "
        f"from read_csv($p, {CSV_OPTIONS}, columns = {{{layout}}})",
        {"p": fr.read_path},
    )
    mapping = dict(fmt.fields)
    exprs = []
    for field in RAW_FIELDS:
        if field == "provider":
            exprs.append(lit(fmt.provider))
        elif field == "receipt_format":
            exprs.append(lit(fmt.name))
        elif field in mapping and mapping[field] in position:
            exprs.append(q(position[mapping[field]]))
        else:
            exprs.append("NULL")
    con.execute(
        f"""insert into raw_read
        select {", ".join(exprs)}, $dt, $file, rowid + 1
        from rc_csv""",
        {"dt": f.dt, "file": f.path},
    )
    return fmt
