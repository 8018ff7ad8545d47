"""The incremental machinery of pipelines.marts: the build order derived from the lineage of
the parsed SQL, table references rewritten on the parsed SQL, the temp tables of a build in
one place, and the one experiment fan-out (mart_int.user_scopes) with hand-worked rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import duckdb
import pytest
from test_metrics_incremental import _base, _sms

from pipelines.marts import (
    AGG_FILES,
    BUILD_ORDER,
    BUILT_TABLES,
    HELPER_TABLES,
    MART_FILES,
    LineageError,
    RewriteError,
    build_order,
    parse_cache,
    parse_file,
    run_build,
    scoped_insert,
    temp,
)
from pipelines.marts.build import AGG_PLAN_READS
from pipelines.marts.diff import changed_keys
from tests.fixtures.metrics.warehouse import Warehouse

# --------------------------------------------------------------------------- lineage


def _file(name: str, sql: str):
    return parse_file(f"marts/{name}", sql)


SCHEMA = _file("schema", "create schema if not exists mart")


def _names(files) -> list[str]:
    return [f.name.split("/")[1] for f in files]


def test_a_file_knows_what_it_writes_and_reads():
    f = _file(
        "t",
        """create or replace table mart.t as
        with recent as (select * from core.orders where x > 1)
        select r.*, u.band from recent as r left join core.users as u using (user_id)""",
    )
    # the CTE `recent` and the aliases are not tables
    assert (f.kind, f.writes, f.table) == ("create", "mart.t", "mart.t")
    assert f.reads == {"core.orders", "core.users"}
    f = _file("i", "insert into mart.metrics select * from mart.bill_state")
    assert (f.kind, f.writes, f.table, f.reads) == (
        "insert",
        "mart.metrics",
        None,
        {"mart.bill_state"},
    )
    assert (SCHEMA.kind, SCHEMA.writes, SCHEMA.schema) == ("schema", "mart", "mart")


def test_a_file_that_reads_another_runs_after_it_whatever_its_name():
    base = _file("z_base", "create table mart.z_base as select * from core.users")
    summary = _file("a_summary", "create table mart.a_summary as select count(*) from mart.z_base")
    other = _file("m_other", "create table mart.m_other as select 1 as one")
    assert _names(build_order([summary, other, base, SCHEMA])) == [
        "schema", "m_other", "z_base", "a_summary"
    ]  # fmt: skip


def test_inserts_follow_the_create_and_readers_follow_every_insert():
    create = _file("metrics", "create table mart.metrics (metric varchar, value double)")
    ins_a = _file("metrics_a", "insert into mart.metrics select 'a', 1.0")
    ins_b = _file("metrics_b", "insert into mart.metrics select 'b', x from mart.z_input")
    z_input = _file("z_input", "create table mart.z_input as select 2.0 as x")
    reader = _file(
        "catalog", "create table mart.catalog as select distinct metric from mart.metrics"
    )
    order = _names(build_order([reader, ins_b, ins_a, create, z_input, SCHEMA]))
    assert order == ["schema", "metrics", "metrics_a", "z_input", "metrics_b", "catalog"]


def test_extra_reads_order_a_file_after_what_its_planning_reads():
    a = _file("a_agg", "create table mart.a_agg as select * from core.users")
    cycle = _file("user_cycle", "create table mart.user_cycle as select * from core.bills")
    assert _names(build_order([a, cycle, SCHEMA])) == ["schema", "a_agg", "user_cycle"]
    ordered = build_order([a, cycle, SCHEMA], extra_reads={"marts/a_agg": ["mart.user_cycle"]})
    assert _names(ordered) == ["schema", "user_cycle", "a_agg"]


def test_a_cycle_is_a_clear_error():
    a = _file("a", "create table mart.a as select * from mart.b")
    b = _file("b", "create table mart.b as select * from mart.c")
    c = _file("c", "create table mart.c as select * from mart.a")
    ok = _file("ok", "create table mart.ok as select 1 as one")
    with pytest.raises(LineageError, match="cycle: marts/a -> marts/c -> marts/b -> marts/a"):
        build_order([a, b, c, ok, SCHEMA])


def test_tables_nobody_writes_or_writes_twice_are_errors():
    reads_missing = _file("x", "create table mart.x as select * from mart.nowhere")
    with pytest.raises(LineageError, match="marts/x reads mart.nowhere, which no mart file"):
        build_order([reads_missing, SCHEMA])
    one = _file("one", "create table mart.t as select 1 as v")
    two = _file("two", "create or replace table mart.t as select 2 as v")
    with pytest.raises(LineageError, match="mart.t is created by two files"):
        build_order([one, two, SCHEMA])
    orphan = _file("orphan", "insert into mart.t2 select 1")
    with pytest.raises(LineageError, match="inserts into mart.t2, which no mart file creates"):
        build_order([orphan, SCHEMA])
    with pytest.raises(LineageError, match="one statement"):
        _file("two_statements", "select 1; select 2")
    with pytest.raises(LineageError, match="schema-qualified"):
        _file("unqualified", "create table t as select 1")


def test_a_new_mart_file_is_ordered_after_the_real_file_it_reads():
    new = _file("aaa_new", "create table mart.aaa_new as select count(*) from mart.user_cycle")
    files = [*BUILD_ORDER, new]
    names = [f.name for f in build_order(files)]
    assert names.index("marts/aaa_new") > names.index("marts/user_cycle")


def test_the_real_build_order_runs_every_file_after_what_it_reads():
    seen: set[str] = set()
    schemas: set[str] = set()
    writers = {f.writes for f in BUILD_ORDER}
    for f in BUILD_ORDER:
        assert f.schema in schemas or f.kind == "schema", f.name
        for table in f.reads:
            if table in writers:
                later = [g.name for g in BUILD_ORDER[BUILD_ORDER.index(f) :] if g.writes == table]
                assert not later or later == [f.name], (f.name, table, later)
                assert table in seen, (f.name, table)
        if f.name in AGG_FILES:
            assert set(AGG_PLAN_READS) <= seen, f.name
        seen.add(f.writes)
        if f.kind == "schema":
            schemas.add(f.writes)
    assert [name for name, _ in MART_FILES] == [f.name for f in BUILD_ORDER]
    # the tables in the order they are complete: each after every table its files read (the
    # order Dagster wants the assets reported in); mart.metrics after what its inserts read
    for table in BUILT_TABLES:
        for f in BUILD_ORDER:
            if f.writes == table:
                for read in f.reads & set(BUILT_TABLES):
                    assert BUILT_TABLES.index(read) < BUILT_TABLES.index(table), (table, read)
    assert BUILT_TABLES.index("mart.metrics") > BUILT_TABLES.index("mart.bill_state")


# --------------------------------------------------------------------------- rewriting

FILE = """-- a comment naming mart.sms_message_flags stays a comment
create or replace table mart.agg as
with sms_message_flags as (
    select f.local_date, f.user_id, 'mart.sms_message_flags' as label
    from mart.sms_message_flags as f
    left join core.users as u on u.user_id = f.user_id
)
select sms_message_flags.local_date, count(*) as n, min(label) as label
from sms_message_flags
group by 1
union all
select mart.sms_message_flags.local_date, count(*), 'whole'
from mart.sms_message_flags
group by 1
"""


def test_table_references_are_swapped_on_the_parsed_sql():
    sql = scoped_insert("marts/agg", {"mart.sms_message_flags": "flags_in_scope"}, sql=FILE)
    # the file's own text from the query on, with exactly the three references replaced: the
    # aliased one, the unaliased one (aliased under its own name) and the column qualified
    # with the schema; the comment, the CTE of the same name, the string literal and
    # core.users untouched
    query = FILE.split("create or replace table mart.agg as\n", 1)[1].strip()
    expected = (
        query.replace("from mart.sms_message_flags as f", "from flags_in_scope as f")
        .replace("select mart.sms_message_flags.local_date", "select sms_message_flags.local_date")
        .replace(
            "from mart.sms_message_flags\ngroup",
            "from flags_in_scope as sms_message_flags\ngroup",
        )
    )
    assert expected != query
    assert sql == f"insert into mart.agg by name\n{expected}\n"
    assert "'mart.sms_message_flags' as label" in sql and "core.users" in sql


def test_the_rewritten_sql_runs_and_keeps_the_rows_of_its_scope():
    con = duckdb.connect()
    con.execute("create schema mart")
    con.execute("create schema core")
    con.execute("create table core.users (user_id varchar)")
    con.execute(
        "create table mart.sms_message_flags as select * from (values "
        "(date '2024-03-01', 'u1'), (date '2024-03-02', 'u1'), (date '2024-03-02', 'u2')) "
        "as t (local_date, user_id)"
    )
    con.execute("create table mart.agg (local_date date, n bigint, label varchar)")
    con.execute(
        "create temp table scope as select * from mart.sms_message_flags where user_id = 'u2'"
    )
    con.execute(
        scoped_insert(
            "marts/agg",
            {"mart.sms_message_flags": "scope"},
            "q.local_date = date '2024-03-02'",
            sql=FILE,
        )
    )
    # u2's one message of 03-02, once from the CTE and once from the second branch
    assert sorted(con.execute("select * from mart.agg").fetchall()) == [
        (dt.date(2024, 3, 2), 1, "mart.sms_message_flags"),
        (dt.date(2024, 3, 2), 1, "whole"),
    ]


def test_files_of_another_shape_are_refused():
    with pytest.raises(RewriteError, match="does not read core.sms_logs"):
        scoped_insert("marts/agg", {"core.sms_logs": "flags_input"}, sql=FILE)
    with pytest.raises(RewriteError, match="expected one `create or replace table"):
        scoped_insert("marts/m", {"mart.x": "y"}, sql="insert into mart.m select * from mart.x")
    # a reference spelled with spaces is not silently missed
    with pytest.raises(RewriteError, match="write it as schema.table"):
        scoped_insert(
            "marts/m", {"mart.x": "y"}, sql="create table mart.m as select * from mart . x"
        )


def test_the_real_scoped_files_read_their_temp_input():
    from pipelines.marts.state import flags_scoped_sql, scoped_file_sql

    flags = flags_scoped_sql()
    assert "core.sms_logs" not in flags and flags.count("flags_input") == 2
    assert flags.startswith("insert into mart.sms_message_flags by name")
    days = scoped_file_sql("marts/sms_user_days")
    assert days.startswith("insert into mart_int.sms_user_days by name")
    assert "flags_in_scope" in days and "mart.sms_message_flags" not in days


# --------------------------------------------------------------------------- parse cache


@pytest.fixture
def parse_cache_dir(tmp_path, monkeypatch):
    from pipelines.marts import rewrite

    folder = tmp_path / "parse-cache"
    monkeypatch.setenv(parse_cache.CACHE_ENV, str(folder))
    rewrite._file_scoped_insert.cache_clear()  # the per-process memo would hide the disk
    yield folder
    rewrite._file_scoped_insert.cache_clear()


def _entries(folder, kind):
    return sorted(p.name for p in folder.glob(f"{kind}-*.json"))


def test_a_second_process_reads_the_lineage_and_rewrites_without_parsing(
    parse_cache_dir, monkeypatch
):
    from pipelines.marts import lineage, rewrite

    files = lineage.read_files("marts")
    days_sql = scoped_insert("marts/sms_user_days", {"mart.sms_message_flags": "f"})
    assert len(_entries(parse_cache_dir, "lineage")) == 1
    assert len(_entries(parse_cache_dir, "scoped_insert")) == 1

    # as a new process: nothing parsed in memory, and parsing would fail the test
    rewrite._file_scoped_insert.cache_clear()

    def no_parsing(*_args, **_kwargs):
        raise AssertionError("parsed although the cache holds the result")

    monkeypatch.setattr(lineage, "parse_file", no_parsing)
    monkeypatch.setattr(rewrite, "_scoped_insert", no_parsing)
    again = lineage.read_files("marts")
    assert again == files
    assert {f.name for f in again} == {f.name for f in BUILD_ORDER}
    user_cycle = next(f for f in again if f.name == "marts/user_cycle")
    assert (user_cycle.kind, user_cycle.writes) == ("create", "mart.user_cycle")
    assert {"mart.bill_state", "core.opt_outs"} <= user_cycle.reads
    assert lineage.file_table("marts/sms_user_days") == "mart_int.sms_user_days"
    assert scoped_insert("marts/sms_user_days", {"mart.sms_message_flags": "f"}) == days_sql
    assert days_sql.startswith("insert into mart_int.sms_user_days by name")


def test_another_text_argument_or_code_is_another_entry(monkeypatch):
    key = parse_cache.key
    assert key("lineage", "a") == key("lineage", "a")
    assert key("lineage", "a") != key("lineage", "a ")  # one more byte of SQL
    assert key("lineage", "ab", "c") != key("lineage", "a", "bc")  # parts keep their bounds
    assert key("lineage", "a") != key("scoped_insert", "a")
    before = key("lineage", "a")
    monkeypatch.setattr(parse_cache, "_code_digest", lambda: "other rules")
    assert key("lineage", "a") != before


def test_a_damaged_or_unwritable_cache_costs_only_the_parse(parse_cache_dir, monkeypatch):
    from pipelines.marts import lineage

    files = lineage.read_files("marts")
    (entry,) = parse_cache_dir.glob("lineage-*.json")
    entry.write_text('[{"name": "marts/x"}]')  # another shape: parsed again, entry rewritten
    assert lineage.read_files("marts") == files
    assert json.loads(entry.read_text())[0]["name"] == files[0].name
    entry.write_text("{not json")
    assert lineage.read_files("marts") == files

    blocked = parse_cache_dir / "a-file"
    blocked.write_text("")
    monkeypatch.setenv(parse_cache.CACHE_ENV, str(blocked / "below-a-file"))
    assert lineage.read_files("marts") == files  # nothing written, nothing raised
    monkeypatch.setenv(parse_cache.CACHE_ENV, "off")
    assert parse_cache.folder() is None
    monkeypatch.delenv(parse_cache.CACHE_ENV)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(os.path, "expanduser", lambda path: path)  # no home folder known
    assert parse_cache.folder() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(parse_cache_dir / "xdg"))
    assert parse_cache.folder() == parse_cache_dir / "xdg" / "nudgescope" / "sql-parse"
    monkeypatch.setenv(parse_cache.CACHE_ENV, "off")
    assert lineage.read_files("marts") == files


def test_a_process_that_may_not_write_files_still_imports_the_marts(tmp_path):
    # the SQL sandbox's workers run with RLIMIT_FSIZE 0: every write fails there (EFBIG;
    # Python ignores SIGXFSZ), and importing the marts must not
    folder = tmp_path / "cold"
    code = (
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))\n"
        "from pipelines.marts import BUILD_ORDER\n"
        "print(len(BUILD_ORDER))\n"
    )
    env = {**os.environ, parse_cache.CACHE_ENV: str(folder)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == len(BUILD_ORDER)
    assert not folder.exists() or not any(folder.iterdir())


def test_the_cache_keeps_its_newest_entries(parse_cache_dir, monkeypatch):
    monkeypatch.setattr(parse_cache, "KEEP", 3)
    for i in range(5):
        parse_cache.put(f"t-{i}.json", i)
        os.utime(parse_cache_dir / f"t-{i}.json", (i, i))  # written in this order
    assert _entries(parse_cache_dir, "t") == ["t-2.json", "t-3.json", "t-4.json"]
    assert parse_cache.get("t-4.json") == 4 and parse_cache.get("t-0.json") is None


# --------------------------------------------------------------------------- temp tables


def test_only_declared_temp_tables_and_none_left_after_a_build():
    con = duckdb.connect()
    with pytest.raises(KeyError, match="not declared"):
        temp.create(con, "my_scratch", "select 1")
    w = _base()
    assert run_build(w.con).flags.full
    _sms(w, "n1", "u1", "2024-03-23 09:00:00+08")
    plan = run_build(w.con)
    assert not plan.flags.full and plan.flags.scope_dates == 2 and not plan.aggregates_full
    assert w.rows("select count(*) from duckdb_tables() where temporary") == [(0,)]


# --------------------------------------------------------------------------- user_scopes


def test_user_scopes_is_the_one_fan_out():
    w = Warehouse(as_of="2024-03-31")
    w.add("users", user_id="u1", score_band="A")
    w.add("users", user_id="u2", score_band="B")
    for exp_id, user in (("e1", "u1"), ("e2", "u1"), ("e1", "u3")):  # u3: not in users
        w.add("experiment_assignments", experiment_id=exp_id, user_id=user, arm="control")
    # one marketing message each for u1, u2, u3 and u9 (u9 unknown everywhere), on 03-05
    for user in ("u1", "u2", "u3", "u9"):
        w.add("sms_logs", user_id=user, sent_at="2024-03-05 10:00:00+08")
    w.build()
    assert sorted(w.rows("select * from mart_int.user_scopes"), key=repr) == sorted(
        [("u1", "A", "*"), ("u1", "A", "e1"), ("u1", "A", "e2"), ("u2", "B", "*"),
         ("u3", None, "*"), ("u3", None, "e1")], key=repr,
    )  # fmt: skip
    # every message once in '*', once per experiment of its user; u9 in '*' without a band
    got = w.rows(
        "select score_band, experiment_id, sum(messages) from mart.sms_daily_flags "
        "group by all order by 2, 1 nulls first"
    )
    assert got == [(None, "*", 2), ("A", "*", 1), ("B", "*", 1), (None, "e1", 1),
                   ("A", "e1", 1), ("A", "e2", 1)]  # fmt: skip
    assert "mart_int.user_scopes" in HELPER_TABLES


def test_changed_keys_finds_new_gone_and_changed_rows_by_key():
    con = duckdb.connect()
    con.execute("create table saved (k varchar, d date, v int, w varchar)")
    con.execute("create table now (k varchar, d date, v int, w varchar)")
    con.execute(
        """insert into saved values
        ('a', '2024-01-01', 1, 'x'),  -- the same in now
        ('b', '2024-01-01', 1, 'x'),  -- v changes
        ('c', '2024-01-01', 1, null), -- w becomes 'x'
        ('d', '2024-01-01', 1, 'x'),  -- gone
        ('a', '2024-01-02', 1, 'x'),  -- gone (the same k on another date)
        (null, '2024-01-01', 1, 'x')  -- a null key, the same in now"""
    )
    con.execute(
        """insert into now values
        ('a', '2024-01-01', 1, 'x'),
        ('b', '2024-01-01', 2, 'x'),
        ('c', '2024-01-01', 1, 'x'),
        ('e', '2024-01-01', 1, 'x'),  -- new
        (null, '2024-01-01', 1, 'x')"""
    )
    sql = changed_keys("now", "saved", ("k", "d"), ("v", "w"))
    got = con.execute(f"select k, cast(d as varchar) from ({sql}) order by all").fetchall()
    assert got == [
        ("a", "2024-01-02"),
        ("b", "2024-01-01"),
        ("c", "2024-01-01"),
        ("d", "2024-01-01"),
        ("e", "2024-01-01"),
    ]
    # no values: only new and gone keys
    sql = changed_keys("now", "saved", ("k", "d"), ())
    got = con.execute(f"select k from ({sql}) order by all").fetchall()
    assert got == [("a",), ("d",), ("e",)]
