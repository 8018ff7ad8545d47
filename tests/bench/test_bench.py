"""Smoke test of `nudgescope bench` at a tiny size: it runs and writes its JSON. Never timings."""

from __future__ import annotations

import json
from datetime import date, timedelta

from pipelines.bench.harness import STEPS
from pipelines.bench.stats import percentile, summarize
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

    assert set(steps) <= set(latest["steps"])
    peers_ran = not latest["steps"]["peers"].get("skipped")
    for name, step in latest["steps"].items():
        if name.startswith("peers"):
            continue
        assert step["exit_code"] == 0, (name, step.get("stderr_tail"))
        assert step["wall_s"] > 0 and step["peak_rss_bytes"] > 0, name
    if peers_ran:  # ../shared/peers is there (as in CI): both notebooks were run and measured
        # (at 20 users x 1 month some sources have no file at all, which the notebooks do not
        # handle; their agreement with the published numbers is checked at m, in the bench)
        for name in ("polars", "pandas"):
            fig = latest["steps"]["peers"][name]
            assert fig["wall_s"] > 0 and fig["peak_rss_bytes"] > 0, name
        assert latest["steps"]["peers_with_new_day"]["polars"]["wall_s"] > 0

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
    assert inc["summary"]["rows_loaded"] == added["rows"]  # nothing quarantined
    second = latest["steps"]["second_day_run"]
    assert second["added"]["new_day"] > added["new_day"]  # the day after the first one
    assert second["summary"]["rows_loaded"] == second["added"]["rows"] > 0
    # the first new day began a month and left the ended one in thirds: the compaction
    # merges exactly that month (the data set's last), off the data runs
    compact = latest["steps"]["compact_run"]["summary"]
    month = str(date.fromisoformat(added["new_day"]) - timedelta(days=1))[:7]
    assert compact["success"] and compact["months"] == [month]
    noop = latest["steps"]["noop_run"]["summary"]
    assert noop["success"] and noop["files_processed"] == 0
    # what each run published (pipelines.bench.footprint): the full run wrote serve.duckdb
    # and segments, a day only the slices of its own month, the no-op run nothing; no live
    # file holds freed blocks
    published = latest["steps"]["full_run"]["published"]
    assert published["written_files"] == published["live_files"] >= 2
    assert published["written_bytes"] == published["live_bytes"] > 0
    # (the first new day starts a month: the ended month's last third, held by day until
    # then, is written as one file)
    assert latest["steps"]["incremental_run"]["published"]["merged_thirds"] == [f"{month}-3"]
    assert latest["steps"]["second_day_run"]["published"]["merged_thirds"] == []
    for name in ("incremental_run", "second_day_run"):
        day = latest["steps"][name]
        assert day["published"]["other_slices_written"] == [], name
        assert day["published"]["written_slices"], name
        own = set(day["published"]["written_slices"]) - set(day["published"]["merged_thirds"])
        assert all(s.startswith(day["added"]["new_day"][:7]) for s in own), name
    assert latest["steps"]["noop_run"]["published"]["written_files"] == 0
    for name in ("full_run", "incremental_run", "second_day_run", "compact_run", "noop_run"):
        assert latest["steps"][name]["published"]["live_free_blocks"] == 0, name

    pages = latest["steps"]["pages"]["pages"]
    assert pages and all(not p["errors"] and p["query"]["n"] == 2 for p in pages.values())
    assert latest["steps"]["sql"]["n"] == 2 and latest["steps"]["sql"]["rows_returned"] > 0
    assert latest["steps"]["sql"]["cli_process"]["exit_code"] == 0

    targets = {v["target"] for v in latest["verdicts"]}
    assert {"simulate rows/s", "full run / floor", "incremental day / full run"} <= targets
    for v in latest["verdicts"]:
        if "notebook" in v["target"]:  # None where a notebook failed on this tiny data set
            assert v["met"] in (True, False, None), v
        else:
            assert v["met"] in (True, False), v


