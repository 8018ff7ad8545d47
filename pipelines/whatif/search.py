"""Search the policy grid: every filter rule on or off x promotion rewrite x daily cap x a
pre-due reminder cap per score band.

Every count and every expected change of a policy is a sum over score bands, and what a
policy does to a band's messages and bills depends only on that band's reminder cap (a user
has one band; a user-day is one user's). So the net value of a policy is the sum over bands of
the band's value under its own cap, and the best cap per band is found band by band: the full
grid (32 filter sets x 2 x 7 daily caps x 7^5 per-band caps) is searched exactly by evaluating
32 x 7 x 7 uniform policies once (counted in one query).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields, replace

import numpy as np

from pipelines.whatif import engine as E
from pipelines.whatif.estimate import Lin
from pipelines.whatif.policy import BANDS, DAILY_CAPS, MAX_REMINDER_CAP, Policy, Scope, Weights
from pipelines.whatif.rules import ALL_FILTERS

CAP_CHOICES: tuple[int | None, ...] = (None, *range(MAX_REMINDER_CAP + 1))
DAILY_CHOICES: tuple[int | None, ...] = (None, *DAILY_CAPS)
# value = sum(weight-derived factor * outcome), see engine._value
VALUE_OUTCOMES = (
    "on_time_repayments",
    "complaints",
    "regulator_complaints",
    "opt_outs",
    "violations",
    "messages",
)
BAND_KEYS = (*BANDS, "?")


def _factors(w: Weights) -> np.ndarray:
    return np.array(
        [
            w.on_time,
            -w.complaint,
            w.complaint - w.regulator_complaint,
            -w.opt_out,
            -w.violation,
            -w.message,
        ]
    )


@dataclass
class Candidate:
    policy: Policy
    evaluation: E.Evaluation
    value: dict[str, float]  # change, ci_low, ci_high of the net value
    messages_removed: int
    tied_with_best: bool = False


@dataclass
class Search:
    best: Candidate
    ranking: list[Candidate]  # the best per filter set, best first
    frontier: list[Candidate]  # max net value for at most that many messages removed
    sensitivity: dict[str, tuple[float | None, float | None]]  # weight -> (low, high) range
    grid_size: int


def _base_policies() -> dict[str, Policy]:
    out = {}
    for filters, dc, k in itertools.product(range(ALL_FILTERS + 1), DAILY_CHOICES, CAP_CHOICES):
        name = f"f{filters}_d{dc or 0}_k{'n' if k is None else k}"
        out[name] = Policy.with_filters(filters, max_pre_due_reminders=k, daily_cap=dc)
    return out


def search(query: E.QueryFn, inputs: E.Inputs, scope: Scope, weights: Weights) -> Search:
    base = _base_policies()
    counts = E.count(query, scope, base)
    q = inputs.quantities
    # X[combo, promo, band, cap, outcome]: point estimates of the outcomes that carry value
    combos = sorted({(p.filters(), p.daily_cap or 0) for p in base.values()})
    ci = {c: i for i, c in enumerate(combos)}
    X = np.zeros((len(combos), 2, len(BAND_KEYS), len(CAP_CHOICES), len(VALUE_OUTCOMES)))
    for name, p in base.items():
        for promo in (False, True):
            pol = replace(p, no_promo_in_reminders=promo)
            cnt = counts[name]
            if not promo:
                cnt = {k: {**v, "rewritten_promo": 0} for k, v in cnt.items()}
            ev = E.evaluate(inputs, pol, cnt, weights)
            for b, band in enumerate(BAND_KEYS):
                for o, outcome in enumerate(VALUE_OUTCOMES):
                    X[
                        ci[(p.filters(), p.daily_cap or 0)],
                        int(promo),
                        b,
                        CAP_CHOICES.index(p.max_pre_due_reminders),
                        o,
                    ] = ev.form(outcome, band=band).value(q)

    def best_of(w: Weights) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        v = X @ _factors(w)  # combo, promo, band, cap
        v[:, :, BAND_KEYS.index("?"), 1:] = -np.inf  # unknown users: no per-band cap
        caps = v.argmax(axis=3)  # best cap per band
        total = v.max(axis=3).sum(axis=2)  # combo, promo
        return total, caps, v

    total_v, caps, _ = best_of(weights)

    def policy_of(c: int, promo: int, caps_row: np.ndarray) -> Policy:
        filters, dc = combos[c]
        band_caps = {band: CAP_CHOICES[int(caps_row[b])] for b, band in enumerate(BANDS)}
        p = Policy.with_filters(filters, no_promo_in_reminders=bool(promo), daily_cap=dc or None)
        ks = set(band_caps.values())
        if len(ks) == 1:
            return replace(p, max_pre_due_reminders=ks.pop())
        return p.with_band_caps(band_caps)

    # the best policy of every (filter set, promo, daily cap), the overall best first
    order = np.dstack(np.unravel_index(np.argsort(-total_v, axis=None), total_v.shape))[0]
    chosen = [policy_of(int(c), int(pr), caps[c, pr]) for c, pr in order]
    # frontier candidates: those plus every uniform cap (below)
    pool = {**{f"best{i}": p for i, p in enumerate(chosen)}}
    cands = _candidates(query, inputs, scope, weights, pool)
    best = cands[0]
    for c in cands:
        diff = Lin().add(c.evaluation.form("net_value_yuan"))
        diff.add(best.evaluation.form("net_value_yuan"), -1.0)
        iv = diff.interval(inputs.quantities)
        c.tied_with_best = c is best or iv["ci_low"] <= 0 <= iv["ci_high"]
    # frontier over every uniform policy and the per-band bests (point estimates), then
    # intervals for the frontier points only
    points = []
    for name, pr in itertools.product(base, (False, True)):
        p = replace(base[name], no_promo_in_reminders=pr)
        f_i = ci[(p.filters(), p.daily_cap or 0)]
        k_i = CAP_CHOICES.index(p.max_pre_due_reminders)
        v = X[f_i, int(p.no_promo_in_reminders), :, k_i, :] @ _factors(weights)
        removed = sum(
            sum(c.get(f"removed_{r}", 0) for r in E.REMOVING) for c in counts[name].values()
        )
        points.append((removed, float(v.sum()), p))
    for c in cands:
        points.append((c.messages_removed, c.value["change"], c.policy))
    points.sort(key=lambda t: (t[0], -t[1]))
    front, top = [], -np.inf
    for _removed, v, p in points:
        if v > top + 1e-9:
            front.append(p)
            top = v
    frontier = _candidates(
        query, inputs, scope, weights, {f"fr{i}": p for i, p in enumerate(front)}
    )
    frontier.sort(key=lambda c: c.messages_removed)
    sens = _sensitivity(weights, best_of, total_v)
    grid = (ALL_FILTERS + 1) * 2 * len(DAILY_CHOICES) * len(CAP_CHOICES) ** len(BANDS)
    return Search(best, cands, frontier, sens, grid)


def _candidates(query, inputs, scope, weights, pool: dict[str, Policy]) -> list[Candidate]:
    counts = E.count(query, scope, pool)
    out = []
    for name, p in pool.items():
        ev = E.evaluate(inputs, p, counts[name], weights)
        out.append(
            Candidate(
                p,
                ev,
                ev.form("net_value_yuan").interval(inputs.quantities),
                -int(round(ev.form("messages").value(inputs.quantities))),
            )
        )
    out.sort(key=lambda c: -c.value["change"])
    return out


def _sensitivity(
    weights: Weights, best_of, total_v
) -> dict[str, tuple[float | None, float | None]]:
    """Per weight: the range of its value (others fixed) over which the winner stays the same
    (None: no change up to 0, or up to 100 x the weight)."""
    win = np.unravel_index(int(np.argmax(total_v)), total_v.shape)
    _, caps0, _ = best_of(weights)
    key0 = (win, tuple(caps0[win].tolist()))

    def same(w: Weights) -> bool:
        t, caps, _ = best_of(w)
        k = np.unravel_index(int(np.argmax(t)), t.shape)
        return (k, tuple(caps[k].tolist())) == key0

    out: dict[str, tuple[float | None, float | None]] = {}
    for f in fields(Weights):
        w0 = getattr(weights, f.name)
        lo: float | None = None
        hi: float | None = None
        # upward: find a factor where the winner changes, then bisect
        top = max(w0, 1e-6) * 100
        if not same(replace(weights, **{f.name: top})):
            a, b = w0, top
            for _ in range(40):
                m = (a + b) / 2
                a, b = (m, b) if same(replace(weights, **{f.name: m})) else (a, m)
            hi = a
        if w0 > 0 and not same(replace(weights, **{f.name: 0.0})):
            a, b = 0.0, w0
            for _ in range(40):
                m = (a + b) / 2
                a, b = (a, m) if same(replace(weights, **{f.name: m})) else (m, b)
            lo = b
        out[f.name] = (lo, hi)
    return out
