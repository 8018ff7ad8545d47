"""The warehouse's ingest, staging and core tables, and connection settings."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from pipelines import sqlfiles
from pipelines.contract import LANDING_SOURCES, SOURCES
from pipelines.errors import UserError
from pipelines.ingest.validate import lit, q
from pipelines.schema import column_ddl, core_columns, core_table_ddl
from pipelines.settings import TIMEZONE


def connect(path: Path | str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path), read_only=read_only)
    configure(con)
    return con


# DuckDB's own default is 80 % of the machine's memory; the pipeline keeps to a budget so a
# run at scale l stays well inside 8 GB of RSS, and spills to `<warehouse>.tmp` beyond it.
MEMORY_LIMIT_ENV = "NUDGESCOPE_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "5GB"


def configure(con: duckdb.DuckDBPyConnection) -> None:
    """Session settings every pipeline connection uses."""
    con.execute(f"set TimeZone = '{TIMEZONE}'")
    # DuckDB draws its own progress bar on stdout for any statement over 2 s: in a terminal
    # it tears through `nudgescope run`'s progress display, in a log it leaves lines of bars
    con.execute("set enable_progress_bar = false")
    con.execute("set preserve_insertion_order = true")
    limit = os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)
    try:
        con.execute("set memory_limit = $limit", {"limit": limit})
    except duckdb.Error as exc:
        raise UserError(f"{MEMORY_LIMIT_ENV}={limit!r} is not a DuckDB memory size") from exc


@contextmanager
def any_row_order(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let DuckDB write the statements inside in any row order (the connection's setting is
    restored after).

    Staging needs insertion order (a file's row numbers come from rowids), so `configure`
    keeps it; a table whose rows form a set does not (the marts build and the published
    segments use this; a table that has to be sorted says ORDER BY). Without it DuckDB runs a
    large insert on every thread and no longer holds whole intermediate results in memory to
    restore the order.
    """
    with setting(con, "preserve_insertion_order", False):
        yield


@contextmanager
def setting(con: duckdb.DuckDBPyConnection, name: str, value: object) -> Iterator[None]:
    """DuckDB setting `name` (a literal name) set to `value` inside; the connection's own value
    is restored after, also when the statements inside fail."""
    (kept,) = con.execute(f"select current_setting('{name}')").fetchone()
    con.execute(f"set {name} = $v", {"v": value})
    try:
        yield
    finally:
        con.execute(f"set {name} = $v", {"v": kept})


def create_declared(con: duckdb.DuckDBPyConnection, table: str, query: str) -> None:
    """`create or replace table <table> as <query>`, but declared first from the query's
    columns, so each column gets its compression where it is not DuckDB's choice
    (`schema.column_ddl`: the SMS text with zstd), then filled by an insert of the same
    rows (in the query's order, where it has an ORDER BY)."""
    cols = con.execute(f"describe {query}").fetchall()  # column_name, column_type, ...
    con.execute(
        f"create or replace table {table} ("
        + ", ".join(column_ddl(name, type_) for name, type_, *_ in cols)
        + ")"
    )
    con.execute(f"insert into {table} {query}")


def late_rows(table: str, rest: str, alias: str = "t") -> str:
    """`select * from <table>` of the rows that `select <alias>.rowid from <table> as <alias>
    <rest>` finds (`rest`: its joins and where clause), in two passes: the row ids first,
    reading only the columns `rest` names, then those rows.

    For a few rows looked up by a key in a large table. In one statement, DuckDB keeps a
    join's filter on the scan optional, so it decompressed every column of every row and
    dropped almost all of them at the join: about 1 CPU-s per lookup in 5.4 M messages.
    """
    return (
        f"select * from {table} where rowid in "
        f"(select {alias}.rowid from {table} as {alias} {rest})"
    )


def pending_table(source: str) -> str:
    return f'staging."_pending_{source}"'


def pk_cols(source: str) -> str:
    return ", ".join(q(k) for k in SOURCES[source].primary_key)


_DT_IN_PATH = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")
# More files than this: the filter joins a temp table instead of listing literals.
MAX_IN_LIST = 2000


def file_filter(paths: list[str], alias: str = "", table: str | None = None) -> str:
    """A condition selecting the rows of the landing files `paths` (relative paths) in a
    staging or core table. It lists the files' dates too: `_dt` row-group statistics are
    exact, so DuckDB skips the row groups of other days (string statistics keep only a
    prefix, which every path of a source shares). With more than MAX_IN_LIST files, `table`
    (a table with a `path` column holding them) is joined instead."""
    a = f"{alias}." if alias else ""
    if not paths:
        return "false"
    if len(paths) > MAX_IN_LIST and table:
        return f"{a}_file in (select path from {table})"
    dts = sorted({m.group(1) for p in paths if (m := _DT_IN_PATH.search(p))})
    cond = f"{a}_file in (" + ", ".join(lit(p) for p in sorted(paths)) + ")"
    if all(_DT_IN_PATH.search(p) for p in paths):
        cond = f"{a}_dt in (" + ", ".join(f"date {lit(d)}" for d in dts) + f") and {cond}"
    return f"({cond})"


