"""Segments: the large published tables as immutable database files, one per slice of dates.

The message-level tables hold nearly all of the published rows, and a new day changes only a
small part of them (mostly its own month). Rewriting all of them into a fresh `serve.duckdb` on
every publish cost most of an incremental run. So each of them is published in slices of dates:

- A *segment* is one DuckDB file holding, for one slice of dates of the table's date column
  (`_dt` for the core tables, `local_date` for the flags), that slice's rows of every table in
  `SEGMENTED`, as `segment."<schema>__<table>"`. A slice is a calendar month, except in the
  latest month of the data, which is cut into thirds (days 1-10, 11-20, 21-end), and in the
  latest third, where each day is a slice of its own (`slice_key`). So a new day writes its
  own day, and, on the day that starts a third, the third that ended once as one file: about
  two days of rows on average, where rewriting the whole latest third cost five and a half
  (up to ten). A third that ends is written as one file by the run whose data starts the next
  one; at most ten day files and three thirds of the latest month are listed at a time (each
  attach costs a reader a few milliseconds). A month that ends stays in thirds (a
  data run never rewrites a whole month only to merge its thirds: that cost the first day of
  every month about a third of a normal day more) until a compaction, a publish run for that
  alone (the job `compact_segments`: `nudgescope compact`, or `compact_schedule` at night),
  writes its thirds once more as one month file; a month published whole stays whole. Its
  name carries a fingerprint of its content (row counts, an order-independent hash of every
  row, and the columns with their types), so a file with that name is that content: it is
  written once, under a temporary name, fsynced and renamed, and never opened for writing
  again. It holds no deleted rows and no freed blocks (`write_once`).
- A publish fingerprints every date of the tables (rows and a sum of row hashes), but hashes
  again only the dates that the change log names (the writers of these tables note the dates
  they touch) or whose row count moved; the other dates' figures are saved from the previous
  publish (`pipelines.ingest.changes`). It writes only the segments whose name does not exist
  yet, and lists the segments in `main.segments` of the small
  `serve.duckdb`, where each large table is a view: the `union all` of its slices.
- Readers open `serve.duckdb` and attach the listed segments read-only under the listed
  aliases before anything else (`attach`); the views then resolve.
- Files named by neither the new list nor the previous one are removed after the new
  `serve.duckdb` is in place: a reader that opened the previous file a moment before the swap
  still finds its segments; one that already attached them keeps them open after the unlink.

A killed publish leaves at most a stray temporary file (removed by the next publish) or a
complete segment that no list names yet (reused by the next publish if its content is the same,
removed otherwise).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.ingest import changes
from pipelines.ingest.validate import lit, q
from pipelines.ingest.warehouse import any_row_order, create_declared, setting

# The published tables kept as segments: the date column that picks a row's slice, and the
# order a segment holds the rows in (None: as the warehouse has them). The two tables the
# complaints drill-down reads by one user and a time window are sorted so, so that zone maps
# skip all but a row group or two of a slice. Bills and repayments are smaller, but a day
# adds to them as to the large ones, and their copy was a fifth of a day's publish (0.5 of
# 2.3 CPU-s at m): as segments, a day rewrites the rows of its slice only. So are the marts
# that a build replaces by local date (pipelines.marts.build.DATED_TABLES) and whose whole copy
# cost a day's publish 0.07-0.31 CPU-s each at m (the smaller ones stay plain tables).
SEGMENTED: dict[tuple[str, str], tuple[str, str | None]] = {
    ("core", "bills"): ("_dt", None),
    ("core", "checkout_sessions"): ("_dt", None),
    ("core", "orders"): ("_dt", None),
    ("core", "repayments"): ("_dt", None),
    ("core", "sms_logs"): ("_dt", "user_id, sent_at, message_id"),
    ("core", "sms_messages"): ("_dt", None),
    ("core", "sms_receipt_matches"): ("_dt", None),
    ("core", "sms_receipts"): ("_dt", None),
    ("mart", "sms_message_flags"): ("local_date", "user_id, sent_at, message_id"),
    ("mart", "bnpl_orders"): ("local_date", None),
    ("mart", "policy_cap_histogram"): ("local_date", None),
    ("mart", "sms_daily_delivery"): ("local_date", None),
    ("mart", "sms_daily_flags"): ("local_date", None),
    ("mart", "sms_never_sent"): ("local_date", None),
}
# The published tables whose old rows a day revises: a repayment today changes the row of a
# bill of any month in `mart.bill_state` and `mart.user_cycle`, and an incident's messages are
# added while it lasts. Sliced by the dates above, a month's file holds the slice of every large
# table (about 1 GB a month at half of scale l), so a day would rewrite most of the history. So
# these tables are segments of their own: one file per month of the SQL expression given (every
# month whole, the latest one too), holding that month's rows of these tables and nothing else.
# A day rewrites the months whose rows it changed (three of thirteen at half of l), where a
# plain table in `serve.duckdb` was copied whole by every publish (135.5 of a day's 158 MB at
# half of l). The marketing sent without permission (messages by local date, 6 MB at half of l)
# joins them: the day's month of it is small, and a change of SEGMENTED's list would rename,
# and so rewrite, every dated segment once. A publish hashes every row of these tables (about
# 1 CPU-s at half of l), so their writers need not note dates in the change log.
# (schema, table) -> (the month's SQL expression, the order of the rows in a file or None)
HISTORY: dict[tuple[str, str], tuple[str, str | None]] = {
    ("alerts", "incident_messages"): (
        "cast(timezone('UTC', sent_at) as date)",
        "incident_id, message_id",
    ),
    ("mart", "bill_state"): ("statement_date", None),
    ("mart", "sms_non_permitted"): ("local_date", None),
    ("mart", "user_cycle"): ("statement_date", None),
}
HISTORY_GROUP = "history"  # the file name's prefix and the listed slice's: history-2025-03-...
SEGMENT_SCHEMA = "segment"  # inside a segment file; no reader filters on it by accident
LIST_TABLE = "segments"  # main.segments of serve.duckdb: alias, file, slice, rows
FORMAT = "1"  # part of every fingerprint: a change of the layout renames every segment
TMP_SUFFIX = ".writing"
NO_DATE = "none"  # the slice of rows whose date column is null


Tables = list[tuple[str, str, str]]  # present(): (schema, table, date column)


class SegmentError(Exception):
    """A published database whose segments cannot be attached (a file missing or unreadable)."""


@dataclass(frozen=True)
class Segment:
    # YYYY-MM (a month), YYYY-MM-1|2|3 (a third of the latest month, or of a month that ended
    # until a compaction), YYYY-MM-DD (a day of the latest third), or NO_DATE; in the HISTORY
    # group always a month (or NO_DATE)
    key: str
    fingerprint: str
    rows: int
    group: str = ""  # "" for the tables of SEGMENTED, HISTORY_GROUP for those of HISTORY

    @property
    def file(self) -> str:
        prefix = f"{self.group}-" if self.group else ""
        return f"{prefix}{self.key}-{self.fingerprint}.duckdb"

    @property
    def alias(self) -> str:
        prefix = self.group[:1]
        return f"seg_{prefix}{self.key.replace('-', '')}_{self.fingerprint[:12]}"

    @property
    def listed_slice(self) -> str:
        """The slice as `main.segments` lists it: the key, after `<group>:` in a group."""
        return f"{self.group}:{self.key}" if self.group else self.key


def date_slices(listed_slices: list[str]) -> list[str]:
    """Of the slices `main.segments` lists, those of the SEGMENTED tables (the ones cut into
    months, thirds and days), without the HISTORY group's."""
    return [k for k in listed_slices if ":" not in k]


