"""The Dagster code location: it loads, `dg check defs` passes, and the automation works."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import yaml

from pipelines.contract import SOURCE_NAMES
from pipelines.definitions import defs
from pipelines.defs.ingest import DT_END_TAG, DT_START_TAG, FULL_CHECKS_TAG
from pipelines.orchestration.automation import daily_schedule, landing_sensor
from pipelines.settings import REPO_ROOT
from tests.fixtures.ingest.helpers import put

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


def test_assets_unpartitioned_and_pools(_isolated_data_dir):
    d = defs()
    graph = d.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for s in SOURCE_NAMES:
        assert f"staging/{s}" in keys and f"core/{s}" in keys
    assert "serve_db" in keys
    # nothing is partitioned (the ledger records what is loaded; a run's dt range is in its
    # tags): a run materializes each asset once, whatever the number of days it stages
    for key in graph.get_all_asset_keys():
        if graph.get(key).is_executable:
            assert d.resolve_assets_def(key).partitions_def is None, key
            assert d.resolve_assets_def(key).backfill_policy is None, key
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


def test_sensor_plans_from_the_ledger_without_a_cursor(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    with dg.instance_for_test() as instance:
        # no landing folder: a reason, not an error
        skip = landing_sensor(dg.build_sensor_context(instance=instance))
        assert isinstance(skip, dg.SkipReason) and "does not exist" in skip.skip_message

        put(landing, "users", "2025-03-01", "a.csv", "user_id\nu1\n")
        put(landing, "orders", "2025-03-03", "a.csv", "order_id\no1\n")
        put(landing, "orders", "2019-12-31", "a.csv", "order_id\no0\n")  # before the first date
        first = landing_sensor(dg.build_sensor_context(instance=instance, cursor=None))
        assert isinstance(first, dg.RunRequest)
        assert (first.tags[DT_START_TAG], first.tags[DT_END_TAG]) == ("2025-03-01", "2025-03-03")
        staged = sorted(k.path[1] for k in first.asset_selection if k.path[0] == "staging")
        assert staged == ["orders", "users"]
        assert first.run_config["ops"]["marts"]["config"]["engine"] == "duckdb"
        assert first.run_config["loggers"]["console"]["config"]["log_level"] == "INFO"

        # nothing was loaded, so the same files are still new: the same request and key
        again = landing_sensor(dg.build_sensor_context(instance=instance, cursor="ignored"))
        assert again.run_key == first.run_key and again.tags == first.tags

        # a changed file (size/mtime) changes the key
        put(landing, "users", "2025-03-01", "a.csv", "user_id\nu1\nu2\n")
        third = landing_sensor(dg.build_sensor_context(instance=instance))
        assert third.run_key != first.run_key


def test_schedule_plans_like_the_sensor_and_checks_whole_tables(_isolated_data_dir):
    landing = _isolated_data_dir / "landing"
    put(landing, "users", "2025-03-01", "a.csv", "user_id\nu1\n")
    with dg.instance_for_test() as instance:
        # 06:00 in Shanghai on 2 March is 22:00 UTC on 1 March
        for when in (
            datetime(2025, 3, 2, 6, 0, tzinfo=SHANGHAI),
            datetime(2025, 3, 1, 22, 0, tzinfo=ZoneInfo("UTC")),
        ):
            # a context with an instance must be closed (it holds Dagster's load state)
            with dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as ctx:
                req = daily_schedule(ctx)
            assert (req.tags[DT_START_TAG], req.tags[DT_END_TAG]) == ("2025-03-01", "2025-03-01")
            assert req.tags[FULL_CHECKS_TAG] == "true"  # the daily run checks whole tables
            assert req.run_key.startswith("daily-2025-03-01-")
    assert daily_schedule.cron_schedule == "0 6 * * *"
    assert daily_schedule.execution_timezone == "Asia/Shanghai"


def test_loading_the_code_location_raises_the_collectors_thresholds():
    # a fresh interpreter, as a run worker or `nudgescope run` is: Python's defaults before,
    # (50,000, 20, 100) after the definitions load; a threshold already set higher stays
    script = (
        "import gc; print(gc.get_threshold()); gc.set_threshold(700, 10, 500); "
        "import pipelines.definitions; print(gc.get_threshold())"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert out.stdout.split("\n")[:2] == ["(700, 10, 10)", "(50000, 20, 500)"]
