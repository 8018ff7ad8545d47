"""Escape attempts against the SQL sandbox (issue #14): each one is refused, named, or stopped by
a limit. Refusals are decided by parsing, before any worker starts, so most cases are quick; the
ones that must run (file functions, limits) each start one worker process."""

from __future__ import annotations

import resource
import time

import duckdb
import pytest

from pipelines.errors import UserError
from pipelines.serve.sandbox import WORKER_MEMORY_BYTES, Limits, SandboxError, run


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("escapes") / "serve.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema core")
    con.execute(
        "create table core.users as "
        "select * from (values ('U1', 'A'), ('U2', 'B')) as t(user_id, band)"
    )
    con.execute("create table main.meta as select 'v1' as data_version")
    con.close()
    return path


# (sql, words that must be in the refusal): refused while parsing, nothing runs
REFUSED = [
    ("copy core.users to '/tmp/users.csv'", "COPY is refused"),
    ("copy (select 1) to '/tmp/x.parquet' (format parquet)", "COPY is refused"),
    ("copy core.users from '/etc/passwd'", "COPY is refused"),
    ("export database '/tmp/dump'", "EXPORT DATABASE is refused"),
    ("import database '/tmp/dump'", "IMPORT DATABASE is refused"),
    ("attach '/tmp/other.duckdb' as other", "ATTACH is refused"),
    ("attach ':memory:' as m", "ATTACH is refused"),
    ("detach serve", "DETACH is refused"),
    ("install httpfs", "INSTALL HTTPFS is refused"),
    ("force install httpfs", "FORCE INSTALL is refused"),
    ("load httpfs", "LOAD is refused"),
    ("set memory_limit = '20GB'", "SET MEMORY_LIMIT is refused"),
    ("set disabled_filesystems = ''", "SET DISABLED_FILESYSTEMS is refused"),
    ("set enable_external_access = true", "SET ENABLE_EXTERNAL_ACCESS is refused"),
    ("reset threads", "RESET is refused"),
    ("set variable x = 1", "SET VARIABLE is refused"),
    ("use memory", "USE is refused"),
    ("create table core.x as select 1", "CREATE TABLE is refused"),
    ("create temp table x as select 1", "CREATE TEMP is refused"),
    ("create macro m(a) as a + 1", "CREATE MACRO is refused"),
    ("create secret s (type s3, key_id 'k', secret 's')", "CREATE SECRET is refused"),
    ("create view v as select * from read_blob('/etc/passwd')", "CREATE VIEW is refused"),
    ("insert into core.users values ('U9', 'C')", "INSERT is refused"),
    ("update core.users set band = 'Z'", "UPDATE is refused"),
    ("delete from core.users", "DELETE is refused"),
    ("drop table core.users", "DROP TABLE is refused"),
    ("alter table core.users add column x int", "ALTER TABLE is refused"),
    ("truncate core.users", "TRUNCATE is refused"),
    ("checkpoint", "CHECKPOINT is refused"),
    ("vacuum", "VACUUM is refused"),
    ("analyze", "ANALYZE is refused"),
    ("begin transaction", "BEGIN is refused"),
    ("pragma version", "PRAGMA is refused"),
    ("pragma enable_profiling", "PRAGMA is refused"),
    ("call pragma_version()", "CALL is refused"),
    ("prepare p as select 1", "PREPARE is refused"),
    ("execute p", "EXECUTE is refused"),
    ("explain analyze create table core.x as select 1", "EXPLAIN is refused"),
    ("explain set threads = 1", "EXPLAIN is refused"),
    ("select 1; select 2", "one statement at a time"),
    ("select 1; attach '/tmp/x.duckdb'", "one statement at a time"),
    ("-- only a comment", "the query is empty"),
    ("   ", "the query is empty"),
]


@pytest.mark.parametrize(("sql", "words"), REFUSED)
def test_refused_before_anything_runs(db, sql, words):
    started = time.monotonic()
    with pytest.raises(SandboxError) as err:
        run(sql, db)
    assert err.value.kind == "refused", err.value.message
    assert words in err.value.message, err.value.message
    assert "\n" not in err.value.message
    assert time.monotonic() - started < 2  # no worker process was needed


