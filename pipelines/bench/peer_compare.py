"""Run the peers' `compare.py` against a published database whose large tables are views over
segment files (pipelines.serve.segments).

`compare.py` attaches `serve.duckdb` in a plain in-memory connection, where those views find no
segments, and fails before its first check. Here every DuckDB connection the script opens first
runs the published `serve.attach.sql` (the statements any client uses to read the file, see
docs/architecture.md), then the script runs unchanged.

Usage: python -m pipelines.bench.peer_compare COMPARE_PY SERVE_DUCKDB PEER_OUT_DIR [...]
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import duckdb

from pipelines.serve import segments


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    script, serve = Path(argv[0]), Path(argv[1])
    attach = segments.attach_script(serve)
    statements = attach.read_text(encoding="utf-8") if attach.is_file() else ""
    real_connect = duckdb.connect

    def connect(*args, **kwargs):
        con = real_connect(*args, **kwargs)
        if statements:
            con.execute(statements)
        return con

    duckdb.connect = connect
    saved_argv, sys.argv = sys.argv, [str(script), str(serve), *argv[2:]]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        duckdb.connect, sys.argv = real_connect, saved_argv
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
