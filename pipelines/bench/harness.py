"""Prepare the benchmark data, run every step as a child process, collect the figures.

Layout under `data/bench/`:

    <scale>/landing/          simulator output, generated once per parameter set and reused
    <scale>/dataset.json      marker: the simulator parameters and the simulate step's figures
    <scale>/work/full/        data folder of the full run (landing hard-linked, fresh warehouse)
    <scale>/work/incremental/ copy of the full run's state + one more day of landing files
    <scale>-<timestamp>.json  the figures of one bench run; latest-<scale>.json the last one
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.bench import footprint
from pipelines.settings import REPO_ROOT, paths

TARGETS = {
    "full_run_vs_floor": 4.0,  # full run wall <= 4 x the floor's
    "incremental_vs_full": 0.10,  # incremental day wall <= 10 % of a full run's
    "incremental_vs_full_cpu_at_l": 0.05,  # issue #17 at l: a day's CPU <= 5 % of a full run's
    # issue #17 at l: publishing a day writes the slices of its own month only, and the live
    # published files hold no freed blocks (pipelines.bench.footprint)
    "publish_other_slices": 0,
    "published_free_blocks": 0,
    "page_p95_s": 0.300,  # every page's query p95
    "peak_rss_bytes": 8 * 1024**3,  # every step
    "simulate_rows_per_s": 1_000_000,
    # against the analyst's notebooks (../shared/peers), in CPU seconds
    "full_run_vs_polars_cpu": 2.0,  # a full run <= 2 x the polars notebook
    "incremental_vs_polars_cpu": 0.3,  # one new day <= 0.3 x the polars notebook from scratch
    "alert_s_at_m": 60.0,  # time to alert (file landing -> webhook POST), issue #16, at m
}
STEPS = (
    "simulate",
    "floor",
    "full_run",
    "peers",
    "incremental_run",
    "second_day_run",
    "compact_run",
    "noop_run",
    "pages",
    "sql",
    "time_to_alert",
)
# The analyst's notebooks that compute the core numbers without the product: the yardstick.
PEERS_DIR = REPO_ROOT.parent / "shared" / "peers"
PEERS = {"polars": "polars_notebook.py", "pandas": "pandas_notebook.py"}


@dataclass
class Measured:
    """The OS's accounting of one child process."""

    wall_s: float
    peak_rss_bytes: int
    user_s: float
    sys_s: float
    exit_code: int
    result: dict = field(default_factory=dict)
    stderr_tail: str = ""
    # bytes the process (and the children it waited for) wrote to storage: the kernel's
    # ru_oublock, in 512-byte units (its write_bytes accounting, taken when pages are dirtied)
    written_bytes: int = 0

    def as_dict(self) -> dict:
        return {
            "wall_s": round(self.wall_s, 3),
            "peak_rss_bytes": self.peak_rss_bytes,
            "user_s": round(self.user_s, 3),
            "sys_s": round(self.sys_s, 3),
            "cpu_s": round(self.user_s + self.sys_s, 3),
            "exit_code": self.exit_code,
            "written_bytes": self.written_bytes,
        }


def measure(
    argv: list[str],
    env: dict[str, str] | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
) -> Measured:
    """Run argv as a child process; wall time from outside, peak RSS and CPU from wait4."""
    full_env = {**os.environ, **(env or {})}
    err = open(log, "w+b") if log else tempfile.TemporaryFile()  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=full_env, stdout=err, stderr=subprocess.STDOUT, cwd=cwd)
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        tail = err.read()[-4000:].decode("utf-8", "replace")
    finally:
        err.close()
    # Linux reports ru_maxrss in kilobytes
    return Measured(
        wall,
        ru.ru_maxrss * 1024,
        ru.ru_utime,
        ru.ru_stime,
        proc.returncode,
        stderr_tail=tail,
        written_bytes=ru.ru_oublock * 512,
    )


