"""A read-only SQL sandbox on the published database, shared by the dashboard and `nudgescope sql`.

Layers of defence, each enough on its own for the cases it covers:

1. The statement is parsed by DuckDB itself (`extract_statements`) before anything runs:
   exactly one statement, of type SELECT, EXPLAIN (of a SELECT) or a PIVOT (which DuckDB
   turns into a small batch of its own). COPY, EXPORT/IMPORT, ATTACH, INSTALL/LOAD, SET,
   CREATE, PRAGMA, CALL, transactions ... are refused, each by name.
2. The query runs in a worker process of its own, under OS limits: its address space is capped
   (WORKER_MEMORY_BYTES, DuckDB's `memory_limit` inside it is MEMORY_LIMIT), it may not write
   files, and its CPU time is capped. The parent kills it when the time limit has passed
   (KILL_GRACE_S later at most), whether or not DuckDB listens to the interrupt it gets first.
3. The worker's connection is opened `read_only`; the published database's month segments are
   attached read-only (`pipelines.serve.segments`), and then external access is turned off
   (`enable_external_access=false`), DuckDB's local file system is switched off
   (`disabled_filesystems`) and the configuration locked, all before any query runs: no
   function can read any file, not even the database's own file or its WAL (DuckDB allows
   those to `read_blob` otherwise), no further database can be attached, and no SET can undo
   it.
4. The worker fetches at most `max_rows` rows and at most `max_bytes` bytes of values.

Every connection to one file within a process must use the same configuration (DuckDB refuses
a second one with a different configuration), so the dashboard's own queries open their
connections through `connect()` too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import os
import pickle
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from pipelines.serve import segments
from pipelines.settings import paths

MEMORY_LIMIT = "1GB"  # DuckDB's buffer limit inside the worker
# The whole worker process (interpreter, DuckDB's threads and buffers, the fetched rows) may not
# map more than this; an allocation beyond it fails, and the query with it.
WORKER_MEMORY_BYTES = 2 << 30
THREADS = 2
KILL_GRACE_S = 0.75  # the worker is killed this long after its time limit at the latest
MAX_BYTES = 16 << 20  # default output cap: bytes of values returned

# external access is on only while the connection attaches the published segments; connect()
# turns it off, and locks the configuration, before it returns the connection
CONFIG = {
    "enable_external_access": True,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "memory_limit": MEMORY_LIMIT,
    "threads": THREADS,
    "temp_directory": "",
}
STARTUP_TIMEOUT_S = 60.0  # a worker that is not ready by then (a machine under heavy load)

ALLOWED_TYPES = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN}
_EXPLAIN = re.compile(r"^explain(\s+analy[sz]e)?(\s*\([^)]*\))?\s+", re.IGNORECASE)
_PIVOT = re.compile(r"\b(un)?pivot\b", re.IGNORECASE)
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_WORD = re.compile(r"[A-Za-z_]+")
# First words that are followed by the name of what they act on (IMPORT DATABASE, CREATE TABLE)
_TWO_WORDS = {"IMPORT", "EXPORT", "CREATE", "DROP", "ALTER", "FORCE", "INSTALL", "SET"}

# Why a statement type is refused, in words an analyst understands.
REFUSALS = {
    "COPY": "it reads or writes files; only queries are allowed here",
    "COPY_DATABASE": "it writes files; only queries are allowed here",
    "EXPORT": "it writes files; only queries are allowed here",
    "ATTACH": "it opens other databases; only the published database can be queried",
    "DETACH": "it changes the attached databases; only queries are allowed here",
    "LOAD": "installing or loading extensions is disabled in the sandbox",
    "EXTENSION": "installing or loading extensions is disabled in the sandbox",
    "UPDATE_EXTENSIONS": "installing or loading extensions is disabled in the sandbox",
    "SET": "settings are locked in the sandbox (SET, RESET and USE are refused)",
    "VARIABLE_SET": "settings are locked in the sandbox (SET VARIABLE is refused)",
    "CREATE": "the published database is read-only",
    "CREATE_FUNC": "the published database is read-only",
    "INSERT": "the published database is read-only",
    "UPDATE": "the published database is read-only",
    "DELETE": "the published database is read-only",
    "MERGE_INTO": "the published database is read-only",
    "ALTER": "the published database is read-only",
    "DROP": "the published database is read-only",
    "VACUUM": "the published database is read-only",
    "ANALYZE": "the published database is read-only",
    "TRANSACTION": "transactions are not needed for read-only queries",
    "PRAGMA": "use SELECT * FROM duckdb_settings() or DESCRIBE instead",
    "CALL": "use SELECT * FROM <table function>(...) instead",
    "PREPARE": "prepared statements are refused; write the query directly",
    "EXECUTE": "prepared statements are refused; write the query directly",
    "MULTI": "only SELECT, EXPLAIN and PIVOT are allowed",
}
# Refusals named by the statement's first word where DuckDB's type would mislead.
REFUSALS_BY_WORD = {
    "IMPORT": "it reads files into the database; only queries are allowed here",
    "CHECKPOINT": "the published database is read-only",
    "TRUNCATE": "the published database is read-only",
    "USE": "settings are locked in the sandbox (SET, RESET and USE are refused)",
    "RESET": "settings are locked in the sandbox (SET, RESET and USE are refused)",
}


class SandboxError(Exception):
    """A refused or failed query. `kind` is one of: refused, timeout, error, missing, locked."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 10.0
    max_rows: int = 10_000
    max_bytes: int = MAX_BYTES