def test_verdicts_against_the_polars_notebook():
    from pipelines.bench.harness import verdicts

    steps = {
        "full_run": {"wall_s": 30.0, "cpu_s": 26.0, "exit_code": 0},
        "incremental_run": {"wall_s": 5.0, "cpu_s": 4.5, "exit_code": 0},
        "peers": {"polars": {"cpu_s": 13.0, "exit_code": 0}},
        "peers_with_new_day": {"polars": {"cpu_s": 13.5, "exit_code": 0}},
    }
    by = {v["target"]: v for v in verdicts(steps)}
    full = by["full run / polars notebook (CPU)"]
    assert (full["value"], full["met"]) == (2.0, True)  # 26 / 13 = 2.0 <= 2
    inc = by["incremental day / polars notebook from scratch (CPU)"]
    assert (inc["value"], inc["met"]) == (0.333, False)  # 4.5 / 13.5 = 0.333 > 0.3
    del steps["peers"]
    assert by_target(verdicts(steps))["full run / polars notebook (CPU)"]["met"] is None


def test_verdicts_on_a_days_share_and_what_it_published():
    from pipelines.bench.harness import verdicts

    def pub(other, free):
        return {"other_slices_written": other, "live_free_blocks": free, "live_unreadable": []}

    steps = {
        "full_run": {"wall_s": 30.0, "cpu_s": 40.0, "exit_code": 0, "published": pub(None, 0)},
        "incremental_run": {
            "wall_s": 5.0,
            "cpu_s": 2.0,
            "exit_code": 0,
            "published": pub(["2025-06-3"], 0),
        },
        "second_day_run": {"wall_s": 5.0, "cpu_s": 2.5, "exit_code": 0, "published": pub([], 2)},
    }
    by = by_target(verdicts(steps))
    share = by["incremental day / full run (CPU, 5 % at l)"]
    assert (share["value"], share["met"]) == (0.05, True)  # 2 / 40 = 5 %, the limit
    first = by["incremental_run publish: slices of other months written"]
    assert (first["value"], first["met"]) == (1, False)  # June's last third rewritten
    second = by["second_day_run publish: slices of other months written"]
    assert (second["value"], second["met"]) == (0, True)
    assert "full_run publish: slices of other months written" not in by  # not a day
    # the freed blocks of the files live after the last step that published
    freed = by["published files' freed blocks (after second_day_run)"]
    assert (freed["value"], freed["met"]) == (2, False)
    steps["incremental_run"]["cpu_s"] = 2.1  # 5.25 %
    assert by_target(verdicts(steps))["incremental day / full run (CPU, 5 % at l)"]["met"] is False
    # a step carried over from an earlier report is not this run's publish
    steps["second_day_run"]["from_report"] = "2026-11-27T11:50:06+00:00"
    by = by_target(verdicts(steps))
    assert by["published files' freed blocks (after incremental_run)"]["value"] == 0
    assert "second_day_run publish: slices of other months written" not in by


def by_target(vs: list[dict]) -> dict:
    return {v["target"]: v for v in vs}