def step_process(
    step: str, result: Path, *args: str, env: dict | None = None, log: Path | None = None
) -> Measured:
    """Run `python -m pipelines.bench.step` and read back what it wrote."""
    result.unlink(missing_ok=True)
    m = measure(
        [sys.executable, "-m", "pipelines.bench.step", step, "--result", str(result), *args],
        env=env,
        log=log,
    )
    if m.exit_code == 0 and result.exists():
        m.result = json.loads(result.read_text(encoding="utf-8"))
    return m


# ---------------------------------------------------------------------------------------------
# The data set: generated once per (scale, users, months, seed, format)
# ---------------------------------------------------------------------------------------------


def dataset_params(
    scale: str, users: int | None, months: int | None, seed: int | None, fmt: str
) -> dict:
    from pipelines.simulator.params import DEFAULT_SEED, SCALES

    n_users, n_months = SCALES[scale]
    return {
        "scale": scale,
        "users": users or n_users,
        "months": months or n_months,
        "seed": DEFAULT_SEED if seed is None else seed,
        "format": fmt,
        "dirty": False,
    }


def ensure_dataset(root: Path, params: dict, regenerate: bool = False, say=print) -> dict:
    """The simulate step's figures; simulates (measured) only when no matching data exists."""
    marker = root / "dataset.json"
    landing = root / "landing"
    if marker.exists() and not regenerate:
        known = json.loads(marker.read_text(encoding="utf-8"))
        if known.get("params") == params and landing.is_dir():
            say(f"reusing {landing} (simulated {known['simulate']['measured_at']})")
            sim = known["simulate"]
            sim.setdefault("cpu_s", round(sim["user_s"] + sim["sys_s"], 3))
            sim.setdefault("rows_per_cpu_s", round(sim["rows"] / max(sim["cpu_s"], 1e-9)))
            return sim
    marker.unlink(missing_ok=True)
    if landing.exists():
        shutil.rmtree(landing)
    root.mkdir(parents=True, exist_ok=True)
    say(f"simulating {params['users']:,} users x {params['months']} months into {landing} ...")
    m = step_process(
        "simulate",
        root / "simulate.result.json",
        "--landing", str(landing),
        "--scale", params["scale"],
        "--users", str(params["users"]),
        "--months", str(params["months"]),
        "--seed", str(params["seed"]),
        "--fmt", params["format"],
        log=root / "simulate.log",
    )  # fmt: skip
    if m.exit_code != 0:
        raise RuntimeError(f"simulate failed (exit {m.exit_code}):\n{m.stderr_tail}")
    figures = {
        **m.as_dict(),
        **m.result,
        "rows_per_s": round(m.result["rows"] / m.wall_s),
        # the same on CPU time: less sensitive to other load on the machine
        "rows_per_cpu_s": round(m.result["rows"] / max(m.user_s + m.sys_s, 1e-9)),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    marker.write_text(
        json.dumps({"params": params, "simulate": figures}, indent=2) + "\n", encoding="utf-8"
    )
    return figures


def bench_root(scale: str) -> Path:
    return paths().bench / scale


# ---------------------------------------------------------------------------------------------
# Working copies
# ---------------------------------------------------------------------------------------------

PATH_VARS = ("NUDGESCOPE_LANDING", "NUDGESCOPE_WAREHOUSE", "NUDGESCOPE_SERVE")


def link_tree(src: Path, dst: Path) -> int:
    """Hard-link every file of src under dst (same tree); returns the number of files."""
    n = 0
    for root, _dirs, files in os.walk(src):
        target = dst / Path(root).relative_to(src)
        target.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(Path(root) / name, target / name)
            n += 1
    return n


def fresh_data_dir(work: Path, landing: Path, state_from: Path | None = None) -> Path:
    """An empty data folder with `landing/` linked; with state_from, its warehouse state copied."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    link_tree(landing, work / "landing")
    if state_from is not None:
        for entry in state_from.iterdir():
            if entry.name == "landing":
                continue
            if entry.is_dir():
                shutil.copytree(entry, work / entry.name)
            else:
                shutil.copy2(entry, work / entry.name)
    return work


def _tree_bytes(root: Path, skip: str) -> int:
    """Bytes of the files under root, leaving out the top-level folder `skip`."""
    total = 0
    for entry in root.iterdir():
        if entry.name == skip:
            continue
        if entry.is_dir():
            total += sum(f.stat().st_size for f in entry.rglob("*") if f.is_file())
        else:
            total += entry.stat().st_size
    return total


def data_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in PATH_VARS}
    env["NUDGESCOPE_DATA_DIR"] = str(data_dir)
    return env


def machine() -> dict:
    import duckdb

    mem = 0
    cpu = platform.processor()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def code_version() -> dict:
    """The commit measured, and the files that differed from it (a shared working tree)."""
    from pipelines.settings import REPO_ROOT

    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True)
        except OSError:
            return ""
        return out.stdout.rstrip() if out.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no")
               .splitlines()]  # fmt: skip
    return {"commit": git("rev-parse", "HEAD") or None, "modified_files": changed}


def serve_rows(db: Path) -> dict[str, int]:
    """Rows of every core table in a published database."""
    from pipelines.serve.segments import open_published, relations

    con = open_published(db)
    try:
        tables = [t for _, t in relations(con, ("core",))]
        return {t: con.execute(f'select count(*) from core."{t}"').fetchone()[0] for t in tables}
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# The benchmark
# ---------------------------------------------------------------------------------------------


@dataclass
class Options:
    scale: str = "l"
    users: int | None = None
    months: int | None = None
    seed: int | None = None
    fmt: str = "csv"
    repeat: int = 20
    steps: tuple[str, ...] = STEPS
    profile: bool = False
    regenerate: bool = False


def _figures(m: Measured) -> dict:
    return {**m.as_dict(), **({"stderr_tail": m.stderr_tail} if m.exit_code else {})}


def _dir_step(root: Path, step: str, name: str, data_dir: Path) -> Measured:
    """Bench step `step` on the data folder `data_dir`, its result and log named `name`."""
    return step_process(
        step,
        root / f"{name}.result.json",
        "--data-dir",
        str(data_dir),
        env=data_env(data_dir),
        log=root / f"{name}.log",
    )


def _run_step(
    root: Path, data_dir: Path, name: str, profile: bool, say, new_day: str | None = None
) -> dict:
    args = ["--data-dir", str(data_dir)]
    if profile:
        args += ["--profile", str(root / f"{name}.prof")]
    say(f"{name}: nudgescope run on {data_dir} ...")
    before = footprint.snapshot(data_dir)
    m = step_process(
        "run", root / f"{name}.result.json", *args, env=data_env(data_dir), log=root / f"{name}.log"
    )
    out = {**_figures(m), "summary": m.result, "profiled": profile}
    if m.exit_code == 0:
        out["published"] = footprint.publish_figures(before, data_dir, new_day)
    if profile and m.exit_code == 0:
        out["profile_top"] = profile_top(root / f"{name}.prof", root / f"{name}.prof.txt")
    return out


def run_peers(
    root: Path,
    data_dir: Path,
    serve: Path | None,
    fmt: str,
    say,
    only: tuple[str, ...] = tuple(PEERS),
) -> dict:
    """Run the analyst's notebooks on the same landing files, each as its own process.

    With `serve`, their numbers are also compared with the published ones (compare.py prints
    AGREE or DISAGREE). Skipped (with the reason) when ../shared/peers is not there or the
    landing files are not CSV, which is all the notebooks read.
    """
    if not PEERS_DIR.is_dir():
        return {"skipped": f"no peers folder at {PEERS_DIR}"}
    if fmt != "csv":
        return {"skipped": f"the notebooks read CSV only; this data set is {fmt}"}
    import duckdb

    from pipelines.bench import peer_compare

    out: dict = {}
    for name in only:
        script = PEERS_DIR / PEERS[name]
        if not script.is_file():
            out[name] = {"skipped": f"{script} is missing"}
            continue
        dest = root / "peers" / f"{data_dir.name}-{name}"
        shutil.rmtree(dest, ignore_errors=True)
        say(f"peers: the {name} notebook on {data_dir / 'landing'} ...")
        m = measure(
            [sys.executable, str(script), str(data_dir), str(dest)],
            log=root / f"peers-{data_dir.name}-{name}.log",
        )
        out[name] = _figures(m)
        if serve is not None and serve.exists() and not m.exit_code:
            # compare.py through a wrapper that attaches the published segments first
            check = subprocess.run(
                [sys.executable, "-m", "pipelines.bench.peer_compare"]
                + [str(PEERS_DIR / "compare.py"), str(serve), str(dest)],
                capture_output=True,
                text=True,
            )
            lines = check.stdout.splitlines()
            out[name]["agrees_with_published"] = check.returncode == 0
            # the checks that disagree, by name ("BAD <name>: <detail>")
            out[name]["disagreeing_checks"] = [
                ln.strip()[4:].split(":")[0] for ln in lines if ln.strip().startswith("BAD ")
            ]
            out[name]["compare_tail"] = (check.stdout + check.stderr)[-2000:]
            if check.returncode and not out[name]["disagreeing_checks"]:
                out[name]["compare_failed"] = True  # it stopped before reporting a check
            try:  # the expected difference: the sends only the gateways know
                out[name]["log_only"] = peer_compare.log_only(serve, dest)
            except (duckdb.Error, OSError) as exc:
                out[name]["log_only"] = {"error": str(exc).splitlines()[0][:300]}
    return out


def profile_top(prof: Path, text: Path, n: int = 30) -> list[dict]:
    """The n functions with the most cumulative time, also written as pstats text."""
    import io
    import pstats

    buf = io.StringIO()
    stats = pstats.Stats(str(prof), stream=buf)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(40)
    text.write_text(buf.getvalue(), encoding="utf-8")
    rows = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({func})",
                "calls": nc,
                "tottime_s": round(tt, 3),
                "cumtime_s": round(ct, 3),
            }
        )
    rows.sort(key=lambda r: r["tottime_s"], reverse=True)
    return rows[:n]


def run_bench(opts: Options, say=print) -> dict:
    started = dt.datetime.now(dt.UTC)
    params = dataset_params(opts.scale, opts.users, opts.months, opts.seed, opts.fmt)
    root = bench_root(opts.scale)
    report: dict = {
        "scale": opts.scale,
        "started_at": started.isoformat(timespec="seconds"),
        "command": "nudgescope bench " + " ".join(sys.argv[2:])
        if len(sys.argv) > 2
        else f"nudgescope bench --scale {opts.scale}",
        "dataset": params,
        "machine": machine(),
        "code": code_version(),
        "targets": {**TARGETS, "apply_at_scale": "l"},
        "steps": {},
    }
    steps = report["steps"]
    sim = ensure_dataset(root, params, opts.regenerate, say)
    steps["simulate"] = sim
    landing = root / "landing"
    work = root / "work"
    full_dir, inc_dir = work / "full", work / "incremental"
    serve = full_dir / "serve.duckdb"

    if "floor" in opts.steps:
        say("floor: one DuckDB process reading every landing file into a table ...")
        m = step_process(
            "floor",
            root / "floor.result.json",
            "--landing",
            str(landing),
            "--db",
            str(root / "floor.duckdb"),
            log=root / "floor.log",
        )
        steps["floor"] = {**_figures(m), **m.result}

    todo = set(opts.steps)
    if "full_run" in opts.steps:
        fresh_data_dir(full_dir, landing)
        steps["full_run"] = _run_step(root, full_dir, "full_run", opts.profile, say)
        if steps["full_run"]["exit_code"] != 0:
            # every later step measures the full run's warehouse (or a day added to it): on a
            # failed one (half built, or none) their figures would mean nothing
            reason = (steps["full_run"].get("summary") or {}).get("error") or (
                f"exit code {steps['full_run']['exit_code']}"
            )
            skipped = sorted(todo - {"simulate", "floor", "full_run"})
            say(f"full_run FAILED ({reason}); not run: {', '.join(skipped) or 'nothing'}")
            for name in skipped:
                steps[name] = {"skipped": "the full run failed"}
            todo -= set(skipped)
        elif serve.exists():
            steps["full_run"]["core_rows"] = serve_rows(serve)

    if "peers" in todo and (full_dir / "landing").is_dir():
        steps["peers"] = run_peers(root, full_dir, serve, opts.fmt, say)

    if not serve.exists() and (inc_dir / "serve.duckdb").exists():
        serve = inc_dir / "serve.duckdb"  # an earlier incremental run moved the full run's folder

    if "pages" in todo and serve.exists():
        say(f"pages: every dashboard page x {opts.repeat}, uncached ...")
        m = step_process(
            "pages",
            root / "pages.result.json",
            "--db",
            str(serve),
            "--repeat",
            str(opts.repeat),
            log=root / "pages.log",
        )
        steps["pages"] = {**_figures(m), **m.result}

    if "sql" in todo and serve.exists():
        say(f"sql: a typical nudgescope sql query x {opts.repeat} ...")
        m = step_process(
            "sql",
            root / "sql.result.json",
            "--db",
            str(serve),
            "--repeat",
            str(opts.repeat),
            log=root / "sql.log",
        )
        steps["sql"] = {**_figures(m), **m.result}
        cli = measure(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "sql",
                m.result.get("sql", ""),
                "--db",
                str(serve),
                "--format",
                "csv",
            ],
            log=root / "sql_cli.log",
        )
        steps["sql"]["cli_process"] = cli.as_dict()

    if "incremental_run" in todo and (full_dir / "warehouse.duckdb").exists():
        from pipelines.bench.extra_day import add_day

        state = _tree_bytes(full_dir, skip="landing")
        free = shutil.disk_usage(work).free
        if free > 2.5 * state:
            fresh_data_dir(inc_dir, full_dir / "landing", state_from=full_dir)
        else:
            # a copy of the warehouse does not fit: run the incremental day on the full run's
            # folder itself (its pages and SQL were measured above)
            say(
                f"incremental run in place: {free / 1e9:.1f} GB free, "
                f"the full run's state is {state / 1e9:.1f} GB"
            )
            if inc_dir.exists():
                shutil.rmtree(inc_dir)
            full_dir.rename(inc_dir)
        added = add_day(inc_dir / "landing")
        say(f"added {added['new_day']}: {added['rows']:,} rows in every source")
        steps["incremental_run"] = {
            **_run_step(root, inc_dir, "incremental_run", opts.profile, say, added["new_day"]),
            "added": added,
            "in_place": not full_dir.exists(),
        }
        if "peers" in todo:
            scratch = run_peers(root, inc_dir, None, opts.fmt, say, only=("polars",))
            steps["peers_with_new_day"] = scratch

    if "second_day_run" in todo and (inc_dir / "serve.duckdb").exists():
        # The day incremental_run adds follows the data set's last day, the first of a month
        # at every scale (the month that ended stays in thirds: pipelines.serve.segments).
        # One more day, in the same month, is what most days cost.
        from pipelines.bench.extra_day import add_day

        added = add_day(inc_dir / "landing")
        say(f"added {added['new_day']}: {added['rows']:,} rows in every source")
        steps["second_day_run"] = {
            **_run_step(root, inc_dir, "second_day_run", opts.profile, say, added["new_day"]),
            "added": added,
        }

    if "compact_run" in todo and (inc_dir / "serve.duckdb").exists():
        # the nightly maintenance run: the month that ended (thirds) written once as one file
        say(f"compact_run: nudgescope compact on {inc_dir} ...")
        before = footprint.snapshot(inc_dir)
        m = _dir_step(root, "compact", "compact_run", inc_dir)
        steps["compact_run"] = {**_figures(m), "summary": m.result}
        if m.exit_code == 0:
            steps["compact_run"]["published"] = footprint.publish_figures(before, inc_dir)

    if "noop_run" in todo and (inc_dir / "warehouse.duckdb").exists():
        steps["noop_run"] = _run_step(root, inc_dir, "noop_run", opts.profile, say)

    state_dir = inc_dir if (inc_dir / "serve.duckdb").exists() else full_dir
    if "time_to_alert" in todo and (state_dir / "serve.duckdb").exists():
        # on a throwaway copy: the step lands two more days of sms_logs (pipelines.bench
        # .alert_latency); removed afterwards, it is as large as the warehouse. The last step,
        # so without room for a copy it runs on the folder itself.
        state = _tree_bytes(state_dir, skip="landing")
        in_place = shutil.disk_usage(work).free <= 2.5 * state
        alert_dir = (
            state_dir
            if in_place
            else fresh_data_dir(work / "alerts", state_dir / "landing", state_from=state_dir)
        )
        say("time_to_alert: a duplicate storm lands; nudgescope run, then the sensor ...")
        m = _dir_step(root, "alert_latency", "time_to_alert", alert_dir)
        steps["time_to_alert"] = {**_figures(m), **m.result, "in_place": in_place}
        if not in_place:
            shutil.rmtree(alert_dir, ignore_errors=True)

    # steps not run this time: carried over from the latest full report, marked as such
    previous = paths().bench / f"latest-{opts.scale}.json"
    if set(opts.steps) != set(STEPS) and previous.exists():
        before = json.loads(previous.read_text(encoding="utf-8"))
        if before.get("dataset") == params:
            for name, fig in before.get("steps", {}).items():
                if name not in steps:
                    steps[name] = {
                        **fig,
                        "from_report": fig.get("from_report") or before.get("started_at"),
                    }
    report["rows_per_source"] = {
        "written": sim.get("rows_written"),
        "floor": steps.get("floor", {}).get("rows_per_source"),
        "core": steps.get("full_run", {}).get("core_rows"),
    }
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report["verdicts"] = verdicts(steps)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    out = paths().bench
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n"
    # profiled timings are not comparable: they never become the latest figures
    name = f"{opts.scale}-{stamp}{'-profile' if opts.profile else ''}.json"
    (out / name).write_text(text, encoding="utf-8")
    if not opts.profile:
        (out / f"latest-{opts.scale}.json").write_text(text, encoding="utf-8")
    report["written_to"] = str(out / name)
    return report


def verdicts(steps: dict) -> list[dict]:
    """Each target: the measured value, the limit, met or not (None when not measured)."""
    out = []

    def add(name, value, limit, met, unit, cpu_value=None):
        out.append(
            {
                "target": name,
                "value": value,
                "limit": limit,
                "met": met,
                "unit": unit,
                # the same comparison on CPU seconds (user + sys), for a loaded machine
                "cpu_value": cpu_value,
            }
        )

    sim = steps.get("simulate", {})
    rps = sim.get("rows_per_s")
    add(
        "simulate rows/s",
        rps,
        TARGETS["simulate_rows_per_s"],
        None if rps is None else rps >= TARGETS["simulate_rows_per_s"],
        "rows/s",
        sim.get("rows_per_cpu_s"),
    )
    floor, full = steps.get("floor"), steps.get("full_run")
    if floor and full and not full.get("exit_code") and not floor.get("exit_code"):
        ratio = full["wall_s"] / floor["wall_s"]
        add(
            "full run / floor",
            round(ratio, 2),
            TARGETS["full_run_vs_floor"],
            ratio <= TARGETS["full_run_vs_floor"],
            "x",
            round(full["cpu_s"] / max(floor["cpu_s"], 1e-9), 2),
        )
    else:
        add("full run / floor", None, TARGETS["full_run_vs_floor"], None, "x")
    inc = steps.get("incremental_run")
    if inc and full and not inc.get("exit_code") and not full.get("exit_code"):
        ratio = inc["wall_s"] / full["wall_s"]
        add(
            "incremental day / full run",
            round(ratio, 3),
            TARGETS["incremental_vs_full"],
            ratio <= TARGETS["incremental_vs_full"],
            "ratio",
            round(inc["cpu_s"] / max(full["cpu_s"], 1e-9), 3),
        )
    else:
        add("incremental day / full run", None, TARGETS["incremental_vs_full"], None, "ratio")
    limit = TARGETS["incremental_vs_full_cpu_at_l"]
    if inc and full and not inc.get("exit_code") and not full.get("exit_code"):
        ratio = inc["cpu_s"] / max(full["cpu_s"], 1e-9)
        label = "incremental day / full run (CPU, 5 % at l)"
        add(label, round(ratio, 3), limit, ratio <= limit, "ratio", round(ratio, 3))
    else:
        add("incremental day / full run (CPU, 5 % at l)", None, limit, None, "ratio")
    last_live = None
    for name in ("full_run", "incremental_run", "second_day_run", "compact_run", "noop_run"):
        step = steps.get(name) or {}
        pub = step.get("published")
        if not pub or step.get("from_report"):
            continue
        last_live = (name, pub)
        other = pub.get("other_slices_written")
        if other is not None:
            label = f"{name} publish: slices of other months written"
            add(label, len(other), TARGETS["publish_other_slices"], not other, "slices")
    if last_live:
        name, pub = last_live
        free = pub["live_free_blocks"]
        ok = free == TARGETS["published_free_blocks"] and not pub["live_unreadable"]
        label = f"published files' freed blocks (after {name})"
        add(label, free, TARGETS["published_free_blocks"], ok, "blocks")
    polars = steps.get("peers", {}).get("polars") or {}
    if full and polars.get("cpu_s") and not full.get("exit_code") and not polars.get("exit_code"):
        ratio = full["cpu_s"] / polars["cpu_s"]
        add(
            "full run / polars notebook (CPU)",
            round(ratio, 2),
            TARGETS["full_run_vs_polars_cpu"],
            ratio <= TARGETS["full_run_vs_polars_cpu"],
            "x",
            round(ratio, 2),
        )
    else:
        add("full run / polars notebook (CPU)", None, TARGETS["full_run_vs_polars_cpu"], None, "x")
    scratch = steps.get("peers_with_new_day", {}).get("polars") or {}
    if inc and scratch.get("cpu_s") and not inc.get("exit_code") and not scratch.get("exit_code"):
        ratio = inc["cpu_s"] / scratch["cpu_s"]
        add(
            "incremental day / polars notebook from scratch (CPU)",
            round(ratio, 3),
            TARGETS["incremental_vs_polars_cpu"],
            ratio <= TARGETS["incremental_vs_polars_cpu"],
            "x",
            round(ratio, 3),
        )
    else:
        add(
            "incremental day / polars notebook from scratch (CPU)",
            None,
            TARGETS["incremental_vs_polars_cpu"],
            None,
            "x",
        )
    for page, fig in (steps.get("pages", {}).get("pages") or {}).items():
        p95 = fig["query"]["p95_s"]
        add(
            f"page {page} query p95",
            p95,
            TARGETS["page_p95_s"],
            p95 <= TARGETS["page_p95_s"] and not fig["errors"],
            "s",
        )
    alert = steps.get("time_to_alert", {})
    for path in ("cli", "sensor"):
        seconds = (alert.get(path) or {}).get("seconds_to_post")
        if alert:
            add(
                f"time to alert ({path})",
                seconds,
                TARGETS["alert_s_at_m"],
                None if seconds is None else seconds <= TARGETS["alert_s_at_m"],
                "s",
            )
    for name, fig in steps.items():
        rss = fig.get("peak_rss_bytes")
        if rss is not None:
            add(
                f"{name} peak RSS",
                rss,
                TARGETS["peak_rss_bytes"],
                rss <= TARGETS["peak_rss_bytes"],
                "bytes",
            )
    return out
