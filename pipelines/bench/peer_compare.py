"""Run the peers' `compare.py` against a published database whose large tables are views over
segment files (pipelines.serve.segments).

`compare.py` attaches `serve.duckdb` in a plain in-memory connection, where those views find no
segments, and fails before its first check. Here every DuckDB connection the script opens first
runs the published `serve.attach.sql` (the statements any client uses to read the file, see
docs/architecture.md), then the script runs unchanged.

`log_only` reconciles the notebooks' daily message counts with the product's own messages of
the log: the notebooks read no gateway receipts, so the sends only a gateway knew (`origin`
'gateway' in `mart.sms_message_flags`) are the one expected difference.

Usage: python -m pipelines.bench.peer_compare COMPARE_PY SERVE_DUCKDB PEER_OUT_DIR [...]
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import duckdb

from pipelines.serve import segments

# the notebook's daily counts (sms_daily.csv) and the same from the product's flags
DAILY_COUNTS = {
    "sms_sent": "purpose <> 'verification'",
    "sms_duplicate": "is_duplicate",
    "sms_quiet_hours": "is_quiet_hours",
    "sms_after_opt_out": "is_after_opt_out",
    "sms_over_daily_cap": "is_over_daily_cap",
    "sms_marketing_in_service": "is_marketing_in_service",
    "sms_marketing_without_consent": "is_marketing_without_consent",
}


def log_only(serve: Path, peer_out: Path) -> dict:
    """The notebook's daily counts (`peer_out/sms_daily.csv`) against the published messages
    that came from the log (`origin = 'log'`), per local day and count.

    Returns the days compared, the (day, count) pairs that differ, and how many published
    messages only a gateway knew. Raises duckdb.Error / OSError when a side cannot be read."""
    daily = Path(peer_out) / "sms_daily.csv"
    con = duckdb.connect(str(serve), read_only=True)
    try:
        attach = segments.attach_script(serve)
        if attach.is_file():
            con.execute(attach.read_text(encoding="utf-8"))
        counts = ", ".join(f"count(*) filter (where {c}) as {n}" for n, c in DAILY_COUNTS.items())
        con.execute(
            f"""create temp table prod as
            select local_date as period, {counts}
            from mart.sms_message_flags where origin = 'log' group by local_date"""
        )
        con.execute(
            "create temp table peer as select * from read_csv($f, header = true)",
            {"f": str(daily)},
        )
        differ = " + ".join(f"(prod.{n} is distinct from peer.{n})::integer" for n in DAILY_COUNTS)
        days, differing = con.execute(
            f"""select count(*), coalesce(sum({differ}), 0)
            from prod full join peer on peer.period::date = prod.period"""
        ).fetchone()
        (gateway,) = con.execute(
            "select count(*) from mart.sms_message_flags where origin = 'gateway'"
        ).fetchone()
    finally:
        con.close()
    return {
        "days": days,
        "differing_day_counts": int(differing),
        "agrees": days > 0 and differing == 0,
        "gateway_only_messages": gateway,
    }


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
