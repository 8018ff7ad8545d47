"""Search the policy grid: every filter rule on or off x promotion rewrite x daily cap x a
pre-due reminder cap per score band.

Every count and every expected change of a policy is a sum over score bands, and what a
policy does to a band's messages and bills depends only on that band's reminder cap (a user
has one band; a user-day is one user's). So the net value of a policy is the sum over bands of
the band's value under its own cap, and the best cap per band is found band by band: the full
grid (32 filter sets x 2 x 7 daily caps x 7^5 per-band caps) is searched exactly by evaluating
32 x 7 x 7 uniform policies once (from the scope's count tables, engine.count_tables).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, fields, replace

import numpy as np

from pipelines.whatif import engine as E
from pipelines.whatif.estimate import Lin
from pipelines.whatif.policy import BANDS, DAILY_CAPS, MAX_REMINDER_CAP, Policy, Weights
from pipelines.whatif.rules import ALL_FILTERS, FILTERS, VIOLATIONS

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
    value: dict[str, float]  # change, ci_low, ci_high of the net value
    messages_removed: int
    tied_with_best: bool = False
    net_form: Lin = field(default_factory=Lin, repr=False, compare=False)  # the value's form


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


def _cap_values(inputs: E.Inputs) -> np.ndarray:
    """V[band, cap, outcome]: what a uniform reminder cap CAP_CHOICES[cap] changes in a band
    through the experiment (engine._reminder_cap; it depends on the band's cap only)."""
    q = inputs.quantities
    out = np.zeros((len(BAND_KEYS), len(CAP_CHOICES), len(VALUE_OUTCOMES)))
    for k_i, k in enumerate(CAP_CHOICES):
        # the bill groups' forms summed per band (every month in one cell)
        bands: dict[tuple[str, str], dict[str, Lin]] = {}
        policy = Policy(max_pre_due_reminders=k)
        E._reminder_cap(inputs, policy, bands, inputs.regulator_share, [], lambda m, b: ("", b))
        for b, band in enumerate(BAND_KEYS):
            if ("", band) in bands:
                for o, outcome in enumerate(VALUE_OUTCOMES):
                    out[b, k_i, o] = bands[("", band)][outcome].value(q)
    return out


def grid_values(inputs: E.Inputs, combos: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Point estimates of every uniform policy, from the scope's count tables at once.

    Returns X[combo, promo, band, cap, outcome] (combo = (filter set, daily cap or 0), promo =
    the promotion rewrite off / on, band = BAND_KEYS, cap = CAP_CHOICES, outcome =
    VALUE_OUTCOMES) and removed[combo, cap], the messages the policy removes. The same
    formulas as engine.evaluate, summed over a band's months: the complaints a rule avoids are
    its share of the rule's flagged messages times the complaints attributed to it; opt-outs
    the marketing messages a user could still opt out of that are removed (the daily cap's in
    proportion); violations and messages the counts removed; the reminder cap's change
    through the experiment (_cap_values)."""
    tables = inputs.tables
    assert tables is not None, "load_inputs reads the count tables"
    q = inputs.quantities
    n_c, n_k = len(combos), len(CAP_CHOICES)
    filters = np.repeat([f for f, _ in combos], n_k)
    daily = np.repeat([d for _, d in combos], n_k)
    caps = np.tile([E.histogram_cap(k) for k in CAP_CHOICES], n_c)
    filt, capped = E.combine(
        tables, filters, daily, np.repeat(caps[:, None], len(BAND_KEYS), axis=1)
    )
    filt = filt.astype(float)
    capped = capped.astype(float)

    def col(name: str) -> np.ndarray:  # [policy, cell]
        if name in E.CAP_COLUMNS:
            return capped[:, :, E.CAP_COLUMNS.index(name)]
        return filt[:, :, E.FILTER_COLUMNS.index(name)]

    def tot(name: str) -> np.ndarray:  # [policy, 1]: the policy's total over its cells
        return col(name).sum(axis=1, keepdims=True)

    def share(acted: np.ndarray, flagged: str) -> np.ndarray:
        t = tot(flagged)
        return np.divide(acted, t, out=np.zeros_like(acted), where=t != 0)

    n_p, n_cells = filt.shape[0], filt.shape[1]
    cell_vals = np.zeros((2, n_p, n_cells, len(VALUE_OUTCOMES)))
    i_c, i_r, i_o = (VALUE_OUTCOMES.index(x) for x in VALUE_OUTCOMES[1:4])
    for rule in (*(r.name for r in FILTERS), "daily_cap"):
        sh = share(col(f"removed_{rule}"), f"flagged_{rule}")
        q0, q1 = q[f"complaints:{rule}:0"].estimate, q[f"complaints:{rule}:1"].estimate
        cell_vals[:, :, :, i_c] -= sh * (q0 + q1)
        cell_vals[:, :, :, i_r] -= sh * q1
    # the promotion rewrite adds nothing here: the grid's points, as before this was
    # vectorised, are the base policies' counts, which carry no rewrite (engine.count counts
    # rewritten_promo only for a policy that rewrites); the candidates below are evaluated in
    # full, rewrite included
    reachable = col("removed_marketing_reachable") + col("removed_daily_cap") * np.divide(
        tot("flagged_daily_cap_marketing"),
        tot("flagged_daily_cap"),
        out=np.zeros((n_p, 1)),
        where=tot("flagged_daily_cap") != 0,
    )
    cell_vals[:, :, :, i_o] -= share(reachable, "marketing_reachable") * q["opt_outs"].estimate
    cell_vals[:, :, :, VALUE_OUTCOMES.index("violations")] -= sum(
        col(f"removed_{r}") for r in VIOLATIONS
    )
    removed_cells = sum(col(f"removed_{r}") for r in E.REMOVING)
    cell_vals[:, :, :, VALUE_OUTCOMES.index("messages")] -= removed_cells
    # per band: the band's cells summed, plus the cap's change through the experiment
    band_of = np.array([b for _, b in tables.cells])
    X = np.zeros((n_c, 2, len(BAND_KEYS), n_k, len(VALUE_OUTCOMES)))
    cap_v = _cap_values(inputs)
    for b, band in enumerate(BAND_KEYS):
        per = cell_vals[:, :, band_of == band, :].sum(axis=2)  # promo, policy, outcome
        X[:, :, b, :, :] = per.reshape(2, n_c, n_k, -1).transpose(1, 0, 2, 3)
        X[:, :, b, :, :] += cap_v[b][None, None, :, :]
    removed = removed_cells.sum(axis=1).reshape(n_c, n_k).astype(np.int64)
    return X, removed


def search(inputs: E.Inputs, weights: Weights) -> Search:
    base = _base_policies()
    # X[combo, promo, band, cap, outcome]: point estimates of the outcomes that carry value
    combos = sorted({(p.filters(), p.daily_cap or 0) for p in base.values()})
    ci = {c: i for i, c in enumerate(combos)}
    X, removed_by = grid_values(inputs, combos)

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
    cands = _candidates(inputs, weights, pool)
    best = cands[0]
    for c in cands:
        diff = Lin().add(c.net_form)
        diff.add(best.net_form, -1.0)
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
        removed = int(removed_by[f_i, k_i])
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
        inputs,
        weights,
        {f"fr{i}": p for i, p in enumerate(front)},
        {c.policy: c for c in cands},
    )
    frontier.sort(key=lambda c: c.messages_removed)
    sens = _sensitivity(weights, best_of, total_v)
    grid = (ALL_FILTERS + 1) * 2 * len(DAILY_CHOICES) * len(CAP_CHOICES) ** len(BANDS)
    return Search(best, cands, frontier, sens, grid)


def _candidates(
    inputs: E.Inputs, weights: Weights, pool: dict[str, Policy], known: dict | None = None
) -> list[Candidate]:
    """The pool's net value (with its interval) and messages removed, from each policy's exact
    counts, best first; a policy in `known` (policy -> its candidate) reuses that one."""
    known = known or {}
    todo = {name: p for name, p in pool.items() if p not in known}
    totals = E.count_totals(inputs.tables, todo)
    out = []
    for name, p in pool.items():
        if p in known:
            k = known[p]
            out.append(Candidate(p, dict(k.value), k.messages_removed, net_form=k.net_form))
            continue
        net = E.net_value(inputs, p, totals[name], weights)
        out.append(
            Candidate(
                p,
                net.interval(inputs.quantities),
                E.messages_removed(totals[name]),
                net_form=net,
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
