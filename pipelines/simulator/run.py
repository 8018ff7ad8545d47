"""The simulation itself: `simulate` (pipelines.simulator re-exports it)."""

from __future__ import annotations

import ctypes
import gc
import json
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pipelines import contract
from pipelines.simulator.params import (
    ARMS,
    DEFAULT_SEED,
    DEFAULT_START,
    EXPERIMENT_ID,
    PARAMS,
    SCALES,
)
from pipelines.simulator.tables import Tab
from pipelines.simulator.world import World
from pipelines.simulator.writer import FORMATS, Writer

__all__ = ["simulate", "SCALES", "DEFAULT_SEED", "FORMATS_ALLOWED"]

FORMATS_ALLOWED = ("csv", "parquet", "jsonl", "mixed")
GROUND_TRUTH = "ground_truth.json"
assert set(FORMATS) <= set(contract.FILE_FORMATS)


def _user_error(msg: str) -> Exception:
    from pipelines.errors import UserError

    return UserError(msg)


def _check(out: Path, scale, users, months, start, seed, fmt, force) -> tuple[int, int, int, int]:
    if scale not in SCALES:
        raise _user_error(f"--scale must be one of {', '.join(SCALES)}, not {scale!r}")
    n_users, n_months = SCALES[scale]
    n_users = n_users if users is None else users
    n_months = n_months if months is None else months
    if not isinstance(n_users, int) or n_users < 1 or n_users > 5_000_000:
        raise _user_error(f"--users must be between 1 and 5000000, not {users!r}")
    if not isinstance(n_months, int) or n_months < 1 or n_months > 36:
        raise _user_error(f"--months must be between 1 and 36, not {months!r}")
    start = start or DEFAULT_START
    mt = re.fullmatch(r"(\d{4})-(\d{2})", str(start))
    if not mt or not 1 <= int(mt.group(2)) <= 12 or not 2000 <= int(mt.group(1)) <= 2100:
        raise _user_error(
            f"--start must be a month YYYY-MM between 2000-01 and 2100-12, not {start!r}"
        )
    if fmt not in FORMATS_ALLOWED:
        raise _user_error(f"--format must be one of {', '.join(FORMATS_ALLOWED)}, not {fmt!r}")
    if not isinstance(seed, int) or seed < 0:
        raise _user_error(f"--seed must be a non-negative integer, not {seed!r}")
    if out.exists() and not out.is_dir():
        raise _user_error(f"{out} exists and is not a folder")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise _user_error(
                f"{out} is not empty; choose another --out or pass --force to replace it"
            )
        for name in (*contract.LANDING_SOURCES, GROUND_TRUTH):
            p = out / name
            if p.is_dir():
                shutil.rmtree(p)
            elif p.exists():
                p.unlink()
        left = [p.name for p in out.iterdir()]
        if left:
            raise _user_error(
                f"{out} holds files the simulator did not write ({left[0]}, ...); refusing"
            )
    return n_users, n_months, int(mt.group(1)), int(mt.group(2))


