"""The messaging-policy what-if, as pure functions (no Streamlit, no database).

Counting is exact and happens in SQL (`dashboard.data.policy_counts`): every message in scope
gets at most one `removed_by`, so a message two rules would remove counts once, under the first
rule in `RULES` order. Filters (compliance, duplicates, quiet hours) act on the log as sent;
the caps then count only the messages that survive them, the way a gateway applies them.

The expected effects are estimates from measured rates, with these assumptions (shown on the
page via `ASSUMPTIONS`):

* On-time repayment changes only through the pre-due reminder cap. By default the effect of a
  reminder count comes from the messaging experiment (randomised arms with different reminder
  cadences): each arm is a point (mean pre-due reminders, outcome rate) and a bill with r > K
  reminders changes by f(K) - f(r), f interpolated linearly between arms and flat beyond them.
  The alternative is the volume-outcome curve of the bill's score band (bucket K instead of
  bucket r); the curve is observational and confounded (late payers get more reminders).
* Complaints: each removed message carries the complaint risk measured for its rule in the same
  period and scope: complaints of the matching category per flagged message (duplicates ->
  `sms_duplicate` per duplicate; quiet hours -> `sms_night` per quiet-hours message; daily cap
  -> `sms_frequency` per over-cap message; marketing without permission and promotions in
  reminders -> `sms_marketing` per promotional message). Bills under the reminder cap use the
  curve's `complained` rate instead.
* Opt-outs: each removed message carries the period's average opt-outs per message; the
  reminder cap uses the curve's `opted_out` rate instead.
* A promotion removed from a reminder leaves the reminder in place: the message is rewritten,
  not removed; only its marketing-complaint risk goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Attribution order of the removing rules.
RULES = ("compliance", "duplicates", "quiet_hours", "reminder_cap", "daily_cap")
PROMO = "promo"  # rewrites, never removes
FILTER_RULES = ("compliance", "duplicates", "quiet_hours")
BUCKETS = ("0", "1", "2", "3", "4", "5+")
OUTCOMES = ("on_time", "complained", "opted_out")

# Complaint category whose rate per flagged message prices each rule.
RULE_CATEGORY = {
    "compliance": "sms_marketing",
    PROMO: "sms_marketing",
    "duplicates": "sms_duplicate",
    "quiet_hours": "sms_night",
    "daily_cap": "sms_frequency",
}

ASSUMPTIONS = (
    "assumption_counting",
    "assumption_on_time",
    "assumption_complaints",
    "assumption_opt_outs",
    "assumption_promo",
)


@dataclass(frozen=True)
class Policy:
    block_marketing_without_permission: bool = False
    suppress_duplicates: bool = False
    quiet_hours: bool = False
    no_promo_in_reminders: bool = False
    max_pre_due_reminders: int | None = None
    daily_cap: int | None = None

    def params(self) -> dict[str, object]:
        """Bound parameters of the counting query."""
        return {
            "compliance": self.block_marketing_without_permission,
            "duplicates": self.suppress_duplicates,
            "quiet": self.quiet_hours,
            "promo": self.no_promo_in_reminders,
            "max_reminders": self.max_pre_due_reminders,
            "daily_cap": self.daily_cap,
        }


@dataclass(frozen=True)
class Counts:
    """Messages in scope and what the policy does to them (from SQL)."""

    messages: int
    removed: dict[str, int]  # rule -> removed in the combined policy (first rule wins)
    alone: dict[str, int]  # rule -> what it would remove on its own (promo: rewrite)
    rewritten: int = 0  # promo messages that survive and are sent without the promotion

    @property
    def total_removed(self) -> int:
        return sum(self.removed.get(r, 0) for r in RULES)


@dataclass(frozen=True)
class Baseline:
    """Measured in the same period and scope as the counts."""

    messages: int
    opt_outs: int
    bills: int  # bills with a defined on-time outcome
    on_time: int
    complaints_by_category: dict[str, int]
    flagged: dict[str, int]  # rule -> messages carrying the rule's flag (promo: promotional)

    def complaint_rate(self, rule: str) -> float:
        """Complaints of the rule's category per flagged message (0 when nothing is flagged)."""
        flagged = self.flagged.get(rule, 0)
        if not flagged:
            return 0.0
        return self.complaints_by_category.get(RULE_CATEGORY[rule], 0) / flagged

    @property
    def opt_outs_per_message(self) -> float:
        return self.opt_outs / self.messages if self.messages else 0.0


@dataclass(frozen=True)
class Effect:
    messages_removed: int
    messages_rewritten: int
    on_time: float  # change in on-time repayments (count)
    complaints: float  # change in complaints (count; negative = fewer)
    opt_outs: float  # change in opt-outs (count)
    on_time_rate_pp: float | None  # change in on-time rate, percentage points
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Weights:
    yuan_per_on_time: float = 50.0
    yuan_per_complaint: float = 200.0
    yuan_per_opt_out: float = 30.0
    yuan_per_message: float = 0.04


def bucket(reminders: int) -> str:
    """The volume-outcome curve's bucket of a number of pre-due reminders."""
    return "5+" if reminders >= 5 else str(max(0, int(reminders)))


Curve = dict[tuple[str, str, str], float]  # (score_band, bucket, outcome) -> rate