def test_extra_day_copies_the_last_day_with_new_keys(tmp_path):
    """The benchmark's extra day: every date moved to the day after the last one, the primary
    key (and sms_logs' caller's id, which names one send) suffixed, other references kept."""
    from pipelines.bench.extra_day import add_day

    logs = tmp_path / "sms_logs" / "dt=2025-06-30"
    logs.mkdir(parents=True)
    (logs / "sms_logs-2025-06-30-001.csv").write_text(
        "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
        "delivered_at,provider,err_code,segments,out_id\n"
        "M1,u1,T1,due_reminder,b1,hi,2025-06-30 09:00:00,delivered,2025-06-30 09:00:05,"
        "aliyun,DELIVRD,1,O1\n"
        "M2,u2,T1,marketing,,sale 2025-06-30,2025-06-30 23:59:59,failed,,tencent,UNDELIV,1,\n",
        encoding="utf-8",
    )
    users = tmp_path / "users" / "dt=2025-06-12"
    users.mkdir(parents=True)
    (users / "users-2025-06-12-001.csv").write_text(
        "user_id,opened_at,credit_limit,score_band,marketing_consent,province,updated_at\n"
        "u9,2025-06-12 08:00:00,3000,A,yes,上海,\n",
        encoding="utf-8",
    )
    summary = add_day(tmp_path)
    assert summary["as_of"] == "2025-06-30" and summary["new_day"] == "2025-07-01"
    assert summary["rows"] == 3
    new_logs = tmp_path / "sms_logs" / "dt=2025-07-01" / "sms_logs-2025-07-01-001.csv"
    assert new_logs.read_text(encoding="utf-8").splitlines()[1:] == [
        "M1-x1,u1,T1,due_reminder,b1,hi,2025-07-01 09:00:00,delivered,2025-07-01 09:00:05,"
        "aliyun,DELIVRD,1,O1-x1",
        "M2-x1,u2,T1,marketing,,sale 2025-07-01,2025-07-01 23:59:59,failed,,tencent,UNDELIV,1,",
    ]
    # users: 19 days later, the user id is the key and gets the suffix
    new_users = tmp_path / "users" / "dt=2025-07-01" / "users-2025-07-01-001.csv"
    assert new_users.read_text(encoding="utf-8").splitlines()[1:] == [
        "u9-x1,2025-07-01 08:00:00,3000,A,yes,上海,"
    ]
    # a second day copies the first one's keys with the count moved on, not a second suffix
    # (the ids would outgrow the contract's 64 characters after some days: quarantined)
    assert add_day(tmp_path)["new_day"] == "2025-07-02"
    newer = tmp_path / "sms_logs" / "dt=2025-07-02" / "sms_logs-2025-07-02-001.csv"
    assert [r.split(",")[0] for r in newer.read_text(encoding="utf-8").splitlines()[1:]] == [
        "M1-x2",
        "M2-x2",
    ]


def test_extra_day_counts_parquet_keys_on(tmp_path):
    """In Parquet the keys get the same day counter: appended once, then counted on."""
    import duckdb

    from pipelines.bench.extra_day import add_day

    folder = tmp_path / "sms_logs" / "dt=2025-06-30"
    folder.mkdir(parents=True)
    duckdb.sql(
        "select * from (values ('P1', 'O1'), ('P2-x9', 'O2-x9'), ('P3', null)) "
        "as t (message_id, out_id)"
    ).write_parquet(str(folder / "sms_logs-2025-06-30.parquet"))
    assert add_day(tmp_path)["new_day"] == "2025-07-01"
    out = tmp_path / "sms_logs" / "dt=2025-07-01" / "sms_logs-2025-07-01.parquet"
    assert duckdb.sql(
        f"select message_id, out_id from read_parquet('{out}') order by 1"
    ).fetchall() == [("P1-x1", "O1-x1"), ("P2-x10", "O2-x10"), ("P3-x1", None)]


def test_the_peers_comparison_reads_a_published_file_with_segments(tmp_path, capsys):
    """compare.py attaches serve.duckdb in a plain connection; the wrapper gives every such
    connection the published segments first (serve.attach.sql), so the views resolve."""
    import duckdb
    import pytest

    from pipelines.bench.peer_compare import main as compare_main

    seg = tmp_path / "serve.segments" / "2025-01-abc.duckdb"
    seg.parent.mkdir()
    con = duckdb.connect(str(seg))
    con.execute("create schema segment; create table segment.t as select range as x from range(7)")
    con.close()
    serve = tmp_path / "serve.duckdb"
    con = duckdb.connect(str(serve))
    con.execute(f"attach '{seg}' as seg_202501_abc (read_only)")
    con.execute("create schema core; create view core.t as from seg_202501_abc.segment.t")
    con.close()
    (tmp_path / "serve.attach.sql").write_text(
        f"attach if not exists '{seg}' as \"seg_202501_abc\" (read_only);\n", encoding="utf-8"
    )
    script = tmp_path / "compare.py"
    script.write_text(
        "import sys, duckdb\n"
        "con = duckdb.connect()\n"
        "con.execute(f\"attach '{sys.argv[1]}' as s (read_only)\")\n"
        "n = con.execute('select count(*) from s.core.t').fetchone()[0]\n"
        "print(f'OK  rows: {n} ({sys.argv[2]})')\n"
        "sys.exit(0 if n == 7 else 1)\n",
        encoding="utf-8",
    )
    assert compare_main([str(script), str(serve), "peer-out"]) == 0
    assert "OK  rows: 7 (peer-out)" in capsys.readouterr().out
    # the same script without the wrapper stops at the first view
    plain = duckdb.connect()
    plain.execute(f"attach '{serve}' as s (read_only)")
    with pytest.raises(duckdb.CatalogException):
        plain.execute("select count(*) from s.core.t")
    plain.close()


