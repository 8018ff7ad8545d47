"""The engine layer without Spark: engine choice, which mart files run where, the transpiled
SQL of each dialect rewrite, the DuckDB side of the Parquet exchange, and the parity diff.
Spark itself runs in tests/engines/test_spark_parity.py."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.engines import engine_name, exchange, parity, run_sql_files
from pipelines.engines.session import extra_conf, master_url
from pipelines.engines.transpile import DUCKDB, SPARK, NotPortable, plan, view_name
from pipelines.marts import MART_FILES, MetricSettings

# ------------------------------------------------------------------------- engine setting


def test_engine_defaults_to_duckdb(monkeypatch):
    monkeypatch.delenv("NUDGESCOPE_ENGINE", raising=False)
    assert engine_name() == "duckdb"


def test_engine_from_environment_and_argument(monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_ENGINE", "Spark")
    assert engine_name() == "spark"
    assert engine_name("duckdb") == "duckdb"


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="unknown engine 'polars'"):
        engine_name("polars")


def test_master_url_and_extra_conf(monkeypatch):
    monkeypatch.delenv("NUDGESCOPE_SPARK_MASTER", raising=False)
    assert master_url() == "local[*]"
    monkeypatch.setenv("NUDGESCOPE_SPARK_MASTER", "spark://head:7077")
    assert master_url() == "spark://head:7077"
    assert master_url("local[2]") == "local[2]"
    assert extra_conf("spark.executor.memory=8g; spark.executor.cores=4;") == {
        "spark.executor.memory": "8g",
        "spark.executor.cores": "4",
    }
    with pytest.raises(ValueError, match="key=value"):
        extra_conf("spark.executor.memory")


# ---------------------------------------------------------- which mart files run where


def test_every_mart_file_has_a_spark_plan():
    # the record of which files transpile: all of them, none needs a second version
    plans = {name: plan(name) for name, _ in MART_FILES}
    on_duckdb = {name: p.reason for name, p in plans.items() if p.runs_on == DUCKDB}
    assert on_duckdb == {
        "marts/schema": "DDL",
        "marts/run_context": "bound parameters",
        "marts/metrics": "DDL",
        "marts/schema_int": "DDL",  # the schema of the intermediate tables
    }
    for name, p in plans.items():
        if p.runs_on == SPARK:
            assert p.target in (f"mart.{name.split('/')[1]}", f"mart_int.{name.split('/')[1]}") or (
                p.kind == "insert"
            ), name
            assert p.spark_query and p.duckdb_query, name
            for schema in ("mart", "mart_int", "core"):
                assert f" {schema}." not in p.spark_query, name


def test_metric_families_insert_into_metrics():
    p = plan("marts/metrics_bills")
    assert (p.runs_on, p.kind, p.target) == (SPARK, "insert", "mart.metrics")
    assert p.reads == ("mart.bill_state",)


def test_reads_are_the_schema_qualified_tables():
    p = plan("marts/bill_state")
    assert p.reads == ("core.bills", "core.repayments", "core.users", "mart.run_context")


# ----------------------------------------------------------------- the rewrites, as text


def _spark(select: str) -> str:
    return plan("t", f"create table mart.t as {select}").spark_query


def test_tables_become_views_keeping_their_name_as_qualifier():
    assert view_name("core.bills") == "core__bills"
    sql = _spark("select bills.bill_id, r.amount from core.bills join core.repayments r using (x)")
    assert "FROM core__bills AS bills" in sql
    assert "JOIN core__repayments AS r" in sql


def test_division_is_floating_point():
    assert _spark("select a / b as r from t") == "SELECT CAST(a AS DOUBLE) / b AS r FROM t"
    # already a double: left alone; integer division keeps Spark's DIV
    assert _spark("select cast(a as double) / b from t") == "SELECT CAST(a AS DOUBLE) / b FROM t"
    assert _spark("select a // b from t") == "SELECT a DIV b FROM t"


def test_local_time_uses_convert_timezone():
    sql = _spark("select cast(ts at time zone 'Asia/Shanghai' as date) as d from t")
    assert sql == "SELECT CAST(CONVERT_TIMEZONE('Asia/Shanghai', ts) AS DATE) AS d FROM t"


def test_date_diff_counts_boundaries():
    assert _spark("select date_diff('day', a, b) from t") == (
        "SELECT DATEDIFF(CAST(b AS DATE), CAST(a AS DATE)) FROM t"
    )
    assert _spark("select date_diff('month', a, b) from t") == (
        "SELECT ((YEAR(b) * 12 + MONTH(b)) - (YEAR(a) * 12 + MONTH(a))) FROM t"
    )


def test_weekday_functions_are_renumbered():
    assert _spark("select isodow(d) from t") == "SELECT (WEEKDAY(d) + 1) FROM t"
    assert _spark("select dayofweek(d) from t") == "SELECT (DAYOFWEEK(d) - 1) FROM t"


def test_constructs_without_an_exact_rewrite_are_refused():
    with pytest.raises(NotPortable, match="date_diff\\('hour'"):
        _spark("select date_diff('hour', a, b) from t")
    with pytest.raises(NotPortable, match="ORDER BY"):
        _spark("select list(x order by y) from t")


def test_ddl_and_parameters_stay_on_duckdb():
    assert plan("t", "create schema if not exists mart").runs_on == DUCKDB
    assert plan("t", "create or replace table mart.t (a int)").runs_on == DUCKDB
    p = plan("t", "create or replace table mart.t as select $x as a")
    assert (p.runs_on, p.reason) == (DUCKDB, "bound parameters")


def test_one_statement_per_file():
    with pytest.raises(ValueError, match="one statement"):
        plan("t", "select 1; select 2")


# ------------------------------------------------------------ the exchange, DuckDB side


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema core")
    c.execute(
        "create table core.sms (id varchar, sent_at timestamptz, amount decimal(18,2), "
        "tags varchar[], _dt date, _file varchar, _row bigint)"
    )
    c.execute(
        "insert into core.sms values "
        "('a', '2024-01-01 23:30:00+08', 1.10, ['x'], '2024-01-01', 'f1', 1), "
        "('b', '2024-01-02 00:30:00+08', 2.20, [], '2024-01-02', 'f2', 1), "
        "('c', '2024-01-02 08:00:00+08', null, null, '2024-01-02', 'f2', 2)"
    )
    yield c
    c.close()


def test_export_partitions_by_date_and_keeps_every_value(con, tmp_path):
    dest = tmp_path / "sms"
    assert exchange.export_table(con, "core.sms", dest) == "_dt"
    assert sorted(p.name for p in dest.iterdir()) == ["_dt=2024-01-01", "_dt=2024-01-02"]
    back = con.execute(
        "select id, sent_at, amount, tags, cast(_dt as date), _file, _row "
        "from read_parquet($g, hive_partitioning = true) order by id",
        {"g": str(dest / "*" / "*.parquet")},
    ).fetchall()
    assert back == con.execute("select * from core.sms order by id").fetchall()


def test_export_of_an_empty_table_is_one_file_with_its_schema(con, tmp_path):
    con.execute("create table core.empty as select * from core.sms limit 0")
    dest = tmp_path / "empty"
    assert exchange.export_table(con, "core.empty", dest) is None
    rel = con.sql(f"select * from read_parquet('{dest}/data.parquet')")
    assert rel.columns == ["id", "sent_at", "amount", "tags", "_dt", "_file", "_row"]
    assert rel.fetchall() == []


def test_import_casts_to_duckdbs_own_types(con, tmp_path):
    # Parquet as Spark would write it: a sum as DECIMAL(28,2), a count as BIGINT
    src = tmp_path / "out"
    src.mkdir()
    con.execute(
        f"copy (select 'a' as id, 3.30::decimal(28,2) as total, 2::bigint as n) "
        f"to '{src}/part-0.parquet' (format parquet)"
    )
    con.execute("create schema mart")
    types = exchange.query_columns(
        con, "select id, sum(amount) as total, count(*) as n from core.sms group by id"
    )
    assert types == [("id", "VARCHAR"), ("total", "DECIMAL(38,2)"), ("n", "BIGINT")]
    exchange.import_created(con, "mart.totals", src, types)
    assert exchange.table_columns(con, "mart.totals") == types
    assert con.execute("select * from mart.totals").fetchall()[0][2] == 2


def test_import_of_an_insert_is_positional(con, tmp_path):
    src = tmp_path / "out"
    src.mkdir()
    con.execute(f"copy (select 'x' as c0, 1.5 as c1) to '{src}/part-0.parquet' (format parquet)")
    con.execute("create schema mart")
    con.execute("create table mart.m (metric varchar, value double)")
    exchange.import_inserted(con, "mart.m", src)
    assert con.execute("select * from mart.m").fetchall() == [("x", 1.5)]


def test_import_needs_parquet_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no Parquet"):
        exchange.parquet_files(tmp_path)


# ------------------------------------------------------------------------- parity diff


def _two(rows_left: str, rows_right: str):
    left, right = duckdb.connect(), duckdb.connect()
    for c, rows in ((left, rows_left), (right, rows_right)):
        c.execute("create schema mart")
        c.execute(f"create table mart.t as select * from (values {rows}) v(k, x, d)")
    return left, right


def test_parity_accepts_float_noise_and_row_order():
    left, right = _two(
        "('a', 1.0::double, 1), ('b', 1e9::double, 2)",
        "('b', 1e9::double + 1e-4, 2), ('a', 1.0::double + 1e-12, 1)",
    )
    assert parity.diff_tables(left, right, ["mart.t"]) == []


def test_parity_reports_a_real_difference():
    left, right = _two("('a', 0.5::double, 1)", "('a', 0.5000001::double, 1)")
    assert parity.diff_tables(left, right, ["mart.t"]) == ["mart.t row 0: x: 0.5 vs 0.5000001"]
    left, right = _two("('a', 0.5::double, 1)", "('a', 0.5::double, 1::bigint)")
    assert "columns differ" in parity.diff_tables(left, right, ["mart.t"])[0]


def test_duckdb_engine_runs_the_files_as_they_are():
    c = duckdb.connect()
    c.execute("create schema core")
    c.execute("create schema ingest")
    c.execute("create table ingest.file_ledger (dt date, status varchar)")
    c.execute("insert into ingest.file_ledger values ('2024-01-31', 'loaded')")

    steps = run_sql_files(
        c,
        ["marts/schema", "marts/run_context"],
        params={"marts/run_context": MetricSettings().as_params()},
    )
    assert steps == []
    assert str(c.execute("select as_of from mart.run_context").fetchall()[0][0]) == "2024-01-31"
