"""The spark engine gives the same marts as DuckDB: the dialect rewrites on tricky values, and
the simulator's `s` data through ingestion, both engines and publish, compared row for row.

One local Spark session for the whole module (starting the JVM is most of the cost).
"""

from __future__ import annotations

import math
from datetime import date, datetime

import duckdb
import pytest

from pipelines.engines.parity import diff_tables
from pipelines.engines.session import java_executable, spark_session
from pipelines.engines.spark import hand_over, match_time_zone, run_statement
from pipelines.engines.transpile import SPARK, plan
from pipelines.serve.segments import open_published

pytestmark = [
    pytest.mark.spark,
    pytest.mark.skipif(java_executable() is None, reason="the spark engine needs Java 17"),
]

# Small data, two cores: few shuffle partitions; no whole-stage code generation and the C1
# JIT only, because compiling dominates a query over a few thousand rows.
TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.codegen.wholeStage": "false",
    "spark.driver.extraJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


@pytest.fixture(scope="module")
def spark():
    session = spark_session("local[2]", driver_memory="2g", conf=TEST_CONF)
    yield session
    session.stop()


# ------------------------------------------------------ dialect rewrites on tricky values

# Values chosen where DuckDB and Spark disagree without the rewrites: local midnight in
# Shanghai, month ends, a decimal division, a fractional epoch, weekdays.
EVENTS = """
create table core.events as
select * from (values
    (1, timestamptz '2024-01-31 15:30:00+00', timestamptz '2024-01-31 16:30:00.25+00',
        date '2024-01-31', date '2024-02-01', 1.25::decimal(18,2), 'g1', '限时优惠券'),
    (2, timestamptz '2024-03-02 23:59:59+08', timestamptz '2024-03-03 00:00:01+08',
        date '2024-03-03', date '2025-01-01', 2.00::decimal(18,2), 'g1', '账单提醒'),
    (3, timestamptz '2023-12-31 16:00:00+00', timestamptz '2024-06-30 15:59:59.5+00',
        date '2024-06-30', date '2024-07-01', 0.10::decimal(18,2), 'g2', '红包到账')
) v(id, a_ts, b_ts, a, b, amount, grp, content)
"""

# (name, DuckDB expression over core.events) — each is compared between the two engines
ROW_EXPRESSIONS = {
    "decimal_division": "amount / 3",
    "local_date": "cast(b_ts at time zone 'Asia/Shanghai' as date)",
    "local_hour": "cast(extract(hour from b_ts at time zone 'Asia/Shanghai') as integer)",
    "local_days_between": "date_diff('day', a_ts at time zone 'Asia/Shanghai', "
    "b_ts at time zone 'Asia/Shanghai')",
    "session_days_between": "date_diff('day', a_ts, b_ts)",
    "months_between": "date_diff('month', a, b)",
    "quarters_between": "date_diff('quarter', a, b)",
    "years_between": "date_diff('year', a, b)",
    "epoch_seconds": "epoch(b_ts) - epoch(a_ts)",
    "iso_weekday": "isodow(a)",
    "sunday_zero_weekday": "dayofweek(a)",
    "extract_dow": "extract(dow from b)",
    "month_start_in_session_tz": "date_trunc('month', a_ts)",
    "month_later": "cast(a + interval 1 month as date)",
    "month_end": "last_day(a)",
    "cycle": "strftime(a, '%Y-%m')",
    "keyword_at": "position('优惠' in content)",
}
# median / quantile_cont of a DECIMAL: DuckDB interpolates and truncates to the scale
# (1.625 -> 1.62), Spark interpolates in DOUBLE; portable SQL takes them of a DOUBLE.
GROUP_EXPRESSIONS = {
    "mean": "avg(amount)",
    "median": "median(cast(amount as double))",
    "quartile": "quantile_cont(cast(amount as double), 0.25)",
    "ids": "list_sort(array_agg(distinct id))",
    "ratio": "sum(amount) / count(*)",
}
# Without the rewrites sqlglot's translation gives Spark a different answer (or an error)
# for these: the rewrites are what makes the two engines agree. (Checked against the locked
# sqlglot; if an upgrade fixes one, this test says so and that rewrite can go.)
NEEDS_REWRITE = (
    "decimal_division",
    "local_days_between",
    "months_between",
    "epoch_seconds",
    "iso_weekday",
    "sunday_zero_weekday",
    "extract_dow",
)