def attach_sql(path: Path, alias: str) -> str:
    """The statement that attaches one segment file read-only under its alias."""
    return f"attach if not exists {lit(str(path))} as {q(alias)} (read_only)"


def attach_script(serve: Path) -> Path:
    """The SQL script that attaches the segments of `serve` in any DuckDB client
    (`duckdb -readonly -init data/serve.attach.sql data/serve.duckdb`)."""
    serve = Path(serve)
    return serve.parent / f"{serve.stem}.attach.sql"


def write_attach_script(serve: Path, segments: list[Segment]) -> Path:
    """Write (atomically) the ATTACH statements of the listed segments, with absolute paths."""
    folder = segments_dir(serve).resolve()
    lines = [
        "-- Attaches the segments of the published database next to this file, so that its",
        "-- large tables (views over them) can be read in any DuckDB client, e.g.",
        f"--   duckdb -readonly -init {attach_script(serve).name} {Path(serve).name}",
        "-- Written by every publish; do not edit.",
        *(f"{attach_sql(folder / seg.file, seg.alias)};" for seg in segments),
    ]
    target = attach_script(serve)
    tmp = target.parent / f".{target.name}.{os.getpid()}{TMP_SUFFIX}"
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def segments_dir(serve: Path) -> Path:
    """Where the segments of the published database `serve` live (next to it, by its name)."""
    serve = Path(serve)
    return serve.parent / f"{serve.stem}.segments"