def curve_rate(curve: Curve, band: str, bkt: str, outcome: str) -> float | None:
    """Rate of the band's curve, falling back to band `all`; None when neither has the bucket."""
    for b in (band, "all"):
        if (b, bkt, outcome) in curve:
            return curve[(b, bkt, outcome)]
    return None


def reminder_cap_effect(
    bills: list[tuple[str, int, int]], curve: Curve, cap: int | None
) -> dict[str, float]:
    """Expected change per outcome when no bill gets more than `cap` pre-due reminders.

    `bills`: (score_band, delivered pre-due reminders, number of bills). Each bill above the
    cap moves from its bucket to the cap's bucket; the change is the sum over those bills of
    rate(new bucket) - rate(old bucket). Bills whose buckets have no rate contribute nothing.
    """
    delta = dict.fromkeys(OUTCOMES, 0.0)
    if cap is None:
        return delta
    for band, reminders, n in bills:
        if reminders <= cap:
            continue
        old, new = bucket(reminders), bucket(cap)
        for outcome in OUTCOMES:
            r_old = curve_rate(curve, band, old, outcome)
            r_new = curve_rate(curve, band, new, outcome)
            if r_old is not None and r_new is not None:
                delta[outcome] += n * (r_new - r_old)
    return delta


Points = list[tuple[float, float]]  # (mean pre-due reminders, outcome rate), sorted by x


def interpolate(points: Points, x: float) -> float:
    """Piecewise-linear f(x) through `points` (sorted by x), flat beyond the first and last."""
    if not points:
        raise ValueError("no points")
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def dose_points(arms: list[dict[str, float]]) -> dict[str, Points]:
    """Per outcome, the experiment's arms as (mean reminders, rate), sorted, rates present only.

    An outcome with fewer than two distinct reminder levels has no dose-response: left out.
    """
    out: dict[str, Points] = {}
    for outcome in OUTCOMES:
        pts = sorted(
            (float(a["reminders"]), float(a[outcome]))
            for a in arms
            if a.get(outcome) is not None and a.get("reminders") is not None
        )
        if len({x for x, _ in pts}) >= 2:
            out[outcome] = pts
    return out


def reminder_cap_effect_dose(
    bills: list[tuple[str, int, int]], doses: dict[str, Points], cap: int | None
) -> dict[str, float]:
    """Expected change per outcome from the experiment's dose-response: Σ n·(f(cap) − f(r))."""
    delta = dict.fromkeys(OUTCOMES, 0.0)
    if cap is None:
        return delta
    for _band, reminders, n in bills:
        if reminders <= cap:
            continue
        for outcome, pts in doses.items():
            delta[outcome] += n * (interpolate(pts, cap) - interpolate(pts, reminders))
    return delta


def expected_effect(counts: Counts, baseline: Baseline, cap_delta: dict[str, float]) -> Effect:
    """Expected change of on-time repayments, complaints and opt-outs (see module docstring)."""
    complaints = -sum(
        counts.removed.get(rule, 0) * baseline.complaint_rate(rule)
        for rule in ("compliance", "duplicates", "quiet_hours", "daily_cap")
    )
    complaints -= counts.rewritten * baseline.complaint_rate(PROMO)
    complaints += cap_delta.get("complained", 0.0)
    not_capped = counts.total_removed - counts.removed.get("reminder_cap", 0)
    opt_outs = -not_capped * baseline.opt_outs_per_message + cap_delta.get("opted_out", 0.0)
    on_time = cap_delta.get("on_time", 0.0)
    rate_pp = 100.0 * on_time / baseline.bills if baseline.bills else None
    notes = []
    if counts.removed.get("reminder_cap", 0) and not any(cap_delta.values()):
        notes.append("no_curve_rate")
    return Effect(
        messages_removed=counts.total_removed,
        messages_rewritten=counts.rewritten,
        on_time=on_time,
        complaints=complaints,
        opt_outs=opt_outs,
        on_time_rate_pp=rate_pp,
        notes=notes,
    )


def value(effect: Effect, weights: Weights) -> float:
    """Net value of a policy in yuan for the period: better repayment and lower message cost
    minus nothing, fewer complaints and opt-outs count positive."""
    return (
        weights.yuan_per_on_time * effect.on_time
        - weights.yuan_per_complaint * effect.complaints
        - weights.yuan_per_opt_out * effect.opt_outs
        + weights.yuan_per_message * effect.messages_removed
    )


def rank(values: dict[str, float]) -> list[tuple[int, str, float]]:
    """(rank, name, value) best first; ties share the name order."""
    ordered = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    return [(i + 1, name, v) for i, (name, v) in enumerate(ordered)]


# Candidate policies ranked on the page next to the analyst's own.
CANDIDATES: dict[str, Policy] = {
    "current": Policy(),
    "compliance": Policy(block_marketing_without_permission=True),
    "hygiene": Policy(
        block_marketing_without_permission=True,
        suppress_duplicates=True,
        quiet_hours=True,
        no_promo_in_reminders=True,
    ),
    "hygiene_cap3": Policy(
        block_marketing_without_permission=True,
        suppress_duplicates=True,
        quiet_hours=True,
        no_promo_in_reminders=True,
        daily_cap=3,
    ),
    "hygiene_2_reminders": Policy(
        block_marketing_without_permission=True,
        suppress_duplicates=True,
        quiet_hours=True,
        no_promo_in_reminders=True,
        max_pre_due_reminders=2,
    ),
}
