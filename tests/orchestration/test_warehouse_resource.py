"""The warehouse resource keeps one DuckDB instance open for a run (pipelines/defs/resources.py).

Every step still opens and closes its own connection; what the run shares is the database
instance, so a step's connection costs a session rather than an instance start-up. An ATTACH
is held by the instance, not the session: a second step seeing the first one's attached
database shows that both steps used the same instance."""

from __future__ import annotations

import dagster as dg
import duckdb

from pipelines.defs.resources import WarehouseResource

PROBE = "select count(*) from duckdb_databases() where database_name = 'probe'"


def test_steps_of_one_run_share_the_instance_and_the_file_is_free_after(tmp_path):
    path = tmp_path / "sub" / "warehouse.duckdb"  # the folder does not exist yet

    @dg.asset
    def first(duckdb: WarehouseResource) -> None:
        with duckdb.get_connection() as con:
            con.execute("attach ':memory:' as probe")

    @dg.asset(deps=[first])
    def second(duckdb: WarehouseResource) -> int:
        with duckdb.get_connection() as con:
            return con.execute(PROBE).fetchone()[0]

    result = dg.materialize(
        [first, second], resources={"duckdb": WarehouseResource(database=str(path))}
    )
    assert result.success
    assert result.output_for_node("second") == 1
    # after the run nothing holds the file: a plain read-only open (another configuration,
    # which DuckDB refuses while an instance of the file is open in this process) works
    duckdb.connect(str(path), read_only=True).close()


def test_a_failed_step_still_releases_the_instance(tmp_path):
    path = tmp_path / "warehouse.duckdb"

    @dg.asset
    def broken(duckdb: WarehouseResource) -> None:
        with duckdb.get_connection() as con:
            con.execute("select 1")
        raise RuntimeError("step failed")

    result = dg.materialize(
        [broken],
        resources={"duckdb": WarehouseResource(database=str(path))},
        raise_on_error=False,
    )
    assert not result.success
    duckdb.connect(str(path), read_only=True).close()


def test_without_a_run_each_connection_is_its_own_instance(tmp_path):
    resource = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    with resource.get_connection() as con:
        con.execute("attach ':memory:' as probe")
    with resource.get_connection() as con:
        assert con.execute(PROBE).fetchone()[0] == 0
    duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True).close()


def test_an_in_memory_warehouse_still_runs():
    # setup_for_execution holds no instance for ":memory:" (each connection is a database of
    # its own, and there is no folder to create): a run on it must not fail in setup
    @dg.asset
    def one(duckdb: WarehouseResource) -> int:
        with duckdb.get_connection() as con:
            return con.execute("select 1").fetchone()[0]

    result = dg.materialize([one], resources={"duckdb": WarehouseResource(database=":memory:")})
    assert result.output_for_node("one") == 1
