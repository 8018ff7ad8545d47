"""Smoke test of `nudgescope bench` at a tiny size: it runs and writes its JSON. Never timings."""

from __future__ import annotations

import json

from pipelines.bench.harness import STEPS
from pipelines.bench.step import percentile, summarize
from pipelines.cli import main


def test_percentile_nearest_rank():
    values = [float(v) for v in range(1, 21)]  # 1..20
    assert percentile(values, 50) == 10.0  # ceil(20 * 0.50) = 10th value
    assert percentile(values, 95) == 19.0  # ceil(20 * 0.95) = 19th value
    assert percentile([3.0], 95) == 3.0
    assert summarize([2.0, 1.0, 3.0])["p50_s"] == 2.0


def test_bench_smoke_writes_json(_isolated_data_dir):
    # every step but time_to_alert (it starts a Dagster daemon and waits for sensor ticks:
    # minutes, measured by hand, see docs/performance.md)
    steps = [s for s in STEPS if s != "time_to_alert"]
    code = main(
        ["bench", "--scale", "s", "--users", "20", "--months", "1", "--repeat", "2"]
        + ["--steps", ",".join(steps)]
    )
    assert code == 0
    bench = _isolated_data_dir / "bench"
    latest = json.loads((bench / "latest-s.json").read_text(encoding="utf-8"))
    stamped = [p for p in bench.glob("s-*.json")]
    assert len(stamped) == 1
    assert json.loads(stamped[0].read_text(encoding="utf-8")) == latest

    assert set(latest["steps"]) == set(steps)
    for name, step in latest["steps"].items():
        assert step["exit_code"] == 0, (name, step.get("stderr_tail"))
        assert step["wall_s"] > 0 and step["peak_rss_bytes"] > 0, name

    m = latest["machine"]
    assert m["cores"] >= 1 and m["memory_bytes"] > 0 and m["duckdb"] and m["python"]

    written = latest["rows_per_source"]["written"]
    assert written and set(written) == set(latest["rows_per_source"]["floor"])
    # the floor reads every row the simulator wrote, no more, no less
    assert latest["rows_per_source"]["floor"] == written
    assert latest["steps"]["simulate"]["rows"] == sum(written.values())

    full = latest["steps"]["full_run"]["summary"]
    assert full["success"] and full["files_processed"] == full["files_seen"] > 0
    inc = latest["steps"]["incremental_run"]
    added = inc["added"]
    assert inc["summary"]["success"] and added["rows"] > 0
    # only the new day's files are processed, and every added row is loaded
    assert inc["summary"]["files_processed"] == sum(s["files"] for s in added["sources"].values())
    assert inc["summary"]["rows_read"] == added["rows"]
    noop = latest["steps"]["noop_run"]["summary"]
    assert noop["success"] and noop["files_processed"] == 0

    pages = latest["steps"]["pages"]["pages"]
    assert pages and all(not p["errors"] and p["query"]["n"] == 2 for p in pages.values())
    assert latest["steps"]["sql"]["n"] == 2 and latest["steps"]["sql"]["rows_returned"] > 0

    targets = {v["target"] for v in latest["verdicts"]}
    assert {"simulate rows/s", "full run / floor", "incremental day / full run"} <= targets
    assert all(v["met"] in (True, False) for v in latest["verdicts"])
