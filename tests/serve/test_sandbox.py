"""The SQL sandbox (pipelines/serve/sandbox.py) and `nudgescope sql` on the fixture database."""

from __future__ import annotations

import argparse
import json
import time

import pytest

from pipelines.cli import sql as sql_command
from pipelines.errors import UserError
from pipelines.serve.sandbox import Limits, SandboxError, run
from tests.fixtures.dashboard.build import build


@pytest.fixture(scope="module")
def _fixture_db(tmp_path_factory):
    return build(tmp_path_factory.mktemp("serve") / "serve.duckdb")


@pytest.fixture
def serve(_isolated_data_dir, _fixture_db, monkeypatch):
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(_fixture_db))
    return _fixture_db


def test_select_returns_rows_and_types(serve):
    r = run("select count(*) as n, sum(value) as gmv from mart.metrics where metric = 'bnpl_gmv'")
    assert r.columns == ["n", "gmv"]
    assert r.rows == [(3, pytest.approx(30345.6))]
    assert not r.truncated


def test_explain_and_describe_are_allowed(serve):
    assert run("explain select * from core.users").rows
    assert run("EXPLAIN ANALYZE select count(*) from mart.metrics").rows
    cols = [row[0] for row in run("describe mart.user_cycle").rows]
    assert cols[:3] == ["bill_id", "user_id", "cycle"]


@pytest.mark.parametrize(
    ("sql", "kind", "words"),
    [
        ("select * from read_csv('/etc/passwd')", "refused", "file, network"),
        ("select * from '/etc/passwd'", "error", "does not exist"),
        ("copy core.users to '/tmp/users.csv'", "refused", "COPY"),
        ("copy (select 1) to '/tmp/x.parquet' (format parquet)", "refused", "COPY"),
        ("export database '/tmp/dump'", "refused", "EXPORT"),
        ("attach '/tmp/other.duckdb' as other", "refused", "ATTACH"),
        ("install httpfs", "refused", "extensions"),
        ("load httpfs", "refused", "extensions"),
        ("set memory_limit = '20GB'", "refused", "settings are locked"),
        ("reset threads", "refused", "settings are locked"),
        ("create table mart.x as select 1", "refused", "read-only"),
        ("drop table mart.metrics", "refused", "read-only"),
        ("delete from mart.metrics", "refused", "read-only"),
        ("pragma version", "refused", "PRAGMA"),
        ("explain analyze create table mart.x as select 1", "refused", "EXPLAIN"),
        ("explain set threads = 1", "refused", "EXPLAIN"),
        ("select 1; select 2", "refused", "one statement"),
        ("   ", "refused", "empty"),
        ("selec 1", "error", "syntax"),
        ("select * from mart.nope", "error", "nope"),
    ],
)
def test_escapes_are_refused_with_a_clear_message(serve, sql, kind, words):
    with pytest.raises(SandboxError) as err:
        run(sql)
    assert err.value.kind == kind
    assert words.lower() in err.value.message.lower()
    assert "\n" not in err.value.message


def test_runaway_cross_join_is_interrupted_within_the_limit(serve):
    # CPU-bound, not memory-bound: the join keeps the small side (10^5 rows) and streams 10^14
    # comparisons, so the time limit, never the memory cap, is what stops it
    started = time.monotonic()
    with pytest.raises(SandboxError) as err:
        run(
            "select count(*) from range(100000) a, range(1000000000) b where a.range + b.range = 7",
            limits=Limits(timeout_s=1.0),
        )
    assert err.value.kind == "timeout"
    assert "1 s time limit" in err.value.message
    assert time.monotonic() - started < 5


def test_row_cap_truncates(serve):
    r = run("select * from range(50)", limits=Limits(max_rows=10))
    assert len(r.rows) == 10 and r.truncated
    assert "first 10 rows" in r.notes[0]


def test_missing_database_is_a_clear_error(_isolated_data_dir):
    with pytest.raises(SandboxError) as err:
        run("select 1")
    assert err.value.kind == "missing"
    assert "nudgescope run" in err.value.message


def _cli(argv):
    parser = argparse.ArgumentParser()
    sql_command.register(parser.add_subparsers())
    args = parser.parse_args(["sql", *argv])
    return args.func(args)


def test_cli_json_and_csv(serve, capsys):
    q = (
        "select segment, value from mart.metrics where metric = 'on_time_rate' "
        "and period = '2026-03-01' order by segment"
    )
    assert _cli([q, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"segment": "all", "value": 0.75},
        {"segment": "score_band=A", "value": 1.0},
        {"segment": "score_band=E", "value": 0.0},
    ]
    assert _cli(["select as_of, data_version from meta", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "as_of,data_version\n2026-03-31,fixture-v1\n"


def test_cli_table(serve, capsys):
    assert _cli(["select count(*) as messages from mart.sms_message_flags"]) == 0
    out = capsys.readouterr()
    assert "messages" in out.out and "17" in out.out
    assert "1 rows" in out.err


def test_cli_refusal_is_a_user_error(serve):
    with pytest.raises(UserError, match="refused: COPY"):
        _cli(["copy core.users to '/tmp/u.csv'"])


def test_through_the_nudgescope_command(serve, capsys):
    from pipelines.cli import main

    assert main(["sql", "select count(*) as users from core.users", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "users\n8\n"
    assert main(["sql", "attach '/tmp/x.duckdb'"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("nudgescope sql: refused: ATTACH") and err.count("\n") == 1
