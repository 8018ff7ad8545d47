"""Engines that run the mart SQL files: `duckdb` (default, embedded) or `spark` (scale-out).

Both run the same files of sql/marts; with `spark` the queries are transpiled by sqlglot and
executed by Spark SQL, and the results land in the same DuckDB tables, so publishing and
everything downstream do not know which engine ran. See docs/scaling.md.

pyspark is imported only when the spark engine is used.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines import sqlfiles
from pipelines.errors import UserError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ENGINE_ENV = "NUDGESCOPE_ENGINE"
ENGINES: tuple[str, ...] = ("duckdb", "spark")
DEFAULT_ENGINE = "duckdb"


def engine_name(engine: str | None = None) -> str:
    """The engine to use: the argument, else $NUDGESCOPE_ENGINE, else duckdb."""
    name = (engine or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE).strip().lower()
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: expected one of {', '.join(ENGINES)}")
    return name


def check_available(engine: str | None = None) -> str:
    """The engine's name, or a UserError saying what to install when it cannot run here."""
    name = engine_name(engine)
    if name == "spark":
        if importlib.util.find_spec("pyspark") is None:
            raise UserError(
                "the spark engine needs the optional 'spark' extra, which is not installed: "
                "`python3 -m uv sync --extra spark` (or `pip install 'nudgescope[spark]'`)"
            )
        if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise UserError(
                "the spark engine needs Java 17 or later on this machine "
                "(e.g. `apt-get install openjdk-17-jre-headless`), or JAVA_HOME set"
            )
    return name


def run_sql_files(
    con: duckdb.DuckDBPyConnection,
    names: Sequence[str],
    *,
    engine: str | None = None,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    spark: SparkSession | None = None,
) -> list:
    """Run the SQL files `names` in order, on `engine`, leaving the results in `con`.

    `params` maps a file name to its bound parameters. With `spark`, `spark` is the session to
    use (default: engines.session.spark_session()). The caller owns the transaction.
    Returns the per-file steps of the spark engine (empty for duckdb).
    """
    params = params or {}
    if check_available(engine) == "duckdb":
        for name in names:
            sqlfiles.run(con, name, dict(params.get(name) or {}) or None)
        return []
    from pipelines.engines.session import spark_session
    from pipelines.engines.spark import build_marts_spark

    return build_marts_spark(con, names, spark or spark_session(), params=params)