@pytest.fixture
def events():
    con = duckdb.connect()
    # neither UTC nor Shanghai, so a conversion that relies on the session time zone shows
    con.execute("set TimeZone = 'America/Los_Angeles'")
    con.execute("create schema core")
    con.execute("create schema mart")
    con.execute(EVENTS)
    yield con
    con.close()


def _both_engines(con, spark, tmp_path, name: str, select: str) -> tuple[list, list]:
    """Rows of `select` (over core.events) from DuckDB and from Spark via the engine."""
    sql = f"create or replace table mart.{name} as {select}"
    expected = con.execute(select).fetchall()
    st = plan(f"marts/{name}", sql)
    assert st.runs_on == SPARK
    match_time_zone(con, spark)
    hand_over(con, spark, "core.events", tmp_path / "input" / "core.events")
    run_statement(con, spark, st, tmp_path / "output" / name)
    return expected, con.execute(f"select * from mart.{name}").fetchall()


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-12)
    return a == b


def test_row_expressions_mean_the_same_in_spark(events, spark, tmp_path):
    cols = ", ".join(f"{expr} as {name}" for name, expr in ROW_EXPRESSIONS.items())
    select = f"select id, {cols} from core.events order by id"
    expected, got = _both_engines(events, spark, tmp_path, "row_checks", select)
    names = ["id", *ROW_EXPRESSIONS]
    wrong = [
        f"{names[i]} (id {e[0]}): duckdb {e[i]!r}, spark {g[i]!r}"
        for e, g in zip(expected, got, strict=True)
        for i in range(len(names))
        if not _same(e[i], g[i])
    ]
    assert wrong == []
    # hand-checked anchors, so agreement on a wrong value cannot pass
    by_id = {row[0]: dict(zip(names, row, strict=True)) for row in got}
    assert by_id[1]["local_date"] == date(2024, 2, 1)  # 00:30 in Shanghai
    assert by_id[1]["local_days_between"] == 1  # 23:30 -> 00:30 local
    assert by_id[1]["months_between"] == 1  # Jan 31 -> Feb 1 crosses a month boundary
    assert by_id[2]["iso_weekday"] == 7  # 2024-03-03 is a Sunday
    assert by_id[2]["sunday_zero_weekday"] == 0
    assert by_id[1]["epoch_seconds"] == 3600.25
    assert by_id[1]["month_later"] == date(2024, 2, 29)
    assert by_id[3]["month_start_in_session_tz"] == datetime.fromisoformat(
        "2023-12-01 00:00:00-08:00"
    )  # 2023-12-31 08:00 in Los Angeles


def test_aggregates_mean_the_same_in_spark(events, spark, tmp_path):
    cols = ", ".join(f"{expr} as {name}" for name, expr in GROUP_EXPRESSIONS.items())
    select = f"select grp, {cols} from core.events group by grp order by grp"
    expected, got = _both_engines(events, spark, tmp_path, "group_checks", select)
    assert len(got) == 2
    for e, g in zip(expected, got, strict=True):
        assert all(_same(x, y) for x, y in zip(e, g, strict=True)), (e, g)
    g1 = dict(zip(["grp", *GROUP_EXPRESSIONS], got[0], strict=True))
    assert g1["mean"] == 1.625 and g1["ratio"] == 1.625 and g1["ids"] == [1, 2]
    assert g1["median"] == 1.625 and g1["quartile"] == 1.4375  # 1.25 + 0.25 * 0.75


