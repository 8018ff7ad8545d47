"""Checks on the published marts: each spec table's grain, shares within [0, 1], and the daily
flag counts of mart.metrics against mart.sms_message_flags.

Each check is one SQL file under sql/checks returning a single row of counts of what is wrong;
the check passes when every count is 0 and reports the counts as metadata. Grain and
reconciliation checks are ERROR and blocking: when one fails, serve_db does not run and readers
keep the previous publish. Shares out of range are a warning with counts (published anyway).
They run after the marts in every run that builds them (also visible on the asset's Checks tab).

A check over a large table can be scoped by the change log (`pipelines.ingest.changes`): it then
looks only at the dates written since the last publish (a publish happens only after every
blocking check passed, so the rest was checked then), or at everything after a full build and
in the daily full-checks run.
"""

# No `from __future__ import annotations`: Dagster reads the context annotation at runtime.
from dataclasses import dataclass

import dagster as dg
from dagster_duckdb import DuckDBResource

from pipelines import sqlfiles
from pipelines.defs.ingest import POOL, full_checks
from pipelines.ingest import changes


@dataclass(frozen=True)
class MartCheck:
    name: str
    table: str  # the mart it is attached to
    sql: str  # sql/<sql>.sql: one row of counts, all 0 when the check passes
    description: str
    blocking: bool = True  # ERROR and blocking; False: a WARN with counts
    also_reads: tuple[str, ...] = ()  # other marts the SQL reads
    # 'schema.table' whose dates in the change log scope the SQL: it gets $scoped and, when
    # true, the temp table check_dates (d DATE)
    scoped_by: str | None = None


MART_CHECKS: tuple[MartCheck, ...] = (
    MartCheck(
        "one_row_per_message",
        "sms_message_flags",
        "checks/sms_message_flags_grain",
        "One row per message of core.sms_messages: message_id unique (among the messages of "
        "the dates written since the last publish), as many rows as core.sms_messages.",
        scoped_by="mart.sms_message_flags",
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


def _scope(con, table: str) -> bool:
    """Whether a check of `table` can look at the dates the change log names for it only (then
    in temp table check_dates; none when nothing was written since the last publish). Not
    after a full build, nor when a row without a date was written."""
    whole, dates = changes.pending(con).get(table, (False, set()))
    con.execute("create or replace temp table check_dates (d DATE)")  # the SQL names it
    if whole or None in dates:
        return False
    if dates:
        con.execute("insert into check_dates select unnest($d::date[])", {"d": sorted(dates)})
    return True


def evaluate(con, check: MartCheck, *, full: bool = False) -> dict[str, int]:
    """The counts of what is wrong, by name (all 0: the check passes). `full`: over whole
    tables, also for a check the change log can scope (the daily full-checks run)."""
    params = None
    if check.scoped_by:
        scoped = _scope(con, check.scoped_by)  # creates check_dates, which the SQL names
        params = {"scoped": scoped and not full}
    relation = sqlfiles.run(con, check.sql, params)
    names = [d[0] for d in relation.description]
    return {name: int(value or 0) for name, value in zip(names, relation.fetchone(), strict=True)}


@dg.multi_asset_check(
    specs=[_spec(c) for c in MART_CHECKS], can_subset=True, pool=POOL, name="mart_checks"
)
def mart_checks(context: dg.AssetCheckExecutionContext, duckdb: DuckDBResource):
    """Grain, shares and reconciliation of the published marts (sql/checks)."""
    full = full_checks(context)
    with duckdb.get_connection() as con:
        for key in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string()):
            check = _BY_KEY[key]
            counts = evaluate(con, check, full=full)
            yield dg.AssetCheckResult(
                asset_key=key.asset_key,
                check_name=key.name,
                passed=not any(counts.values()),
                severity=dg.AssetCheckSeverity.ERROR
                if check.blocking
                else dg.AssetCheckSeverity.WARN,
                metadata=counts,
            )
