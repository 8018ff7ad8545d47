"""`nudgescope bench --against REV`: this code against another revision, rounds alternating.

On a shared machine the speed drifts by 5-10 % between runs a few minutes apart, as much as
a good change saves. Comparing one bench run with another taken earlier then says more about
the machine than about the code. Here both codes run in the same session, on the same data
set, in alternating order (ABBA: REV, this code; then this code, REV; ...), so a drift hits
both alike, and each round gives a pair measured minutes apart. With `--days N` each round
adds N days to both codes' folders, alternating day by day: pairs of days a minute apart.

One measurement is what the bench's `full_run` and `incremental_run` are: `nudgescope run` as
its own process on an empty data folder whose `landing/` hard-links the data set, then one
more day of every source (`pipelines.bench.extra_day`) and `nudgescope run` again. REV runs
from a detached git worktree under `data/bench/code/`, with this checkout's Python
environment (a revision that needs other packages cannot be compared this way), removed
afterwards. The figures go to `data/bench/against-<scale>-<timestamp>.json`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from pipelines.bench.extra_day import add_day
from pipelines.bench.harness import (
    Options,
    bench_root,
    data_env,
    dataset_params,
    ensure_dataset,
    fresh_data_dir,
    machine,
    measure,
)
from pipelines.errors import UserError
from pipelines.settings import REPO_ROOT, paths

THIS = "this checkout"


def _git(*args: str) -> str:
    out = subprocess.run(
        ["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise UserError(f"git {' '.join(args)}: {out.stderr.strip() or 'failed'}")
    return out.stdout.strip()


def worktree(rev: str) -> tuple[str, Path]:
    """(the full commit id of `rev`, a detached worktree of it under data/bench/code/)."""
    sha = _git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tree = paths().bench / "code" / sha[:12]
    if tree.exists():
        _git("worktree", "remove", "--force", str(tree))
    tree.parent.mkdir(parents=True, exist_ok=True)
    _git("worktree", "add", "--detach", str(tree), sha)
    return sha, tree


def run_code(tree: Path, data_dir: Path, log: Path) -> dict:
    """`nudgescope run` of the code in `tree` on `data_dir`, as its own process."""
    env = {**data_env(data_dir), "PYTHONPATH": str(tree)}
    m = measure(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data_dir)],
        env=env,
        log=log,
        cwd=tree,  # `python -m` puts the working folder first on the import path
    )
    out = m.as_dict()
    if m.exit_code:
        out["stderr_tail"] = m.stderr_tail
    return out


def _median(rows: list[dict], code: str, step: str, key: str) -> float | None:
    """The median of `key` over the successful runs of `step` by `code` (every day of "day")."""
    if step == "day":
        runs = [d for r in rows if r["code"] == code for d in r["days"]]
    else:
        runs = [r[step] for r in rows if r["code"] == code]
    values = [run[key] for run in runs if not run["exit_code"]]
    return round(statistics.median(values), 3) if values else None


def schedule(rounds: int, days: int) -> list[tuple[int, int, str, int]]:
    """The order of the runs: (round, code, "full" or "day", day number), code 0 being the
    revision and 1 this checkout. Odd rounds start with the revision, even ones with this
    code; within a round the full runs go in the round's order and the days alternate
    (ABBA), so each code's k-th day is a neighbour of the other's."""
    out = []
    for n in range(1, rounds + 1):
        order = [0, 1] if n % 2 else [1, 0]
        out += [(n, code, "full", 0) for code in order]
        for k in range(1, days + 1):
            out += [(n, code, "day", k) for code in (order if k % 2 else order[::-1])]
    return out


def run_against(opts: Options, rev: str, rounds: int, say=print, days: int = 1) -> dict:
    """Each round: a full run of each code on its own data folder, then `days` more days, one
    at a time, the two codes alternating day by day (ABBA again), so each day's pair is
    measured about a minute apart. A day costs a tenth of a full run, and its figures drift
    as much: more days per round give more pairs for the same full runs."""
    if rounds < 1:
        raise UserError("--rounds must be at least 1")
    if days < 1:
        raise UserError("--days must be at least 1")
    params = dataset_params(opts.scale, opts.users, opts.months, opts.seed, opts.fmt)
    root = bench_root(opts.scale)
    ensure_dataset(root, params, opts.regenerate, say)
    landing = root / "landing"
    sha, tree = worktree(rev)
    codes = {rev: tree, THIS: REPO_ROOT}
    work = {rev: root / "work" / "against-rev", THIS: root / "work" / "against-this"}
    started = dt.datetime.now(dt.UTC)
    rows: list[dict] = []
    names = [rev, THIS]
    seq = 0  # the order the runs ran in, across codes and rounds
    try:
        for n, runs in itertools.groupby(schedule(rounds, days), key=lambda run: run[0]):
            row: dict[str, dict] = {}
            for _, i, kind, k in runs:
                code = names[i]
                seq += 1
                if kind == "full":
                    fresh_data_dir(work[code], landing)
                    say(f"round {n}/{rounds}: {code}: a full run ...")
                    full = run_code(codes[code], work[code], root / "against-full.log")
                    row[code] = {"round": n, "code": code, "full_run": {**full, "seq": seq},
                                 "days": []}  # fmt: skip
                    continue
                say(f"round {n}/{rounds}: {code}: day {k}/{days} ...")
                added = add_day(work[code] / "landing")
                day = run_code(codes[code], work[code], root / "against-day.log")
                row[code]["days"].append({**day, "rows": added["rows"], "seq": seq})
            rows += row.values()  # in the order their full runs ran
            for code in row:
                shutil.rmtree(work[code])
    finally:
        _git("worktree", "remove", "--force", str(tree))
        for folder in work.values():
            shutil.rmtree(folder, ignore_errors=True)
    summary = {}
    for step in ("full_run", "day"):
        for key in ("cpu_s", "wall_s"):
            old, new = _median(rows, rev, step, key), _median(rows, THIS, step, key)
            summary[f"{step}_{key}"] = {
                "rev": old,
                "this": new,
                "this_vs_rev": round(new / old, 3) if old and new else None,
            }
    report = {
        "scale": opts.scale,
        "dataset": params,
        "started_at": started.isoformat(timespec="seconds"),
        "rev": rev,
        "rev_commit": sha,
        "this_commit": _git("rev-parse", "HEAD"),
        "this_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "rounds": rounds,
        "days": days,
        "machine": machine(),
        "runs": rows,
        "medians": summary,
    }
    out = paths().bench / f"against-{opts.scale}-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    report["written_to"] = str(out)
    return report


def table(report: dict):
    """The runs and the medians as a rich table."""
    from rich.table import Table

    rev = report["rev"]
    tab = Table(
        title=f"nudgescope bench --against {rev} ({report['rev_commit'][:10]}): "
        f"{report['rounds']} rounds, alternating",
        caption="CPU = user + system seconds of the run's process (all threads)",
    )
    n_days = report.get("days", 1)
    day_head = "+1 day: wall" if n_days == 1 else f"+1 day ({n_days} days, each): wall"
    for col in ("round", "code", "full run: wall", "CPU", day_head, "CPU"):
        tab.add_column(col, justify="left" if col == "code" else "right")

    def each(days: list[dict], key: str) -> str:
        text = " ".join(f"{d[key]:.1f}" for d in days) + " s"
        return text + (" (failed)" if any(d["exit_code"] for d in days) else "")

    for r in report["runs"]:
        days = r["days"]
        tab.add_row(
            str(r["round"]),
            r["code"],
            f"{r['full_run']['wall_s']:.1f} s",
            f"{r['full_run']['cpu_s']:.1f} s" + (" (failed)" if r["full_run"]["exit_code"] else ""),
            each(days, "wall_s"),
            each(days, "cpu_s"),
        )
    med = report["medians"]

    def cell(step: str, key: str, who: str) -> str:
        v = med[f"{step}_{key}"][who]
        return "—" if v is None else f"{v:.1f} s"

    for who, label in (("rev", f"median {rev}"), ("this", f"median {THIS}")):
        tab.add_row(
            "", label, cell("full_run", "wall_s", who), cell("full_run", "cpu_s", who),
            cell("day", "wall_s", who), cell("day", "cpu_s", who),
        )  # fmt: skip

    def ratio(step: str, key: str) -> str:
        v = med[f"{step}_{key}"]["this_vs_rev"]
        return "—" if v is None else f"{v:.3f}x"

    tab.add_row(
        "", f"{THIS} / {rev}", ratio("full_run", "wall_s"), ratio("full_run", "cpu_s"),
        ratio("day", "wall_s"), ratio("day", "cpu_s"),
    )  # fmt: skip
    return tab
