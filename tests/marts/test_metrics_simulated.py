"""The marts on the simulator's output, through the real pipeline (landing -> Dagster run ->
core -> marts): every injected fault count equals the matching flag count, the planted
reminder-cadence effects fall inside their 95 % intervals, and the injected duplicate-send
incidents are found.

Scale: 2 000 users x 3 months (the simulator's "s" size, seed 20250101). The arms then hold
~240-270 evaluable bills each, so the Wald half-width of an on-time difference is ~0.05
against planted effects of 0.07-0.09: the intervals are informative (they exclude 0) while
the whole module takes ~2 CPU-minutes (about 4.5 minutes wall time on the shared,
loaded two-core machine it was written on).
"""

from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from pipelines.marts import DEFAULT_PROMO_KEYWORDS
from pipelines.orchestration.run import run_pipeline
from pipelines.serve.segments import open_published
from pipelines.simulator import simulate

pytestmark = pytest.mark.slow

USERS, MONTHS, SEED = 2_000, 3, 20250101

FLAG_OF_FAULT = {
    "duplicate": "is_duplicate",
    "quiet_hours": "is_quiet_hours",
    "after_opt_out": "is_after_opt_out",
    "over_daily_cap": "is_over_daily_cap",
    "marketing_in_service": "is_marketing_in_service",
    "marketing_without_consent": "is_marketing_without_consent",
    "after_settlement": "is_after_settlement",
    "collection_before_due": "is_collection_before_due",
    "against_preference": "is_against_preference",
}


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    data = tmp_path_factory.mktemp("simulated") / "data"
    truth = simulate(data / "landing", users=USERS, months=MONTHS, seed=SEED)
    previous = os.environ.get("NUDGESCOPE_DATA_DIR")
    try:
        summary = run_pipeline(data)
    finally:
        if previous is None:
            os.environ.pop("NUDGESCOPE_DATA_DIR", None)
        else:
            os.environ["NUDGESCOPE_DATA_DIR"] = previous
    assert summary.success, summary.error
    con = open_published(data / "serve.duckdb")
    yield truth, con
    con.close()


def test_as_of_and_settings_are_published(simulated):
    truth, con = simulated
    assert con.execute("select cast(as_of as varchar) from mart.run_context").fetchall() == [
        (truth["as_of"],)
    ]
    # the settings the marts used travel into the published meta row
    as_of, settings = con.execute("select cast(as_of as varchar), settings from meta").fetchone()
    assert as_of == truth["as_of"]
    assert json.loads(settings) == {
        "duplicate_window_minutes": 10,
        "quiet_start_hour": 22,
        "quiet_end_hour": 8,
        "daily_cap": 3,
        "promo_keywords": list(DEFAULT_PROMO_KEYWORDS),
        "incident_min_duplicates": 5,
        "incident_rate_multiple": 5.0,
    }


def test_fault_counts_equal_flag_counts(simulated):
    truth, con = simulated
    for fault, flag in FLAG_OF_FAULT.items():
        # the log's messages; the sends only the gateway's receipts show are checked below
        got = con.execute(
            f"select count(*) filter (where {flag}) from mart.sms_message_flags "
            "where origin = 'log'"
        )
        assert got.fetchall()[0][0] == truth["faults"][fault], fault
    # every fault kind actually occurs, so the equalities above are not 0 == 0
    assert all(truth["faults"][fault] > 0 for fault in FLAG_OF_FAULT)


def test_bill_outcomes_equal_the_simulated_ones(simulated):
    truth, con = simulated
    hint = truth["metrics_hint"]
    got = con.execute(
        "select count(on_time), count(*) filter (where on_time), "
        "count(dpd30), count(*) filter (where dpd30) from mart.user_cycle"
    ).fetchall()[0]
    assert got == (
        hint["bills_evaluable"],
        hint["bills_on_time"],
        hint["dpd30"]["matured_bills"],
        hint["dpd30"]["dpd_bills"],
    )


