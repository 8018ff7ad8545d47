"""Time to alert: from a file landing to the webhook POST, with `nudgescope run` and with the
landing sensor (a Dagster daemon), on a copy of a benchmark data folder.

Each measurement lands one `sms_logs` file for a new day holding a planted duplicate storm
(30 users × 3 copies of one reminder, 2 minutes apart: 60 duplicates in a rolling hour) and
times, from the moment the file is in place (`os.replace`), until a loopback webhook receiver
in this process gets the POST announcing that day's `duplicate_burst` incident.

- `cli`: a `nudgescope run` process started right after the file lands (what a cron job or an
  operator does). A priming run before it brings the folder up to date, untimed.
- `sensor`: `dagster-daemon run` on a private instance with the sensor's cursor set to the
  landing folder as it is; the file lands once the daemon is up. The sensor ticks every 30 s,
  so this latency includes 0–30 s of waiting for the next tick, then the run's launch.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb

from pipelines.settings import REPO_ROOT

STORM_USERS = 30
TEMPLATE = "BENCH_STORM"
SMS_HEADER = (
    "message_id,user_id,template_code,purpose,bill_id,content,sent_at,delivery_status,"
    "delivered_at,provider,err_code\n"
)
WAIT_S = 600  # longest wait for a POST
DAEMON_UP_S = 300  # longest wait for the daemon's first sensor tick
TICK_LINE = "Checking for new runs for sensor: landing_sensor"
BIN = Path(sys.executable).parent


class Receiver:
    """Records (arrival time, body) of every POST on 127.0.0.1."""

    def __init__(self) -> None:
        self.posts: list[tuple[float, dict]] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                at = time.time()
                self.send_response(200)
                self.end_headers()
                with receiver.arrived:
                    receiver.posts.append((at, json.loads(raw.decode("utf-8"))))
                    receiver.arrived.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/alert"

    def wait_open(self, day: dt.date, timeout: float) -> float | None:
        """Arrival time of the `open` POST of a duplicate burst first seen on `day`."""
        deadline = time.time() + timeout
        with self.arrived:
            while True:
                for at, body in self.posts:
                    if (
                        body.get("kind") == "duplicate_burst"
                        and body.get("status") == "open"
                        and str(body.get("first_seen", "")).startswith(day.isoformat())
                    ):
                        return at
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.arrived.wait(min(left, 1.0))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def storm_csv(serve: Path, day: dt.date) -> str:
    with duckdb.connect(str(serve), read_only=True) as con:
        users = [
            u
            for (u,) in con.execute(
                "select user_id from core.users order by user_id limit $n", {"n": STORM_USERS}
            ).fetchall()
        ]
    rows = [
        f"alert-bench-{day:%Y%m%d}-{i}-{k},{user},{TEMPLATE},due_reminder,,"
        f"您的账单即将到期,{day} 10:0{2 * k}:00,delivered,,aliyun,\n"
        for i, user in enumerate(users)
        for k in range(3)
    ]
    return SMS_HEADER + "".join(rows)


def land(data_dir: Path, day: dt.date) -> float:
    """Put the storm file in place atomically; returns the time it appeared."""
    text = storm_csv(data_dir / "serve.duckdb", day)
    target = data_dir / "landing" / "sms_logs" / f"dt={day}" / "alert_bench.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / ".alert_bench.csv.tmp"
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return time.time()


def _as_of(data_dir: Path) -> dt.date:
    with duckdb.connect(str(data_dir / "serve.duckdb"), read_only=True) as con:
        return con.execute("select max(dt) from ingest.file_ledger").fetchone()[0]


def _env(data_dir: Path, url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUDGESCOPE_LANDING", "NUDGESCOPE_WAREHOUSE", "NUDGESCOPE_SERVE")
    }
    env.update(
        NUDGESCOPE_DATA_DIR=str(data_dir),
        NUDGESCOPE_ALERT_WEBHOOK=url,
        # only the planted storm should speak: no stale-source alerts for an old copy
        NUDGESCOPE_ALERT_STALE_HOURS="1000000",
        PYTHONPATH=str(REPO_ROOT),
    )
    return env


def _run(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "pipelines.cli", "run"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
        )


def measure_cli(data_dir: Path, receiver: Receiver, day: dt.date, log: Path) -> dict:
    env = _env(data_dir, receiver.url)
    _run(env, log).wait()  # priming: up to date before the file lands (not timed)
    landed = land(data_dir, day)
    proc = _run(env, log)
    posted = receiver.wait_open(day, WAIT_S)
    proc.wait()
    done = time.time()
    return {
        "day": day.isoformat(),
        "seconds_to_post": None if posted is None else round(posted - landed, 2),
        "run_wall_s": round(done - landed, 2),
        "run_exit_code": proc.returncode,
    }


def _wait_for(log: Path, start: int, text: str, timeout: float) -> bool:
    """Wait until the log (past byte `start`) shows `text`: True, or False after `timeout`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        with open(log, "rb") as f:
            f.seek(start)
            if text.encode() in f.read():
                return True
        time.sleep(1)
    return False


def measure_sensor(data_dir: Path, receiver: Receiver, day: dt.date, log: Path) -> dict:
    env = _env(data_dir, receiver.url)
    home = data_dir / "dagster-alert-bench"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "pipelines" / "dagster.yaml", home / "dagster.yaml")
    env["DAGSTER_HOME"] = str(home)
    target = ["-m", "pipelines.definitions"]
    with open(log, "ab") as out:
        # the sensor plans from the ledger (no cursor): everything is loaded, so it skips until
        # the storm file lands
        for command in (["start", "landing_sensor"],):
            subprocess.run(
                [str(BIN / "dagster"), "sensor", *command, *target],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                check=True,
            )
        out.flush()
        offset = log.stat().st_size
        daemon = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", *target],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            start_new_session=True,  # its code server and run workers: one process group
        )
    try:
        ticking = _wait_for(log, offset, TICK_LINE, DAEMON_UP_S)
        landed = land(data_dir, day)
        posted = receiver.wait_open(day, WAIT_S) if ticking else None
        # let the run finish (its resolve notifications and the publish) before stopping
        finished = posted is not None and _wait_for(log, offset, "RUN_SUCCESS", WAIT_S)
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait()
    return {
        "day": day.isoformat(),
        "daemon_ticking": ticking,
        "run_finished": finished,
        "seconds_to_post": None if posted is None else round(posted - landed, 2),
        "sensor_interval_s": 30,
    }


def time_to_alert(data_dir: Path, log: Path) -> dict:
    """Both measurements on `data_dir` (a throwaway copy: it gains two days of sms_logs)."""
    data_dir = Path(data_dir)
    receiver = Receiver()
    try:
        as_of = _as_of(data_dir)
        cli = measure_cli(data_dir, receiver, as_of + dt.timedelta(days=1), log)
        sensor = measure_sensor(data_dir, receiver, as_of + dt.timedelta(days=2), log)
    finally:
        receiver.close()
    return {
        "cli": cli,
        "sensor": sensor,
        "posts": [
            {
                "after_s": round(at - receiver.posts[0][0], 2),
                **{k: b.get(k) for k in ("incident_id", "kind", "status", "messages")},
            }
            for at, b in receiver.posts
        ],
    }
