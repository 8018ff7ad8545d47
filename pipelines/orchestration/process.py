"""Settings of the Python processes that execute runs: `nudgescope run` (set as it starts, before
Dagster is imported) and the run workers the daemon launches (set when they load the code
location, pipelines.orchestration.definitions).

Python's cyclic garbage collector runs a pass every 700 net allocations of container objects.
A run allocates millions of them in Dagster (events, records, SQLAlchemy rows) while the data
itself is in DuckDB: on a day's run at m the collector made about 690 passes costing
0.6-0.7 CPU-s, most of them young-generation passes that found next to nothing, and five full
ones that walked every object of the imported code. With the first threshold at 50,000, set as
`nudgescope run` starts, it makes about 146 passes (most of them while the command's own
modules are imported, before it can set anything), 0.16 CPU-s
(docs/performance-history.md, item 51).
Memory is not the concern: the objects that die in cycles between passes are small next to
DuckDB's buffers.
"""

from __future__ import annotations

import gc

# young-generation pass after this many net container allocations; older generations every
# 20 and 100 passes of the one below (Python's defaults: 700, 10, 10)
GC_THRESHOLDS = (50_000, 20, 100)


def fewer_gc_passes() -> None:
    """Raise the collector's thresholds to GC_THRESHOLDS (never lowers one set higher)."""
    current = gc.get_threshold()
    gc.set_threshold(*(max(a, b) for a, b in zip(current, GC_THRESHOLDS, strict=True)))
