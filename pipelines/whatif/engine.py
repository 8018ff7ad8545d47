"""The policy engine: exact message counts, expected effects with 95 % intervals, net value.

How each outcome of a policy is estimated (the same text is in `ASSUMPTIONS`, shown on the
page and in `nudgescope whatif --help`):

* Messages removed are counted exactly from the aggregate marts (`sql/whatif/filter_counts.sql`,
  `sql/whatif/cap_counts.sql`, combined per policy by `count`); a
  message two rules would remove counts once, under the first rule in attribution order.
* The reminder cap's effect on on-time repayments, 30+ DPD bills, complaints and opt-outs comes
  only from the randomised experiment: each arm's reminder cadence (due reminders besides the
  bill notice) is read from its bills that were not paid before the due date (they get the
  whole cadence); an outcome's rate as a function of the cadence runs linearly between the
  arms and flat beyond them; a bill group with cadence c > K changes by rate(K) - rate(c) per
  bill. Per score band when every arm holds at least `MIN_BAND_BILLS` bills of the band,
  pooled over bands otherwise. The observational volume-outcome curve is never used.
* Complaints avoided by a filter or the daily cap: the complaints attributed to the rule (by
  their given or classified category; marketing complaints about an opt-out or missing
  consent go to the compliance rule) per flagged message, times the messages it removes.
  Regulator complaints the same, counted apart; for the reminder cap, the cap's complaint
  change times the regulator share of all complaints in scope.
* Opt-outs avoided by a filter or the daily cap: opt-outs per marketing message a user could
  still opt out of (not after an opt-out), times such messages removed (for the daily cap in
  proportion to the marketing share of the over-cap messages).
* Violations: each marketing message after an opt-out or without consent the policy removes,
  and each message against the user's own settings in force (the user refused it). These
  rules come first in attribution order, so a policy with one of them on avoids every such
  message in scope. The daily-maximum part of the settings is judged on the log as sent
  (removing earlier messages of the day could bring a later one under the user's maximum);
  the count is exact for what the flag says.
* Reminders and collections after settlement: complaints attributed to them are those of
  categories collection_conduct / sms_frequency whose narrative says the bill was already
  repaid; they are not marketing, so they move no opt-outs. Messages against the user's
  settings: complaints of sms_marketing / sms_night / sms_frequency that name the settings,
  and opt-outs through their marketing messages like any marketing removed.
* A promotion removed from a reminder rewrites the reminder (it is still sent); only the
  promotional complaint risk goes.
* Effects of different rules add up; bills, complaints and opt-outs outside the period are
  not counted. Intervals cover the sampling error of the measured rates and counts (delta
  method, exact for these linear forms), not the error of the assumptions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from pipelines import sqlfiles
from pipelines.whatif.estimate import Lin, Quantity, binomial, interpolation, poisson, total
from pipelines.whatif.policy import Policy, Scope, Weights
from pipelines.whatif.rules import ALL_FILTERS, FILTERS, REMOVING, VIOLATIONS

# A query's result: rows as dicts, or a pandas DataFrame (the dashboard's cached queries return
# one; the count tables read it by column, with no Python loop over its rows).
Result = Union[list[dict[str, object]], "pd.DataFrame"]
QueryFn = Callable[[str, dict[str, object]], Result]


def _is_frame(result: Result) -> bool:
    return hasattr(result, "columns")


def rows(result: Result) -> list[dict[str, object]]:
    """A query result as a list of rows (dicts)."""
    return result.to_dict("records") if _is_frame(result) else list(result)


def _column(result: Result, name: str, *, text: bool = False) -> np.ndarray:
    """One column of a query result as an array: int64 with nulls as 0, or with `text` str
    with nulls as "None" (as str() of a row's value)."""
    if _is_frame(result):
        col = result[name]
        if text:
            # not col.astype(str).to_numpy(dtype=str): a null stays a float NaN there, and
            # numpy then sizes the strings by it, cutting every value to one character
            return np.array(col.astype(object).where(col.notna(), None).tolist(), dtype=str)
        return col.fillna(0).to_numpy(dtype=np.int64)
    if text:
        return np.array([str(r[name]) for r in result], dtype=str)
    return np.array([int(r[name] or 0) for r in result], dtype=np.int64)


def _cell_index(result: Result) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The distinct (month, band_key) of a result, sorted, and each row's index among them."""
    months, bands = _column(result, "month", text=True), _column(result, "band_key", text=True)
    # "\x01" sorts below every printable character, so the joined keys sort as the (month,
    # band) pairs do (numpy's strings drop a trailing "\0", so not that)
    joined = np.char.add(np.char.add(months, "\x01"), bands)
    keys, inverse = np.unique(joined, return_inverse=True)
    cells = [tuple(str(k).split("\x01", 1)) for k in keys]
    return cells, inverse.reshape(-1)


OUTCOMES = (
    "on_time_repayments",
    "dpd30_bills",
    "complaints",
    "regulator_complaints",
    "opt_outs",
    "violations",
    "messages",
    "sms_cost_yuan",
    "net_value_yuan",
)
# outcome of the experiment -> (column prefix in sql/whatif/bills.sql, engine outcome)
EXPERIMENT_OUTCOMES = {
    "on_time": "on_time_repayments",
    "dpd30": "dpd30_bills",
    "complained": "complaints",
    "opted_out": "opt_outs",
}
MIN_BAND_BILLS = 200  # per arm, for a band's own rates; fewer: the arms pooled over bands
OUTSIDE = ""  # bills of users in no arm of the experiment used

ASSUMPTIONS = (
    "assumption_counting",
    "assumption_experiment",
    "assumption_complaints",
    "assumption_opt_outs",
    "assumption_violations",
    "assumption_user_settings",
    "assumption_after_settlement",
    "assumption_promo",
    "assumption_intervals",
)

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def bind(sql: str, params: Mapping[str, object]) -> dict[str, object]:
    """Only the parameters the statement uses (DuckDB refuses extra ones)."""
    used = set(_PARAM.findall(sql))
    return {k: v for k, v in params.items() if k in used}


def duckdb_query(con) -> QueryFn:
    """A QueryFn over a DuckDB connection (rows as dicts)."""

    def run(sql: str, params: dict[str, object]) -> list[dict[str, object]]:
        cur = con.execute(sql, bind(sql, params))
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    return run


# ---------------------------------------------------------------------------------------------
# What the scope measured (the same for every policy)
# ---------------------------------------------------------------------------------------------


@dataclass
class Experiment:
    experiment_id: str
    cadence: dict[str, int]  # arm (OUTSIDE: users in no arm) -> due reminders per bill
    levels: list[int]  # distinct arm cadences, sorted
    source: dict[str, str]  # band_key -> band whose arm rates are used ('pooled' or itself)
    arm_bills: dict[tuple[int, str], int]  # (cadence, band or 'pooled') -> bills with on_time


@dataclass
class Inputs:
    scope: Scope
    quantities: dict[str, Quantity]
    complaints: dict[tuple[str, bool], int]  # (rule group, regulator) -> complaints
    opt_outs: int
    experiment: Experiment | None
    # (month, band_key, arm group) -> cadence-bearing bill counts per experiment outcome
    bill_groups: dict[tuple[str, str, str], dict[str, int]]
    notes: list[str] = field(default_factory=list)
    # the scope's count queries (count_tables), read once for every policy counted on it
    tables: CountTables | None = None
    # _reminder_cap's forms per (month, band_key, arm group, cap), filled as policies need them
    cap_forms: dict[tuple[str, str, str, int], list] = field(default_factory=dict, repr=False)

    @property
    def regulator_share(self) -> float:
        allc = sum(self.complaints.values())
        reg = sum(v for (_, r), v in self.complaints.items() if r)
        return reg / allc if allc else 0.0


def _cadence(bills: list[dict]) -> int | None:
    """Due reminders of a group's cadence: the most common count among its bills that were not
    paid on time (they receive every reminder), ties to the larger; no late bill: the largest
    count seen."""
    late: dict[int, int] = defaultdict(int)
    seen = []
    for r in bills:
        k = max(int(r["pre_due_reminders"] or 0) - 1, 0)
        seen.append(k)
        n_late = int(r["on_time_n"] or 0) - int(r["on_time_sum"] or 0)
        if n_late > 0:
            late[k] += n_late
    if late:
        return max(late, key=lambda k: (late[k], k))
    return max(seen) if seen else None


def _experiment(bills: list[dict], chosen: str | None) -> tuple[Experiment | None, list[dict]]:
    by_exp: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in bills:
        if r["experiment_id"] and r["arm"]:
            by_exp[r["experiment_id"]][r["arm"]].append(r)
    candidates = {}
    for exp, arms in by_exp.items():
        if chosen and exp != chosen:
            continue
        cad = {a: _cadence(rs) for a, rs in arms.items()}
        levels = sorted({c for c in cad.values() if c is not None})
        if len(levels) >= 2:
            candidates[exp] = (cad, levels)
    if not candidates:
        return None, bills
    exp = max(candidates, key=lambda e: (candidates[e][1][-1] - candidates[e][1][0], e))
    cad, levels = candidates[exp]
    outside = [r for r in bills if not (r["experiment_id"] == exp and r["arm"])]
    out_cad = _cadence(outside)
    cadence = {a: c for a, c in cad.items() if c is not None}
    if out_cad is not None:
        cadence[OUTSIDE] = out_cad
    return Experiment(exp, cadence, levels, {}, {}), outside


def load_inputs(query: QueryFn, scope: Scope) -> Inputs:
    params = scope.params()
    q: dict[str, Quantity] = {}
    notes: list[str] = []

    complaints: dict[tuple[str, bool], int] = defaultdict(int)
    for r in rows(query(sqlfiles.load("whatif/complaints"), params)):
        complaints[(str(r["rule_group"]), bool(r["is_regulator"]))] += int(r["complaints"])
    for group in {r.complaint_group for r in FILTERS} | {"daily_cap", "promo"}:
        for reg in (False, True):
            n = complaints.get((group, reg), 0)
            q[f"complaints:{group}:{int(reg)}"] = poisson(n, f"complaints {group} reg={reg}")

    opt_outs = sum(
        int(r["opt_outs"]) for r in rows(query(sqlfiles.load("whatif/opt_outs"), params))
    )
    q["opt_outs"] = poisson(opt_outs, "opt-outs")

    bills = rows(query(sqlfiles.load("whatif/bills"), params))
    exp, _ = _experiment(bills, scope.experiment)
    groups: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    if exp is None:
        notes.append("no_experiment")
    else:
        arm_counts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for r in bills:
            in_arm = r["experiment_id"] == exp.experiment_id and r["arm"]
            group = str(r["arm"]) if in_arm else OUTSIDE
            g = groups[(str(r["month"]), str(r["band_key"]), group)]
            for o in EXPERIMENT_OUTCOMES:
                g[o] += int(r[f"{o}_n"] or 0)
            if in_arm and group in exp.cadence:
                c = exp.cadence[group]
                for band in (str(r["band_key"]), "pooled"):
                    a = arm_counts[(c, band)]
                    for o in EXPERIMENT_OUTCOMES:
                        a[f"{o}_n"] += int(r[f"{o}_n"] or 0)
                        a[f"{o}_sum"] += int(r[f"{o}_sum"] or 0)
        bands = {b for (_, b, _) in groups}
        for band in bands:
            enough = band != "?" and all(
                arm_counts.get((c, band), {}).get("on_time_n", 0) >= MIN_BAND_BILLS
                for c in exp.levels
            )
            exp.source[band] = band if enough else "pooled"
        for (c, band), a in arm_counts.items():
            exp.arm_bills[(c, band)] = a["on_time_n"]
            for o in EXPERIMENT_OUTCOMES:
                q[f"arm:{o}:{c}:{band}"] = binomial(
                    a[f"{o}_sum"], a[f"{o}_n"], f"{o} rate, cadence {c}, band {band}"
                )
        for c in exp.levels:  # a level with no bills of an outcome: no estimate
            for o in EXPERIMENT_OUTCOMES:
                q.setdefault(f"arm:{o}:{c}:pooled", Quantity(0.0, 0.0))
    tables = count_tables(query, scope)
    return Inputs(scope, q, dict(complaints), opt_outs, exp, groups, notes, tables)


# ---------------------------------------------------------------------------------------------
# Counting
# ---------------------------------------------------------------------------------------------

BAND_KEYS = ("A", "B", "C", "D", "E", "?")


def histogram_cap(k: int | None) -> int:
    """mart.policy_cap_histogram's reminder cap for K due reminders (K + 1: rank 1 is the bill
    notice's slot, never capped; 0 = none)."""
    return 0 if k is None else k + 1


# the columns of sql/whatif/filter_counts.sql besides its keys (the same for every policy of a
# filter set), and what engine.count adds from sql/whatif/cap_counts.sql
FILTER_COLUMNS = (
    "messages",
    "alone_compliance",
    "alone_duplicates",
    "alone_quiet_hours",
    "alone_user_settings",
    "alone_after_settlement",
    "alone_promo",
    "removed_compliance",
    "removed_duplicates",
    "removed_quiet_hours",
    "removed_user_settings",
    "removed_after_settlement",
    "removed_marketing_reachable",
    "promo_after_filters",
    "flagged_compliance",
    "flagged_duplicates",
    "flagged_quiet_hours",
    "flagged_user_settings",
    "flagged_after_settlement",
    "flagged_daily_cap",
    "flagged_daily_cap_marketing",
    "flagged_promo",
    "marketing_reachable",
)
CAP_COLUMNS = (
    "alone_reminder_cap",
    "alone_daily_cap",
    "removed_reminder_cap",
    "removed_daily_cap",
    "rewritten_promo",
)
# A filter alone removes exactly the messages it flags: filter_counts.sql returns that sum once,
# as alone_<filter>, and flagged_<filter> (the complaint shares' denominator) is read from it.
_READ_AS = {f"flagged_{r.name}": f"alone_{r.name}" for r in FILTERS}
N_CAPS = 6  # cap columns 1..6 of sql/whatif/cap_counts.sql (histogram caps and daily caps)
N_SETS = ALL_FILTERS + 1


@dataclass
class CountTables:
    """The two count queries of a scope as arrays, for every filter set (0..ALL_FILTERS).

    `cells`: the (month, band_key) cells with messages in scope, sorted. With s a filter set,
    c a cell, k a cap 0..6 (0 = none, its column all zeros) and r a histogram reminder cap
    -1..6 at index r + 1:
    `filters[s, c, i]` FILTER_COLUMNS[i]; `reminder_cut[s, c, k]` and `reminder_promo[s, c, k]`
    the reminders histogram cap k removes and the promotions among them; `day_surplus[s, c, r,
    k]` the messages over daily cap k of the 'day' rows of reminder cap r; `promo_day_cut[s, c,
    r, k]` the promotions daily cap k removes ('promo_day' rows of reminder cap r).
    """

    cells: list[tuple[str, str]]
    filters: np.ndarray
    reminder_cut: np.ndarray
    reminder_promo: np.ndarray
    day_surplus: np.ndarray
    promo_day_cut: np.ndarray


def count_tables(query: QueryFn, scope: Scope) -> CountTables:
    """Run the two count queries of a scope (every filter set; the same for every policy) and
    scatter their rows into the arrays, column by column (thousands of rows at m: a loop over
    them in Python was a fifth of the trade-offs page's every rerun)."""
    params = {**scope.params(), "filter_sets": list(range(N_SETS))}
    frows = query(sqlfiles.load("whatif/filter_counts"), params)
    if not len(frows):
        cells: list[tuple[str, str]] = []
        empty = np.zeros((N_SETS, 0, len(FILTER_COLUMNS)), dtype=np.int64)
        caps = np.zeros((N_SETS, 0, N_CAPS + 1), dtype=np.int64)
        days = np.zeros((N_SETS, 0, N_CAPS + 2, N_CAPS + 1), dtype=np.int64)
        return CountTables(cells, empty, caps, caps.copy(), days, days.copy())
    cells, cell_of = _cell_index(frows)
    n = len(cells)
    filt = np.zeros((N_SETS, n, len(FILTER_COLUMNS)), dtype=np.int64)
    values = np.stack([_column(frows, _READ_AS.get(k, k)) for k in FILTER_COLUMNS], axis=1)
    filt[_column(frows, "set_filters"), cell_of] = values
    cut = np.zeros((N_SETS, n, N_CAPS + 1), dtype=np.int64)
    promo = np.zeros_like(cut)
    surplus = np.zeros((N_SETS, n, N_CAPS + 2, N_CAPS + 1), dtype=np.int64)
    promo_day = np.zeros_like(surplus)
    crows = query(sqlfiles.load("whatif/cap_counts"), params)
    if not len(crows):
        return CountTables(cells, filt, cut, promo, surplus, promo_day)
    ks = range(1, N_CAPS + 1)
    # the cap rows' cells among the filter rows' cells (none: nothing in scope to remove from)
    cap_cells, cap_cell_of = _cell_index(crows)
    at = {c: i for i, c in enumerate(cells)}
    c = np.array([at.get(x, -1) for x in cap_cells], dtype=np.int64)[cap_cell_of]
    s = _column(crows, "set_filters")
    kind = _column(crows, "kind", text=True)
    rc = _column(crows, "hist_reminder_cap")
    cuts = np.stack([_column(crows, f"cut_{k}") for k in ks], axis=1)
    known = c >= 0
    reminder = known & (kind == "reminder")
    np.add.at(cut[:, :, 1:], (s[reminder], c[reminder]), cuts[reminder])
    promos = np.stack([_column(crows, f"promo_{k}") for k in ks], axis=1)
    np.add.at(promo[:, :, 1:], (s[reminder], c[reminder]), promos[reminder])
    in_range = known & (rc >= -1) & (rc <= N_CAPS)
    day = in_range & (kind == "day")
    over = np.stack([_column(crows, f"surplus_{k}") for k in ks], axis=1)
    np.add.at(surplus[:, :, :, 1:], (s[day], c[day], rc[day] + 1), over[day])
    pday = in_range & (kind == "promo_day")
    np.add.at(promo_day[:, :, :, 1:], (s[pday], c[pday], rc[pday] + 1), cuts[pday])
    return CountTables(cells, filt, cut, promo, surplus, promo_day)


def combine(
    tables: CountTables, filters: np.ndarray, daily_caps: np.ndarray, band_caps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of policies from a scope's tables: `filters[p]` the filter set, `daily_caps[p]`
    (0 = none) and `band_caps[p, b]` the histogram reminder cap of BAND_KEYS[b] (0 = none) of
    policy p. Returns (filter columns [p, c, FILTER_COLUMNS], cap columns [p, c, CAP_COLUMNS]).

    A rule removes a message only if no earlier rule did: the filters come first, then the
    reminder cap over what the filters left (read at the policy's filter set), then the daily
    cap over what both left (the 'day' rows of the policy's reminder cap plus those no reminder
    cap changes, r = -1). What a cap removes alone reads filter set 0 and, for the daily cap,
    the rows of no reminder cap (r = 0) plus r = -1. The promotions left to rewrite are those
    the filters left less those either cap removes."""
    band_of = {b: i for i, b in enumerate(BAND_KEYS)}
    n_p = len(filters)
    if not tables.cells:
        return (
            np.zeros((n_p, 0, len(FILTER_COLUMNS)), dtype=np.int64),
            np.zeros((n_p, 0, len(CAP_COLUMNS)), dtype=np.int64),
        )
    cell_band = np.array([band_of.get(b, -1) for _, b in tables.cells])
    f = np.asarray(filters, dtype=np.int64)[:, None]
    d = np.asarray(daily_caps, dtype=np.int64)[:, None]
    caps = np.asarray(band_caps, dtype=np.int64).reshape(n_p, len(BAND_KEYS))
    # a band the caps do not name (none of BAND_KEYS) has no reminder cap
    h = np.where(cell_band[None, :] >= 0, caps[:, np.maximum(cell_band, 0)], 0)
    c = np.arange(len(tables.cells))[None, :]
    zero = np.zeros_like(f)
    filt = tables.filters[filters]
    removed_reminder = tables.reminder_cut[f, c, h]
    promo_reminder = tables.reminder_promo[f, c, h]
    removed_daily = tables.day_surplus[f, c, h + 1, d] + tables.day_surplus[f, c, 0, d]
    promo_daily = tables.promo_day_cut[f, c, h + 1, d] + tables.promo_day_cut[f, c, 0, d]
    alone_reminder = tables.reminder_cut[zero, c, h]
    alone_daily = tables.day_surplus[zero, c, 1, d] + tables.day_surplus[zero, c, 0, d]
    rewritten = (
        filt[:, :, FILTER_COLUMNS.index("promo_after_filters")] - promo_reminder - promo_daily
    )
    capped = np.stack(
        [alone_reminder, alone_daily, removed_reminder, removed_daily, rewritten], axis=2
    )
    return filt, capped


def band_caps(p: Policy) -> list[int]:
    """The histogram reminder cap of each of BAND_KEYS under policy p (0 = none)."""
    return [histogram_cap(p.reminder_cap(None if b == "?" else b)) for b in BAND_KEYS]


def count(
    query: QueryFn, scope: Scope, policies: Mapping[str, Policy]
) -> dict[str, dict[tuple[str, str], dict[str, int]]]:
    """count_from on the scope's count tables, read here (`Inputs.tables` holds them already
    for a scope whose inputs are loaded)."""
    return count_from(count_tables(query, scope), policies) if policies else {}


def _count_arrays(tables: CountTables, ps: list[Policy]) -> tuple[tuple[str, ...], np.ndarray]:
    """The count columns, and the counts [policy, cell, column] of the policies `ps` (a policy
    without the promotion rewrite rewrites nothing)."""
    filt, capped = combine(
        tables,
        np.array([p.filters() for p in ps], dtype=np.int64),
        np.array([p.daily_cap or 0 for p in ps], dtype=np.int64),
        np.array([band_caps(p) for p in ps], dtype=np.int64),
    )
    keys = [k for k in FILTER_COLUMNS if k != "promo_after_filters"]
    keep = [FILTER_COLUMNS.index(k) for k in keys]
    counts = np.concatenate([filt[:, :, keep], capped], axis=2)
    plain = np.array([not p.no_promo_in_reminders for p in ps], dtype=bool)
    counts[plain, :, len(keys) + CAP_COLUMNS.index("rewritten_promo")] = 0
    return (*keys, *CAP_COLUMNS), counts


def count_totals(tables: CountTables, policies: Mapping[str, Policy]) -> dict[str, dict[str, int]]:
    """count_from's counts of each policy summed over the cells (what `net_value` reads)."""
    if not policies:
        return {}
    ps = list(policies.values())
    cols, counts = _count_arrays(tables, ps)
    out: dict[str, dict[str, int]] = {}
    for name, sums in zip(policies, counts.sum(axis=1).tolist(), strict=True):
        out[name] = dict(zip(cols, sums, strict=True))
    return out


def count_from(
    tables: CountTables, policies: Mapping[str, Policy]
) -> dict[str, dict[tuple[str, str], dict[str, int]]]:
    """Exact counts per policy, per (month, band_key): messages in scope, removed per rule (in
    the combined policy), what each rule removes alone, rewrites, and the flagged totals."""
    names = list(policies)
    if not names:
        return {}
    ps = list(policies.values())
    cols, counts = _count_arrays(tables, ps)
    rows = counts.tolist()
    out: dict[str, dict[tuple[str, str], dict[str, int]]] = {}
    for name, per_cell in zip(names, rows, strict=True):
        out[name] = {
            cell: dict(zip(cols, vals, strict=True))
            for cell, vals in zip(tables.cells, per_cell, strict=True)
        }
    return out


# ---------------------------------------------------------------------------------------------
# Effects
# ---------------------------------------------------------------------------------------------


@dataclass
class Evaluation:
    policy: Policy
    cells: dict[tuple[str, str], dict[str, Lin]]  # (month, band_key) -> outcome -> form
    counts: dict[tuple[str, str], dict[str, int]]
    notes: list[str]

    def form(self, outcome: str, month: str | None = None, band: str | None = None) -> Lin:
        return total(
            c[outcome]
            for (m, b), c in self.cells.items()
            if (month is None or m == month) and (band is None or b == band)
        )

    def count_total(self, key: str) -> int:
        return sum(c.get(key, 0) for c in self.counts.values())

    def removed(self) -> dict[str, int]:
        return {r: self.count_total(f"removed_{r}") for r in REMOVING}

    def alone(self) -> dict[str, int]:
        return {r: self.count_total(f"alone_{r}") for r in (*REMOVING, "promo")}


def _value(cell: dict[str, Lin], w: Weights) -> Lin:
    v = Lin()
    v.add(cell["on_time_repayments"], w.on_time)
    v.add(cell["complaints"], -w.complaint)
    v.add(cell["regulator_complaints"], w.complaint - w.regulator_complaint)
    v.add(cell["opt_outs"], -w.opt_out)
    v.add(cell["violations"], -w.violation)
    v.add(cell["messages"], -w.message)
    return v


# evaluate's keys per rule, formatted once (it runs for every cell of hundreds of policies in a
# search): (flagged count, acted count, complaints not / through the regulator)
_RULE_KEYS = tuple(
    (
        f"flagged_{rule}",
        "rewritten_promo" if rule == "promo" else f"removed_{rule}",
        f"complaints:{rule}:0",
        f"complaints:{rule}:1",
    )
    for rule in (*(r.name for r in FILTERS), "daily_cap", "promo")
)
_VIOLATION_KEYS = tuple(f"removed_{r}" for r in VIOLATIONS)
_REMOVING_KEYS = tuple(f"removed_{r}" for r in REMOVING)


def _count_forms(c: Mapping[str, int], tot: Mapping[str, int]) -> dict[str, Lin]:
    """The forms of a cell's counts `c` (every outcome; the reminder cap's are added by
    `_reminder_cap`), given the policy's counts summed over every cell `tot`: the complaints a
    rule avoids are its share of the rule's flagged messages, the opt-outs the removed marketing
    a user could still opt out of, violations and messages the counts removed."""
    cell = {o: Lin() for o in OUTCOMES}
    # complaints avoided by the filters, the daily cap and the promo rewrite
    for flagged, acted_key, direct, regulator in _RULE_KEYS:
        acted = c.get(acted_key, 0)
        if acted and tot[flagged]:
            share = acted / tot[flagged]
            cell["complaints"].term(direct, -share)
            cell["complaints"].term(regulator, -share)
            cell["regulator_complaints"].term(regulator, -share)
    # opt-outs avoided: marketing messages a user could still opt out of
    reachable = c.get("removed_marketing_reachable", 0)
    if c.get("removed_daily_cap", 0) and tot["flagged_daily_cap"]:
        reachable += (
            c["removed_daily_cap"] * tot["flagged_daily_cap_marketing"] / tot["flagged_daily_cap"]
        )
    if reachable and tot["marketing_reachable"]:
        cell["opt_outs"].term("opt_outs", -reachable / tot["marketing_reachable"])
    cell["violations"].const = -sum(c.get(k, 0) for k in _VIOLATION_KEYS)
    cell["messages"].const = -sum(c.get(k, 0) for k in _REMOVING_KEYS)
    return cell


def evaluate(
    inputs: Inputs,
    policy: Policy,
    counts: dict[tuple[str, str], dict[str, int]],
    weights: Weights,
) -> Evaluation:
    """Expected change of every outcome per (month, band_key) as linear forms."""
    tot: dict[str, int] = defaultdict(int)
    for c in counts.values():
        for k, v in c.items():
            tot[k] += v
    notes = list(inputs.notes)
    reg_share = inputs.regulator_share
    cells: dict[tuple[str, str], dict[str, Lin]] = {}
    keys = set(counts) | {(m, b) for (m, b, _) in inputs.bill_groups}
    for key in sorted(keys):
        cells[key] = _count_forms(counts.get(key, {}), tot)
    _reminder_cap(inputs, policy, cells, reg_share, notes)
    for cell in cells.values():
        cell["sms_cost_yuan"] = cell["messages"].scaled(weights.message)
        cell["net_value_yuan"] = _value(cell, weights)
    return Evaluation(policy, cells, counts, notes)


def net_value(inputs: Inputs, policy: Policy, totals: dict[str, int], weights: Weights) -> Lin:
    """The net value of `policy` over the whole scope, from its counts summed over the cells
    (`count_totals`): evaluate(...).form("net_value_yuan") with the cells summed first. Every
    term is linear in a cell's counts (a rule's share of its flagged messages, the reachable
    marketing, the removed messages) or a form added as it is (the reminder cap's), so the sum
    over cells is the same form, added in another order (equal to rounding): the totals are
    priced as one cell. The search ranks hundreds of policies by it: evaluating each cell of each
    took it a second at scale m."""
    tot: dict[str, int] = defaultdict(int, totals)
    whole = _count_forms(tot, tot)
    cells = {("", ""): whole}
    _reminder_cap(inputs, policy, cells, inputs.regulator_share, [], lambda month, band: ("", ""))
    return _value(whole, weights)


def messages_removed(totals: dict[str, int]) -> int:
    """The messages a policy removes, from its counts summed over the cells (`count_totals`)."""
    return sum(totals.get(k, 0) for k in _REMOVING_KEYS)


def _reminder_cap(
    inputs: Inputs,
    policy: Policy,
    cells: dict,
    reg_share: float,
    notes: list[str],
    cell_of: Callable[[str, str], tuple[str, str]] = lambda month, band: (month, band),
) -> None:
    """Add the reminder cap's change through the experiment to `cells` (each bill group's
    forms to the cell `cell_of(month, band)`)."""
    exp = inputs.experiment
    capped = any(policy.reminder_cap(b) is not None for b in ("A", "B", "C", "D", "E", None))
    if not capped:
        return
    if exp is None:
        notes.append("cap_effect_not_estimated")
        return
    for (month, band, group), n in inputs.bill_groups.items():
        k = policy.reminder_cap(None if band == "?" else band)
        c = exp.cadence.get(group)
        if k is None or c is None or c <= k:
            continue
        key = (month, band, group, k)
        forms = inputs.cap_forms.get(key)
        if forms is None:  # the same for every policy with cap k in the band: built once
            forms = inputs.cap_forms[key] = _cap_forms(exp, band, n, k, c)
        cell = cells.setdefault(cell_of(month, band), {o: Lin() for o in OUTCOMES})
        for outcome, form in forms:
            cell[outcome].add(form)
            if outcome == "complaints" and reg_share:
                cell["regulator_complaints"].add(form, reg_share)


def _cap_forms(exp: Experiment, band: str, n: dict[str, int], k: int, c: int) -> list:
    """(outcome, form) of a bill group of cadence c under reminder cap k < c."""
    src = exp.source.get(band, "pooled")
    w_new = interpolation([float(x) for x in exp.levels], float(k))
    w_old = interpolation([float(x) for x in exp.levels], float(c))
    out = []
    for o, outcome in EXPERIMENT_OUTCOMES.items():
        bills = n.get(o, 0)
        if not bills:
            continue
        form = Lin()
        for lvl, w in w_new.items():
            form.term(f"arm:{o}:{int(lvl)}:{src}", bills * w)
        for lvl, w in w_old.items():
            form.term(f"arm:{o}:{int(lvl)}:{src}", -bills * w)
        out.append((outcome, form))
    return out