def inner_name(schema: str, table: str) -> str:
    return f"{SEGMENT_SCHEMA}.{q(f'{schema}__{table}')}"


def present(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    specs: dict[tuple[str, str], tuple[str, str | None]] = SEGMENTED,
) -> Tables:
    """The tables of `specs` (SEGMENTED, or HISTORY) that exist in `catalog`: (schema, table,
    date column, or HISTORY's month expression)."""
    have = set(
        con.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where database_name = $c and not temporary",
            {"c": catalog},
        ).fetchall()
    )
    return [(s, t, col) for (s, t), (col, _) in sorted(specs.items()) if (s, t) in have]


def _columns(con: duckdb.DuckDBPyConnection, catalog: str, schema: str, table: str) -> str:
    return con.execute(
        "select string_agg(column_name || ' ' || data_type, ', ' order by column_index) "
        "from duckdb_columns() where database_name = $c and schema_name = $s "
        "and table_name = $t",
        {"c": catalog, "s": schema, "t": table},
    ).fetchone()[0]


def third_of(d: date) -> str:
    """The third of its month that date `d` falls in: YYYY-MM-1 (days 1-10), YYYY-MM-2 (11-20)
    or YYYY-MM-3 (21 to the end)."""
    return f"{d.isoformat()[:7]}-{min((d.day - 1) // 10, 2) + 1}"


def slice_key(d: date | None, latest: date | None, split: frozenset[str] = frozenset()) -> str:
    """The slice of a row whose date is `d`, given the latest date of the data `latest`: its
    month (YYYY-MM), but a third of the month (YYYY-MM-1|2|3) in the latest month and in the
    months of `split`, and its own day (YYYY-MM-DD) in the latest third; NO_DATE without a
    date."""
    if d is None:
        return NO_DATE
    month = d.isoformat()[:7]
    if latest is not None and month < latest.isoformat()[:7] and month not in split:
        return month
    third = third_of(d)
    if latest is not None and third == third_of(latest):
        return d.isoformat()
    return third


def split_months(slices: list[str] | set[str]) -> frozenset[str]:
    """The months (YYYY-MM) that the slice keys `slices` hold in thirds or days."""
    return frozenset(k[:7] for k in slices if len(k) in (9, 10) and k[7] == "-")


def to_compact(slices: list[str] | set[str]) -> list[str]:
    """The months a compaction would merge: the months before the latest one of `slices` (the
    published slice keys) that are held in thirds (or days)."""
    months = {k[:7] for k in slices if k != NO_DATE}
    latest = max(months, default="")
    return sorted(m for m in split_months(slices) if m < latest)


Days = dict[date | None, tuple[int, int]]  # per date: rows, sum of row hashes
Parts = dict[str, tuple[str, Days]]  # per 'schema.table': (columns with types, Days)


def _hashes(con, catalog: str, schema: str, table: str, key: str, where: str = "", params=None):
    """Rows and Σ hash(row) per value of the SQL expression `key` (rows matching `where`)."""
    rows = con.execute(
        f"""select {key}, count(*), sum(hash(__row)::hugeint)::varchar
        from {q(catalog)}.{q(schema)}.{q(table)} as __row {where}
        group by 1""",
        params or {},
    ).fetchall()
    return {k: (n, int(h)) for k, n, h in rows}


