"""`nudgescope bench`: speed, memory and growth against the floor (see docs/performance.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pipelines.bench.harness import STEPS, TARGETS, Options


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="benchmark simulate, the floor, full and incremental runs, pages, sql; write JSON",
        description=(
            "Generate (once, then reuse) simulated data under data/bench/<scale>/landing, then "
            "measure each step as its own process (wall time, peak RSS): the floor (one DuckDB "
            "process reading every landing file into a table), a full `nudgescope run`, an "
            "incremental run after one more day, a no-op run, every dashboard page's queries "
            "(p50/p95, uncached) and a typical `nudgescope sql` query. Prints one table and "
            "writes data/bench/<scale>-<timestamp>.json and data/bench/latest-<scale>.json. "
            "At scale l this takes a long time."
        ),
    )
    p.add_argument("--scale", choices=("s", "m", "l"), default="m", help="data size (default m)")
    p.add_argument("--users", type=int, default=None, help="users (overrides the scale)")
    p.add_argument("--months", type=int, default=None, help="months (overrides the scale)")
    p.add_argument("--seed", type=int, default=None, help="simulator seed (default its own)")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("csv", "parquet", "jsonl", "mixed"),
        default="csv",
        help="landing file format of the simulated data (default csv, as `make demo`)",
    )
    p.add_argument(
        "--repeat", type=int, default=20, help="runs per page and per sql query (default 20)"
    )
    p.add_argument(
        "--steps",
        default=",".join(STEPS),
        help=f"comma-separated subset of {','.join(STEPS)} (simulate is reused when possible)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the pipeline steps under cProfile (slower; top functions go into the JSON)",
    )
    p.add_argument(
        "--regenerate", action="store_true", help="simulate the data again even if it exists"
    )
    p.add_argument(
        "--against",
        metavar="REV",
        default=None,
        help="instead of the steps: a full run and one more day of this checkout against git "
        "revision REV, in alternating rounds on the same data (writes "
        "data/bench/against-<scale>-<timestamp>.json)",
    )
    p.add_argument("--rounds", type=int, default=2, help="rounds of --against (default 2: ABBA)")
    p.add_argument(
        "--days",
        type=int,
        default=1,
        help="days of --against added after each round's full runs, the two codes alternating "
        "day by day (default 1)",
    )
    p.add_argument(
        "--markdown",
        type=Path,
        metavar="JSON",
        default=None,
        help="print the figures of an earlier bench JSON as a Markdown table; run nothing",
    )
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rich.console import Console

    from pipelines.bench.harness import run_bench
    from pipelines.errors import UserError

    if args.markdown is not None:
        print(markdown(json.loads(args.markdown.read_text(encoding="utf-8"))))
        return 0
    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip())
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise UserError(f"unknown step {unknown[0]!r}; choose from {', '.join(STEPS)}")
    if args.repeat < 1:
        raise UserError("--repeat must be at least 1")
    console = Console(stderr=True)
    options = Options(
        scale=args.scale,
        users=args.users,
        months=args.months,
        seed=args.seed,
        fmt=args.fmt,
        repeat=args.repeat,
        steps=steps,
        profile=args.profile,
        regenerate=args.regenerate,
    )
    say = lambda msg: console.print(msg, highlight=False)  # noqa: E731
    if args.against is not None:
        from pipelines.bench import against

        report = against.run_against(options, args.against, args.rounds, say=say, days=args.days)
        Console().print(against.table(report))
        console.print(f"figures written to {report['written_to']}", highlight=False)
        failed = [
            r
            for r in report["runs"]
            if r["full_run"]["exit_code"] or any(d["exit_code"] for d in r["days"])
        ]
        return 1 if failed else 0
    report = run_bench(options, say=say)
    Console().print(table(report))
    console.print(f"figures written to {report['written_to']}", highlight=False)
    failed = [n for n, s in report["steps"].items() if s.get("exit_code")]
    return 1 if failed else 0


def _s(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v * 1000:,.0f} ms" if v < 1 else f"{v:,.1f} s"


def _cpu(verdict: dict, fmt: str) -> str:
    v = verdict.get("cpu_value")
    return "" if v is None else f" (CPU {fmt.format(v)})"


def _gb(v: int | None) -> str:
    return "—" if v is None else f"{v / 1024**3:,.2f} GB"


def _bytes(v: int) -> str:
    return f"{v / 1024**3:,.2f} GB" if v >= 1024**3 else f"{v / 1024**2:,.1f} MB"


def _met(v: bool | None) -> str:
    return {True: "[green]yes[/green]", False: "[red]no[/red]", None: "—"}[v]


def _why(step: dict) -> str:
    """The start of a failed run's error, as its summary gives it."""
    error = str((step.get("summary") or {}).get("error") or "")
    return error if len(error) <= 80 else error[:79] + "…"


