"""`nudgescope compact`: merge the thirds of the months that ended into one segment file each."""

from __future__ import annotations

import argparse
import sys

from pipelines.orchestration.run import EXIT_ERROR, EXIT_OK, EXIT_USER, compact_segments


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compact",
        help="merge the published segments of the months that ended into one file each",
        description=(
            "A data run publishes the latest month of the large tables in thirds (its latest "
            "third by day) and leaves "
            "a month that ended so (rewriting a whole month on its first day cost that day "
            "about a third more). This publishes the warehouse as it is, with every month "
            "before the latest one as one segment file: fewer files for readers to attach. "
            "The daemon's `compact_schedule` does it every night; the run is recorded in "
            "<data-dir>/dagster. It runs only when `nudgescope run` has nothing to do. "
            f"Exit {EXIT_OK}: merged or nothing to merge; {EXIT_USER}: the pipeline has work "
            f"first; {EXIT_ERROR}: the run failed."
        ),
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    s = compact_segments()
    if s.error is not None:
        print(f"nudgescope compact: run {s.run_id} failed: {s.error}", file=sys.stderr)
        return EXIT_ERROR
    if s.skipped is not None and s.months:
        print(f"nudgescope compact: not now: {s.skipped}", file=sys.stderr)
        return EXIT_USER
    if s.skipped is not None:
        print(f"nothing to merge in {s.serve.parent}: {s.skipped}")
        return EXIT_OK
    print(
        f"merged {', '.join(s.months)} into one segment file each and published {s.serve} "
        f"({s.seconds:.1f} s, run {s.run_id})"
    )
    return EXIT_OK
