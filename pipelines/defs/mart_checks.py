"""Checks on the published marts: each spec table's grain, shares within [0, 1], and the daily
flag counts of mart.metrics against mart.sms_message_flags.

Each check is one SQL file under sql/checks returning a single row of counts of what is wrong;
the check passes when every count is 0 and reports the counts as metadata. Grain and
reconciliation checks are ERROR and blocking: when one fails, serve_db does not run and readers
keep the previous publish. Shares out of range are a warning with counts (published anyway).
They run after the marts in every run that builds them (also visible on the asset's Checks tab).
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at runtime.
from dataclasses import dataclass

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import sqlfiles
from pipelines.defs.ingest import POOL


@dataclass(frozen=True)
class MartCheck:
    name: str
    table: str  # the mart it is attached to
    sql: str  # sql/<sql>.sql: one row of counts, all 0 when the check passes
    description: str
    blocking: bool = True  # ERROR and blocking; False: a WARN with counts
    also_reads: tuple[str, ...] = ()  # other marts the SQL reads


MART_CHECKS: tuple[MartCheck, ...] = (
    MartCheck(
        "one_row_per_message",
        "sms_message_flags",
        "checks/sms_message_flags_grain",
        "One row per core.sms_logs row: message_id unique, as many rows as core.sms_logs.",
    ),
    MartCheck(
        "unique_grain",
        "metrics",
        "checks/metrics_grain",
        "One row per metric, grain, period and segment.",
    ),
    MartCheck(
        "one_row_per_metric",
        "metric_catalog",
        "checks/metric_catalog_grain",
        "One row per metric; every metric of mart.metrics is in the catalog with its grain.",
        also_reads=("metrics",),
    ),
    MartCheck(
        "one_row_per_bill",
        "user_cycle",
        "checks/user_cycle_grain",
        "One row per bill.",
    ),
    MartCheck(
        "unique_grain",
        "volume_outcome_curve",
        "checks/volume_outcome_curve_grain",
        "One row per score band, reminders bucket and outcome.",
    ),
    MartCheck(
        "unique_grain",
        "experiment_effects",
        "checks/experiment_effects_grain",
        "One row per experiment, arm and outcome.",
    ),
    MartCheck(
        "flag_counts_match_messages",
        "metrics",
        "checks/metrics_flag_counts",
        "The daily flag counts (sms_duplicate … sms_marketing_without_consent, segment all) "
        "equal the flagged messages of mart.sms_message_flags on each local date.",
        also_reads=("sms_message_flags",),
    ),
    MartCheck(
        "rates_within_0_1",
        "metrics",
        "checks/rates_within_0_1",
        "Shares lie in [0, 1]: metrics with unit 'share 0-1', volume_outcome_curve rates and "
        "intervals, experiment_effects arm rates and p-values (a warning with counts).",
        blocking=False,
        also_reads=("metric_catalog", "volume_outcome_curve", "experiment_effects"),
    ),
)

_BY_KEY = {dg.AssetCheckKey(dg.AssetKey(["mart", c.table]), c.name): c for c in MART_CHECKS}


def _spec(check: MartCheck) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        check.name,
        asset=["mart", check.table],
        additional_deps=[dg.AssetKey(["mart", t]) for t in check.also_reads],
        blocking=check.blocking,
        description=check.description,
    )


def evaluate(con, check: MartCheck) -> dict[str, int]:
    """The counts of what is wrong, by name (all 0: the check passes)."""
    relation = sqlfiles.run(con, check.sql)
    names = [d[0] for d in relation.description]
    return {name: int(value or 0) for name, value in zip(names, relation.fetchone(), strict=True)}


@dg.multi_asset_check(
    specs=[_spec(c) for c in MART_CHECKS], can_subset=True, pool=POOL, name="mart_checks"
)
def mart_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    """Grain, shares and reconciliation of the published marts (sql/checks)."""
    with duckdb.get_connection() as con:
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
            check = _BY_KEY[key]
            counts = evaluate(con, check)
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=not any(counts.values()),
                severity=dg.AssetCheckSeverity.ERROR
                if check.blocking
                else dg.AssetCheckSeverity.WARN,
                metadata=counts,
            )
