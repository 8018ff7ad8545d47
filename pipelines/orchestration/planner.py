"""What a pipeline run has to do, decided from what is loaded and what is on disk.

One planner for every way a run starts: `nudgescope run`, `landing_sensor` and `daily_schedule`.
It compares the landing folder (path, size and mtime of every file) with what the warehouse has
loaded (`ingest.file_ledger`, with the stat cache `ingest.file_stat`), and, when no file
changed, the published database with the warehouse. It keeps no state of its own (no sensor
cursor): right after any run, whoever started it, the plan is empty.

No Dagster import here: the CLI plans before it decides whether Dagster is needed at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines import settings
from pipelines.alerts import pending_count
from pipelines.contract import LANDING_SOURCES
from pipelines.errors import UserError
from pipelines.ingest import files
from pipelines.ingest.readers import clean_error
from pipelines.serve.publish import build_fingerprint, compactable, ledger_signature

# How the plan reports a dt folder before settings.FIRST_DT or after the current local day.
OUTSIDE = "outside the dates a run loads"


@dataclass
class Plan:
    """The work of one run: stage `sources` over the dt `range`, then core, marts, publish.

    `reason` says why a run is needed; None means there is nothing to do (every file on disk is
    loaded as it is, and serve.duckdb shows the warehouse as it is).
    """

    range: tuple[str, str] | None
    sources: list[str]
    scan: files.Scan
    changed: list[tuple[str, str]] = field(default_factory=list)  # (source, dt), in range
    reason: str | None = None
    digest: str = ""  # identifies the state planned from (the sensor's run key)

    @property
    def has_work(self) -> bool:
        return self.reason is not None


@dataclass
class _Loaded:
    """What the warehouse has loaded: path -> (size, mtime_ns), and the ledger's digest."""

    known: dict[str, tuple[int | None, int | None]]
    ledger: str | None  # None: no warehouse (or no ledger) yet


def _loaded(warehouse: Path) -> _Loaded:
    if not warehouse.exists():
        return _Loaded({}, None)
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error as exc:
        raise UserError(
            f"cannot open the warehouse {warehouse} (is another run writing it?): "
            f"{clean_error(exc)}"
        ) from exc
    try:
        rows = con.execute(
            """select l.path, s.size, s.mtime_ns
            from ingest.file_ledger as l
            left join ingest.file_stat as s
                on s.path = l.path and s.content_hash = l.content_hash"""
        ).fetchall()
        signature = ledger_signature(con)
    except duckdb.CatalogException:
        return _Loaded({}, None)
    finally:
        con.close()
    return _Loaded({p: (size, mtime) for p, size, mtime in rows}, signature)


def _scan(paths: settings.Paths) -> files.Scan:
    landing = paths.landing
    if not landing.is_dir():
        raise UserError(
            f"landing folder {landing} does not exist "
            "(run `nudgescope simulate` or point --data-dir at your data)"
        )
    scan = files.scan(landing)
    if not scan.files and not paths.warehouse.exists():
        raise UserError(f"no landing files under {landing}")
    return scan


def _changes(scan: files.Scan, known: Mapping[str, tuple]) -> dict[tuple[str, str], list[str]]:
    """(source, dt) -> the new, changed or removed files there, with their stat."""
    changed: dict[tuple[str, str], list[str]] = {}
    on_disk = set()
    for f in scan.files:
        on_disk.add(f.path)
        if known.get(f.path) != (f.size, f.mtime_ns):
            changed.setdefault((f.source, f.dt.isoformat()), []).append(
                f"{f.path}\0{f.size}\0{f.mtime_ns}"
            )
    for path in known:
        if path not in on_disk:  # removed: its contribution is withdrawn
            source, dt_dir = path.split("/")[:2]
            changed.setdefault((source, dt_dir.removeprefix("dt=")), []).append(f"{path}\0gone")
    for path, dt, _reason in scan.unreadable:  # staged again so it is recorded as a failed entry
        if dt is not None:
            changed.setdefault((path.split("/")[0], dt.isoformat()), []).append(
                f"{path}\0unreadable"
            )
    return changed


