"""`nudgescope run` end to end: Dagster in-process, exit codes, the published database."""

from __future__ import annotations

import json
import os

import dagster as dg
import duckdb
import pytest

from pipelines import cli
from pipelines.orchestration.run import run_pipeline
from tests.fixtures.ingest.helpers import put, query, table_snapshot

USERS = (
    "user_id,opened_at,credit_limit,score_band,marketing_consent\n"
    "u1,2025-01-05 09:00:00,5000,a,1\n"
    "u2,2025-01-06 09:00:00,3000,b,0\n"
)
ORDERS_HEADER = "order_id,user_id,created_at,amount,payment_method,installments,channel,status\n"


def _landing(data):
    landing = data / "landing"
    put(landing, "users", "2025-03-01", "u.csv", USERS)
    put(
        landing,
        "orders",
        "2025-03-01",
        "o.csv",
        ORDERS_HEADER
        + "o1,u1,2025-03-01 10:00:00,10.00,bnpl,1,live,paid\n"
        + "o2,u2,2025-03-01 10:00:00,-1,card,1,,paid\n",  # out_of_range
    )
    put(
        landing,
        "orders",
        "2025-03-02",
        "o.csv",
        ORDERS_HEADER
        + "o1,u1,2025-03-02 10:00:00,12.00,bnpl,1,live,paid\n"  # supersedes o1 of 03-01
        + "o3,u9,2025-03-02 11:00:00,5.00,card,1,,paid\n",  # unknown user: kept
    )
    return landing


def test_run_loads_publishes_and_signals_quarantine(_isolated_data_dir):
    data = _isolated_data_dir
    landing = _landing(data)
    s = run_pipeline(data)
    assert s.success, s.error
    # 2 users + 4 order rows = 6 read; o2 quarantined; o1 of 03-01 superseded; 4 loaded
    assert (s.files_processed, s.rows_read, s.rows_loaded, s.rows_quarantined) == (3, 6, 4, 1)
    assert (s.rows_superseded, s.files_failed, s.exit_code) == (1, 0, 3)
    assert "1 row(s) quarantined" in s.reason
    # o3's user is unknown: kept, and reported as a warning with its count
    assert s.warnings == ["core/orders references_known: user_id → users: 1"]

    serve = data / "serve.duckdb"
    assert query(serve, "select order_id, amount::varchar from core.orders order by 1") == [
        ("o1", "12.00"),
        ("o3", "5.00"),
    ]
    as_of, run_id, rows, version = query(
        serve, "select as_of::varchar, run_id, rows_per_source, data_version from meta"
    )[0]
    assert as_of == "2025-03-02" and run_id
    assert json.loads(rows)["orders"] == 2 and json.loads(rows)["users"] == 2
    assert query(serve, "select count(*) from ingest.quarantine") == [(1,)]
    assert query(serve, "select count(*) from ingest.file_ledger") == [(3,)]
    # the warehouse has staging tables; the published copy has none
    assert query(serve, "select count(*) from duckdb_tables() where schema_name = 'staging'") == [
        (0,)
    ]

    # fixing the file: the next run replaces its contribution and exits 0
    put(
        landing,
        "orders",
        "2025-03-01",
        "o.csv",
        ORDERS_HEADER + "o2,u2,2025-03-01 10:00:00,1,card,1,,paid\n",
    )
    s2 = run_pipeline(data)
    assert (s2.files_processed, s2.rows_quarantined, s2.exit_code) == (1, 0, 0)
    assert query(serve, "select count(*) from ingest.quarantine") == [(0,)]
    assert query(serve, "select order_id from core.orders order by 1") == [
        ("o1",),
        ("o2",),
        ("o3",),
    ]
    assert query(serve, "select data_version from meta")[0][0] != version

    # nothing changed: a no-op staging, same tables, exit 0
    before = table_snapshot(data / "warehouse.duckdb", exclude_cols=())
    s3 = run_pipeline(data)
    assert (s3.files_processed, s3.exit_code, s3.partitions) == (0, 0, None)
    assert table_snapshot(data / "warehouse.duckdb", exclude_cols=()) == before


