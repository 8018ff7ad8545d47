"""The marts: the SQL files of sql/marts, built from core in the order their lineage gives,
incrementally where a file allows it.

- `build` — settings, the build order and `build_marts` / `run_build` (full or incremental,
  DuckDB or Spark), the dashboard aggregates' scoped update;
- `state` — what the marts were last built from (schema `mart_build`), the change set of
  core and the scoped update of the message-level flags and per-day tables;
- `daily` — the per-local-date update of the two SMS marts that read core directly
  (`sms_gateway_reconciliation`, `sms_daily_delivery`);
- `by_date` — the per-local-date update of `mart.bnpl_orders` and the checkout days;
- `bills` — the per-user update of `mart.bill_state` (the users whose bills changed);
- `cycle` — the per-bill update of `mart.user_cycle` (the bills whose inputs changed);
- `diff` — the keys whose rows differ between two versions of a table (a join on the key);
- `preferences` — the per-user update of `mart.preference_users`;
- `keyed` — what the three updates by key share: the checks before a scope, full or scope;
- `lineage` — what each file writes and reads (parsed SQL) and the build order;
- `rewrite` — a file run over scoped input: table references swapped on the parsed SQL;
- `parse_cache` — what `lineage` and `rewrite` derive from a file, kept on disk between
  processes (keyed by the text, the arguments and the deriving code);
- `temp` — every temp table of a build, created and dropped in one place.

The names below are the package's public API; import them from `pipelines.marts`.
"""

from pipelines.marts.build import (
    AGG_FILES,
    BUILD_ORDER,
    BUILT_TABLES,
    DEFAULT_PROMO_KEYWORDS,
    HELPER_SCHEMA,
    HELPER_TABLES,
    MART_FILES,
    MART_SCHEMA,
    MART_TABLES,
    SPEC_TABLES,
    BuildPlan,
    MetricSettings,
    build_marts,
    build_plan,
    built_row_counts,
    run_build,
    table_inputs,
    table_row_counts,
)
from pipelines.marts.lineage import LineageError, MartFile, build_order, parse_file
from pipelines.marts.rewrite import RewriteError, scoped_insert
from pipelines.marts.state import SCHEMA as STATE_SCHEMA
from pipelines.marts.state import SCOPED_FILES, FlagsPlan, invalidate

__all__ = [
    "AGG_FILES",
    "BUILD_ORDER",
    "BUILT_TABLES",
    "DEFAULT_PROMO_KEYWORDS",
    "HELPER_SCHEMA",
    "HELPER_TABLES",
    "MART_FILES",
    "MART_SCHEMA",
    "MART_TABLES",
    "SCOPED_FILES",
    "SPEC_TABLES",
    "STATE_SCHEMA",
    "BuildPlan",
    "FlagsPlan",
    "LineageError",
    "MartFile",
    "MetricSettings",
    "RewriteError",
    "build_marts",
    "build_order",
    "build_plan",
    "built_row_counts",
    "invalidate",
    "parse_file",
    "run_build",
    "scoped_insert",
    "table_inputs",
    "table_row_counts",
]
