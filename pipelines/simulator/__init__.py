"""`nudgescope simulate`: a synthetic pay-later programme with planted effects and faults.

    from pipelines.simulator import simulate
    truth = simulate(tmp_path / "landing", scale="s", seed=7, dirty=True)

writes the nine sources of the data contract under `out` and `out/ground_truth.json`, and
returns the ground truth as a dict (keys documented in `pipelines/simulator/README.md`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.simulator.run import simulate

__all__ = ["simulate"]


def __getattr__(name: str):
    # Loaded on first use: the simulation needs numpy and polars (about 0.35 s to import), and
    # every `nudgescope` command imports this package's `params` for the simulate subcommand's
    # help, which must not cost a `nudgescope run` that import.
    if name == "simulate":
        from pipelines.simulator.run import simulate

        return simulate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