def test_cli_exit_codes(_isolated_data_dir, capsys, monkeypatch):
    data = _isolated_data_dir
    assert cli.main(["run", "--data-dir", str(data / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [err[0]] and "does not exist" in err[0] and "Traceback" not in err[0]

    _landing(data)
    monkeypatch.delenv("NUDGESCOPE_ENGINE", raising=False)
    assert cli.main(["run", "--data-dir", str(data), "--engine", "duckdb"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("nudgescope run: 1 row(s) quarantined")
    # the engine is the run's config, not an environment variable of this process
    assert "NUDGESCOPE_ENGINE" not in os.environ
    run = dg.DagsterInstance.from_config(str(data / "dagster")).get_runs()[0]
    assert run.run_config["ops"]["marts"]["config"]["engine"] == "duckdb"


def test_failed_check_stops_promotion(_isolated_data_dir, monkeypatch):
    """A blocking staging check that fails stops core and publish (exit 1, nothing published)."""
    from pipelines.ingest import checks

    data = _isolated_data_dir
    _landing(data)
    monkeypatch.setattr(
        checks, "reconcile_problems", lambda con, source, *scope: {"files_not_reconciling": 1}
    )
    s = run_pipeline(data)
    assert not s.success and s.exit_code == 1
    assert "reconciles_with_ledger" in s.error
    assert not (data / "serve.duckdb").exists()
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    # users are staged; the failed blocking check stops core, marts and publish
    assert con.execute("select count(*) from staging.users").fetchone() == (2,)
    assert con.execute("select count(*) from core.users").fetchone() == (0,)
    assert con.execute("select count(*) from core.orders").fetchone() == (0,)


@pytest.mark.slow
def test_simulated_dirty_data_reconciles_with_ground_truth(_isolated_data_dir):
    from pipelines.simulator import simulate

    data = _isolated_data_dir
    truth = simulate(data / "landing", scale="s", dirty=True, seed=20250101)
    s = run_pipeline(data)
    assert s.success, s.error
    assert s.exit_code == 3  # the dirty data has quarantined rows and a broken file

    serve = data / "serve.duckdb"
    for source, expected in truth["expected_load"].items():
        got = query(
            serve,
            f"""select
                (select count(*) from core.{source}),
                (select count(*) from ingest.quarantine where source = $s),
                (select coalesce(sum(rows_superseded), 0) from ingest.file_ledger
                 where source = $s),
                (select coalesce(sum(rows_loaded), 0) from ingest.file_ledger where source = $s)""",
            {"s": source},
        )[0]
        assert got == (
            expected["loaded"],
            expected["quarantined"],
            expected["superseded"],
            expected["loaded"],
        ), source
    by_reason = dict(
        query(serve, "select reason_code, count(*) from ingest.quarantine group by all")
    )
    assert by_reason == {k: v for k, v in truth["dirty"]["quarantined_by_reason"].items() if v}
    assert str(query(serve, "select as_of from meta")[0][0]) == truth["as_of"]

    files = truth["dirty"]["files"]
    led = {
        p: (status, enc, dropped)
        for p, status, enc, dropped in query(
            serve, "select path, status, encoding, dropped_columns from ingest.file_ledger"
        )
    }
    assert sorted(p for p, v in led.items() if v[0] == "failed") == sorted(files["unparseable"])
    assert all(led[p][1] == "gb18030" for p in files["gb18030"])
    assert all(led[p][1] == "utf-8-sig" for p in files["utf-8-sig"])
    for p in files["phone_column"]:
        assert {"phone", "手机号"} & set(led[p][2])
    # every file reconciles
    assert query(
        serve,
        "select count(*) from ingest.file_ledger "
        "where rows_read <> rows_loaded + rows_quarantined + rows_superseded",
    ) == [(0,)]
    from tests.ingest.test_ingest import assert_no_raw_phone_numbers

    assert_no_raw_phone_numbers(serve)
    assert_no_raw_phone_numbers(data / "warehouse.duckdb")
