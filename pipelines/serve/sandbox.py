"""A read-only SQL sandbox on the published database, shared by the dashboard and `nudgescope sql`.

Layers of defence, each enough on its own for the cases it covers:

1. The statement is parsed by DuckDB itself (`extract_statements`): exactly one statement, and
   its type must be SELECT or EXPLAIN. COPY, EXPORT, ATTACH, INSTALL/LOAD, SET/RESET, CREATE,
   PRAGMA, CALL, transactions ... are refused before anything runs.
2. The connection is opened `read_only`, with `enable_external_access=false` (no file, network
   or extension access from SQL: `read_csv('/etc/passwd')` fails inside DuckDB),
   `lock_configuration=true` (no SET can loosen anything), a `memory_limit`, a thread cap and
   no temp directory (nothing is ever written next to the published file).
3. A timer thread calls `con.interrupt()` when the time limit passes; at most `max_rows` rows
   are fetched.

Every connection of one process must use the same configuration (DuckDB refuses a second
connection to an open file with a different one), so the dashboard's own queries open their
connections through `connect()` too.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.settings import paths

MEMORY_LIMIT = "1GB"
THREADS = 2

ALLOWED_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_EXPLAIN = re.compile(r"^explain(\s+analy[sz]e)?(\s*\([^)]*\))?\s+", re.IGNORECASE)

# Why a statement type is refused, in words an analyst understands.
REFUSALS = {
    "COPY": "COPY reads or writes files; only queries are allowed here",
    "COPY_DATABASE": "COPY DATABASE writes files; only queries are allowed here",
    "EXPORT": "EXPORT DATABASE writes files; only queries are allowed here",
    "ATTACH": "ATTACH opens other databases; only the published database can be queried",
    "DETACH": "DETACH changes the attached databases; only queries are allowed here",
    "LOAD": "installing or loading extensions is disabled in the sandbox",
    "EXTENSION": "installing or loading extensions is disabled in the sandbox",
    "SET": "settings are locked in the sandbox (SET, RESET and USE are refused)",
    "VARIABLE_SET": "settings are locked in the sandbox (SET VARIABLE is refused)",
    "CREATE": "the published database is read-only: CREATE is refused",
    "CREATE_FUNC": "the published database is read-only: CREATE is refused",
    "INSERT": "the published database is read-only: INSERT is refused",
    "UPDATE": "the published database is read-only: UPDATE is refused",
    "DELETE": "the published database is read-only: DELETE is refused",
    "MERGE_INTO": "the published database is read-only: MERGE is refused",
    "ALTER": "the published database is read-only: ALTER is refused",
    "DROP": "the published database is read-only: DROP is refused",
    "VACUUM": "the published database is read-only: VACUUM is refused",
    "ANALYZE": "the published database is read-only: ANALYZE is refused",
    "TRANSACTION": "transactions are not needed for read-only queries",
    "PRAGMA": "PRAGMA is refused; use SELECT * FROM duckdb_settings() or DESCRIBE instead",
    "CALL": "CALL is refused; use SELECT * FROM <table function>(...) instead",
    "PREPARE": "prepared statements are refused; write the query directly",
    "EXECUTE": "prepared statements are refused; write the query directly",
}


class SandboxError(Exception):
    """A refused or failed query. `kind` is one of: refused, timeout, error, missing."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    max_rows: int = 10_000


@dataclass
class Result:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more than max_rows rows: only the first max_rows are kept
    elapsed_s: float
    statement_type: str = "SELECT"
    notes: list[str] = field(default_factory=list)


def connect(db: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection to the published database (default paths().serve)."""
    path = Path(db) if db is not None else paths().serve
    if not path.is_file():
        raise SandboxError(
            "missing", f"no published database at {path}; run `nudgescope run` first"
        )
    return duckdb.connect(
        str(path),
        read_only=True,
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "memory_limit": MEMORY_LIMIT,
            "threads": THREADS,
            "temp_directory": "",
            "lock_configuration": True,
        },
    )


def check(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Parse `sql` with DuckDB; return its statement type name or raise SandboxError('refused')."""
    if not sql or not sql.strip().rstrip(";").strip():
        raise SandboxError("refused", "the query is empty")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SandboxError("error", _first_line(exc)) from None
    if len(statements) != 1:
        raise SandboxError("refused", f"one statement at a time, please (found {len(statements)})")
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN [ANALYZE] runs its inner statement: that one must be a SELECT too.
        inner = _EXPLAIN.sub("", sql.strip(), count=1)
        try:
            inner_types = [s.type for s in con.extract_statements(inner)]
        except duckdb.Error:
            inner_types = []
        if inner_types != [duckdb.StatementType.SELECT]:
            raise SandboxError("refused", "EXPLAIN is allowed for a SELECT only")
    if kind not in ALLOWED_TYPES:
        name = kind.name
        reason = REFUSALS.get(name, f"{name} statements are refused; only SELECT is allowed")
        raise SandboxError("refused", reason)
    return kind.name


def run(sql: str, db: Path | str | None = None, limits: Limits | None = None) -> Result:
    """Run one read-only query under the sandbox limits."""
    limits = limits or Limits()
    con = connect(db)
    timer: threading.Timer | None = None
    fired = threading.Event()

    def _interrupt() -> None:
        fired.set()
        con.interrupt()

    try:
        kind = check(con, sql)
        started = time.monotonic()
        timer = threading.Timer(limits.timeout_s, _interrupt)
        timer.daemon = True
        timer.start()
        try:
            cur = con.execute(sql)
            columns = [d[0] for d in cur.description or []]
            types = [str(d[1]) for d in cur.description or []]
            rows = cur.fetchmany(limits.max_rows + 1)
        except duckdb.InterruptException:
            raise SandboxError(
                "timeout",
                f"stopped: the query ran longer than the {limits.timeout_s:g} s time limit",
            ) from None
        except duckdb.PermissionException:
            raise SandboxError(
                "refused",
                "file, network and extension access is disabled in the sandbox; "
                "query the tables of the published database instead",
            ) from None
        except duckdb.OutOfMemoryException:
            raise SandboxError(
                "error", f"the query needs more than the {MEMORY_LIMIT} memory limit"
            ) from None
        except duckdb.Error as exc:
            if fired.is_set():
                raise SandboxError(
                    "timeout",
                    f"stopped: the query ran longer than the {limits.timeout_s:g} s time limit",
                ) from None
            raise SandboxError("error", _first_line(exc)) from None
        elapsed = time.monotonic() - started
        truncated = len(rows) > limits.max_rows
        notes = []
        if truncated:
            rows = rows[: limits.max_rows]
            notes.append(f"showing the first {limits.max_rows:,} rows (row cap)")
        return Result(columns, types, rows, truncated, elapsed, kind, notes)
    finally:
        if timer is not None:
            timer.cancel()
        con.close()


def _first_line(exc: BaseException) -> str:
    """DuckDB's message on one line, without the caret drawing of the position."""
    kept = []
    for line in str(exc).strip().splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept) or type(exc).__name__