def test_log_only_reconciles_the_notebooks_daily_counts(tmp_path):
    """The notebooks read no receipts: their daily counts are compared with the published
    messages of the log alone, and the sends only a gateway knew are counted apart."""
    import duckdb

    from pipelines.bench.peer_compare import DAILY_COUNTS, log_only

    serve = tmp_path / "serve.duckdb"
    con = duckdb.connect(str(serve))
    # the six flag columns the check reads (the expected figures below are worked by hand)
    flags = [c for c in DAILY_COUNTS.values() if c.startswith("is_")]
    assert len(flags) == 6
    con.execute(
        "create schema mart; create table mart.sms_message_flags (message_id VARCHAR, "
        "local_date DATE, purpose VARCHAR, origin VARCHAR, "
        + ", ".join(f"{f} BOOLEAN" for f in flags)
        + ")"
    )

    def row(mid, day, purpose, origin, *on):
        return (mid, day, purpose, origin, *[f in on for f in flags])

    con.executemany(
        "insert into mart.sms_message_flags values (" + ", ".join(["?"] * 10) + ")",
        [
            # 11-01: two sent (the verification code is not counted), one at night
            row("m1", "2026-11-01", "due_reminder", "log"),
            row("m2", "2026-11-01", "marketing", "log", "is_quiet_hours"),
            row("m3", "2026-11-01", "verification", "log"),
            # 11-02: one sent by the log; its retry only the gateway knew (a duplicate)
            row("m4", "2026-11-02", "due_reminder", "log"),
            row("gw-1", "2026-11-02", "due_reminder", "gateway", "is_duplicate"),
        ],
    )
    con.close()
    header = "period,sms_sent,sms_duplicate,sms_quiet_hours,sms_after_opt_out,"
    header += "sms_over_daily_cap,sms_marketing_in_service,sms_marketing_without_consent\n"
    peer = tmp_path / "peer"
    peer.mkdir()
    (peer / "sms_daily.csv").write_text(
        header + "2026-11-01,2,0,1,0,0,0,0\n2026-11-02,1,0,0,0,0,0,0\n", encoding="utf-8"
    )
    assert log_only(serve, peer) == {
        "days": 2,
        "differing_day_counts": 0,
        "agrees": True,
        "gateway_only_messages": 1,
    }
    # the notebook counting the gateway's retry (2 sent, 1 duplicate on 11-02) differs twice
    (peer / "sms_daily.csv").write_text(
        header + "2026-11-01,2,0,1,0,0,0,0\n2026-11-02,2,1,0,0,0,0,0\n", encoding="utf-8"
    )
    got = log_only(serve, peer)
    assert (got["differing_day_counts"], got["agrees"]) == (2, False)
    # a day only one side has counts as differing in every count
    (peer / "sms_daily.csv").write_text(header + "2026-11-01,2,0,1,0,0,0,0\n", encoding="utf-8")
    assert log_only(serve, peer)["differing_day_counts"] == 7


def table_text(steps: dict, verdicts: list[dict]) -> str:
    """The bench's printed table for a report of these steps at m, as one line of text."""
    from rich.console import Console

    from pipelines.cli.bench import table

    report = {
        "scale": "m",
        "machine": {
            "cores": 2,
            "memory_bytes": 24 << 30,
            "duckdb": "2.0.0",
            "load_average_at_start": [1.0, 1.0, 1.0],
        },
        "dataset": {"users": 50_000, "months": 6, "format": "csv"},
        "steps": steps,
        "verdicts": verdicts,
    }
    console = Console(width=400, record=True)
    console.print(table(report))
    return " ".join(console.export_text().split())