def table(report: dict):
    from rich.table import Table

    steps = report["steps"]
    verdict = {v["target"]: v for v in report["verdicts"]}
    mach = report["machine"]
    ds = report["dataset"]
    rows_total = steps.get("simulate", {}).get("rows")
    t = Table(
        title=(
            f"nudgescope bench --scale {report['scale']}: {ds['users']:,} users x "
            f"{ds['months']} months, {rows_total or 0:,} rows ({ds['format']}) · "
            f"{mach['cores']} cores, {mach['memory_bytes'] / 1024**3:.0f} GB, "
            f"duckdb {mach['duckdb']}"
        ),
        caption=f"targets apply at scale l; load average at start {mach['load_average_at_start']}",
    )
    for col, just in (
        ("step", "left"),
        ("wall", "right"),
        ("CPU", "right"),
        ("peak RSS", "right"),
        ("figure", "right"),
        ("target", "right"),
        ("met", "center"),
    ):
        t.add_column(col, justify=just)

    def rss_met(name):
        return verdict.get(f"{name} peak RSS", {}).get("met")

    def add(name, label, figure, target, met):
        s = steps.get(name, {})
        if s.get("skipped"):
            t.add_row(label, "", "", "", f"not run: {s['skipped']}", target, "")
            return
        ok = met if rss_met(name) is not False else False
        fail = s.get("exit_code")
        t.add_row(
            label,
            _s(s.get("wall_s")),
            _s(s.get("cpu_s")),
            _gb(s.get("peak_rss_bytes")),
            f"[red]failed[/red] {_why(s)}" if fail else figure,
            target,
            _met(False if fail else ok),
        )
        published(name)

    def published(name):
        """What the step published (pipelines.bench.footprint), under its row."""
        s = steps.get(name, {})
        pub = s.get("published")
        if not pub or s.get("exit_code"):
            return
        figure = (
            f"wrote {pub['written_files']} files, {_bytes(pub['written_bytes'])} "
            f"(live: {pub['live_files']} files, {_bytes(pub['live_bytes'])}; "
            f"{_bytes(s.get('written_bytes') or 0)} written to disk in all)"
        )
        other = pub.get("other_slices_written")
        v = verdict.get(f"{name} publish: slices of other months written", {})
        if pub.get("merged_thirds"):
            figure += f" · a third that ended, from its days: {', '.join(pub['merged_thirds'])}"
        if other is not None:
            figure += f" · other months' slices: {', '.join(other) or 'none'}"
        if pub.get("history_months_written"):
            months = pub["history_months_written"]
            figure += f" · month files of the revised tables written: {', '.join(months)}"
        t.add_row(
            "  published", "", "", "", figure, "its own month only" if v else "", _met(v.get("met"))
        )

    sim = steps.get("simulate")
    if sim:
        add(
            "simulate",
            "simulate" + (f" ({sim['measured_at'][:10]})" if sim.get("measured_at") else ""),
            f"{sim.get('rows_per_s', 0):,} rows/s (CPU {sim.get('rows_per_cpu_s', 0):,})",
            f">= {TARGETS['simulate_rows_per_s']:,} rows/s",
            verdict["simulate rows/s"]["met"],
        )
    if "floor" in steps:
        f = steps["floor"]
        add("floor", "floor (DuckDB reads all files)", f"{f.get('rows', 0):,} rows", "", None)
    if "full_run" in steps:
        v = verdict["full run / floor"]
        add(
            "full_run",
            "full run",
            "—" if v["value"] is None else f"{v['value']:.1f} x floor" + _cpu(v, "{:.1f} x"),
            f"<= {TARGETS['full_run_vs_floor']:.0f} x floor",
            v["met"],
        )
    peers = steps.get("peers") or {}
    if peers.get("skipped"):
        t.add_row("peers (analyst notebooks)", "", "", "", peers["skipped"], "", "")
    for name, fig in peers.items():
        if not isinstance(fig, dict):
            continue
        agrees = fig.get("agrees_with_published")
        label = f"{name} notebook" + ("" if agrees is None else (" (agrees)" if agrees else ""))
        if name == "polars":
            v = verdict.get("full run / polars notebook (CPU)", {})
            figure = "" if v.get("value") is None else f"full run = {v['value']:.1f} x its CPU"
            target = f"full run <= {TARGETS['full_run_vs_polars_cpu']:.0f} x"
            met = v.get("met")
        else:
            figure, target, met = "", "", None
        if fig.get("compare_failed"):
            figure = "[red]comparison with the published numbers failed[/red] " + figure
        elif agrees is False:
            bad = ", ".join(fig.get("disagreeing_checks") or [])
            figure = f"[red]disagrees with the published numbers on: {bad}[/red] " + figure
            log_only = fig.get("log_only") or {}
            if log_only.get("agrees"):
                # the notebooks read no receipts: say what the difference is made of
                figure += (
                    f" · on the log's own messages every daily count agrees "
                    f"({log_only['days']} days); the published numbers also count the "
                    f"{log_only['gateway_only_messages']:,} sends only the gateways know, "
                    "which the notebook cannot see (it reads no receipts)"
                )
        t.add_row(
            label,
            _s(fig.get("wall_s")),
            _s(fig.get("cpu_s")),
            _gb(fig.get("peak_rss_bytes")),
            "[red]failed[/red]" if fig.get("exit_code") else figure,
            target,
            _met(met),
        )
    if "incremental_run" in steps:
        v = verdict["incremental day / full run"]
        add(
            "incremental_run",
            "incremental run (+1 day)",
            "—" if v["value"] is None else f"{v['value']:.0%} of full" + _cpu(v, "{:.0%}"),
            f"<= {TARGETS['incremental_vs_full']:.0%} of full",
            v["met"],
        )
    v = verdict.get("incremental day / full run (CPU, 5 % at l)", {})
    if v.get("value") is not None:
        t.add_row(
            "  its CPU share of a full run (issue #17, at l)",
            "",
            "",
            "",
            f"{v['value']:.1%}",
            f"<= {TARGETS['incremental_vs_full_cpu_at_l']:.0%}",
            _met(v["met"]),
        )
    scratch = (steps.get("peers_with_new_day") or {}).get("polars")
    if scratch:
        v = verdict.get("incremental day / polars notebook from scratch (CPU)", {})
        t.add_row(
            "polars notebook from scratch (+1 day)",
            _s(scratch.get("wall_s")),
            _s(scratch.get("cpu_s")),
            _gb(scratch.get("peak_rss_bytes")),
            "—" if v.get("value") is None else f"incremental run = {v['value']:.2f} x its CPU",
            f"incremental <= {TARGETS['incremental_vs_polars_cpu']} x",
            _met(v.get("met")),
        )
    second, full = steps.get("second_day_run"), steps.get("full_run")
    if second:
        share = (
            f"{second['wall_s'] / full['wall_s']:.0%} of full (CPU "
            f"{second['cpu_s'] / full['cpu_s']:.0%})"
            if full
            and full.get("wall_s")
            and full.get("cpu_s")
            and second.get("wall_s")
            and not second.get("exit_code")
            else "—"
        )
        add("second_day_run", "incremental run (+1 more day, same month)", share, "", None)
    compact = steps.get("compact_run")
    if compact:
        merged = ", ".join((compact.get("summary") or {}).get("months") or []) or "nothing"
        add("compact_run", "compaction (nightly: the ended month)", f"merged {merged}", "", None)
    if "noop_run" in steps:
        add("noop_run", "no-op run (nothing new)", "", "", None)
    for v in report["verdicts"]:
        if v["target"].startswith("published files' freed blocks"):
            t.add_row(
                f"  {v['target']}",
                "",
                "",
                "",
                f"{v['value']:,} blocks",
                "none",
                _met(v["met"]),
            )
    if "pages" in steps:
        p = steps["pages"]
        add("pages", f"pages (x{p.get('repeat', '?')} each)", "", "", None)
        for page, fig in (p.get("pages") or {}).items():
            v = verdict.get(f"page {page} query p95", {})
            run = fig.get("page_run") or {}
            t.add_row(
                f"  page {page}",
                # the whole script run (queries, pandas, Plotly): what a reader waits for
                f"run p50 {_s(run.get('p50_s'))}" if run else "",
                "",
                "",
                f"queries p50 {_s(fig['query']['p50_s'])} · p95 {_s(fig['query']['p95_s'])}",
                f"p95 <= {_s(TARGETS['page_p95_s'])}",
                _met(v.get("met")),
            )
    if "sql" in steps:
        q = steps["sql"]
        add(
            "sql",
            f"sql typical query (x{q.get('n', '?')})",
            f"p50 {_s(q.get('p50_s'))} · p95 {_s(q.get('p95_s'))}",
            "",
            None,
        )
    if "time_to_alert" in steps:
        add("time_to_alert", "time to alert (file → POST)", "", "", None)
        for path, label in (("cli", "nudgescope run"), ("sensor", "sensor + daemon")):
            v = verdict.get(f"time to alert ({path})", {})
            t.add_row(
                f"  {label}",
                "",
                "",
                "",
                _s(v.get("value")),
                f"<= {_s(TARGETS['alert_s_at_m'])} at m",
                _met(v.get("met")),
            )
    return t


def markdown(report: dict) -> str:
    """The same figures as `table`, as Markdown (for docs/performance.md)."""
    from rich.text import Text

    t = table(report)
    cols = [c.header for c in t.columns]
    cells = [[Text.from_markup(str(c)).plain for c in col._cells] for col in t.columns]
    lines = [
        f"**{Text.from_markup(str(t.title)).plain}**",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    for row in zip(*cells, strict=True):
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"_{t.caption}_"]
    return "\n".join(lines)
