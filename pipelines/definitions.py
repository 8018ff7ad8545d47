"""The Dagster code location target named in pyproject.toml ([tool.dg]) and by `make dagster`:
the definitions themselves are built in pipelines.orchestration.definitions."""

from pipelines.orchestration.definitions import defs

__all__ = ["defs"]