# Reading any file from SQL — the database's own file and WAL included — is refused at run time
# by DuckDB itself: the worker's connection has no local file system.
FILE_READS = [
    "select * from read_blob('{db}')",
    "select * from read_text('{db}.wal')",
    "select * from read_text('{db}')",
    "select * from read_csv('/etc/passwd')",
    "select * from read_json_objects('/etc/hostname')",
    "select * from read_parquet('{db}')",
    "select * from parquet_metadata('/tmp/x.parquet')",
    "select * from glob('/etc/*')",
    "select * from '{db}'",
    "select * from read_blob('/proc/self/environ')",
    "select * from query('select * from read_blob(''{db}'')')",
    "with t as (select * from read_text('{db}')) select length(content) from t",
    "select * from (pivot (select * from read_blob('{db}')) on filename using count(*))",
]


@pytest.mark.parametrize("sql", FILE_READS)
def test_no_file_can_be_read(db, sql):
    with pytest.raises(SandboxError) as err:
        run(sql.format(db=db), db)
    assert err.value.kind == "refused", err.value.message
    assert err.value.message.split(" is refused: ")[0] in sql or err.value.message.startswith(
        "file access is refused"
    )
    assert "DUCK" not in err.value.message


def test_pivot_works(db):
    r = run("select * from (pivot core.users on band using count(*)) order by all", db)
    assert r.columns == ["user_id", "A", "B"]
    assert r.rows == [("U1", 1, 0), ("U2", 0, 1)]
    top = run("pivot core.users on band using count(*) order by user_id", db)
    assert top.rows == [("U1", 1, 0), ("U2", 0, 1)]


def test_time_limit_holds_for_a_query_that_ignores_interrupts(db):
    # levenshtein of two long strings does not check for interrupts: the worker is killed
    started = time.monotonic()
    with pytest.raises(SandboxError) as err:
        run(
            "select levenshtein(repeat('a', 150000), repeat('b', 150000))",
            db,
            Limits(timeout_s=1.0),
        )
    assert err.value.kind == "timeout" and "1 s time limit" in err.value.message
    assert time.monotonic() - started < 1.0 + 1.0 + _startup_allowance()


def test_time_limit_holds_for_an_endless_recursive_query(db):
    started = time.monotonic()
    with pytest.raises(SandboxError) as err:
        run(
            "with recursive r(n) as (select 1 union all select n + 1 from r) "
            "select count(*) from r",
            db,
            Limits(timeout_s=1.0),
        )
    assert err.value.kind in ("timeout", "error")
    assert time.monotonic() - started < 1.0 + 1.0 + _startup_allowance()


def _startup_allowance() -> float:
    """Worst case seen for a worker process to start on a loaded 2-core machine (the limit
    counts from when the worker is ready)."""
    return 6.0


def test_memory_limit_holds(db):
    with pytest.raises(SandboxError) as err:
        run("select length(repeat('x', 1500000000))", db, Limits(timeout_s=20))
    assert err.value.kind == "error" and "memory" in err.value.message
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kb * 1024 <= WORKER_MEMORY_BYTES


def test_output_is_capped_in_bytes(db):
    r = run("select repeat('x', 2000000) as big from range(20)", db, Limits(max_bytes=5_000_000))
    assert r.truncated and len(r.rows) == 2  # 2 x 2 MB fit in 5 MB, the third does not
    assert "capped at" in r.notes[0]
    alone = run("select repeat('x', 20000000) from range(20)", db, Limits(max_bytes=5_000_000))
    assert alone.rows == [] and "first row alone" in alone.notes[0]


def test_row_cap(db):
    r = run("select * from range(100)", db, Limits(max_rows=7))
    assert len(r.rows) == 7 and r.truncated


def test_a_lock_held_by_another_program_is_one_line(db, tmp_path, capsys):
    from pipelines.cli import main

    copy = tmp_path / "serve.duckdb"
    copy.write_bytes(db.read_bytes())
    holder = duckdb.connect(str(copy))  # read-write: the file is locked for everyone else
    try:
        with pytest.raises(SandboxError) as err:
            run("select 1", copy)
        assert err.value.kind == "locked"
        assert "locked by another program" in err.value.message
        assert "\n" not in err.value.message
        assert main(["sql", "select 1", "--db", str(copy)]) == 2
        out = capsys.readouterr().err
        assert out.startswith("nudgescope sql: locked:") and out.count("\n") == 1
    finally:
        holder.close()


def test_cli_refusal_names_what_was_refused(db):
    import argparse

    from pipelines.cli import sql as sql_command

    parser = argparse.ArgumentParser()
    sql_command.register(parser.add_subparsers())
    args = parser.parse_args(["sql", "import database '/tmp/x'", "--db", str(db)])
    with pytest.raises(UserError, match="refused: IMPORT DATABASE is refused"):
        args.func(args)


def test_catalogue_has_at_least_40_escape_attempts():
    assert len(REFUSED) + len(FILE_READS) + 7 >= 40