def test_plain_sqlglot_would_differ(events, spark, tmp_path):
    """The same expressions through sqlglot alone: wrong or failing in Spark."""
    import sqlglot

    match_time_zone(events, spark)
    hand_over(events, spark, "core.events", tmp_path / "input" / "core.events")
    differing = []
    for name in NEEDS_REWRITE:
        select = f"select id, {ROW_EXPRESSIONS[name]} as v from core__events order by id"
        expected = events.execute(select.replace("core__events", "core.events")).fetchall()
        sql = sqlglot.transpile(select, read="duckdb", write="spark")[0]
        try:
            got = [(r[0], r[1]) for r in spark.sql(sql).collect()]
        except Exception:  # an error is a difference too
            differing.append(name)
            continue
        if any(not _same(float(e[1]), float(g[1])) for e, g in zip(expected, got, strict=True)):
            differing.append(name)
    assert differing == list(NEEDS_REWRITE)


# ------------------------------------------- the simulator's data, both engines, published


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """The `s` programme ingested into a warehouse (the ingestion's own code, no Dagster)."""
    from pipelines.contract import SOURCE_NAMES
    from pipelines.ingest.merge import merge_source
    from pipelines.ingest.stage import stage_source
    from pipelines.ingest.warehouse import connect
    from pipelines.simulator import simulate

    root = tmp_path_factory.mktemp("spark_parity")
    simulate(root / "landing", scale="s", seed=20250101, fmt="parquet")
    con = connect(root / "warehouse.duckdb")
    for source in SOURCE_NAMES:
        stage_source(con, source, root / "landing", date(2000, 1, 1), date(2100, 1, 1), "r")
        merge_source(con, source)
    con.close()
    return root


def test_published_marts_are_identical(simulated, spark, monkeypatch):
    from pipelines.ingest.warehouse import connect
    from pipelines.marts import HELPER_TABLES, MART_TABLES, build_marts, built_row_counts
    from pipelines.serve.publish import publish

    monkeypatch.setenv("NUDGESCOPE_SPARK_DIR", str(simulated / "spark"))
    monkeypatch.delenv("NUDGESCOPE_ENGINE", raising=False)
    con = connect(simulated / "warehouse.duckdb")
    try:
        duckdb_counts = build_marts(con, engine="duckdb")
        duckdb_helpers = built_row_counts(con)
        publish(con, simulated / "serve_duckdb.duckdb", "run-duckdb")
        spark_counts = build_marts(con, engine="spark", spark=spark)
        spark_helpers = built_row_counts(con)
        publish(con, simulated / "serve_spark.duckdb", "run-spark")
    finally:
        con.close()
    assert spark_counts == duckdb_counts
    # the intermediate tables (mart_int, not published) are built on Spark too
    assert {t: spark_helpers[t] for t in HELPER_TABLES} == {
        t: duckdb_helpers[t] for t in HELPER_TABLES
    }
    assert all(duckdb_helpers[t] > 0 for t in HELPER_TABLES), duckdb_helpers
    assert not (simulated / "spark" / "build").exists()  # the exchange is cleaned up

    left = open_published(simulated / "serve_duckdb.duckdb")
    right = open_published(simulated / "serve_spark.duckdb")
    try:
        tables = [f"mart.{t}" for t in MART_TABLES]
        counts = {t: left.table(t).count("*").fetchall()[0][0] for t in tables}
        # the data exercises every table: none is trivially equal because it is empty
        assert all(n > 0 for n in counts.values()), counts
        assert counts["mart.sms_message_flags"] > 10_000
        assert diff_tables(left, right, tables) == []
        meta = "select as_of, settings from main.meta"
        assert left.execute(meta).fetchall() == right.execute(meta).fetchall()
    finally:
        left.close()
        right.close()
