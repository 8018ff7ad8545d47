"""The Dagster code location: it loads, `dg check defs` passes, and the automation works."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml
from fixtures.ingest.helpers import put

from pipelines.contract import SOURCE_NAMES
from pipelines.definitions import defs
from pipelines.defs.automation import RANGE_END, RANGE_START, daily_schedule, landing_sensor
from pipelines.defs.ingest import FULL_CHECKS_TAG
from pipelines.settings import REPO_ROOT

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_dg_check_defs(_isolated_data_dir):
    env = {**os.environ, "NUDGESCOPE_DATA_DIR": str(_isolated_data_dir)}
    dg_bin = Path(sys.executable).parent / "dg"
    out = subprocess.run(
        [str(dg_bin), "check", "defs"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All definitions loaded successfully" in out.stdout + out.stderr


def test_assets_partitions_and_pools(_isolated_data_dir):
    d = defs()
    graph = d.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for s in SOURCE_NAMES:
        assert f"staging/{s}" in keys and f"core/{s}" in keys
    assert "serve_db" in keys
    staging = d.resolve_assets_def(dg.AssetKey(["staging", "sms_logs"]))
    pdef = staging.partitions_def
    assert isinstance(pdef, dg.DailyPartitionsDefinition) and pdef.timezone == "Asia/Shanghai"
    assert staging.backfill_policy == dg.BackfillPolicy.single_run()
    # every asset (and check) that touches the warehouse is in the one-writer pool
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.is_executable:
            assert d.resolve_assets_def(key).op.pool == "warehouse", key
    serve = d.resolve_assets_def(dg.AssetKey(["serve_db"]))
    deps = {k.to_user_string() for k in serve.asset_deps[dg.AssetKey(["serve_db"])]}
    assert {f"core/{s}" for s in SOURCE_NAMES} <= deps
    assert "alerts/incidents" in deps  # incidents are published with the run that found them
    assert any(k.startswith("mart/") for k in deps) or not any(k.startswith("mart/") for k in keys)
    # the template for the local instance limits the pool to 1
    cfg = yaml.safe_load((REPO_ROOT / "pipelines" / "dagster.yaml").read_text())
    assert cfg["concurrency"]["pools"]["default_limit"] == 1


def test_sensor_requests_changed_partitions_only(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    put(landing, "users", "2025-03-01", "a.csv", "user_id\nu1\n")
    put(landing, "orders", "2025-03-03", "a.csv", "order_id\no1\n")

    first = landing_sensor(dg.build_sensor_context(cursor=None))
    assert [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in first.run_requests] == [
        ("2025-03-01", "2025-03-03")
    ]
    cursor = first.cursor
    assert set(json.loads(cursor)) == {"2025-03-01", "2025-03-03"}

    # nothing changed: skip
    again = landing_sensor(dg.build_sensor_context(cursor=cursor))
    assert isinstance(again, dg.SkipReason)

    # a new file on one day: a run for that day only
    put(landing, "bills", "2025-03-02", "b.csv", "bill_id\nb1\n")
    third = landing_sensor(dg.build_sensor_context(cursor=cursor))
    assert [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in third.run_requests] == [
        ("2025-03-02", "2025-03-02")
    ]
    # a changed file (size/mtime) on the first day
    put(landing, "users", "2025-03-01", "a.csv", "user_id\nu1\nu2\n")
    fourth = landing_sensor(dg.build_sensor_context(cursor=third.cursor))
    assert [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in fourth.run_requests] == [
        ("2025-03-01", "2025-03-01")
    ]
    assert fourth.run_requests[0].run_key != third.run_requests[0].run_key


def test_schedule_loads_the_previous_shanghai_day():
    # 06:00 in Shanghai on 2 March is 22:00 UTC on 1 March: the partition is 1 March
    for when in (
        datetime(2025, 3, 2, 6, 0, tzinfo=SHANGHAI),
        datetime(2025, 3, 1, 22, 0, tzinfo=ZoneInfo("UTC")),
    ):
        req = daily_schedule(dg.build_schedule_context(scheduled_execution_time=when))
        assert req.partition_key == "2025-03-01"
        assert req.tags[FULL_CHECKS_TAG] == "true"  # the daily run checks whole tables
    assert daily_schedule.cron_schedule == "0 6 * * *"
    assert daily_schedule.execution_timezone == "Asia/Shanghai"
