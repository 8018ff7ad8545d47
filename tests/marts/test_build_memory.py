"""The marts build runs the files that need the most memory on one thread when built whole."""

from __future__ import annotations

import duckdb
import pytest

from pipelines import sqlfiles
from pipelines.marts import build


def _threads(con) -> int:
    return int(con.execute("select current_setting('threads')").fetchone()[0])


def test_a_whole_policy_cap_histogram_runs_on_one_thread_and_the_setting_comes_back(monkeypatch):
    con = duckdb.connect()
    con.execute("set threads = 2")
    seen = {}
    monkeypatch.setattr(
        sqlfiles, "run", lambda c, name, params=None: seen.update({name: _threads(c)})
    )
    con.execute("begin transaction")  # as in a build: the setting changes inside it
    build._run_whole(con, "marts/policy_cap_histogram", None)
    build._run_whole(con, "marts/user_cycle", None)
    con.execute("commit")
    assert seen == {"marts/policy_cap_histogram": 1, "marts/user_cycle": 2}
    assert _threads(con) == 2


def test_the_thread_setting_comes_back_when_the_file_fails(monkeypatch):
    con = duckdb.connect()
    con.execute("set threads = 2")

    def fail(c, name, params=None):
        raise duckdb.OutOfMemoryException("out of memory")

    monkeypatch.setattr(sqlfiles, "run", fail)
    with pytest.raises(duckdb.OutOfMemoryException):
        build._run_whole(con, "marts/policy_cap_histogram", None)
    assert _threads(con) == 2
