"""What a run publishes: the files it writes, the bytes they hold, and their freed blocks.

Issue #17's targets at scale l include that publishing a new day copies no more than what
changed, and that the published files hold no freed blocks and are no larger than the live
data needs. The run steps of the bench take a `snapshot` of the published files before and
after the run, and `publish_figures` compares the two:

- the files the run wrote: a new `serve.duckdb` (each publish writes a fresh one) and the
  segment files whose name did not exist before (a segment is written once under a name that
  carries a fingerprint of its content, `pipelines.serve.segments`), with their bytes;
- the slices (months, or thirds of a month) those segments hold, so that a day that rewrote
  a slice other than its own shows, and apart from them the months of the tables a day revises
  in any month (a file per month whose rows changed);
- the live files (`serve.duckdb` and the segments it lists) with their total bytes and freed
  blocks, read with DuckDB's `pragma database_size` on each file opened read-only; the files
  of the previous list that a publish keeps for readers that opened the previous
  `serve.duckdb` a moment before the swap are counted apart.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

from pipelines.serve.segments import HISTORY_GROUP, third_of

SERVE = "serve.duckdb"
SEGMENTS = "serve.segments"
# a segment's file name: <slice>-<fingerprint>.duckdb, the slice YYYY-MM, YYYY-MM-<third>,
# YYYY-MM-DD or `none` (the rows without a date; pipelines.serve.segments.slice_key)
_SLICE = re.compile(r"^(\d{4}-\d{2}(?:-\d{1,2})?|none)-[0-9a-f]+\.duckdb$")
# a month file of the tables a day revises in any month: history-<YYYY-MM|none>-<fingerprint>
_HISTORY = re.compile(rf"^{HISTORY_GROUP}-(\d{{4}}-\d{{2}}|none)-[0-9a-f]+\.duckdb$")


def history_month_of(name: str) -> str | None:
    """The month ('2025-07' or 'none') a month file of the HISTORY tables holds, None for other
    files."""
    m = _HISTORY.match(Path(name).name)
    return m.group(1) if m else None


def _identity(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def snapshot(data_dir: Path) -> dict[str, tuple[int, int, int]]:
    """The published files of `data_dir` (relative name -> inode, mtime, size)."""
    out: dict[str, tuple[int, int, int]] = {}
    serve = data_dir / SERVE
    if serve.is_file():
        out[SERVE] = _identity(serve)
    folder = data_dir / SEGMENTS
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix == ".duckdb" and p.is_file():
                out[f"{SEGMENTS}/{p.name}"] = _identity(p)
    return out


def slice_of(name: str) -> str | None:
    """The slice a segment file holds ('2025-07', '2025-07-1' or '2025-07-04'), None for other
    files."""
    m = _SLICE.match(Path(name).name)
    return m.group(1) if m else None


def _database_sizes(files: list[Path]) -> dict[str, dict]:
    """Blocks of each DuckDB file, each attached read-only (a file that cannot be opened is
    reported with its error, not raised: the figures are a report, not a check)."""
    import duckdb

    out: dict[str, dict] = {}
    con = duckdb.connect()
    try:
        for i, f in enumerate(files):
            alias = f"f{i}"
            try:
                con.execute(f"attach '{f.as_posix()}' as {alias} (read_only)")
                block, total, free = con.execute(
                    "select block_size, total_blocks, free_blocks from pragma_database_size() "
                    "where database_name = $a",
                    {"a": alias},
                ).fetchone()
                con.execute(f"detach {alias}")
                out[f.name] = {"block_size": block, "total_blocks": total, "free_blocks": free}
            except duckdb.Error as exc:
                out[f.name] = {"error": str(exc).splitlines()[0]}
    finally:
        con.close()
    return out


def _live_segments(data_dir: Path) -> list[str] | None:
    """The segment files the published `serve.duckdb` lists (None without one)."""
    import duckdb

    from pipelines.serve.segments import listed

    serve = data_dir / SERVE
    if not serve.is_file():
        return None
    con = duckdb.connect(str(serve), read_only=True)
    try:
        catalog = con.execute("select current_database()").fetchone()[0]
        return [file for _, file in (listed(con, catalog) or [])]
    finally:
        con.close()


def publish_figures(
    before: dict[str, tuple[int, int, int]], data_dir: Path, new_day: str | None = None
) -> dict:
    """What the run between `before` (a `snapshot`) and now published in `data_dir`.

    `new_day` (ISO date): the day the run added; `other_slices_written` then names the
    slices written for any month but that day's (and the next day's), which a day that only
    adds its own rows should not need (the bench's extra day moves every copied row to it),
    leaving out `merged_thirds`: a third that ended, written as one file from its days."""
    after = snapshot(data_dir)
    written = sorted(n for n, ident in after.items() if before.get(n) != ident)
    live_segments = _live_segments(data_dir)
    live = [SERVE, *(f"{SEGMENTS}/{f}" for f in live_segments)] if live_segments is not None else []
    kept = sorted(n for n in after if n not in live)
    sizes = _database_sizes([data_dir / n for n in live])
    slices = sorted({s for n in written if (s := slice_of(n))})
    # a third that ended, written as one file from the days it was listed as before the run
    # (the run whose data starts the next third does that; pipelines.serve.segments)
    days_before = {s for n in before if (s := slice_of(n)) and len(s) == 10}
    thirds = {third_of(date.fromisoformat(d)) for d in days_before}
    merged = sorted(s for s in slices if len(s) == 9 and s in thirds)
    months = None
    if new_day:
        # the day's own rows: its date, and the next for the sends of its UTC evening, whose
        # local (Asia/Shanghai) date is a day later
        day = date.fromisoformat(new_day)
        months = {f"{d:%Y-%m}" for d in (day, day + timedelta(days=1))}
    return {
        "written_files": len(written),
        "written_bytes": sum(after[n][2] for n in written),
        "written": {n: after[n][2] for n in written},
        "written_slices": slices,
        "merged_thirds": merged,
        # the months of the tables a day revises (bills' state and cycles, incidents' messages)
        # whose content changed: written as their own files, see pipelines.serve.segments
        "history_months_written": sorted({m for n in written if (m := history_month_of(n))}),
        "other_slices_written": (
            None
            if months is None
            else [s for s in slices if s[:7] not in months and s not in merged]
        ),
        "live_files": len(live),
        "live_bytes": sum(after[n][2] for n in live if n in after),
        "live_free_blocks": sum(s.get("free_blocks", 0) for s in sizes.values()),
        "live_unreadable": sorted(n for n, s in sizes.items() if "error" in s),
        # files of the previous list, kept one publish for readers that opened it
        "kept_for_readers": len(kept),
        "kept_for_readers_bytes": sum(after[n][2] for n in kept),
    }
