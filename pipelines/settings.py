"""Where things live. Every path comes from an environment variable with a default under data/.

Tests point NUDGESCOPE_DATA_DIR at a temporary folder so they never touch the real data/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

REPO_ROOT = Path(__file__).resolve().parent.parent
SQL_DIR = REPO_ROOT / "sql"

TIMEZONE = "Asia/Shanghai"
# The first dt folder a run loads; the last is the current day in TIMEZONE (so today's exports
# load). See dt_bounds.
FIRST_DT = "2020-01-01"


def dt_bounds(now: datetime | None = None) -> tuple[str, str]:
    """The dt folders a run may load: FIRST_DT … the current day in TIMEZONE (ISO dates).

    The planner ignores (and reports) files outside them; staging with no dt range in its
    run's tags (materialized from the UI) covers all of them.
    """
    now = now or datetime.now(ZoneInfo(TIMEZONE))
    return FIRST_DT, now.astimezone(ZoneInfo(TIMEZONE)).date().isoformat()


@dataclass(frozen=True)
class Paths:
    data_dir: Path

    @property
    def landing(self) -> Path:
        return Path(os.environ.get("NUDGESCOPE_LANDING", self.data_dir / "landing"))

    @property
    def warehouse(self) -> Path:
        return Path(os.environ.get("NUDGESCOPE_WAREHOUSE", self.data_dir / "warehouse.duckdb"))

    @property
    def serve(self) -> Path:
        return Path(os.environ.get("NUDGESCOPE_SERVE", self.data_dir / "serve.duckdb"))

    @property
    def dagster_home(self) -> Path:
        return self.data_dir / "dagster"

    @property
    def bench(self) -> Path:
        return self.data_dir / "bench"


def data_dir() -> Path:
    return Path(os.environ.get("NUDGESCOPE_DATA_DIR", REPO_ROOT / "data")).resolve()


def paths(data: Path | str | None = None) -> Paths:
    """Paths for a data directory (default: $NUDGESCOPE_DATA_DIR, else <repo>/data)."""
    return Paths(Path(data).resolve() if data is not None else data_dir())
