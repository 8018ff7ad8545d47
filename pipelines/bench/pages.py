"""Time every dashboard page's queries: the real pages, run by Streamlit's AppTest.

Each page script (`dashboard/views/*.py`, behind the `dashboard/app.py` router with its shared
sidebar) runs with its default filters and widgets. `dashboard.data.query` sends every query to
`_cached`, an `st.cache_data` function; for the benchmark `_cached` is replaced by its undecorated
function (`_cached.__wrapped__`), wrapped in a timer, so every run really opens the published
file and runs the SQL. A page's figure is the sum of its query times in one run (the shared
sidebar's queries included, as the app runs them on every page); it is repeated `repeat` times.
The run's whole wall time (Streamlit script, pandas, Plotly) is recorded alongside.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from pipelines.bench.stats import summarize
from pipelines.settings import REPO_ROOT

APP = REPO_ROOT / "dashboard" / "app.py"


def page_names() -> list[str]:
    """The pages the app's navigation registers (views/ also holds sections of pages)."""
    return sorted(re.findall(r'st\.Page\(\s*"views/(\w+)\.py"', APP.read_text(encoding="utf-8")))


def time_pages(db: Path, repeat: int) -> dict:
    os.environ["NUDGESCOPE_SERVE"] = str(db)
    from streamlit.testing.v1 import AppTest

    from dashboard.data import connection
    from pipelines.serve.sandbox import connect

    inner = getattr(connection._cached, "__wrapped__", None)
    if inner is None:  # pragma: no cover - depends on the Streamlit version
        raise RuntimeError("dashboard.data.connection._cached exposes no undecorated function")
    log: list[tuple[str, float]] = []

    def timed(sql, params, version, path):
        t0 = time.perf_counter()
        try:
            return inner(sql, params, version, path)
        finally:
            log.append((sql, time.perf_counter() - t0))

    connection._cached = timed
    # what one query pays just to open and close the published file
    opens = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        connect(db).close()
        opens.append(time.perf_counter() - t0)

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.session_state["lang"] = "en"
    at.run()
    pages = {}
    slowest: dict[str, list[float]] = {}
    for name in page_names():
        at.switch_page(f"views/{name}.py")
        query_s, run_s, counts, errors = [], [], [], []
        for _ in range(repeat):
            log.clear()
            t0 = time.perf_counter()
            at.run()
            run_s.append(time.perf_counter() - t0)
            errors = [e.message for e in at.exception]
            query_s.append(sum(s for _, s in log))
            counts.append(len(log))
            for sql, s in log:
                slowest.setdefault(f"{name}: {' '.join(sql.split())[:160]}", []).append(s)
        pages[name] = {
            "queries_per_run": max(counts),
            "query": summarize(query_s),
            "page_run": summarize(run_s),
            "errors": errors,
        }
    per_query = sorted(
        ({"query": k, **summarize(v)} for k, v in slowest.items()),
        key=lambda q: q["p95_s"],
        reverse=True,
    )
    return {
        "repeat": repeat,
        "uncached_via": "dashboard.data.connection._cached.__wrapped__",
        "connect_close": summarize(opens),
        "pages": pages,
        "slowest_queries": per_query[:15],
    }
