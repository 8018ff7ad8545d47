"""`nudgescope dashboard`: serve the Streamlit app on 127.0.0.1:8501."""

from __future__ import annotations

import argparse
import os
import sys

from pipelines.settings import REPO_ROOT, paths

APP = REPO_ROOT / "dashboard" / "app.py"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dashboard",
        help="serve the dashboard (Streamlit) on http://127.0.0.1:8501",
        description="Serve the dashboard on the published serve.duckdb (read-only).",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    serve = paths().serve
    if not serve.is_file():
        # Serve anyway: the app says what is missing and picks the file up once published.
        print(
            f"warning: no published database at {serve} yet; run `nudgescope run`", file=sys.stderr
        )
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        args.host,
        "--server.port",
        str(args.port),
        "--server.headless",
        "true",
        # the settings of .streamlit/config.toml, also when started from another folder:
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",  # no "Deploy" button, no developer menu
        "--server.runOnSave",
        "false",
    ]
    print(f"nudgescope dashboard: http://{args.host}:{args.port}  (data: {serve})", flush=True)
    env = dict(os.environ, NUDGESCOPE_SERVE=str(serve))
    # Become the Streamlit server (no child process left behind when this one is stopped).
    os.execve(sys.executable, cmd, env)
    return 0  # not reached
