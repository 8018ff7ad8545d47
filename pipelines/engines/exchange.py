"""Moving tables between the DuckDB warehouse and Spark, as Parquet.

DuckDB -> Spark: `COPY … (FORMAT parquet, PARTITION_BY (<date column>))`, read by Spark as a
temporary view with the table's columns in the table's order.
Spark -> DuckDB: Spark writes Parquet; DuckDB reads it with `read_parquet` and casts every
column to the type DuckDB itself gives the same query, so the published tables cannot tell
which engine built them.

The exchange folder must be readable and writable by this process and by Spark's executors:
any local folder in local mode, a shared mount (NFS, a FUSE-mounted bucket) on a cluster.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines.engines.transpile import view_name

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Date columns a table is partitioned by when it has one, in order of preference: the landing
# partition of a core row, the partition of a ledger row.
PARTITION_COLUMNS = ("_dt", "dt")


def quote(identifier: str) -> str:
    """A DuckDB identifier, double-quoted."""
    return '"' + identifier.replace('"', '""') + '"'


def quote_table(table: str) -> str:
    """schema.table, each part quoted."""
    return ".".join(quote(part) for part in table.split("."))


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a table, in table order."""
    rel = con.table(table)
    return [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]


def query_columns(con: duckdb.DuckDBPyConnection, query: str) -> list[tuple[str, str]]:
    """(column, DuckDB type) of a query's result. DuckDB binds the query, never runs it."""
    rel = con.sql(query)
    return [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]


def partition_column(columns: list[tuple[str, str]]) -> str | None:
    types = dict(columns)
    for name in PARTITION_COLUMNS:
        if types.get(name) == "DATE":
            return name
    return None


def export_table(con: duckdb.DuckDBPyConnection, table: str, dest: Path) -> str | None:
    """Write a DuckDB table to dest/ as Parquet, partitioned by its date column when it has
    one and has rows (an empty table is one file, so Spark still sees its schema).

    Returns the partition column, or None.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    part = partition_column(table_columns(con, table))
    has_rows = bool(con.table(table).limit(1).fetchall())
    source = quote_table(table)
    if part and has_rows:
        # COPY takes no parameters: the path is ours, quoted as a string literal
        target = _sql_string(str(dest))
        con.execute(f"copy {source} to {target} (format parquet, partition_by ({quote(part)}))")
        return part
    con.execute(f"copy {source} to {_sql_string(str(dest / 'data.parquet'))} (format parquet)")
    return None


def register_view(
    spark: SparkSession,
    table: str,
    path: Path,
    columns: list[str],
    partition: str | None = None,
) -> None:
    """Spark temporary view <schema>__<table> over the Parquet at path, columns in order."""
    from pyspark.sql import functions as F

    df = spark.read.parquet(str(path))
    if partition is not None:
        # partition discovery infers the type from the folder names; DuckDB's is DATE
        df = df.withColumn(partition, F.col(partition).cast("date"))
    df.select(*[F.col(f"`{c}`") for c in columns]).createOrReplaceTempView(view_name(table))


def import_created(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    columns: list[tuple[str, str]],
) -> None:
    """create or replace table <table> from Spark's Parquet at path, cast to DuckDB's types."""
    casts = ", ".join(f"cast({quote(c)} as {t}) as {quote(c)}" for c, t in columns)
    con.execute(
        f"create or replace table {quote_table(table)} as select {casts} from read_parquet($files)",
        {"files": parquet_files(path)},
    )


def import_inserted(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    insert_columns: tuple[str, ...] = (),
) -> None:
    """insert into <table> [(columns)] the rows of Spark's Parquet at path, by position as
    the SQL file's own `insert into … select` does (DuckDB casts to the table's types)."""
    column_list = f" ({', '.join(quote(c) for c in insert_columns)})" if insert_columns else ""
    con.execute(
        f"insert into {quote_table(table)}{column_list} select * from read_parquet($files)",
        {"files": parquet_files(path)},
    )


def parquet_files(path: Path) -> list[str]:
    """The data files Spark wrote to path (it always writes at least one, even for no rows)."""
    files = sorted(str(p) for p in path.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"Spark wrote no Parquet files to {path}")
    return files


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