def test_experiment_recovers_planted_effects(simulated):
    truth, con = simulated
    experiment = truth["experiment"]
    rows = con.execute(
        "select arm, n_arm, rate_arm, n_control, diff, ci_low, ci_high, p_value "
        "from mart.experiment_effects where experiment_id = ? and outcome = 'on_time'",
        [experiment["experiment_id"]],
    ).fetchall()
    arms = {name: spec for name, spec in experiment["arms"].items() if name != "control"}
    assert {r[0] for r in rows} == set(arms)
    for arm, n_arm, rate_arm, n_control, diff, low, high, p_value in rows:
        spec = arms[arm]
        # the same bills as the simulator's estimand: amount > 0, due before as_of
        assert n_arm == spec["evaluable_bills"]
        assert n_control == experiment["arms"]["control"]["evaluable_bills"]
        assert rate_arm == pytest.approx(spec["observed_on_time"] / spec["evaluable_bills"])
        effect = spec["true_effect_vs_control"]
        assert low < diff < high
        assert low <= effect <= high, (arm, effect, low, high)
        # informative: narrower than the effect itself, and away from 0
        assert high - low < 2 * effect
        assert low > 0 and p_value < 0.05


def test_injected_duplicate_incidents_are_found(simulated):
    truth, con = simulated
    injected = truth["injected"]["duplicate_incidents"]
    found = con.execute(
        "select started_at, ended_at, duplicate_messages, templates from mart.duplicate_incidents"
    ).fetchall()
    assert injected and len(found) == len(injected)
    for incident in injected:
        start = datetime.fromisoformat(incident["window_start"])
        end = datetime.fromisoformat(incident["window_end"])
        overlapping = [f for f in found if f[0] <= end and f[1] >= start]
        assert len(overlapping) == 1, incident
        _, _, duplicates, templates = overlapping[0]
        assert duplicates > 0
        assert set(templates) <= set(incident["templates"])


def test_gateway_receipts_match_the_ground_truth(simulated):
    """Every count of the simulated receipts (ground_truth.json `receipts`) is what the
    pipeline finds: receipts per format, matched and unmatched, messages with and without a
    receipt, the gateway's retries (each a duplicate; no other fault of its own), contradictions,
    and the final delivery of the log's messages."""
    truth, con = simulated
    r = truth["receipts"]
    per_format = dict(
        con.execute(
            "select format, sum(rows_loaded) from ingest.file_ledger "
            "where source = 'sms_receipts' group by format"
        ).fetchall()
    )
    assert per_format == {f: n for f, n in r["receipts_by_format"].items() if n}
    assert con.execute(
        "select count(*) filter (where status = 'failed'), sum(rows_quarantined) "
        "from ingest.file_ledger where source = 'sms_receipts'"
    ).fetchone() == (0, 0)
    got = con.execute(
        "select sum(log_messages), sum(receipts), sum(unmatched_receipts), "
        "sum(log_messages_with_receipt), sum(log_messages_without_receipt), "
        "sum(gateway_only_sends), sum(gateway_only_duplicates), sum(contradicted) "
        "from mart.sms_gateway_reconciliation"
    ).fetchone()
    assert got == (
        r["log_messages"],
        r["receipts"],
        r["unmatched_receipts"],
        r["log_messages_with_receipt"],
        r["log_messages_without_receipt"],
        r["gateway_only_sends"],
        r["gateway_only_duplicates"],
        r["contradicted"],
    )
    assert r["gateway_only_sends"] > 0 and r["contradicted"] > 0 and r["late_receipts"] > 0
    assert r["unmatched_receipts"] > 0 and r["pending_receipts"] > 0
    # the gateway's retries are duplicates and no other fault of the send itself
    six = list(FLAG_OF_FAULT.values())[:6]
    flags = ", ".join(f"count(*) filter (where {flag})" for flag in six)
    gateway = con.execute(
        f"select count(*), {flags} from mart.sms_message_flags where origin = 'gateway'"
    ).fetchone()
    assert gateway == (r["gateway_only_sends"], r["gateway_only_sends"], 0, 0, 0, 0, 0)
    # (after settlement, collection before due and against a setting depend on the bill's and
    # the user's state when the retry went out, minutes after its send: they are not compared)
    final = dict(
        con.execute(
            "select delivery_status, count(*) from core.sms_messages "
            "where origin = 'log' and receipts > 0 group by 1"
        ).fetchall()
    )
    assert final == r["log_messages_final_status"]