def _days(con, catalog: str, schema: str, table: str, col: str, dates=None) -> Days:
    """Rows and Σ hash(row) per date of `col`: all dates, or only `dates`."""
    if dates is None:
        return _hashes(con, catalog, schema, table, q(col))
    if not dates:
        return {}
    cond, params = changes.in_dates(q(col), dates)
    return _hashes(con, catalog, schema, table, q(col), f"where {cond}", params)


def _segment(key: str, group: str, sums: list[tuple[str, str, int, int]]) -> Segment:
    """The segment of slice `key` of `group` ("" or HISTORY_GROUP) named by its content: per
    table (name, columns with types, rows, Σ hash) in `sums`."""
    prefix = f"{group}\0" if group else ""
    h = hashlib.sha256(f"nudgescope segment {FORMAT}\0{prefix}{key}\0".encode())
    for name, shape, n, digest in sums:
        h.update(f"{name}\0{shape}\0{n}\0{digest}\0".encode())
    return Segment(key, h.hexdigest()[:20], sum(n for _, _, n, _ in sums), group)


def _counts(con, catalog: str, schema: str, table: str, col: str) -> dict[date | None, int]:
    return dict(
        con.execute(
            f"select {q(col)}, count(*) from {q(catalog)}.{q(schema)}.{q(table)} group by 1"
        ).fetchall()
    )


def fingerprint_days(con: duckdb.DuckDBPyConnection, catalog: str, tables: Tables) -> Parts:
    """Rows and Σ hash(row) per date of every table in `tables`. The dates the change log
    names, the dates whose row count moved since the last publish, and every date of a table
    without saved parts or with other columns are hashed; the others are taken from the parts
    the last publish saved (pipelines.ingest.changes)."""
    log = changes.pending(con)
    saved = changes.saved_parts(con)
    verify = changes.verifying()
    parts: Parts = {}
    for schema, table, col in tables:
        name = f"{schema}.{table}"
        shape = _columns(con, catalog, schema, table)
        whole, noted = log.get(name, (False, set()))
        old_shape, old = saved.get(name, ("", None))
        if old is None or whole or old_shape != shape:
            days = _days(con, catalog, schema, table, col)
        else:
            counts = _counts(con, catalog, schema, table, col)
            dirty = {d for d, n in counts.items() if d in noted or old.get(d, (-1, 0))[0] != n}
            days = {d: old[d] for d in counts if d not in dirty}
            days.update(_days(con, catalog, schema, table, col, dirty))
        if verify:
            full = _days(con, catalog, schema, table, col)
            if full != days:
                wrong = sorted(
                    {d for d in full.keys() | days.keys() if full.get(d) != days.get(d)},
                    key=str,
                )
                raise RuntimeError(
                    f"{name}: the change log missed a write on {[str(d) for d in wrong][:10]}"
                )
        parts[name] = (shape, days)
    return parts


def plan(parts: Parts, tables: Tables, split: frozenset[str] = frozenset()) -> list[Segment]:
    """One segment per slice of the dates in `parts` (fingerprint_days), named by its content.
    The latest month and the months in `split` are cut into thirds, the latest third into days
    (slice_key)."""
    dates = [d for _, days in parts.values() for d in days if d is not None]
    latest = max(dates) if dates else None
    slices: dict[str, dict[str, tuple[int, int]]] = {}
    for schema, table, _ in tables:
        for d, (n, digest) in parts[f"{schema}.{table}"][1].items():
            per = slices.setdefault(slice_key(d, latest, split), {})
            rows, total = per.get(f"{schema}.{table}", (0, 0))
            per[f"{schema}.{table}"] = (rows + n, total + digest)
    names = [f"{schema}.{table}" for schema, table, _ in tables]
    return [
        _segment(key, "", [(n, parts[n][0], *slices[key].get(n, (0, 0))) for n in names])
        for key in sorted(slices)
    ]


def fingerprint_months(
    con: duckdb.DuckDBPyConnection, catalog: str, tables: Tables
) -> dict[str, tuple[str, dict[str, tuple[int, int]]]]:
    """Rows and Σ hash(row) per month (YYYY-MM, or NO_DATE) of every HISTORY table in
    `tables`, from every row (no change log: a day revises rows of any month)."""
    return {
        f"{schema}.{table}": (
            _columns(con, catalog, schema, table),
            _hashes(
                con, catalog, schema, table, f"coalesce(strftime({expr}, '%Y-%m'), {lit(NO_DATE)})"
            ),
        )
        for schema, table, expr in tables
    }


