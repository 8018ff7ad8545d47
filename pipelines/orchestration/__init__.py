"""Orchestration: what a run has to do (planner), the one job that does it (jobs), what starts
it under the Dagster daemon (automation) and `nudgescope run` as a library call (run)."""
