"""The settings every pipeline connection gets (`pipelines.ingest.warehouse.configure`)."""

from __future__ import annotations

import duckdb

from pipelines.ingest import warehouse

SLOW = "select count(*) from range(40000000) t(x) where x % 7 = 3"


def _slow_statement_output(capfd, *, configured: bool) -> str:
    con = duckdb.connect()
    # DuckDB's default waits 2 s before drawing; at 0 ms any statement draws. (Setting the
    # wait also switches the bar on, so it comes before the settings under test.)
    con.execute("set progress_bar_time = 0")
    if configured:
        warehouse.configure(con)
    capfd.readouterr()  # the bars of the settings' own statements
    assert con.execute(SLOW).fetchone()[0] == 5714286
    con.close()
    out, err = capfd.readouterr()
    return out + err


def test_duckdb_draws_no_progress_bar_on_a_pipeline_connection(capfd):
    assert "%" not in _slow_statement_output(capfd, configured=True)


def test_the_check_above_can_see_a_progress_bar(capfd):
    assert "%" in _slow_statement_output(capfd, configured=False)
