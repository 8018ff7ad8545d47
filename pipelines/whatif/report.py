"""One policy's what-if as a plain dict (the JSON of `nudgescope whatif`) and as a text table."""

from __future__ import annotations

from pipelines.whatif import engine as E
from pipelines.whatif.policy import Policy, Scope, Weights
from pipelines.whatif.rules import REMOVING


def _iv(form, q) -> dict[str, float]:
    return {k: round(v, 2) for k, v in form.interval(q).items()}


def whatif(query: E.QueryFn, scope: Scope, policy: Policy, weights: Weights) -> dict:
    """Evaluate `policy` on `scope`: the JSON document of `nudgescope whatif`."""
    inputs = E.load_inputs(query, scope)
    counts = E.count_from(inputs.tables, {"policy": policy})["policy"]
    ev = E.evaluate(inputs, policy, counts, weights)
    return document(inputs, ev, weights)


def document(inputs: E.Inputs, ev: E.Evaluation, weights: Weights) -> dict:
    q, scope = inputs.quantities, inputs.scope
    removed = ev.removed()
    per_month = {}
    for month in scope.months():
        rem = {r: sum(c.get(f"removed_{r}", 0) for (m, _), c in ev.counts.items() if m == month)
               for r in REMOVING}  # fmt: skip
        per_month[month] = {
            "messages_in_scope": sum(
                c.get("messages", 0) for (m, _), c in ev.counts.items() if m == month
            ),  # fmt: skip
            "messages_removed": {**rem, "total": sum(rem.values())},
            "outcomes": {o: _iv(ev.form(o, month=month), q) for o in E.OUTCOMES},
        }
    exp = inputs.experiment
    return {
        "period": {
            "from": scope.start.isoformat(),
            "to": scope.end.isoformat(),
            "months": scope.length_months(),
            "calendar_months": scope.months(),
        },
        "scope": {"bands": list(scope.bands) or None, "experiment": scope.experiment},
        "policy": ev.policy.as_dict(),
        "weights": weights.as_dict(),
        "messages_in_scope": ev.count_total("messages"),
        "messages_removed": {**removed, "total": sum(removed.values())},
        "messages_removed_alone": ev.alone(),
        "messages_rewritten": ev.count_total("rewritten_promo"),
        "outcomes": {o: _iv(ev.form(o), q) for o in E.OUTCOMES},
        "per_month": per_month,
        "experiment": None
        if exp is None
        else {
            "experiment_id": exp.experiment_id,
            "cadence_by_arm": {a or "(no arm)": c for a, c in exp.cadence.items()},
            "rates_from": {b: s for b, s in sorted(exp.source.items())},
        },
        "complaints_attributed": {
            f"{g}{' (regulator)' if r else ''}": n
            for (g, r), n in sorted(inputs.complaints.items())
        },
        "opt_outs_in_scope": inputs.opt_outs,
        "notes": ev.notes,
    }


OUTCOME_LABELS = {
    "on_time_repayments": "on-time repayments",
    "dpd30_bills": "30+ DPD bills",
    "complaints": "complaints",
    "regulator_complaints": "  of which via regulator",
    "opt_outs": "opt-outs",
    "violations": "compliance violations",
    "messages": "messages",
    "sms_cost_yuan": "SMS cost (yuan)",
    "net_value_yuan": "net value (yuan)",
}


def whole(x: float) -> str:
    """A signed whole number; zero (also a rounded -0.4) without a sign."""
    n = int(round(x))
    return f"{n:+,}" if n else "0"


def _fmt(iv: dict[str, float]) -> str:
    c, lo, hi = iv["change"], iv["ci_low"], iv["ci_high"]
    if lo == hi == c:
        return whole(c)
    return f"{whole(c)} [{whole(lo)}, {whole(hi)}]"


def table(doc: dict) -> str:
    """The document as a text table: the period, what is removed, every outcome with its 95 %
    interval in total and per month (whole counts)."""
    p = doc["period"]
    lines = [
        f"period {p['from']} .. {p['to']} ({p['months']} months); "
        f"messages in scope {doc['messages_in_scope']:,}",
        "",
        "messages removed (each counted once, under the first rule):",
    ]
    for rule, n in doc["messages_removed"].items():
        if rule != "total":
            lines.append(
                f"  {rule:<16} {n:>10,}   (alone: {doc['messages_removed_alone'][rule]:,})"
            )
    lines.append(f"  {'total':<16} {doc['messages_removed']['total']:>10,}")
    if doc["messages_rewritten"]:
        lines.append(f"  reminders sent without their promotion: {doc['messages_rewritten']:,}")
    months = list(doc["per_month"])
    head = ["expected change [95% interval]", "whole period", *months]
    rows = [head]
    for o, label in OUTCOME_LABELS.items():
        rows.append(
            [
                label,
                _fmt(doc["outcomes"][o]),
                *(_fmt(doc["per_month"][m]["outcomes"][o]) for m in months),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines.append("")
    for i, r in enumerate(rows):
        lines.append("  ".join(c.ljust(widths[j]) if j == 0 else c.rjust(widths[j])
                               for j, c in enumerate(r)))  # fmt: skip
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    if doc["experiment"]:
        e = doc["experiment"]
        cad = ", ".join(f"{a}={c}" for a, c in e["cadence_by_arm"].items())
        lines += [
            "",
            f"reminder effects from experiment {e['experiment_id']} (due reminders: {cad})",
        ]
    for n in doc["notes"]:
        lines.append(f"note: {NOTES.get(n, n)}")
    return "\n".join(lines)


NOTES = {
    "no_experiment": "no experiment with arms of different reminder cadences in scope",
    "cap_effect_not_estimated": "the reminder cap's effect on repayment, complaints and opt-outs "
    "is not estimated (no experiment in scope); only its messages are counted",
}
