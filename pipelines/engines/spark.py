"""The spark engine: the mart SQL files executed by Spark SQL, results written to DuckDB.

For each file, in the given order (see transpile.plan for which files run where):

1. the tables it reads that Spark does not hold yet are exported from DuckDB to Parquet,
   partitioned by date, and registered as Spark views;
2. the query, transpiled to Spark SQL, runs on Spark and is written to Parquet;
3. DuckDB creates the table from that Parquet (cast to the types DuckDB gives the same query)
   or inserts the rows, so DuckDB's `mart` schema ends up as if DuckDB had run the file.

A table Spark created stays registered as a view over Spark's own output, so the next files
read it without a round trip; a table DuckDB wrote or an insert changed is exported again
when a later file reads it. DuckDB remains the one place the marts live; publish is unchanged.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines import settings, sqlfiles
from pipelines.engines import exchange
from pipelines.engines.transpile import SPARK, Statement, plan

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# Where the Parquet exchange lives; on a cluster, a folder the executors can reach too.
EXCHANGE_ENV = "NUDGESCOPE_SPARK_DIR"


@dataclass(frozen=True)
class Step:
    """What happened to one SQL file."""

    name: str
    runs_on: str
    seconds: float
    exported: tuple[str, ...] = ()  # tables handed from DuckDB to Spark before it ran
    export_seconds: float = 0.0  # of `seconds`, the time the hand-over took
    rewrites: tuple[str, ...] = ()


def exchange_dir() -> Path:
    """$NUDGESCOPE_SPARK_DIR, else <data dir>/spark."""
    env = os.environ.get(EXCHANGE_ENV)
    return Path(env).resolve() if env else settings.paths().data_dir / "spark"


def build_marts_spark(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    spark: SparkSession,
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    workdir: Path | None = None,
    keep: bool = False,
) -> list[Step]:
    """Run the SQL files `names` (as for sqlfiles.run) with Spark doing the queries.

    `params` maps a file name to its bound parameters; such files run on DuckDB. The caller
    owns the DuckDB transaction, exactly as with the duckdb engine. The exchange folder
    (workdir, default exchange_dir()/build) is emptied first and removed after a successful
    build unless `keep`; after a failure it stays for inspection.
    """
    params = params or {}
    root = (workdir or exchange_dir() / "build").resolve()
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    match_time_zone(con, spark)

    in_spark: set[str] = set()  # tables whose Spark view is current
    steps: list[Step] = []
    for seq, name in enumerate(names):
        started = time.perf_counter()
        st = plan(name)
        if st.runs_on != SPARK or name in params:
            sqlfiles.run(con, name, dict(params.get(name) or {}) or None)
            if st.target:
                in_spark.discard(st.target)
            steps.append(Step(name, "duckdb", time.perf_counter() - started))
            continue
        exported = []
        export_started = time.perf_counter()
        for table in st.reads:
            if table not in in_spark:
                hand_over(con, spark, table, root / "input" / table)
                in_spark.add(table)
                exported.append(table)
        export_seconds = time.perf_counter() - export_started
        out = root / "output" / f"{seq:02d}-{name.replace('/', '-')}"
        run_statement(con, spark, st, out)
        if st.kind == "create_as":
            in_spark.add(st.target)
        else:
            in_spark.discard(st.target)
        steps.append(
            Step(
                name,
                SPARK,
                time.perf_counter() - started,
                exported=tuple(exported),
                export_seconds=export_seconds,
                rewrites=st.rewrites,
            )
        )
    if not keep:
        shutil.rmtree(root, ignore_errors=True)
    return steps


def match_time_zone(con: duckdb.DuckDBPyConnection, spark: SparkSession) -> str:
    """Give Spark's session the connection's time zone, so implicit conversions (a TIMESTAMPTZ
    cast to DATE, date_trunc on one) fall on the same calendar in both engines."""
    tz = con.execute("select current_setting('TimeZone')").fetchall()[0][0]
    spark.conf.set("spark.sql.session.timeZone", tz)
    return tz


def hand_over(con: duckdb.DuckDBPyConnection, spark: SparkSession, table: str, dest: Path) -> None:
    """Export a DuckDB table to Parquet at dest and register it as Spark's view of it."""
    columns = [c for c, _ in exchange.table_columns(con, table)]
    part = exchange.export_table(con, table, dest)
    exchange.register_view(spark, table, dest, columns, part)


def run_statement(
    con: duckdb.DuckDBPyConnection, spark: SparkSession, st: Statement, out: Path
) -> None:
    """Run a planned statement's query on Spark into out/ and apply its result to DuckDB."""
    assert st.spark_query is not None and st.target is not None
    # DuckDB's types for the result, taken before anything runs: a bad query fails here,
    # in DuckDB's words, before Spark spends time on it.
    types = exchange.query_columns(con, st.duckdb_query) if st.kind == "create_as" else []
    try:
        df = spark.sql(st.spark_query)
        # Columns by position, named as DuckDB names them (Spark names unaliased expressions
        # differently); an insert is positional, so its columns just need distinct names.
        names = [c for c, _ in types] or [f"c{i}" for i in range(len(df.columns))]
        if len(names) != len(df.columns):
            raise RuntimeError(f"{len(df.columns)} columns in Spark, {len(names)} in DuckDB")
        df.toDF(*names).write.mode("overwrite").parquet(str(out))
    except Exception as exc:
        raise RuntimeError(f"{st.name}: Spark failed on the transpiled SQL: {exc}") from exc
    if st.kind == "create_as":
        exchange.import_created(con, st.target, out, types)
        # later files read Spark's own output, without a round trip through DuckDB
        exchange.register_view(spark, st.target, out, [c for c, _ in types])
    else:
        exchange.import_inserted(con, st.target, out, st.insert_columns)