EXPECTED_TABLES = frozenset(
    [("ingest", t) for t in ("file_ledger", "quarantine", "file_stat")]
    + [("main", "merge_scope")]
    + [(schema, s) for s in LANDING_SOURCES for schema in ("staging", "core")]
    + [("staging", f"_pending_{s}") for s in LANDING_SOURCES]
)


def ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create every ingest/staging/core table that does not exist yet (idempotent)."""
    present = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and not temporary"
    ).fetchall()
    if set(present) >= EXPECTED_TABLES:
        # one look at the catalog for both upgrades (each step calls ensure; a look costs
        # about 3 ms of CPU at scale m, whatever it asks)
        out_ids, pending_files = con.execute(
            "select count(*) filter (where schema_name in ('staging', 'core') "
            "  and table_name = 'sms_logs' and column_name = 'out_id'), "
            "count(*) filter (where schema_name = 'staging' "
            "  and table_name like '\\_pending\\_%' escape '\\' and column_name = '_file') "
            "from duckdb_columns() where database_name = current_database()"
        ).fetchone()
        if pending_files < len(LANDING_SOURCES):
            _pending_files(con)
        if out_ids < 2:
            _sms_logs_out_id(con)
        return
    for name in (
        "schema_ingest",
        "schema_staging",
        "schema_core",
        "file_ledger",
        "quarantine",
        "file_stat",
        "merge_scope",
    ):
        sqlfiles.run(con, f"ingest/{name}")
    for source in LANDING_SOURCES:
        con.execute(core_table_ddl(source, schema="staging"))
        con.execute(core_table_ddl(source, schema="core"))
        keys = ", ".join(
            f"{q(k)} {SOURCES[source].field(k).storage_type}" for k in SOURCES[source].primary_key
        )
        con.execute(f"create table if not exists {pending_table(source)} ({keys}, _file VARCHAR)")
    _pending_files(con)
    _sms_logs_out_id(con)


def _sms_logs_out_id(con: duckdb.DuckDBPyConnection) -> None:
    """Warehouses made before `sms_logs.out_id` get the column, in its contract position
    (before the lineage columns: rows are inserted by position), as null for every row."""
    for schema in ("staging", "core"):
        (n,) = con.execute(
            "select count(*) from duckdb_columns() where database_name = current_database() "
            "and schema_name = ? and table_name = 'sms_logs' and column_name = 'out_id'",
            [schema],
        ).fetchone()
        if n:
            continue
        cols = ", ".join(
            "cast(null as VARCHAR) as out_id" if c == "out_id" else q(c)
            for c, _ in core_columns("sms_logs")
        )
        con.execute("begin")
        try:
            # declared like a new warehouse's table (its text with zstd)
            create_declared(
                con, f'{schema}."_sms_logs_new"', f"select {cols} from {schema}.sms_logs"
            )
            con.execute(f"drop table {schema}.sms_logs")
            con.execute(f'alter table {schema}."_sms_logs_new" rename to sms_logs')
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise


def _pending_files(con: duckdb.DuckDBPyConnection) -> None:
    """Pending keys carry the file that staged them (NULL: withdrawn, or queued by an older
    version); warehouses made before that column get it added."""
    n = con.execute(
        "select count(*) from duckdb_columns() where database_name = current_database() "
        "and schema_name = 'staging' and table_name like '\\_pending\\_%' escape '\\' "
        "and column_name = '_file'"
    ).fetchone()[0]
    if n < len(LANDING_SOURCES):
        for source in LANDING_SOURCES:
            con.execute(
                f"alter table {pending_table(source)} add column if not exists _file VARCHAR"
            )


def fill_temp(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[tuple[str, str], ...],
    rows: list[tuple],
) -> None:
    """(Re)create the temp table `table` with `columns` ((name, DuckDB type) pairs) and insert
    the Python tuples `rows` in one statement: a list parameter per column, unnested side by
    side. `executemany` runs its statement once per row, about 0.7 ms each: 3.9 CPU-s for the
    2,657 files' ledger, stat and read lists of a full run at scale m."""
    con.execute(
        f"create or replace temp table {table} ("
        + ", ".join(f"{name} {typ}" for name, typ in columns)
        + ")"
    )
    if not rows:
        return
    values = [list(c) for c in zip(*rows, strict=True)]
    if len(values) != len(columns):
        raise ValueError(f"{table}: {len(columns)} columns, rows of {len(values)} values")
    unnested = ", ".join(f"unnest(${i + 1}::{typ}[])" for i, (_, typ) in enumerate(columns))
    con.execute(f"insert into {table} select {unnested}", values)