@contextmanager
def _keep_freed_memory():
    """glibc only: while simulating, serve big numpy arrays from the heap and keep freed memory
    for reuse, instead of mmap-ing every array above 32 MB afresh and faulting its pages in
    again (at scale l that page-fault churn was a third of the system time); restored after."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt, trim = libc.mallopt, libc.malloc_trim
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        yield
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    changed = mallopt(m_mmap_threshold, 1 << 30) and mallopt(m_trim_threshold, (1 << 31) - 1)
    try:
        yield
    finally:
        if changed:  # glibc's ceilings of its dynamic thresholds, and give the memory back
            mallopt(m_mmap_threshold, 32 << 20)
            mallopt(m_trim_threshold, 64 << 20)
            trim(0)


def simulate(
    out: Path | str,
    *,
    scale: str = "s",
    users: int | None = None,
    months: int | None = None,
    start: str | None = None,
    seed: int = DEFAULT_SEED,
    fmt: str = "csv",
    dirty: bool = False,
    progress: bool = False,
    force: bool = False,
) -> dict:
    """Write the landing files and ground_truth.json under `out`; return the ground truth."""
    out = Path(out)
    n_users, n_months, year, month = _check(out, scale, users, months, start, seed, fmt, force)
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    world = World(n_users, n_months, year, month, seed, PARAMS)
    writer = Writer(out, fmt, dirty, world, seed)
    complaint_cats = np.zeros(9, np.int64)

    bar = None
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        bar = Progress(
            TextColumn("simulate {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        bar.start()
        task = bar.add_task(f"{n_users:,} users", total=n_months)
    # a pipeline of two stages on two threads: the world simulates month m+1 (numpy) while
    # the writer renders and writes month m (polars); both release the GIL for their bulk work
    stage = ThreadPoolExecutor(max_workers=1)
    # nothing here makes reference cycles; the collector would only rescan big containers
    gc_was_enabled = gc.isenabled()
    gc.disable()
    with _keep_freed_memory():
        try:
            writing = None
            for m in range(n_months):
                tabs = world.month(m)
                complaint_cats += np.bincount(tabs["complaints"]["cat"], minlength=9)
                if writing is not None:
                    writing.result()
                    if bar:
                        bar.update(
                            task, advance=1, description=f"{n_users:,} users, month {m}/{n_months}"
                        )
                writing = stage.submit(writer.write_month, m, tabs)
                del tabs
            if writing is not None:
                writing.result()
                if bar:
                    bar.update(task, advance=1, description=f"{n_users:,} users, month {n_months}")
        finally:
            if gc_was_enabled:
                gc.enable()
            stage.shutdown(cancel_futures=True)
            writer.pool.shutdown()
            if bar:
                bar.stop()
    seconds = time.perf_counter() - t0
    truth = _ground_truth(
        world,
        writer,
        complaint_cats,
        scale=scale,
        seed=seed,
        fmt=fmt,
        dirty=dirty,
        start=f"{year:04d}-{month:02d}",
    )
    truth["run"] = {
        "seconds": round(seconds, 3),
        "files": writer.n_files,
        "bytes": writer.bytes,
        "rows_per_second": round(sum(truth["rows_written"].values()) / max(seconds, 1e-9)),
    }
    # the run block is timing, not content: keep it out of the file so reruns are identical
    (out / GROUND_TRUTH).write_text(
        json.dumps({k: v for k, v in truth.items() if k != "run"}, ensure_ascii=False, indent=2)
        + "\n",
        encoding="utf-8",
    )
    return truth


def _ground_truth(
    world: World, w: Writer, complaint_cats, *, scale, seed, fmt, dirty, start
) -> dict:
    from pipelines.simulator.content import COMPLAINT_CATEGORY_ORDER

    as_of_day = max(w.dts)
    as_of = str(np.datetime64(as_of_day, "D"))
    rows_written = {
        s: w.rows_clean[s] + w.bad_rows[s] + w.dup_copies[s] for s in contract.SOURCE_NAMES
    }
    expected = {
        s: {"loaded": w.rows_clean[s], "quarantined": w.bad_rows[s], "superseded": w.dup_copies[s]}
        for s in contract.SOURCE_NAMES
    }
    faults = dict(world.faults)
    faults["marketing_in_service"] = w.marketing_in_service
    faults.update(world.prefs.counts)
    faults = {
        k: faults[k]
        for k in (
            "duplicate",
            "quiet_hours",
            "after_opt_out",
            "over_daily_cap",
            "marketing_in_service",
            "marketing_without_consent",
            "after_settlement",
            "collection_before_due",
            "against_preference",
        )
    }

    log = Tab.concat(world.bill_log)
    arm = world.arm[log["uid"]]
    ev = log["due"] < as_of_day
    on_time = log["settle_day"] <= log["due"]
    arms = {}
    for a, name in enumerate(ARMS):
        s = ev & (arm == a)
        n = int(s.sum())
        arms[name] = {
            "users": int((world.arm == a).sum()),
            "evaluable_bills": n,
            "true_on_time_prob": float(log["p"][s].mean()) if n else None,
            "observed_on_time": int(on_time[s].sum()),
        }
    ctrl = arms["control"]["true_on_time_prob"]
    for name in ARMS:
        p = arms[name]["true_on_time_prob"]
        arms[name]["true_effect_vs_control"] = None if p is None or ctrl is None else p - ctrl

    def dpd(n):
        mat = log["due"] + n <= as_of_day
        return {
            "matured_bills": int(mat.sum()),
            "dpd_bills": int((mat & (log["settle_day"] >= log["due"] + n)).sum()),
        }

    nonzero_exp = world.arm >= 0
    policies = world.policy_truth.result(world.P, log, world.band, world.cadence, as_of_day)
    P = world.P
    return {
        "as_of": as_of,
        "seed": seed,
        "scale": scale,
        "users": world.N,
        "months": world.M,
        "start": start,
        "format": fmt,
        "dirty_mode": dirty,
        "params": P.as_dict(),
        "rows_written": rows_written,
        "expected_load": expected,
        "dirty": {
            "quarantined_by_reason": dict(w.bad_by_reason),
            "duplicate_copies": dict(w.dup_copies),
            "files": {k: sorted(v) for k, v in w.files.items()},
            "phone_numbers_in_text": w.phone_in_text,
        },
        "faults": faults,
        "receipts": w.receipts.truth(),
        "injected": world.injected,
        "preferences": world.prefs.truth(),
        "experiment": {
            "experiment_id": EXPERIMENT_ID,
            "users": int(nonzero_exp.sum()),
            "estimand": "mean over the arm's bills with amount_due > 0 and due_date < as_of of the "
            "model's on-time probability; effect = arm minus control",
            "arms": arms,
        },
        "policies": {
            "estimand": "expected change over the simulated period of on-time repayments (bills "
            "due before as_of), 30+ DPD bills (due 30+ days before as_of) and complaints, implied "
            "by the planted probabilities (pipelines/simulator/policy_truth.py)",
            "changes": policies,
        },
        "metrics_hint": {
            "sms_by_purpose": w.sms_by_purpose,
            "bills_evaluable": int(ev.sum()),
            "bills_on_time": int((ev & on_time).sum()),
            "true_on_time_prob_all": float(log["p"][ev].mean()) if ev.any() else None,
            "dpd30": dpd(30),
            "dpd90": dpd(90),
            "complaints_by_true_category": {
                c: int(n)
                for c, n in zip(COMPLAINT_CATEGORY_ORDER, complaint_cats.tolist(), strict=True)
            },
            "complaint_category_given": w.complaint_truth["category_given"],
            "complaint_category_empty": w.complaint_truth["category_empty"],
            "complaint_unknown_user": w.complaint_truth["unknown_user"],
        },
    }
