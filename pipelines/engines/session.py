"""The Spark session of the `spark` engine: local[*] by default, any master URL by setting.

Only the settings the marts' parity depends on are fixed here; everything else (executor
memory, dynamic allocation, ...) belongs to the cluster's own spark-defaults.conf or to
NUDGESCOPE_SPARK_CONF.
"""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_ENV = "NUDGESCOPE_SPARK_MASTER"
DEFAULT_MASTER = "local[*]"
# Driver heap for local mode, where the driver JVM does all the work (ignored when the session
# already exists). 4g is plenty for the `s` and `m` scales and leaves room on a 24 GB machine.
DRIVER_MEMORY_ENV = "NUDGESCOPE_SPARK_DRIVER_MEMORY"
DEFAULT_DRIVER_MEMORY = "4g"
# Extra settings as "key=value;key=value", e.g. "spark.executor.memory=8g;spark.executor.cores=4".
CONF_ENV = "NUDGESCOPE_SPARK_CONF"

# Settings the parity with DuckDB depends on; applied to every session, local or cluster.
PARITY_CONF: dict[str, str] = {
    # Spark 4's default, stated so a cluster with it switched off fails the same way: integer
    # overflow, bad casts and division by zero raise instead of silently giving NULL.
    "spark.sql.ansi.enabled": "true",
    # Timestamps written as UTC-adjusted INT64 micros, which DuckDB reads back as TIMESTAMPTZ
    # (the INT96 default comes back as a naive TIMESTAMP).
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Parquet TIMESTAMP without UTC adjustment (DuckDB's naive TIMESTAMP) stays TIMESTAMP_NTZ.
    "spark.sql.parquet.inferTimestampNTZ.enabled": "true",
}

# Settings for local mode only: small shuffles, no UI, no progress bars in the CLI.
LOCAL_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "8",
    "spark.default.parallelism": "8",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.adaptive.enabled": "true",
}


def java_executable() -> str | None:
    """The `java` pyspark will launch ($JAVA_HOME/bin/java, else the one on PATH), or None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = os.path.join(java_home, "bin", "java")
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("java")


def master_url(master: str | None = None) -> str:
    """The master URL: the argument, else $NUDGESCOPE_SPARK_MASTER, else local[*]."""
    return master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER


def extra_conf(text: str | None = None) -> dict[str, str]:
    """Parse "key=value;key=value" ($NUDGESCOPE_SPARK_CONF when text is None)."""
    text = os.environ.get(CONF_ENV, "") if text is None else text
    conf: dict[str, str] = {}
    for item in text.split(";"):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{CONF_ENV}: expected key=value, got {item!r}")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(
    master: str | None = None,
    *,
    app_name: str = "nudgescope",
    driver_memory: str | None = None,
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """Get or create the Spark session (one per process; pyspark reuses a running one).

    The JVM starts here (about 8 s locally); settings that only apply at JVM start (driver
    memory, master) are ignored when a session is already running.
    """
    if java_executable() is None:
        raise RuntimeError(
            "the spark engine needs Java 17 (no java on PATH and no JAVA_HOME); "
            "install a JDK or use the duckdb engine"
        )
    # pyspark 4.x warns on import that it is not yet tested with pandas 3; the engine does not
    # use pandas (results go through Parquet), so the warning is noise on every run
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    from pyspark.sql import SparkSession

    url = master_url(master)
    builder = SparkSession.builder.master(url).appName(app_name)
    settings = dict(PARITY_CONF)
    if url.startswith("local"):
        settings.update(LOCAL_CONF)
        settings["spark.driver.memory"] = (
            driver_memory or os.environ.get(DRIVER_MEMORY_ENV) or DEFAULT_DRIVER_MEMORY
        )
    settings.update(extra_conf())
    settings.update(conf or {})
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    for key, value in PARITY_CONF.items():  # a reused session must follow them too
        session.conf.set(key, value)
    session.sparkContext.setLogLevel("ERROR")
    quiet_query_error_logs()
    return session


def quiet_query_error_logs() -> None:
    """pyspark logs every failed query as a JSON stack trace on stderr before raising.

    The exception carries the same message and the engine adds which SQL file failed, so the
    log line is noise (hundreds of lines per error).
    """
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)
