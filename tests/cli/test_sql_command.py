"""`nudgescope sql` output: readable tables, integers as integers, times in Asia/Shanghai."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json

import pytest

from pipelines.cli import sql as sql_command
from pipelines.serve import sql_output
from pipelines.serve.sandbox import Result
from tests.fixtures.dashboard.build import build


@pytest.fixture
def serve(_isolated_data_dir, monkeypatch):
    path = build(_isolated_data_dir / "serve.duckdb")
    monkeypatch.setenv("NUDGESCOPE_SERVE", str(path))
    return path


def _cli(argv):
    parser = argparse.ArgumentParser()
    sql_command.register(parser.add_subparsers())
    args = parser.parse_args(["sql", *argv])
    return args.func(args)


def test_values_read_as_what_they_are():
    utc = dt.datetime(2026, 3, 31, 18, 5, tzinfo=dt.UTC)
    assert sql_output.text(utc) == "2026-04-01 02:05:00+08:00"  # the local day, zone shown
    assert sql_output.text(dt.datetime(2026, 3, 31, 18, 5)) == "2026-03-31 18:05:00"  # naive
    assert sql_output.text(12078.0) == "12078"
    assert sql_output.text(0.1 + 0.2) == "0.30000000000000004"  # full precision
    assert sql_output.text(dt.date(2026, 3, 1)) == "2026-03-01"
    assert sql_output.text(None) == ""
    assert sql_output.text(["a", 1.0]) == '["a", 1]'
    assert sql_output.value(12078.0) == 12078 and isinstance(sql_output.value(12078.0), int)


def test_meta_prints_in_full_with_the_zone(serve, capsys):
    assert _cli(["select * from meta"]) == 0  # the command the demo prints
    out, err = capsys.readouterr()
    assert "2026-04-01 02:05:00+08:00" in out  # published 02:05 Beijing time
    assert "run-fixture" in out and "fixture-v1" in out
    assert '"bills": 24' in out  # the JSON column in full, not cut
    assert "…" not in out
    assert "Asia/Shanghai" in err and "1 rows" in err


def test_counts_are_integers_in_every_format(serve, capsys):
    q = "select numerator, denominator from mart.metrics where metric = 'on_time_rate' " \
        "and period = '2026-03-01' and segment = 'all'"  # fmt: skip
    assert _cli([q, "--format", "csv"]) == 0
    assert capsys.readouterr().out == "numerator,denominator\n6,8\n"
    assert _cli([q, "--format", "json"]) == 0
    assert capsys.readouterr().out.replace(" ", "").replace("\n", "") == (
        '[{"numerator":6,"denominator":8}]'
    )
    assert _cli([q]) == 0
    out = capsys.readouterr().out
    assert "|         6 |           8 |" in out.splitlines()  # right-aligned numbers
    assert "6.0" not in out


def test_a_table_too_wide_for_the_terminal_is_shown_row_by_row():
    result = Result(
        columns=["as_of", "published_at", "rows_per_source"],
        types=["DATE", "TIMESTAMP WITH TIME ZONE", "JSON"],
        rows=[(dt.date(2026, 3, 31), dt.datetime(2026, 3, 31, 18, 5, tzinfo=dt.UTC),
               '{"users": 8, "experiment_assignments": 8, "checkout_sessions": 1}')],
        truncated=False,
        elapsed_s=0.01,
    )  # fmt: skip
    out = io.StringIO()
    sql_command.print_table(result, out, width=80)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("-[ row 1 ]")
    assert lines[1:] == [
        "as_of           | 2026-03-31",
        "published_at    | 2026-04-01 02:05:00+08:00",
        'rows_per_source | {"users": 8, "experiment_assignments": 8, "checkout_sessions": 1}',
    ]
    wide = io.StringIO()
    sql_command.print_table(result, wide, width=200)  # fits: one table
    assert wide.getvalue().splitlines()[1].startswith("| as_of ")


def test_json_keeps_full_values(serve, capsys):
    q = (
        "select complaint_id, narrative, resolved_at from mart.complaints_classified "
        "where complaint_id = 'C05'"
    )
    assert _cli([q, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [
        {
            "complaint_id": "C05",
            "narrative": "手续费太高",
            "resolved_at": "2026-03-20 16:00:00+08:00",
        }
    ]