def plan_months(
    parts: dict[str, tuple[str, dict[str, tuple[int, int]]]], tables: Tables
) -> list[Segment]:
    """One HISTORY_GROUP segment per month in `parts` (fingerprint_months), named by its
    content: the rows, the sum of their hashes and the columns of each table's month."""
    names = [f"{schema}.{table}" for schema, table, _ in tables]
    months = sorted({m for _, per in parts.values() for m in per})
    return [
        _segment(
            key, HISTORY_GROUP, [(n, parts[n][0], *parts[n][1].get(key, (0, 0))) for n in names]
        )
        for key in months
    ]


def _slice_filter(col: str, key: str) -> str:
    """A range predicate on `col` (an SQL expression) for slice `key` (a range, so zone maps
    skip row groups)."""
    if key == NO_DATE:
        return f"{col} is null"
    if len(key) == 10:  # a day
        return f"{col} = date {lit(key)}"
    y, m, *third = (int(x) for x in key.split("-"))
    lo = date(y, m, 1)
    hi = date(y + (m == 12), m % 12 + 1, 1)
    if third:
        lo = date(y, m, 1 + 10 * (third[0] - 1))
        hi = date(y, m, 1 + 10 * third[0]) if third[0] < 3 else hi
    return f"{col} >= date {lit(lo.isoformat())} and {col} < date {lit(hi.isoformat())}"


def _spec(schema: str, table: str, col: str) -> tuple[str, str | None]:
    """The slicing expression (SQL) and the row order of a segmented or HISTORY table."""
    if (schema, table) in HISTORY:
        return HISTORY[(schema, table)]
    return q(col), SEGMENTED[(schema, table)][1]


