"""Progress of the steps of a run, for whoever watches (the CLI's progress bars).

`nudgescope run` executes the Dagster job in its own process and thread, so the assets report
through this module-level hook; inside the Dagster UI nobody listens and reports are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

Reporter = Callable[[str, int, int], None]
_reporter: Reporter | None = None


def report(step: str, done: int, total: int) -> None:
    if _reporter is not None:
        _reporter(step, done, total)


@contextmanager
def listening(reporter: Reporter) -> Iterator[None]:
    global _reporter
    previous, _reporter = _reporter, reporter
    try:
        yield
    finally:
        _reporter = previous