def test_the_table_says_what_a_disagreement_with_the_notebook_is_made_of():
    """A notebook that disagrees only because it cannot see the gateway-only sends is
    reported with that explanation, not as a bare disagreement."""
    text = table_text(
        {
            "peers": {
                "polars": {
                    "wall_s": 10.0,
                    "cpu_s": 18.0,
                    "peak_rss_bytes": 2 << 30,
                    "exit_code": 0,
                    "agrees_with_published": False,
                    "disagreeing_checks": ["mart.metrics sms_sent"],
                    "log_only": {
                        "days": 181,
                        "differing_day_counts": 0,
                        "agrees": True,
                        "gateway_only_messages": 4847,
                    },
                }
            }
        },
        [],
    )
    assert "disagrees with the published numbers on: mart.metrics sms_sent" in text
    assert "on the log's own messages every daily count agrees (181 days)" in text
    assert "4,847 sends only the gateways know" in text


def test_the_table_gives_a_pages_queries_and_its_whole_run():
    """A page's row gives its queries' p50 and p95 (the target) and its whole run's p50."""
    page = {"query": {"p50_s": 0.196, "p95_s": 0.232}, "page_run": {"p50_s": 0.45, "p95_s": 0.635}}
    verdict = {"target": "page tradeoffs query p95", "value": 0.232, "limit": 0.3, "met": True,
               "unit": "s", "cpu_value": None}  # fmt: skip
    text = table_text({"pages": {"repeat": 20, "pages": {"tradeoffs": page}}}, [verdict])
    assert "page tradeoffs │ run p50 450 ms │" in text
    assert "queries p50 196 ms · p95 232 ms │ p95 <= 300 ms │ yes" in text


def test_against_schedule_alternates_rounds_and_days():
    """Round 1 starts with the revision (0), round 2 with this code (1); within a round the
    days go ABBA: the code that ran its day last runs the next day first."""
    from pipelines.bench.against import schedule

    assert schedule(2, 2) == [
        (1, 0, "full", 0), (1, 1, "full", 0),
        (1, 0, "day", 1), (1, 1, "day", 1), (1, 1, "day", 2), (1, 0, "day", 2),
        (2, 1, "full", 0), (2, 0, "full", 0),
        (2, 1, "day", 1), (2, 0, "day", 1), (2, 0, "day", 2), (2, 1, "day", 2),
    ]  # fmt: skip
    assert schedule(1, 3) == [
        (1, 0, "full", 0), (1, 1, "full", 0),
        (1, 0, "day", 1), (1, 1, "day", 1), (1, 1, "day", 2), (1, 0, "day", 2),
        (1, 0, "day", 3), (1, 1, "day", 3),
    ]  # fmt: skip


