"""`nudgescope run` as a library call: one in-process Dagster run over every partition that has
landing files (only new, changed or removed files do any work), then core, marts and publish."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipelines import settings
from pipelines.cli import UserError
from pipelines.contract import SOURCE_NAMES
from pipelines.ingest import files, progress
from pipelines.ingest.publish import build_fingerprint, ledger_signature
from pipelines.ingest.readers import clean_error
from pipelines.ingest.warehouse import connect

if TYPE_CHECKING:  # Dagster is imported only when there is work to run (about 9 s)
    import dagster as dg

EXIT_OK, EXIT_ERROR, EXIT_USER, EXIT_DATA = 0, 1, 2, 3
JOB_NAME = "pipeline"

StepListener = Callable[[str, str], None]  # (step key, "start" | "success" | "failure")


@dataclass
class RunSummary:
    run_id: str
    success: bool
    seconds: float
    partitions: tuple[str, str] | None
    files_seen: int = 0
    files_processed: int = 0
    files_failed: int = 0
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_superseded: int = 0
    failed_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # failed WARN checks, with counts
    run_ids: list[str] = field(default_factory=list)  # every Dagster run of this command
    ignored: list[str] = field(default_factory=list)
    error: str | None = None
    serve: Path | None = None
    up_to_date: bool = False  # nothing changed and serve.duckdb was current: nothing ran

    @property
    def exit_code(self) -> int:
        if not self.success:
            return EXIT_ERROR
        if self.files_failed or self.rows_quarantined:
            return EXIT_DATA
        return EXIT_OK

    @property
    def reason(self) -> str:
        if not self.success:
            return f"pipeline error: {self.error}"
        parts = []
        if self.files_failed:
            parts.append(f"{self.files_failed} file(s) failed to load")
        if self.rows_quarantined:
            parts.append(f"{self.rows_quarantined} row(s) quarantined")
        return "; ".join(parts) + " (data published; see ingest.file_ledger / ingest.quarantine)"


@dataclass
class Plan:
    """What a run has to do: the dt range and sources with new, changed or removed files."""

    range: tuple[str, str] | None
    sources: list[str]
    scan: files.Scan
    # sources grouped by their own changed dt range: one staging execution per group, so a
    # source is not materialized over partitions where only another source changed
    groups: list[tuple[tuple[str, str], list[str]]] = field(default_factory=list)


def _known_files(warehouse: Path) -> dict[str, tuple[int, int]]:
    """path -> (size, mtime_ns) of every ledger file whose stat is known to match its hash."""
    if not warehouse.exists():
        return {}
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
    except duckdb.CatalogException:
        return {}
    finally:
        con.close()
    return {p: (size, mtime) for p, size, mtime in rows}


def _changes(paths: settings.Paths) -> tuple[files.Scan, set[tuple[str, str]]]:
    """Scan the landing folder: (source, dt) of every new, changed or removed file."""
    landing = paths.landing
    if not landing.is_dir():
        raise UserError(
            f"landing folder {landing} does not exist "
            "(run `nudgescope simulate` or point --data-dir at your data)"
        )
    scan = files.scan(landing)
    if not scan.files and not paths.warehouse.exists():
        raise UserError(f"no landing files under {landing}")
    known = _known_files(paths.warehouse)
    changed: set[tuple[str, str]] = set()
    on_disk = set()
    for f in scan.files:
        on_disk.add(f.path)
        if known.get(f.path) != (f.size, f.mtime_ns):
            changed.add((f.source, f.dt.isoformat()))
    for path in known:
        if path not in on_disk:  # removed: its contribution is withdrawn
            source, dt_dir = path.split("/")[:2]
            changed.add((source, dt_dir.removeprefix("dt=")))
    return scan, changed


def plan(paths: settings.Paths, changes: tuple | None = None) -> Plan:
    """Compare the landing folder with the ledger: which partitions and sources to stage."""
    from pipelines.defs.ingest import DAILY

    scan, changed = changes or _changes(paths)
    keys = DAILY.get_partition_keys()
    first, last = keys[0], keys[-1]
    outside = sorted({dt for _, dt in changed if not first <= dt <= last})
    scan.ignored.extend(f"dt={dt} (outside the partitions {first} … {last})" for dt in outside)
    changed = {(s, dt) for s, dt in changed if first <= dt <= last}
    if not changed:
        return Plan(None, [], scan)
    dts = sorted(dt for _, dt in changed)
    sources = [s for s in SOURCE_NAMES if any(c == s for c, _ in changed)]
    by_range: dict[tuple[str, str], list[str]] = {}
    for source in sources:
        own = sorted(dt for c, dt in changed if c == source)
        by_range.setdefault((own[0], own[-1]), []).append(source)
    return Plan((dts[0], dts[-1]), sources, scan, sorted(by_range.items()))


def _published_is_current(paths: settings.Paths) -> bool:
    """True when serve.duckdb already shows the warehouse as it is, built by this code.

    The published ledger must equal the warehouse's (a run that failed after staging leaves
    them different), the SQL must be what built it, and its settings the defaults a CLI run
    uses. Any doubt (a file missing, unreadable or locked, an older publish without these
    columns) means "not current": the run then goes ahead as usual.
    """
    from pipelines.marts import MetricSettings

    if not (paths.serve.exists() and paths.warehouse.exists()):
        return False
    try:
        with duckdb.connect(str(paths.warehouse), read_only=True) as con:
            warehouse_ledger = ledger_signature(con)
        with duckdb.connect(str(paths.serve), read_only=True) as con:
            fingerprint, ledger, published = con.execute(
                "select build_fingerprint, ledger_signature, settings::varchar from meta"
            ).fetchone()
    except (duckdb.Error, TypeError):
        return False
    wanted = json.loads(json.dumps(MetricSettings().as_params()))
    return (
        ledger == warehouse_ledger
        and fingerprint == build_fingerprint()
        and published is not None
        and json.loads(published) == wanted
    )


def _watch(
    instance: dg.DagsterInstance,
    run_id: str,
    listener: StepListener,
    stop: threading.Event,
    steps: set[str],
) -> None:
    import dagster as dg

    kinds = {
        dg.DagsterEventType.STEP_START: "start",
        dg.DagsterEventType.STEP_SUCCESS: "success",
        dg.DagsterEventType.STEP_FAILURE: "failure",
    }
    cursor = None
    while True:
        done = stop.is_set()
        try:
            conn = instance.get_records_for_run(run_id, cursor=cursor, of_type=set(kinds))
        except Exception:  # the run is not registered yet
            conn = None
        if conn is not None:
            for rec in conn.records:
                ev = rec.event_log_entry.dagster_event
                if ev is not None and ev.step_key and (not steps or ev.step_key in steps):
                    listener(ev.step_key, kinds[ev.event_type])
            cursor = conn.cursor
        if done:
            return
        stop.wait(0.2)


def run_pipeline(
    data_dir: Path | str | None = None,
    listener: StepListener | None = None,
    reporter: progress.Reporter | None = None,
) -> RunSummary:
    """Stage the partitions with new or changed files, then core, marts and publish.

    Two in-process executions of the same job: the staging assets over the changed dt range
    (one run for the whole range), then the unpartitioned rest. Splitting them keeps Dagster
    from planning every core/mart asset once per partition of the range.
    """
    t0 = time.monotonic()
    warnings.filterwarnings("ignore", message=".*currently in beta")
    if data_dir is not None:
        os.environ["NUDGESCOPE_DATA_DIR"] = str(Path(data_dir).resolve())
    paths = settings.paths()
    changes = _changes(paths)
    if not changes[1] and _published_is_current(paths):
        # nothing new, and the published file already shows it: no Dagster run at all
        summary = RunSummary("", True, 0.0, None, ignored=changes[0].ignored, serve=paths.serve)
        summary.files_seen = len(changes[0].files)
        summary.up_to_date = True
        summary.seconds = time.monotonic() - t0
        return summary
    todo = plan(paths, changes)
    # The instance below lives as long as this call. One "planned" event per asset for a
    # range of partitions instead of one per partition (thousands at scale l, each written
    # to the event log); Dagster's price, partitions not marked failed when a run fails, does
    # not apply to an instance that is thrown away.
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    import dagster as dg

    from pipelines.definitions import defs
    from pipelines.defs.automation import range_tags

    job = defs().resolve_job_def(JOB_NAME)
    keys = list(job.asset_layer.executable_asset_keys)
    rest_keys = [k for k in keys if k.path[0] != "staging"]
    summary = RunSummary("", False, 0.0, todo.range, ignored=todo.scan.ignored, serve=paths.serve)
    summary.files_seen = len(todo.scan.files)
    with (
        dg.DagsterInstance.ephemeral() as instance,
        progress.listening(reporter or (lambda *_: None)),
    ):
        steps = []
        for rng, sources in todo.groups:
            stage_keys = [k for k in keys if k.path[0] == "staging" and k.path[-1] in sources]
            steps.append((stage_keys, range_tags(*rng)))
        steps.append((rest_keys, {}))
        for selection, tags in steps:
            run_id = str(uuid.uuid4())
            summary.run_id = summary.run_id or run_id
            summary.run_ids.append(run_id)
            result = _execute(job, instance, run_id, selection, tags, listener)
            summary.warnings.extend(_check_warnings(result))
            if not result.success:
                summary.error = _first_failure(result)
                break
        else:
            summary.success = True
    summary.seconds = time.monotonic() - t0
    _fill_counts(summary, paths.warehouse)
    return summary


def _execute(job, instance, run_id, selection, tags, listener):
    quiet = {"loggers": {"console": {"config": {"log_level": "ERROR"}}}}
    stop = threading.Event()
    watcher = None
    if listener:
        watcher = threading.Thread(
            target=_watch, args=(instance, run_id, listener, stop, set()), daemon=True
        )
        watcher.start()
    try:
        return job.execute_in_process(
            run_config=quiet,
            instance=instance,
            run_id=run_id,
            tags=tags,
            raise_on_error=False,
            asset_selection=selection,
        )
    finally:
        stop.set()
        if watcher:
            watcher.join()


def _check_warnings(result) -> list[str]:
    import dagster as dg

    out = []
    for ev in result.all_events:
        if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.WARN:
                counts = ", ".join(
                    f"{k}: {v.value}"
                    for k, v in sorted(data.metadata.items())
                    if getattr(v, "value", 0)
                )
                out.append(f"{data.asset_key.to_user_string()} {data.check_name}: {counts}")
    return out


def _first_failure(result) -> str:
    import dagster as dg

    for ev in result.all_events:
        if ev.is_step_failure:
            err = ev.step_failure_data.error
            msg = err.message if err else "step failed"
            return clean_error(f"{ev.step_key}: {msg}")
        if ev.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            data = ev.event_specific_data
            if not data.passed and data.severity == dg.AssetCheckSeverity.ERROR:
                return clean_error(
                    f"check {data.check_name} on {data.asset_key.to_user_string()} failed"
                )
    return "the run failed"


def _fill_counts(summary: RunSummary, warehouse: Path) -> None:
    if not warehouse.exists():
        return
    try:
        con = connect(warehouse, read_only=True)
    except duckdb.Error:
        return
    try:
        row = con.execute(
            """select count(*), count(*) filter (where status = 'failed'),
                coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),
                coalesce(sum(rows_quarantined), 0), coalesce(sum(rows_superseded), 0)
            from ingest.file_ledger where list_contains($r, run_id)""",
            {"r": summary.run_ids},
        ).fetchone()
        (
            summary.files_processed,
            summary.files_failed,
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.rows_superseded,
        ) = row
        summary.failed_files = [
            f"{p}: {e}"
            for p, e in con.execute(
                "select path, error from ingest.file_ledger "
                "where list_contains($r, run_id) and status = 'failed' order by path",
                {"r": summary.run_ids},
            ).fetchall()
        ]
    except duckdb.CatalogException:
        pass
    finally:
        con.close()