@contextmanager
def write_once(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Settings for a file that is written once, in one go, and then only read (a segment, the
    published `serve.duckdb`): its checkpoint does not vacuum.

    A parallel insert leaves each thread's last row group partly filled and may already have
    written it to the file (DuckDB's optimistic writes). The checkpoint's vacuum then merges
    such neighbours into one row group and frees the blocks they held: in the month files of a
    full run at half of scale l, 8-36 freed blocks of 256 KB each (about 0.4 % of the files),
    which stay in the file for good as it is never written again. Without the vacuum a few
    row groups stay partly filled; the file holds no freed block and is no larger (measured on
    `core.orders` of April 2025 there: 58-60 blocks against 89 with 31 freed).
    """
    with setting(con, "max_vacuum_tasks", 0):
        yield


def fsync(path: Path) -> None:
    """Flush a file (or a folder's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write(
    con: duckdb.DuckDBPyConnection, catalog: str, tables: Tables, seg: Segment, folder: Path
) -> bool:
    """Write segment `seg` of `tables` from `catalog` into `folder` unless it is there; True if
    written."""
    final = folder / seg.file
    if final.is_file():
        return False
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{seg.file}.{os.getpid()}{TMP_SUFFIX}"
    tmp.unlink(missing_ok=True)
    con.execute(f"attach {lit(str(tmp))} as __segment_out")
    try:
        con.execute(f"create schema __segment_out.{SEGMENT_SCHEMA}")
        # a table that readers want sorted says ORDER BY; the others are written in any order,
        # on every thread (at m about 40 % less wall time for those tables, a tenth less CPU)
        with any_row_order(con), write_once(con):
            for schema, table, col in tables:
                expr, order = _spec(schema, table, col)
                # declared, not `create table as`: the free text is stored with zstd
                create_declared(
                    con,
                    f"__segment_out.{inner_name(schema, table)}",
                    f"select * from {q(catalog)}.{q(schema)}.{q(table)} "
                    f"where {_slice_filter(expr, seg.key)}"
                    + (f" order by {order}" if order else ""),
                )
            con.execute("checkpoint __segment_out")
    finally:
        con.execute("detach __segment_out")
    fsync(tmp)
    os.replace(tmp, final)
    return True


def list_segments(
    con: duckdb.DuckDBPyConnection, target: str, segments: list[Segment], folder: Path
) -> None:
    """In database `target`: the list of segments (every group). The segments stay attached
    in `con` under their aliases until `detach_all`."""
    con.execute(
        f"create table {q(target)}.main.{LIST_TABLE} "
        "(alias varchar, file varchar, slice varchar, rows bigint)"
    )
    for seg in segments:
        con.execute(
            f"insert into {q(target)}.main.{LIST_TABLE} values ($a, $f, $m, $r)",
            {"a": seg.alias, "f": seg.file, "m": seg.listed_slice, "r": seg.rows},
        )
        con.execute(attach_sql(folder / seg.file, seg.alias))


def create_views(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    tables: Tables,
    target: str,
    segments: list[Segment],
) -> None:
    """In database `target`: a view per table of `tables` over its slices in `segments`
    (attached by `list_segments`), or a plain empty copy when there are no rows at all."""
    for schema, table, _ in tables:
        con.execute(f"create schema if not exists {q(target)}.{q(schema)}")
        name = f"{q(target)}.{q(schema)}.{q(table)}"
        if not segments:
            con.execute(f"create table {name} as from {q(catalog)}.{q(schema)}.{q(table)}")
            continue
        body = "\nunion all\n".join(
            f"select * from {q(seg.alias)}.{inner_name(schema, table)}" for seg in segments
        )
        con.execute(f"create view {name} as\n{body}")


def detach_all(con: duckdb.DuckDBPyConnection, segments: list[Segment]) -> None:
    for seg in segments:
        con.execute(f"detach database if exists {q(seg.alias)}")


def listed(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]] | None:
    """(alias, file) of every segment `catalog` lists, or None when it lists none."""
    has = con.execute(
        "select count(*) from duckdb_tables() where database_name = $c "
        "and schema_name = 'main' and table_name = $t",
        {"c": catalog, "t": LIST_TABLE},
    ).fetchone()[0]
    if not has:
        return None
    return con.execute(
        f"select alias, file from {q(catalog)}.main.{LIST_TABLE} order by slice"
    ).fetchall()


def attach(con: duckdb.DuckDBPyConnection, serve: Path) -> int:
    """Attach, read-only, the segments the published database behind `con` lists (it must be
    the connection's default database, opened from `serve`); returns how many."""
    catalog = con.execute("select current_database()").fetchone()[0]
    rows = listed(con, catalog) or []
    folder = segments_dir(serve)
    for alias, file in rows:
        try:
            con.execute(attach_sql(folder / file, alias))
        except duckdb.Error as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SegmentError(
                f"the published database {serve} is incomplete: its segment {folder / file} "
                f"cannot be opened ({first}); run `nudgescope run` to publish again"
            ) from None
    return len(rows)


def open_published(serve: Path | str) -> duckdb.DuckDBPyConnection:
    """A plain read-only connection to a published database with its segments attached (for
    tools and tests; the dashboard and `nudgescope sql` use the locked-down sandbox)."""
    con = duckdb.connect(str(serve), read_only=True)
    try:
        attach(con, Path(serve))
    except BaseException:
        con.close()
        raise
    return con


def collect_garbage(folder: Path, keep: set[str]) -> int:
    """Remove the segment files of `folder` not in `keep`, and stray temporary files."""
    removed = 0
    if not folder.is_dir():
        return 0
    for p in folder.iterdir():
        stray = TMP_SUFFIX in p.name
        unlisted = p.suffix == ".duckdb" and p.name not in keep
        orphan_wal = p.name.endswith(".duckdb.wal") and p.name[: -len(".wal")] not in keep
        if stray or unlisted or orphan_wal:
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def relations(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    """(schema, name) of the tables and views of the connection's own database in `schemas`
    (a published large table is a view), sorted."""
    return con.execute(
        """select schema_name, table_name from duckdb_tables()
        where database_name = current_database() and not temporary
            and list_contains($s, schema_name)
        union
        select schema_name, view_name from duckdb_views()
        where database_name = current_database() and not internal and not temporary
            and list_contains($s, schema_name)
        order by 1, 2""",
        {"s": list(schemas)},
    ).fetchall()