def test_against_runs_both_codes_in_alternating_rounds(_isolated_data_dir):
    """--against HEAD: the same code twice, so every run succeeds on both sides, in the
    schedule's order (one round of two days: the order of rounds is the test above); the
    worktree is gone afterwards."""
    import subprocess

    from pipelines.settings import REPO_ROOT

    code = main(
        ["bench", "--scale", "s", "--users", "20", "--months", "1", "--against", "HEAD"]
        + ["--rounds", "1", "--days", "2"]
    )
    assert code == 0
    bench = _isolated_data_dir / "bench"
    (written,) = bench.glob("against-s-*.json")
    report = json.loads(written.read_text(encoding="utf-8"))
    assert [(r["round"], r["code"]) for r in report["runs"]] == [
        (1, "HEAD"), (1, "this checkout")
    ]  # fmt: skip
    head = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert report["rev_commit"] == head == report["this_commit"]
    for run in report["runs"]:
        assert len(run["days"]) == 2
        for step in [run["full_run"], *run["days"]]:
            assert step["exit_code"] == 0, step.get("stderr_tail")
            assert step["cpu_s"] > 0 and step["wall_s"] > 0
        assert all(d["rows"] > 0 for d in run["days"])
    # the order things ran in: HEAD's full run, then this checkout's; the days HEAD, this,
    # this, HEAD
    ran = sorted(
        (step["seq"], r["code"][0], name)
        for r in report["runs"]
        for name, step in [("full", r["full_run"])] + [("day", d) for d in r["days"]]
    )
    assert [(code, name) for _, code, name in ran] == [
        ("H", "full"), ("t", "full"), ("H", "day"), ("t", "day"), ("t", "day"), ("H", "day"),
    ]  # fmt: skip
    medians = report["medians"]["day_cpu_s"]
    assert medians["rev"] > 0 and medians["this"] > 0 and medians["this_vs_rev"] > 0
    assert not list((bench / "code").iterdir())  # the worktree was removed
    worktrees = subprocess.run(
        ["git", "-C", str(REPO_ROOT), "worktree", "list"], capture_output=True, text=True
    ).stdout
    assert str(bench) not in worktrees


def test_against_an_unknown_revision_is_a_clear_error(_isolated_data_dir, capsys):
    code = main(["bench", "--scale", "s", "--users", "20", "--months", "1",
                 "--against", "no-such-rev-xyz"])  # fmt: skip
    assert code != 0
    assert "no-such-rev-xyz" in capsys.readouterr().err


def test_a_failed_full_run_stops_the_steps_that_measure_its_warehouse(
    _isolated_data_dir, monkeypatch, capsys
):
    # at half of l a full run once failed (no space left for DuckDB's spill) and the bench
    # went on to add a day to the half-built warehouse, timing a whole build as "a day"
    from pipelines.bench import harness

    calls = []

    def failing(root, data_dir, name, profile, say, new_day=None):
        calls.append(name)
        return {
            "wall_s": 3.0,
            "cpu_s": 4.0,
            "peak_rss_bytes": 1,
            "exit_code": 1,
            "summary": {"success": False, "error": "marts: IO Error: No space left on device"},
        }

    monkeypatch.setattr(harness, "_run_step", failing)
    steps = ["full_run", "pages", "sql", "incremental_run", "second_day_run", "noop_run"]
    code = main(
        ["bench", "--scale", "s", "--users", "20", "--months", "1", "--repeat", "1"]
        + ["--steps", ",".join(steps)]
    )
    said = capsys.readouterr()
    assert calls == ["full_run"]
    assert "full_run FAILED (marts: IO Error: No space left on device)" in said.err
    latest = json.loads((_isolated_data_dir / "bench" / "latest-s.json").read_text("utf-8"))
    for name in steps[1:]:
        assert latest["steps"][name] == {"skipped": "the full run failed"}
    verdicts = {v["target"]: v for v in latest["verdicts"]}
    assert verdicts["incremental day / full run"]["met"] is None
    assert code != 0
    assert said.out.count("not run:") == len(steps) - 1  # a row for each step not run


def test_a_step_whose_run_failed_exits_with_the_runs_code(tmp_path, monkeypatch):
    # the process's exit code is what the bench reads as the step's; a failed pipeline run
    # used to leave it 0, so a failed full run looked measured
    from pipelines.bench import step

    monkeypatch.setitem(
        step.STEPS, "run", lambda a: {"success": False, "error": "marts: disk full", "exit_code": 1}
    )
    result = tmp_path / "r.json"
    assert step.main(["run", "--result", str(result), "--data-dir", str(tmp_path)]) == 1
    assert json.loads(result.read_text("utf-8"))["error"] == "marts: disk full"
    monkeypatch.setitem(step.STEPS, "run", lambda a: {"success": True, "exit_code": 0})
    assert step.main(["run", "--result", str(result), "--data-dir", str(tmp_path)]) == 0
    monkeypatch.setitem(step.STEPS, "compact", lambda a: {"success": False, "error": "x"})
    assert step.main(["compact", "--result", str(result), "--data-dir", str(tmp_path)]) == 1
