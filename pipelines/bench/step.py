"""One measured benchmark step, run as its own process by the harness.

    python -m pipelines.bench.step STEP --result OUT.json [options]

Each step does its work and writes what it counted (rows, files, per-query timings) to
`--result`; the harness measures the process from outside (wall time, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pipelines import contract
from pipelines.bench.stats import summarize


def _write(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# simulate
# ---------------------------------------------------------------------------------------------


def step_simulate(a: argparse.Namespace) -> dict:
    from pipelines.simulator import simulate

    truth = simulate(
        a.landing,
        scale=a.scale,
        users=a.users,
        months=a.months,
        seed=a.seed,
        fmt=a.fmt,
        progress=False,
        force=True,
    )
    return {
        "rows_written": truth["rows_written"],
        "rows": sum(truth["rows_written"].values()),
        "files": truth["run"]["files"],
        "bytes": truth["run"]["bytes"],
        "as_of": truth["as_of"],
        "users": truth["users"],
        "months": truth["months"],
        "inner_seconds": truth["run"]["seconds"],
    }


# ---------------------------------------------------------------------------------------------
# floor: one DuckDB process reading every landing file once into a table
# ---------------------------------------------------------------------------------------------

READERS = {
    "csv": "read_csv($files, header = true, all_varchar = true, union_by_name = true, "
    "hive_partitioning = false)",
    "csv.gz": "read_csv($files, header = true, all_varchar = true, union_by_name = true, "
    "hive_partitioning = false)",
    "jsonl": "read_json($files, format = 'newline_delimited', union_by_name = true, "
    "hive_partitioning = false)",
    "parquet": "read_parquet($files, union_by_name = true, hive_partitioning = false)",
}


def landing_files(landing: Path) -> dict[tuple[str, str], list[str]]:
    """{(source, format): [file paths]} for every data file under the landing folder."""
    groups: dict[tuple[str, str], list[str]] = {}
    for source in contract.SOURCE_NAMES:
        for path in sorted((landing / source).glob("dt=*/*")):
            fmt = next(
                (f for f in ("csv.gz", "parquet", "jsonl", "csv") if path.name.endswith("." + f)),
                None,
            )
            if fmt:
                groups.setdefault((source, fmt), []).append(str(path))
    return groups


def _same_header(files: list[str]) -> list[list[str]]:
    """Files grouped by their first line (the CSV header)."""
    by: dict[bytes, list[str]] = {}
    for f in files:
        with open(f, "rb") as fh:
            by.setdefault(fh.readline().rstrip(b"\r\n"), []).append(f)
    return list(by.values())


def step_floor(a: argparse.Namespace) -> dict:
    import duckdb

    groups = landing_files(a.landing)
    db = Path(a.db)
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    tables = {}
    try:
        for (source, fmt), all_files in groups.items():
            # CSV files with the same header need no union_by_name (2-3x cheaper in DuckDB):
            # one table per distinct header
            for i, files in enumerate(_same_header(all_files) if fmt == "csv" else [all_files]):
                name = f"{source}_{fmt.replace('.', '_')}_{i}"
                reader = READERS[fmt]
                if fmt == "csv":
                    reader = reader.replace("union_by_name = true", "union_by_name = false")
                # the reader is fixed text per format; only the file list is a bound parameter
                con.execute(f"create table {name} as select * from {reader}", {"files": files})
                rows = con.execute(f"select count(*) from {name}").fetchone()[0]
                tables[name] = {"source": source, "format": fmt, "files": len(files), "rows": rows}
        con.execute("checkpoint")
    finally:
        con.close()
    size = db.stat().st_size
    db.unlink(missing_ok=True)
    rows_per_source = dict.fromkeys(contract.SOURCE_NAMES, 0)
    for t in tables.values():
        rows_per_source[t["source"]] += t["rows"]
    return {
        "tables": tables,
        "rows_per_source": rows_per_source,
        "rows": sum(rows_per_source.values()),
        "files": sum(len(f) for f in groups.values()),
        "db_bytes": size,
    }


# ---------------------------------------------------------------------------------------------
# run: `nudgescope run` on a data folder (optionally under cProfile)
# ---------------------------------------------------------------------------------------------


def step_run(a: argparse.Namespace) -> dict:
    from pipelines.orchestration.run import run_pipeline

    prof = None
    if a.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    s = run_pipeline(a.data_dir)
    if prof:
        prof.disable()
        prof.dump_stats(a.profile)
    return {
        "success": s.success,
        "error": s.error,
        "exit_code": s.exit_code,
        "partitions": list(s.partitions) if s.partitions else None,
        "files_seen": s.files_seen,
        "files_processed": s.files_processed,
        "files_failed": s.files_failed,
        "rows_read": s.rows_read,
        "rows_loaded": s.rows_loaded,
        "rows_quarantined": s.rows_quarantined,
        "rows_superseded": s.rows_superseded,
        "inner_seconds": round(s.seconds, 3),
    }


def step_compact(a: argparse.Namespace) -> dict:
    from pipelines.orchestration.run import compact_segments

    s = compact_segments(a.data_dir)
    return {
        "success": s.success,
        "error": s.error,
        "skipped": s.skipped,
        "months": s.months,
        "inner_seconds": round(s.seconds, 3),
    }


# ---------------------------------------------------------------------------------------------
# sql: a typical `nudgescope sql` query through the sandbox, repeated
# ---------------------------------------------------------------------------------------------

# A typical analyst question: it scans the largest mart (one row per message).
TYPICAL_SQL = (
    "select purpose, count(*) as messages,\n"
    "       count(*) filter (where is_duplicate) as duplicates,\n"
    "       count(*) filter (where is_quiet_hours) as quiet_hours,\n"
    "       count(*) filter (where is_over_daily_cap) as over_daily_cap\n"
    "from mart.sms_message_flags\n"
    "group by purpose\norder by messages desc"
)


def step_sql(a: argparse.Namespace) -> dict:
    from pipelines.serve import sandbox

    times = []
    rows = 0
    for _ in range(a.repeat):
        t0 = time.perf_counter()
        result = sandbox.run(TYPICAL_SQL, a.db)
        times.append(time.perf_counter() - t0)
        rows = len(result.rows)
    return {"sql": TYPICAL_SQL, "rows_returned": rows, **summarize(times)}


# ---------------------------------------------------------------------------------------------
# pages: every dashboard page through Streamlit's AppTest, queries timed without the cache
# ---------------------------------------------------------------------------------------------


def step_pages(a: argparse.Namespace) -> dict:
    from pipelines.bench.pages import time_pages

    return time_pages(Path(a.db), a.repeat)


def step_alert_latency(a: argparse.Namespace) -> dict:
    from pipelines.bench.alert_latency import time_to_alert

    return time_to_alert(a.data_dir, a.result.with_suffix(".processes.log"))


STEPS = {
    "simulate": step_simulate,
    "alert_latency": step_alert_latency,
    "floor": step_floor,
    "run": step_run,
    "compact": step_compact,
    "sql": step_sql,
    "pages": step_pages,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m pipelines.bench.step")
    p.add_argument("step", choices=tuple(STEPS))
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--landing", type=Path)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--db", type=Path)
    p.add_argument("--scale", default="s")
    p.add_argument("--users", type=int)
    p.add_argument("--months", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--fmt", default="csv")
    p.add_argument("--repeat", type=int, default=20)
    p.add_argument("--profile", type=Path)
    a = p.parse_args(argv)
    result = STEPS[a.step](a)
    _write(a.result, result)
    # a run or compaction that failed is a failed step (its figures are not a measurement)
    if result.get("success") is False:
        return result.get("exit_code") or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
