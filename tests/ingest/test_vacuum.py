"""Every N-th pipeline run lets DuckDB vacuum the warehouse (pipelines/ingest/vacuum.py).

The runs in between leave each append in a row group of its own and deleted rows in place;
the next vacuuming run merges them. The row counts below are worked out by hand: an append
to a table already on disk starts a new row group, and 4,000 rows fit in one group of
122,880."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from pipelines.defs.resources import WarehouseResource
from pipelines.errors import UserError
from pipelines.ingest import vacuum


def _row_groups(con: duckdb.DuckDBPyConnection, table: str) -> list[int]:
    """Rows per row group of `table`, in order."""
    return [
        n
        for _, n in con.execute(
            f"select row_group_id, max(count) from pragma_storage_info('{table}') "
            "group by 1 order by 1"
        ).fetchall()
    ]


def _state(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"select runs_without_vacuum from {vacuum.STATE_TABLE}").fetchone()[0]


def _tasks(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0])


def test_every_third_run_vacuums_starting_with_the_first(tmp_path, monkeypatch):
    monkeypatch.setenv(vacuum.EVERY_ENV, "3")
    decided, waiting, tasks = [], [], []
    for _ in range(7):
        con = duckdb.connect(str(tmp_path / "w.duckdb"))
        decided.append(vacuum.plan_run(con))
        waiting.append(_state(con))
        tasks.append(_tasks(con))
        con.close()
    assert decided == [True, False, False, True, False, False, True]
    assert waiting == [0, 1, 2, 0, 1, 2, 0]
    assert tasks == [100, 0, 0, 100, 0, 0, 100]


def test_a_lost_state_vacuums_on_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv(vacuum.EVERY_ENV, "5")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    assert vacuum.plan_run(con) is True
    assert vacuum.plan_run(con) is False
    con.execute(f"drop table {vacuum.STATE_TABLE}")
    assert vacuum.plan_run(con) is True
    assert _state(con) == 0
    # two rows (a hand edit): not a count to trust, so vacuum and start again with one row
    con.execute(f"insert into {vacuum.STATE_TABLE} values (3, null)")
    assert vacuum.plan_run(con) is True
    assert con.execute(f"select count(*) from {vacuum.STATE_TABLE}").fetchone()[0] == 1


def test_runs_without_vacuum_keep_small_row_groups_until_one_that_vacuums(tmp_path, monkeypatch):
    monkeypatch.setenv(vacuum.EVERY_ENV, "4")
    path = str(tmp_path / "w.duckdb")
    with duckdb.connect(path) as con:
        con.execute("create table t (a integer, s varchar)")
        con.execute("checkpoint")

    def day(first: int, delete_below: int | None = None) -> list[int]:
        con = duckdb.connect(path)
        vacuum.plan_run(con)
        con.execute(
            "insert into t select range, 'row ' || range from range($lo, $lo + 1000)",
            {"lo": first},
        )
        if delete_below is not None:
            con.execute("delete from t where a < $n", {"n": delete_below})
        con.execute("checkpoint")
        groups = _row_groups(con, "t")
        con.close()  # the instance closes here: the next run sets its own value
        return groups

    # run 1 vacuums (no state yet); runs 2-4 do not: each append stays a group of its own,
    # and the 500 rows deleted in run 4 stay in their group
    assert day(0) == [1000]
    assert day(1000) == [1000, 1000]
    assert day(2000) == [1000, 1000, 1000]
    assert day(3000, delete_below=500) == [1000, 1000, 1000, 1000]
    # run 5 vacuums: 4,500 rows left after its append, one group
    assert day(4000) == [4500]
    with duckdb.connect(path, read_only=True) as con:
        assert con.execute("select count(*), min(a), max(a) from t").fetchone() == (4500, 500, 4999)


@pytest.mark.parametrize("raw", ["0", "-2", "eight", "1.5"])
def test_a_bad_setting_is_a_clear_error(raw, monkeypatch):
    monkeypatch.setenv(vacuum.EVERY_ENV, raw)
    with pytest.raises(UserError, match=vacuum.EVERY_ENV):
        vacuum.every()


def test_the_default_and_one_for_every_run(monkeypatch):
    monkeypatch.delenv(vacuum.EVERY_ENV, raising=False)
    assert vacuum.every() == vacuum.DEFAULT_EVERY == 8
    monkeypatch.setenv(vacuum.EVERY_ENV, " 1 ")
    assert vacuum.every() == 1


def test_the_run_decides_once_and_every_step_sees_it(tmp_path, monkeypatch):
    # the setting belongs to the database instance the run's steps share
    monkeypatch.setenv(vacuum.EVERY_ENV, "2")
    path = str(tmp_path / "warehouse.duckdb")

    @dg.asset
    def first(duckdb: WarehouseResource) -> int:
        with duckdb.get_connection() as con:
            return _tasks(con)

    @dg.asset(deps=[first])
    def second(duckdb: WarehouseResource) -> int:
        with duckdb.get_connection() as con:
            return _tasks(con)

    seen = []
    for _ in range(3):
        result = dg.materialize(
            [first, second], resources={"duckdb": WarehouseResource(database=path)}
        )
        seen.append((result.output_for_node("first"), result.output_for_node("second")))
    assert seen == [(100, 100), (0, 0), (100, 100)]
    with duckdb.connect(path, read_only=True) as con:
        assert _state(con) == 0


def test_a_bad_setting_stops_the_run_at_its_start_naming_it(tmp_path, monkeypatch):
    from pipelines.orchestration.run import _first_failure

    monkeypatch.setenv(vacuum.EVERY_ENV, "0")
    path = tmp_path / "warehouse.duckdb"

    @dg.asset
    def one(duckdb: WarehouseResource) -> int:
        return 1

    result = dg.materialize(
        [one], resources={"duckdb": WarehouseResource(database=str(path))}, raise_on_error=False
    )
    assert not result.success
    assert _first_failure(result) == (
        "resources: NUDGESCOPE_VACUUM_EVERY='0': expected a whole number of runs, 1 or more"
    )
    # the held connection was closed: the file is free for a plain read-only open
    duckdb.connect(str(path), read_only=True).close()


def test_the_cli_run_refuses_a_bad_setting_before_it_plans(tmp_path, monkeypatch):
    from pipelines.orchestration.run import run_pipeline

    monkeypatch.setenv(vacuum.EVERY_ENV, "eight")
    with pytest.raises(UserError, match="NUDGESCOPE_VACUUM_EVERY='eight'"):
        run_pipeline(tmp_path)
    assert not (tmp_path / "warehouse.duckdb").exists()