def publish_state(
    paths: settings.Paths, ledger: str | None, wanted: Mapping[str, Any] | None
) -> str | None:
    """Why serve.duckdb does not show the warehouse as it is, or None when it does.

    The published ledger must equal the warehouse's (a run that failed after staging leaves
    them different) and the SQL must be what built it; with `wanted`, the published metric
    settings must equal it too. Any doubt (a file missing, unreadable or locked, an older
    publish without these columns) is a reason to run.
    """
    if ledger is None:
        return "nothing loaded yet"
    if not paths.serve.exists():
        return f"{paths.serve.name} does not exist"
    try:
        with duckdb.connect(str(paths.serve), read_only=True) as con:
            fingerprint, published_ledger, published = con.execute(
                "select build_fingerprint, ledger_signature, settings::varchar from meta"
            ).fetchone()
    except (duckdb.Error, TypeError):
        return f"{paths.serve.name} cannot be read"
    if published_ledger != ledger:
        return f"{paths.serve.name} is older than the warehouse (a run did not finish)"
    if fingerprint != build_fingerprint():
        return "the SQL changed since the last publish"
    if wanted is not None and (
        published is None or json.loads(published) != json.loads(json.dumps(dict(wanted)))
    ):
        return "the metric settings differ from the last publish"
    return None


def plan(
    paths: settings.Paths,
    wanted: Mapping[str, Any] | None = None,
    retry_notifications: bool = False,
) -> Plan:
    """Compare the landing folder with the ledger, and the published database with the
    warehouse: which dt range and sources to stage, and whether anything must run at all.

    `wanted`: the metric settings the run would use; a publish made with other settings is out
    of date. None: any settings are fine (the sensor does not undo a run with custom settings).
    `retry_notifications`: alert notifications that could not be delivered are a reason to run
    (`nudgescope run`; the sensor leaves them to the next run with data, rather than starting
    a run every tick while a webhook is down).
    """
    scan = _scan(paths)
    loaded = _loaded(paths.warehouse)
    changes = _changes(scan, loaded.known)
    first, last = settings.dt_bounds()
    outside = sorted({dt for _, dt in changes if not first <= dt <= last})
    scan.ignored.extend(f"dt={dt} ({OUTSIDE} {first} … {last})" for dt in outside)
    changes = {k: v for k, v in changes.items() if first <= k[1] <= last}
    if changes:
        dts = sorted(dt for _, dt in changes)
        sources = [s for s in LANDING_SOURCES if any(c == s for c, _ in changes)]
        n = sum(len(v) for v in changes.values())
        reason = f"{n} new, changed or removed file(s) in {len(set(dts))} dt folder(s)"
        todo = Plan((dts[0], dts[-1]), sources, scan, sorted(changes), reason)
        state = sorted(item for v in changes.values() for item in v)
    else:
        reason = publish_state(paths, loaded.ledger, wanted)
        if reason is None and retry_notifications and pending_count(paths.warehouse):
            reason = "alert notifications wait for delivery (pipelines.alerts)"
        todo = Plan(None, [], scan, [], reason)
        state = [reason or "", build_fingerprint()]
    todo.digest = hashlib.sha1(
        json.dumps([loaded.ledger, state]).encode(), usedforsecurity=False
    ).hexdigest()[:16]
    return todo


def compaction_due(paths: settings.Paths) -> tuple[list[str], str | None]:
    """(the months a compaction would merge into one segment file each, why it must not run now
    or None). It runs only when `plan` finds no work: the warehouse is then what is published."""
    if not paths.serve.exists():
        return [], f"nothing is published yet ({paths.serve.name} does not exist)"
    months = compactable(paths.serve)
    if not months:
        return [], "every month before the latest one is already one segment file"
    todo = plan(paths)
    if todo.has_work:
        return months, f"the pipeline has work first: {todo.reason}"
    return months, None
