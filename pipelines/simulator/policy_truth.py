"""What candidate messaging policies would change, by the simulator's planted model.

For each policy in `POLICIES` the ground truth gets the expected change, over the simulated
period, of on-time repayments, 30+ DPD bills and complaints, computed from the planted
probabilities (never from the drawn outcomes):

* on-time: a bill's on-time probability is min(cap, base[band] x lift[cadence]); a reminder cap
  K makes the cadence min(cadence, K). Change = sum over evaluable bills (due before as_of) of
  p(new cadence) - p(old cadence); bills of defaulted accounts (p = 0) do not change.
* 30+ DPD: a late bill reaches 30 days past due unless it cures within 29 days (share
  late_severity[band][0]), so the change is -(on-time change) x (1 - that share), over bills due
  at least 30 days before as_of.
* complaints: a user-month's complaint probability is min(0.5, complaint_rate(...)) of its
  duplicate, quiet-hours, over-cap, after-opt-out and collection messages (`complaint_rate`, the
  same function the simulator draws with). Each month the policy's kept messages are flagged
  again by the metric definitions (`truth.month_flags`) and the expected complaints of every
  open account are summed, with and without the policy. A reminder cap also makes more bills
  late, and late bills get collection messages: that part is added to first order, as the
  extra late bills x the expected collection messages of a late bill (by band, truncated at
  as_of) x complaint_base x complaint_rr_collection.

Limits (stated, not hidden): a bill's reminders are ranked within the calendar month they are
sent in (a bill whose reminders straddle a month boundary keeps up to K in each), and the
per-user caps of the complaint model (10 duplicates, 30 collection messages a month) are
ignored in the collection term.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipelines.simulator.tables import DAY, Tab
from pipelines.simulator.truth import month_flags

P_BILL, P_RMD, P_COLL, P_MKT, P_VER = range(5)  # as pipelines.simulator.world


@dataclass(frozen=True)
class TruthPolicy:
    reminder_cap: int | None = None  # due reminders per bill besides the bill notice
    band_caps: tuple[int | None, ...] | None = None  # per band A..E (None: no cap)
    daily_cap: int | None = None
    hygiene: bool = False  # drop duplicates, quiet hours, marketing after opt-out / no consent

    def cap(self, band: np.ndarray) -> np.ndarray:
        """Cap per bill (large = none)."""
        if self.band_caps is not None:
            caps = np.array([99 if k is None else k for k in self.band_caps])
            return caps[band]
        return np.full(band.shape[0], 99 if self.reminder_cap is None else self.reminder_cap)


POLICIES: dict[str, TruthPolicy] = {
    **{f"reminder_cap_{k}": TruthPolicy(reminder_cap=k) for k in range(5)},
    "reminder_cap_by_band_A1_B1_C2_D2_E2": TruthPolicy(band_caps=(1, 1, 2, 2, 2)),
    "daily_cap_3": TruthPolicy(daily_cap=3),
    "hygiene": TruthPolicy(hygiene=True),
}


def complaint_rate(P, dup, night, excess, aoo, coll) -> np.ndarray:
    """Monthly complaint intensity of a user from their flagged message counts."""
    return P.complaint_base * (
        1
        + P.complaint_rr_duplicate * np.minimum(dup, 10)
        + P.complaint_rr_night * np.minimum(night, 10)
        + P.complaint_rr_excess * np.minimum(excess, 20)
        + P.complaint_rr_after_opt_out * np.minimum(aoo, 5)
        + P.complaint_rr_collection * np.minimum(coll, 30)
    )


def _expected_complaints(P, sms: Tab, flags: dict, purpose: np.ndarray, opened, N) -> float:
    u = sms["uid"]

    def per_user(mask):
        return np.bincount(u[mask], minlength=N).astype(np.float64)

    lam = complaint_rate(
        P,
        per_user(flags["duplicate"]),
        per_user(flags["quiet_hours"]),
        per_user(flags["over_daily_cap"]),
        per_user(flags["after_opt_out"]),
        per_user(purpose == P_COLL),
    )
    return float(np.minimum(lam, 0.5)[opened].sum())


def _keep(policy: TruthPolicy, sms: Tab, flags: dict, purpose: np.ndarray, band) -> np.ndarray:
    keep = np.ones(sms.n, bool)
    if policy.hygiene:
        keep &= ~(
            flags["duplicate"]
            | flags["quiet_hours"]
            | flags["after_opt_out"]
            | flags["marketing_without_consent"]
        )
    if policy.reminder_cap is not None or policy.band_caps is not None:
        pre = (purpose == P_RMD) & (sms["sent"] // DAY <= sms["due"])
        idx = np.flatnonzero(pre)
        uid, cyc, sent = sms["uid"][idx], sms["cyc"][idx], sms["sent"][idx]
        o = np.lexsort((sent, cyc, uid))
        uu, cc = uid[o], cyc[o]
        new = np.ones(o.shape[0], bool)
        new[1:] = (uu[1:] != uu[:-1]) | (cc[1:] != cc[:-1])
        start = np.maximum.accumulate(np.where(new, np.arange(o.shape[0]), 0))
        rank = np.arange(o.shape[0]) - start + 1
        over = rank > policy.cap(band[uu])
        keep[idx[o][over]] = False
    if policy.daily_cap is not None:
        # the metric's rank among the user's non-verification messages of the day, after the
        # rules above
        nv = np.flatnonzero(keep & (purpose != P_VER))
        day = sms["sent"][nv] // DAY
        o = np.lexsort((sms["sent"][nv], day, sms["uid"][nv]))
        uu, dd = sms["uid"][nv][o], day[o]
        new = np.ones(o.shape[0], bool)
        new[1:] = (uu[1:] != uu[:-1]) | (dd[1:] != dd[:-1])
        start = np.maximum.accumulate(np.where(new, np.arange(o.shape[0]), 0))
        rank = np.arange(o.shape[0]) - start + 1
        keep[nv[o][rank > policy.daily_cap]] = False
    return keep


class PolicyTruth:
    """Accumulates, month by month, the planted complaint change of every policy."""

    def __init__(self) -> None:
        self.complaints = dict.fromkeys(POLICIES, 0.0)

    def month(self, P, sms: Tab, flags: dict, prev_tail, consent, t_opt, tpl_purpose, band,
              opened, N) -> None:  # fmt: skip
        purpose = tpl_purpose[sms["tpl"]]
        now = _expected_complaints(P, sms, flags, purpose, opened, N)
        for name, policy in POLICIES.items():
            keep = _keep(policy, sms, flags, purpose, band)
            if keep.all():
                continue
            kept = sms.take(keep)
            f2 = month_flags(kept, prev_tail, consent, t_opt, tpl_purpose)
            after = _expected_complaints(P, kept, f2, tpl_purpose[kept["tpl"]], opened, N)
            self.complaints[name] += after - now

    def result(self, P, log: Tab, band_of_uid, cadence_of_uid, as_of_day: int) -> dict:
        """Per policy: expected change of on-time repayments, 30+ DPD bills and complaints."""
        band = band_of_uid[log["uid"]]
        cad = cadence_of_uid[log["uid"]]
        base = np.array(P.base_on_time)[band]
        lift = np.array(P.reminder_lift)
        p_old = log["p"]
        alive = p_old > 0
        ev = log["due"] < as_of_day
        matured = log["due"] + 30 <= as_of_day
        cure = np.array(P.late_severity)[band, 0]
        coll = _expected_collection(P, band, log["due"], as_of_day)
        out = {}
        for name, policy in POLICIES.items():
            new_cad = np.minimum(cad, policy.cap(band))
            p_new = np.where(alive, np.minimum(P.on_time_cap, base * lift[new_cad]), 0.0)
            d = p_new - p_old
            late_more = -(d * ev)
            out[name] = {
                "on_time_repayments": float((d * ev).sum()),
                "dpd30_bills": float((-(d) * (1 - cure) * matured).sum()),
                "complaints": self.complaints[name]
                + float((late_more * coll).sum() * P.complaint_base * P.complaint_rr_collection),
            }
        return out


def _expected_collection(P, band, due, as_of_day) -> np.ndarray:
    """Expected collection messages of a late bill (by band), cut at as_of."""
    sev = np.array(P.late_severity)[band]  # (n, 4)
    room = np.maximum(as_of_day - due, 0)
    cap = P.collection_max_days
    # severity 0: cured after min(29, G) days, G geometric(0.25) -> about 3 messages
    g = np.arange(1, 30)
    pg = 0.25 * 0.75 ** (g - 1)
    pg[-1] += 1 - pg.sum()
    e0 = np.array([(pg * np.minimum(g - 1, r)).sum() for r in range(0, 200)])
    e0 = e0[np.minimum(room, 199)]
    e1 = np.minimum(np.minimum(59.5 - 1, cap), room)  # uniform 30..89 days late
    e23 = np.minimum(cap, room)  # 90+ days late or never: the full run of messages
    return sev[:, 0] * e0 + sev[:, 1] * e1 + (sev[:, 2] + sev[:, 3]) * e23
