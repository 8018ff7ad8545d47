"""Which pipeline runs let DuckDB vacuum the warehouse.

A DuckDB checkpoint (at a commit whose write-ahead log has passed `checkpoint_threshold`, and
when the last connection to the file closes) does two things: it writes the changed data to
the file, and it *vacuums*. Vacuuming rewrites each run of adjacent row groups whose rows
would fit in fewer groups, in every table of the file, changed or not.

Each append to a table that is already on disk starts a new row group. A day's run appends a
small group (tens of thousands of rows at scale m) to each large table (the staging and core
log, the messages, the flags). So every checkpoint of every day vacuumed the tail of each
such table, decompressing and compressing again several row groups. The new day's rows were
a small part of that work.

Measured on the bench's warehouse at scale m (2026-11-28), appending one day's 41,000 rows to
`staging.sms_logs` and checkpointing:
- with vacuuming: 1.35-1.64 CPU-s; the checkpoint rewrote 4 row groups (405,000 rows);
- without: 0.12 CPU-s; one new row group.

A whole day's commits and final close cost 2.8 CPU-s with vacuuming, and 0.9 without.

So a run vacuums only every `NUDGESCOPE_VACUUM_EVERY`-th time (default 8; 1 vacuums on every
run, as DuckDB does by default). `max_vacuum_tasks` is set for the whole database instance
(DuckDB allows no per-session value). The runs in between leave:
- their small row groups as they are;
- the rows that scoped updates delete, as deleted rows in their groups.

The next vacuuming run merges all of that. What it costs grows with the row groups waiting,
but is about one ordinary day's vacuuming. Only pipeline runs read the warehouse, and the
published files are written fresh, so the pages never see these row groups. The choice
changes where rows are stored, never which rows a query returns.

The count of runs since the last vacuum is kept in `ingest.storage_upkeep`. It is one row,
written by the run's held connection before any step runs. A warehouse without the table
vacuums on its next run: the first run, or one after the table was dropped.
"""

from __future__ import annotations

import os

import duckdb

from pipelines.errors import UserError

EVERY_ENV = "NUDGESCOPE_VACUUM_EVERY"
DEFAULT_EVERY = 8
STATE_TABLE = "ingest.storage_upkeep"
# DuckDB's own default for max_vacuum_tasks (at most this many vacuum tasks per checkpoint)
DUCKDB_VACUUM_TASKS = 100


def every() -> int:
    """How many runs share one vacuum: every N-th run vacuums (from the environment)."""
    raw = os.environ.get(EVERY_ENV, "").strip()
    if not raw:
        return DEFAULT_EVERY
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise UserError(f"{EVERY_ENV}={raw!r}: expected a whole number of runs, 1 or more")
    return value


def plan_run(con: duckdb.DuckDBPyConnection) -> bool:
    """Decide whether this run vacuums, set the database instance's `max_vacuum_tasks`
    accordingly, and record the run in the state table. Returns True when it vacuums.

    Call it once per run, on a connection that stays open for the run (the setting belongs to
    the instance, which closes with its last connection)."""
    n = every()
    con.execute("create schema if not exists ingest")
    con.execute(
        f"create table if not exists {STATE_TABLE} ("
        "runs_without_vacuum integer not null, last_vacuum_at timestamptz)"
    )
    rows = con.execute(f"select runs_without_vacuum from {STATE_TABLE}").fetchall()
    waiting = rows[0][0] if len(rows) == 1 else None
    vacuum = waiting is None or waiting + 1 >= n
    con.execute("begin transaction")
    try:
        if waiting is None:
            con.execute(f"delete from {STATE_TABLE}")
            con.execute(f"insert into {STATE_TABLE} values (0, now())")
        elif vacuum:
            con.execute(f"update {STATE_TABLE} set runs_without_vacuum = 0, last_vacuum_at = now()")
        else:
            con.execute(f"update {STATE_TABLE} set runs_without_vacuum = runs_without_vacuum + 1")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    con.execute(f"set max_vacuum_tasks = {DUCKDB_VACUUM_TASKS if vacuum else 0}")
    return vacuum
