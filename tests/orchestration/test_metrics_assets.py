"""The mart assets: materialize on a temporary warehouse with run configuration, and check
that the settings used land in mart.run_context and the metadata carries the row counts."""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster_duckdb import DuckDBResource

from pipelines.defs.marts import HELPER_ASSET_KEYS, MART_ASSET_KEYS, marts
from pipelines.defs.spark import SparkResource
from pipelines.marts import HELPER_TABLES, MART_TABLES
from tests.fixtures.metrics.warehouse import Warehouse


def test_marts_asset_materializes_with_config(tmp_path):
    path = str(tmp_path / "warehouse.duckdb")
    w = Warehouse(as_of="2024-03-31", database=path)
    w.add("users", user_id="u1")
    for i, hour in enumerate([9, 10, 11]):
        w.add("sms_logs", user_id="u1", sent_at=f"2024-03-05 {hour:02d}:00:00+08",
              template_code=f"T{i}")  # fmt: skip
    w.con.close()

    result = dg.materialize(
        [marts],
        # the spark resource starts no JVM unless the spark engine is chosen
        resources={"duckdb": DuckDBResource(database=path), "spark": SparkResource()},
        run_config={"ops": {"marts": {"config": {"daily_cap": 2, "promo_keywords": ["到期"]}}}},
    )
    assert result.success
    materialized = {
        m.materialization.asset_key: m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    # the published marts and the intermediate tables (schema mart_int), each its own asset
    assert set(materialized) == set(MART_ASSET_KEYS) | set(HELPER_ASSET_KEYS)
    assert dg.AssetKey(["mart_int", "user_scopes"]) in materialized
    flags = materialized[dg.AssetKey(["mart", "sms_message_flags"])]
    assert flags["dagster/row_count"].value == 3

    con = duckdb.connect(path, read_only=True)
    # three messages on one day with a cap of 2: the third is over the cap
    assert con.execute(
        "select count(*) filter (where is_over_daily_cap) from mart.sms_message_flags"
    ).fetchall() == [(1,)]
    assert con.execute(
        "select cast(as_of as varchar), daily_cap, duplicate_window_minutes, promo_keywords "
        "from mart.run_context"
    ).fetchall() == [("2024-03-31", 2, 10, ["到期"])]
    listed = con.execute("select table_name from duckdb_tables() where schema_name = 'mart'")
    tables = {r[0] for r in listed.fetchall()}
    assert tables == set(MART_TABLES)
    listed = con.execute("select table_name from duckdb_tables() where schema_name = 'mart_int'")
    assert {f"mart_int.{r[0]}" for r in listed.fetchall()} == set(HELPER_TABLES)


def test_mart_lineage_reaches_every_core_source():
    upstream = {dep.asset_key for spec in marts.specs for dep in spec.deps}
    # run_context follows every core table: the nine, the optional sms_preferences and the
    # gateways' receipts
    assert {k for k in upstream if k.path[0] == "core"} == {
        dg.AssetKey(["core", s])
        for s in ("users", "experiment_assignments", "checkout_sessions", "orders", "bills",
                  "repayments", "sms_logs", "opt_outs", "complaints", "sms_preferences",
                  "sms_receipts")
    }  # fmt: skip
    specs = {spec.key: spec for spec in marts.specs}

    def deps(table: str, schema: str = "mart") -> set[dg.AssetKey]:
        return {d.asset_key for d in specs[dg.AssetKey([schema, table])].deps}

    # user_cycle counts the flags through the intermediate per-user-day and per-bill tables
    assert {
        dg.AssetKey(["mart_int", "sms_user_days"]),
        dg.AssetKey(["mart_int", "sms_bill_reminders"]),
    } <= (deps("user_cycle"))
    assert dg.AssetKey(["mart", "sms_message_flags"]) in deps("sms_user_days", "mart_int")
    assert dg.AssetKey(["mart", "sms_message_flags"]) in deps("sms_bill_reminders", "mart_int")
    # the five scoped marts read the experiment fan-out from one intermediate table
    for table in ("sms_daily_flags", "sms_day_hour", "sms_non_permitted", "opt_outs_daily",
                  "policy_cap_histogram"):  # fmt: skip
        assert dg.AssetKey(["mart_int", "user_scopes"]) in deps(table), table