@dataclass
class Result:
    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool  # more than max_rows rows or max_bytes bytes: only the first are kept
    elapsed_s: float
    statement_type: str = "SELECT"
    notes: list[str] = field(default_factory=list)


def _open_error(path: Path, exc: duckdb.Error) -> SandboxError:
    text = _first_line(exc)
    if "lock" in text.lower():
        holder = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
        who = f" ({holder.group(1)}, PID {holder.group(2)})" if holder else ""
        return SandboxError(
            "locked",
            f"{path} is locked by another program{who}; close that program (or wait for "
            "the run that is writing it) and try again",
        )
    return SandboxError("error", f"cannot open {path}: {text}")


_LOCKDOWN = threading.Lock()  # one connection at a time sets up a shared instance


def connect(db: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only, locked-down connection to the published database (default paths().serve),
    its segments attached: no file access of any kind, settings locked."""
    path = Path(db) if db is not None else paths().serve
    if not path.is_file():
        raise SandboxError(
            "missing", f"no published database at {path}; run `nudgescope run` first"
        )
    try:
        con = duckdb.connect(str(path), read_only=True, config=CONFIG)
    except duckdb.Error as exc:
        raise _open_error(path, exc) from None
    try:
        with _LOCKDOWN:
            # Another connection of this process may have set up the shared instance already
            # (the segments attached, then locked); the instance is per file, so its segments
            # are this file's.
            if not con.execute("select current_setting('lock_configuration')").fetchone()[0]:
                segments.attach(con, path)
                con.execute("set enable_external_access = false")
                con.execute("set disabled_filesystems = 'LocalFileSystem'")
                con.execute("set lock_configuration = true")
    except segments.SegmentError as exc:
        con.close()
        raise SandboxError("error", str(exc)) from None
    except duckdb.Error as exc:
        con.close()
        raise SandboxError("error", f"cannot lock down {path}: {_first_line(exc)}") from None
    return con


def _leading_words(sql: str) -> str:
    words = _WORD.findall(_COMMENTS.sub(" ", sql)[:400])
    if not words:
        return ""
    first = words[0].upper()
    if first in _TWO_WORDS and len(words) > 1:
        return f"{first} {words[1].upper()}"
    return first


def _refuse(sql: str, kind_name: str) -> SandboxError:
    words = _leading_words(sql)
    what = words if words and words.split()[0] not in ("WITH", "SELECT", "FROM") else kind_name
    reason = REFUSALS_BY_WORD.get(what.split()[0]) or REFUSALS.get(
        kind_name, "only SELECT, EXPLAIN and PIVOT are allowed"
    )
    return SandboxError("refused", f"{what} is refused: {reason}")


def check(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Parse `sql` with DuckDB; return its statement type name or raise SandboxError('refused')."""
    if not sql or not sql.strip().rstrip(";").strip():
        raise SandboxError("refused", "the query is empty")
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SandboxError("error", _first_line(exc)) from None
    if not statements:
        raise SandboxError("refused", "the query is empty (only comments)")
    if len(statements) != 1:
        raise SandboxError(
            "refused", f"one statement at a time, please (found {len(statements)} statements)"
        )
    kind = statements[0].type
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN [ANALYZE] runs its inner statement: that one must be a SELECT too.
        inner = _EXPLAIN.sub("", sql.strip(), count=1)
        try:
            inner_types = [s.type for s in con.extract_statements(inner)]
        except duckdb.Error:
            inner_types = []
        if inner_types != [duckdb.StatementType.SELECT]:
            raise SandboxError(
                "refused", "EXPLAIN is refused here: it is allowed for a SELECT only"
            )
    if kind == duckdb.StatementType.MULTI and _PIVOT.search(sql):
        # DuckDB plans a PIVOT without an IN list as a small batch (find the values, then
        # select); it runs on the read-only, file-less connection like any query.
        return "SELECT"
    if kind not in ALLOWED_TYPES:
        raise _refuse(sql, kind.name)
    return kind.name


def run(sql: str, db: Path | str | None = None, limits: Limits | None = None) -> Result:
    """Run one read-only query in a worker process under the sandbox limits."""
    limits = limits or Limits()
    path = Path(db) if db is not None else paths().serve
    if not path.is_file():
        raise SandboxError(
            "missing", f"no published database at {path}; run `nudgescope run` first"
        )
    with duckdb.connect(":memory:", config={"enable_external_access": False}) as parser:
        check(parser, sql)  # refused before any process starts
    request = pickle.dumps(
        {
            "sql": sql,
            "db": str(path),
            "timeout_s": limits.timeout_s,
            "max_rows": limits.max_rows,
            "max_bytes": limits.max_bytes,
        }
    )
    worker = _Worker.start()
    try:
        out = _talk(worker, request, limits)
    finally:
        worker.stop()
    code = worker.exit_code()
    try:
        reply = pickle.loads(out) if out else None
    except (pickle.UnpicklingError, EOFError, ValueError):
        reply = None  # the worker died while answering
    if reply is not None:
        if reply[0] == "ok":
            result: Result = reply[1]
            return result
        raise SandboxError(reply[1], reply[2])
    if code == -signal.SIGXCPU:
        raise SandboxError("timeout", _timeout_message(limits))
    how = (
        ""
        if code is None
        else (f"; the worker ended with signal {-code}" if code < 0 else f"; exit code {code}")
    )
    raise SandboxError(
        "error",
        f"the query was stopped: it needed more memory than the sandbox allows "
        f"({MEMORY_LIMIT} for DuckDB, {WORKER_MEMORY_BYTES >> 20} MB for its process{how})",
    )


def _talk(worker: _Worker, request: bytes, limits: Limits) -> bytes:
    """Send the request; wait for the worker to be ready (it answers one byte), then give the
    query its time limit and kill the worker KILL_GRACE_S after it. Returns the reply (empty
    when the worker died without one)."""
    worker.send(request)
    fd = worker.fileno()
    poller = select.poll()  # poll, not select: the descriptor may be above FD_SETSIZE
    poller.register(fd, select.POLLIN)
    ready = poller.poll(STARTUP_TIMEOUT_S * 1000)
    first = os.read(fd, 1) if ready else b""
    if first != b"R":
        worker.kill()
        if not ready:
            raise SandboxError("error", "the query worker did not start in time; try again")
        return b""
    deadline = time.monotonic() + limits.timeout_s + KILL_GRACE_S
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poller.poll(left * 1000):
            worker.kill()
            raise SandboxError("timeout", _timeout_message(limits))
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


class _Worker:
    """One worker process: forked by the fork server when it runs (milliseconds), else a new
    interpreter (a fraction of a second or more)."""

    _server: subprocess.Popen | None = None
    _control: socket.socket | None = None
    _lock = threading.Lock()

    def __init__(self, sock: socket.socket, pid: int | None, proc: subprocess.Popen | None):
        self.sock, self.pid, self.proc = sock, pid, proc

    @classmethod
    def start(cls) -> _Worker:
        mine, theirs = socket.socketpair()
        try:
            pid = cls._fork(theirs)
        except OSError:
            pid = None
        if pid is not None:
            theirs.close()
            return cls(mine, pid, None)
        proc = subprocess.Popen(  # no fork server: a fresh interpreter
            [sys.executable, "-c", f"from {__name__} import _worker; _worker({theirs.fileno()})"],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_worker_env(),
        )
        theirs.close()
        return cls(mine, proc.pid, proc)

    @classmethod
    def _fork(cls, theirs: socket.socket) -> int | None:
        """Ask the fork server (started on first use) for a worker on `theirs`; its pid."""
        with cls._lock:
            if cls._server is None or cls._server.poll() is not None:
                if os.environ.get(NO_FORK_SERVER_ENV):
                    return None
                ours, server_end = socket.socketpair()
                cls._server = subprocess.Popen(
                    [
                        sys.executable,
                        "-c",
                        f"from {__name__} import _serve; _serve({server_end.fileno()})",
                    ],
                    pass_fds=[server_end.fileno()],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=_worker_env(),
                )
                server_end.close()
                cls._control = ours
            assert cls._control is not None
            cls._control.settimeout(STARTUP_TIMEOUT_S)
            try:
                socket.send_fds(cls._control, [b"w"], [theirs.fileno()])
                data = b""
                while len(data) < 4:
                    more = cls._control.recv(4 - len(data))
                    if not more:
                        raise OSError("the fork server ended")
                    data += more
            except OSError:
                cls._server.kill()
                cls._server.wait()
                cls._server = None
                raise
            return struct.unpack("i", data)[0]

    def send(self, request: bytes) -> None:
        self.sock.sendall(request)
        self.sock.shutdown(socket.SHUT_WR)

    def fileno(self) -> int:
        return self.sock.fileno()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.proc is not None:
                self.proc.kill()
            elif self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.sock.close()
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()

    def exit_code(self) -> int | None:
        """The worker's exit code when known (a forked worker is reaped by the server)."""
        return self.proc.returncode if self.proc is not None else None


NO_FORK_SERVER_ENV = "NUDGESCOPE_SANDBOX_NO_FORK_SERVER"


def _serve(control_fd: int) -> None:
    """The fork server: a single-threaded process with DuckDB imported and no database open,
    forking one worker per request. It ends when the process that started it does."""
    control = socket.socket(fileno=control_fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 1)
        except OSError:
            return
        if not fds:
            return  # the parent went away
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                control.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _worker(fds[0])
                code = 0
            finally:
                os._exit(code)
        os.close(fds[0])
        control.sendall(struct.pack("i", pid))


def _timeout_message(limits: Limits) -> str:
    return f"stopped: the query ran longer than the {limits.timeout_s:g} s time limit"


def _worker_env() -> dict[str, str]:
    import pipelines

    env = dict(os.environ)
    root = str(Path(pipelines.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


# --- the worker process ---------------------------------------------------------------------


def _limit_process(timeout_s: float) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, WORKER_MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # writes no file of any size
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(timeout_s * THREADS) + 5  # a backstop: the parent kills on wall time
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))


def _worker(fd: int) -> None:
    """A worker: one request on the socket `fd`, then on it one byte when ready and one reply.
    Nothing else it might print reaches the parent."""
    sock = socket.socket(fileno=fd)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    chunks = []
    while chunk := sock.recv(1 << 16):
        chunks.append(chunk)
    req = pickle.loads(b"".join(chunks))
    try:
        _limit_process(req["timeout_s"])
        con = connect(req["db"])
    except SandboxError as exc:
        reply: tuple = ("error", exc.kind, exc.message)
        sock.sendall(b"R")
    else:
        sock.sendall(b"R")
        try:
            reply = ("ok", _execute(con, req))
        except SandboxError as exc:
            reply = ("error", exc.kind, exc.message)
        except MemoryError:
            reply = ("error", "error", _memory_message())
        finally:
            con.close()
    sock.sendall(pickle.dumps(reply))
    sock.close()


def _memory_message() -> str:
    return (
        f"the query needs more memory than the sandbox allows ({MEMORY_LIMIT} for DuckDB, "
        f"{WORKER_MEMORY_BYTES >> 20} MB for the query's process)"
    )


def _size(v: Any) -> int:
    """Roughly how many bytes a value takes when shown."""
    if v is None or isinstance(v, bool | int | float | decimal.Decimal):
        return 8
    if isinstance(v, str | bytes):
        return len(v)
    if isinstance(v, dt.date | dt.time | dt.timedelta):
        return 16
    if isinstance(v, list | tuple):
        return 8 + sum(_size(x) for x in v)
    if isinstance(v, dict):
        return 8 + sum(_size(k) + _size(x) for k, x in v.items())
    return len(str(v))


def _execute(con: duckdb.DuckDBPyConnection, req: dict) -> Result:
    fired = threading.Event()

    def _interrupt() -> None:
        fired.set()
        con.interrupt()

    timer = threading.Timer(req["timeout_s"], _interrupt)
    timer.daemon = True
    timeout_msg = f"stopped: the query ran longer than the {req['timeout_s']:g} s time limit"
    try:
        kind = check(con, req["sql"])
        started = time.monotonic()
        timer.start()
        rows: list[tuple] = []
        notes: list[str] = []
        truncated = False
        try:
            cur = con.execute(req["sql"])
            columns = [d[0] for d in cur.description or []]
            types = [str(d[1]) for d in cur.description or []]
            used, batch = 0, 1
            while not truncated:
                # rows are fetched one at a time while they are large, so that Python never
                # holds many large values at once
                chunk = cur.fetchmany(batch)
                if not chunk:
                    break
                batch = 256 if _size(chunk[-1]) < 64 << 10 else 1
                for row in chunk:
                    if len(rows) >= req["max_rows"]:
                        truncated = True
                        notes.append(f"showing the first {req['max_rows']:,} rows (row cap)")
                        break
                    used += _size(row)
                    if used > req["max_bytes"]:
                        truncated = True
                        notes.append(
                            f"showing the first {len(rows):,} rows: the output is capped at "
                            f"{req['max_bytes'] >> 20} MB"
                            + (" (the first row alone is larger)" if not rows else "")
                        )
                        break
                    rows.append(row)
        except duckdb.InterruptException:
            raise SandboxError("timeout", timeout_msg) from None
        except duckdb.PermissionException:
            raise SandboxError(
                "refused",
                f"{_file_reader(req['sql'])} is refused: the sandbox reads no file, network "
                "or extension; query the tables of the published database instead",
            ) from None
        except duckdb.OutOfMemoryException:
            raise SandboxError("error", _memory_message()) from None
        except duckdb.Error as exc:
            if fired.is_set():
                raise SandboxError("timeout", timeout_msg) from None
            text = _first_line(exc)
            if "allocate" in text.lower() or "bad_alloc" in text.lower():
                raise SandboxError("error", _memory_message()) from None
            raise SandboxError("error", text) from None
        if fired.is_set():
            raise SandboxError("timeout", timeout_msg)
        return Result(columns, types, rows, truncated, time.monotonic() - started, kind, notes)
    finally:
        timer.cancel()


_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_FILE_FUNCTIONS = ("read_", "parquet_", "glob", "sniff_csv", "iceberg_", "delta_", "sqlite_")


def _file_reader(sql: str) -> str:
    """The name of the first function in `sql` that reads files ('file access' if none)."""
    for name in _CALL.findall(_COMMENTS.sub(" ", sql)):
        if name.lower().startswith(_FILE_FUNCTIONS):
            return name
    return "file access"


def _first_line(exc: BaseException) -> str:
    """DuckDB's message on one line, without the caret drawing of the position."""
    kept = []
    for line in str(exc).strip().splitlines():
        if line.startswith("LINE "):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept)[:1000] or type(exc).__name__
