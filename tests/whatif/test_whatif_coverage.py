"""Do the engine's 95 % intervals cover the planted truth?

Four simulated programmes at scale `s` (seeds 1-4) run through the real pipeline; for five
candidate policies each (20 seed x policy pairs) the engine's intervals for on-time
repayments, 30+ DPD bills and complaints are compared with `ground_truth.json`'s `policies`
(the change the simulator's planted probabilities imply, pipelines/simulator/policy_truth.py).
A pair counts as covered when all three intervals contain the truth. Slow (about 40 s a seed).
"""

from __future__ import annotations

import os
import statistics

import pytest

from pipelines.serve.sandbox import connect
from pipelines.whatif import engine as E
from pipelines.whatif.policy import Policy, Scope, Weights

SEEDS = (1, 2, 3, 4)
POLICIES = {
    "reminder_cap_0": Policy(max_pre_due_reminders=0),
    "reminder_cap_1": Policy(max_pre_due_reminders=1),
    "reminder_cap_by_band_A1_B1_C2_D2_E2": Policy(
        reminder_cap_by_band=(("A", 1), ("B", 1), ("C", 2), ("D", 2), ("E", 2))
    ),
    "daily_cap_3": Policy(daily_cap=3),
    "hygiene": Policy(
        block_marketing_without_permission=True, suppress_duplicates=True, quiet_hours=True
    ),
}
OUTCOMES = ("on_time_repayments", "dpd30_bills", "complaints")


def _programme(root, seed):
    from pipelines.orchestration.run import run_pipeline
    from pipelines.simulator import simulate

    truth = simulate(root / "landing", scale="s", seed=seed)
    previous = os.environ.get("NUDGESCOPE_DATA_DIR")
    try:
        summary = run_pipeline(root)
    finally:
        if previous is None:
            os.environ.pop("NUDGESCOPE_DATA_DIR", None)
        else:
            os.environ["NUDGESCOPE_DATA_DIR"] = previous
    assert summary.success, summary.error
    return truth, root / "serve.duckdb"


@pytest.mark.slow
def test_intervals_cover_the_planted_truth(tmp_path_factory, monkeypatch):
    monkeypatch.delenv("NUDGESCOPE_SERVE", raising=False)
    covered, pairs, widths, lines = 0, 0, [], []
    for seed in SEEDS:
        truth, serve = _programme(tmp_path_factory.mktemp(f"seed{seed}") / "data", seed)
        con = connect(serve)
        try:
            query = E.duckdb_query(con)
            first, as_of = con.execute(
                "select (select min(local_date) from mart.sms_daily_flags), "
                "(select as_of from main.meta)"
            ).fetchone()
            scope = Scope(first, as_of)
            inputs = E.load_inputs(query, scope)
            counts = E.count(query, scope, POLICIES)
            for name, policy in POLICIES.items():
                ev = E.evaluate(inputs, policy, counts[name], Weights())
                want = truth["policies"]["changes"][name]
                ok = True
                for o in OUTCOMES:
                    iv = ev.form(o).interval(inputs.quantities)
                    hit = iv["ci_low"] - 1e-9 <= want[o] <= iv["ci_high"] + 1e-9
                    ok &= hit
                    if o == "on_time_repayments" and abs(want[o]) > 1:
                        widths.append((iv["ci_high"] - iv["ci_low"]) / abs(want[o]))
                    lines.append(
                        f"seed {seed} {name:<36} {o:<19} truth {want[o]:9.2f}  "
                        f"est {iv['change']:9.2f} [{iv['ci_low']:9.2f}, {iv['ci_high']:9.2f}]"
                        f"{'' if hit else '  MISS'}"
                    )
                covered += ok
                pairs += 1
        finally:
            con.close()
    print("\n".join(lines))
    print(
        f"covered {covered} of {pairs} pairs; median on-time interval width / |planted effect| "
        f"{statistics.median(widths):.2f}"
    )
    assert pairs == 20
    assert covered >= 18, "\n".join(lines)
