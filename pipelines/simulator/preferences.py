"""Users' own message settings (the optional source `sms_preferences`) and the faults that
send what should never have gone out.

What is planted, per month `m` of the world:

- **Settings.** A share of the account holders changes one setting at a random moment of the
  month: marketing on/off, due reminders on/off, a quiet window, or a daily maximum. Each
  change is one `sms_preferences` row carrying the user's whole state after it.
- **The platform honours them** for the choices it knows how to apply: a marketing message
  to a user with marketing off, a due reminder to a user with reminders off, and a marketing
  message or due reminder inside the user's quiet window are not sent. The user's daily
  maximum is not enforced by the sender: messages ranked above it go out (and count).
- **A campaign that ignores the settings for a day** (one day, in the middle month): that
  day no marketing message is withheld, and a blast goes to a share of consenting users in
  the evening (20:00-23:59 local).
- **A stale snapshot** (one day per month): that day's reminder batch and collection batch
  are built from yesterday's list of unpaid bills. Messages that the right list would also
  have produced are the normal ones; the wrong ones are reminders of bills settled yesterday
  (still due later), collection messages of overdue bills settled yesterday, and collection
  messages of bills due that very day (not overdue yet).

The counts in `ground_truth.json` (`faults.after_settlement`, `collection_before_due`,
`against_preference`) are computed here by the definitions of metrics.md over each month's
final messages, whatever produced them (night batches and gateway retries move messages
into quiet windows or after a settlement too).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from pipelines.simulator import content as C
from pipelines.simulator.tables import DAY, HOUR, MINUTE, NEVER, Tab, lexorder

# purposes, in the order of world.PURPOSES
P_BILL, P_RMD, P_COLL, P_MKT, P_VER = range(5)
KINDS = ("marketing", "quiet_window", "daily_max", "reminders")


@dataclass(frozen=True)
class PreferenceParams:
    change_per_month: float = 0.04  # share of account holders who change a setting per month
    kind_share: tuple[float, ...] = (0.4, 0.3, 0.2, 0.1)  # KINDS
    quiet_windows: tuple[tuple[int, int], ...] = ((22, 8), (21, 9), (23, 7), (12, 14), (0, 7))
    daily_max: tuple[int, ...] = (1, 2, 3)
    stale_snapshot_days_per_month: int = 1
    ignore_campaign_share: float = 0.3  # of consenting, not opted-out users
    ignore_campaign_template: str = "SMS_MKT_01"


class Preferences:
    """Per-user settings over time, the bills' settlement, and the three flags' truth."""

    def __init__(self, world, tpl_index: dict[str, int], tpl_purpose: np.ndarray):
        self.w = world
        self.P = PreferenceParams()
        self.tpl_index, self.tpl_purpose = tpl_index, tpl_purpose
        N, M = world.N, world.M
        # current state of every user
        self.mkt = np.ones(N, bool)
        self.rem = np.ones(N, bool)
        self.maxd = np.full(N, -1, np.int16)
        self.qs = np.full(N, -1, np.int16)
        self.qe = np.full(N, -1, np.int16)
        self.has = np.zeros(N, bool)
        # every row so far, sorted by (uid, t): key = uid << 32 | t
        self.rows = Tab()
        # bills with amount > 0, by uid * M + cycle: due day and settlement time
        self.due = np.zeros(N * M, np.int32)
        self.settle = np.full(N * M, NEVER, np.int64)
        self.bills: list[Tab] = []
        self.campaign_month = M // 2
        self.counts = dict.fromkeys(("after_settlement", "collection_before_due"), 0)
        self.counts["against_preference"] = 0
        self.injected = {
            "preference_rows": 0,
            "preference_rows_by_kind": dict.fromkeys(KINDS, 0),
            "preference_users": 0,
            "messages_withheld_by_preferences": 0,
            "ignore_preferences_campaign_day": None,
            "ignore_preferences_campaign_sent": 0,
            "ignore_preferences_withheld_instead_sent": 0,
            "stale_snapshot_days": [],
            "stale_snapshot_reminders_sent": 0,
            "stale_snapshot_collections_after_settlement_sent": 0,
            "stale_snapshot_collections_before_due_sent": 0,
        }

    # ------------------------------------------------------------------ bills
    def record_bills(self, log: Tab) -> None:
        """The month's new bills (amount > 0): due day and settlement time."""
        if not log.n:
            return
        k = log["uid"].astype(np.int64) * self.w.M + log["cyc"].astype(np.int64)
        self.due[k] = log["due"]
        self.settle[k] = log["settle"]
        self.bills.append(Tab(k=k, uid=log["uid"], cyc=log["cyc"], due=log["due"], amt=log["amt"]))

    # ------------------------------------------------------------------ settings
    def month_rows(self, m: int, d0: int, d1: int) -> Tab:
        """This month's setting changes, one row each (the user's state after it)."""
        w, P = self.w, self.P
        rng = w._rng(m, 20)
        eligible = w.open_day < d1 - 1
        pick = eligible & (rng.random(w.N) < P.change_per_month)
        u = np.flatnonzero(pick)
        first = np.maximum(w.open_day[u] + 1, d0)
        t = first * DAY + (rng.random(u.shape[0]) * (d1 - first) * DAY).astype(np.int64)
        kind = rng.choice(len(KINDS), u.shape[0], p=np.array(P.kind_share))
        win = rng.integers(0, len(P.quiet_windows), u.shape[0])
        mx = np.array(P.daily_max)[rng.integers(0, len(P.daily_max), u.shape[0])]
        k0, k1, k2, k3 = (kind == i for i in range(4))
        self.mkt[u[k0]] = ~self.mkt[u[k0]]
        windows = np.array(P.quiet_windows)
        self.qs[u[k1]] = windows[win[k1], 0]
        self.qe[u[k1]] = windows[win[k1], 1]
        self.maxd[u[k2]] = mx[k2]
        self.rem[u[k3]] = ~self.rem[u[k3]]
        self.has[u] = True
        tab = Tab(
            uid=u.astype(np.int32),
            t=t,
            mkt=self.mkt[u].copy(),
            rem=self.rem[u].copy(),
            maxd=self.maxd[u].copy(),
            qs=self.qs[u].copy(),
            qe=self.qe[u].copy(),
        )
        order = lexorder((tab["uid"], tab["t"]))
        tab = tab.take(order)
        self.rows = Tab.concat([self.rows, tab])
        self.rows = self.rows.take(lexorder((self.rows["t"], self.rows["uid"])))
        inj = self.injected
        inj["preference_rows"] += tab.n
        for i, name in enumerate(KINDS):
            inj["preference_rows_by_kind"][name] += int((kind == i).sum())
        inj["preference_users"] = int(self.has.sum())
        return tab

    def _in_force(self, uid: np.ndarray, sent: np.ndarray) -> np.ndarray:
        """Index of the row in force (latest t <= sent of the same user), -1 for none."""
        if not self.rows.n:
            return np.full(uid.shape[0], -1, np.int64)
        keys = (self.rows["uid"].astype(np.int64) << 32) | self.rows["t"]
        q = (uid.astype(np.int64) << 32) | sent
        i = np.searchsorted(keys, q, side="right") - 1
        ok = (i >= 0) & (self.rows["uid"][np.maximum(i, 0)] == uid)
        return np.where(ok, i, -1)

    def _says_no(self, purpose, sent, i) -> tuple[np.ndarray, np.ndarray]:
        """(refused by marketing, reminders or the quiet window; the row's daily maximum or
        -1) for messages whose row in force is `i` (-1: none)."""
        n = purpose.shape[0]
        r = self.rows
        if not r.n:
            return np.zeros(n, bool), np.full(n, -1, np.int64)
        has = i >= 0
        j = np.maximum(i, 0)
        hour = (sent % DAY) // HOUR
        qs, qe = r["qs"][j].astype(np.int64), r["qe"][j].astype(np.int64)
        wraps = qs > qe
        inside = (qs >= 0) & np.where(wraps, (hour >= qs) | (hour < qe), (hour >= qs) & (hour < qe))
        no = has & (
            ((purpose == P_MKT) & ~r["mkt"][j])
            | ((purpose == P_RMD) & ~r["rem"][j])
            | (((purpose == P_MKT) | (purpose == P_RMD)) & inside)
        )
        return no, np.where(has, r["maxd"][j].astype(np.int64), -1)

    # ------------------------------------------------------------------ the month's messages
    def apply(self, m: int, d0: int, d1: int, sms: Tab) -> Tab:
        """Withhold what the settings refuse (but on the campaign day), add the campaign's
        blast and the stale snapshot's batches."""
        w = self.w
        purpose = self.tpl_purpose[sms["tpl"]]
        no, _ = self._says_no(purpose, sms["sent"], self._in_force(sms["uid"], sms["sent"]))
        day = sms["sent"] // DAY
        extra = []
        ignore = np.zeros(sms.n, bool)
        if m == self.campaign_month:
            rng = w._rng(m, 21)
            cday = int(rng.integers(d0, d1))
            ignore = (day == cday) & (purpose == P_MKT)
            self.injected["ignore_preferences_campaign_day"] = str(np.datetime64(cday, "D"))
            self.injected["ignore_preferences_withheld_instead_sent"] = int((no & ignore).sum())
            sent_at = cday * DAY + 20 * HOUR + rng.integers(0, 4 * HOUR, w.N)
            pick = (
                w.consent
                & (w.open_day < cday)
                & ~w.defaulted
                & (sent_at < w.t_opt)
                & (rng.random(w.N) < self.P.ignore_campaign_share)
            )
            u = np.flatnonzero(pick)
            tpl = self.tpl_index[self.P.ignore_campaign_template]
            extra.append(w._new_msgs(rng, u, tpl, sent_at[u]))
            self.injected["ignore_preferences_campaign_sent"] = int(u.shape[0])
        withheld = no & ~ignore
        self.injected["messages_withheld_by_preferences"] += int(withheld.sum())
        extra.append(self._stale_snapshot(m, d0, d1))
        return Tab.concat([sms.take(~withheld), *extra])

    def _stale_snapshot(self, m: int, d0: int, d1: int) -> Tab:
        w = self.w
        rng = w._rng(m, 22)
        if d1 - d0 < 2 or not self.bills:
            return Tab()
        n_days = min(self.P.stale_snapshot_days_per_month, d1 - d0 - 1)
        days = np.sort(rng.choice(np.arange(d0 + 1, d1), n_days, replace=False))
        b = Tab.concat(self.bills)
        settle = self.settle[b["k"]]
        stmt = b["due"] - w.due_gap[b["uid"]]
        cadence = w.cadence[b["uid"]]
        parts = []
        inj = self.injected
        coll = np.array([self.tpl_index[c] for c in C.COLLECTION_TEMPLATES])
        for d in days.tolist():
            inj["stale_snapshot_days"].append(str(np.datetime64(d, "D")))
            paid_yesterday = (settle >= (d - 1) * DAY) & (settle < d * DAY)
            unpaid_yesterday = settle >= (d - 1) * DAY
            # the bills whose reminder cadence has a reminder on d
            scheduled = np.zeros(b.n, bool)
            for c in np.unique(cadence).tolist():
                for o in w.P.reminder_offsets[int(c)]:
                    scheduled |= (cadence == c) & (b["due"] - d == o)
            rem = paid_yesterday & scheduled & (stmt < d)
            late = d - b["due"]
            coll_after = paid_yesterday & (late >= 1) & (late <= w.P.collection_max_days)
            coll_due = unpaid_yesterday & (late == 0)
            for sel, kind in ((rem, "rem"), (coll_after | coll_due, "coll")):
                s = np.flatnonzero(sel)
                if not s.shape[0]:
                    continue
                if kind == "rem":
                    tpl = np.where(
                        b["due"][s] == d,
                        self.tpl_index[C.DUE_DAY_TEMPLATE],
                        self.tpl_index[C.REMINDER_TEMPLATE],
                    )
                    sent = d * DAY + 9 * HOUR + 30 * MINUTE + rng.integers(0, 90 * MINUTE, s.size)
                    nover = None
                else:
                    j = late[s]
                    tpl = coll[np.where(j <= 3, 0, np.where(j <= 15, 1, 2))]
                    sent = d * DAY + 10 * HOUR + rng.integers(0, 2 * HOUR, s.size)
                    nover = j
                uid = b["uid"][s]
                parts.append(
                    w._new_msgs(
                        rng,
                        uid,
                        tpl,
                        sent,
                        cyc=b["cyc"][s],
                        due=b["due"][s],
                        amt=b["amt"][s],
                        nover=nover,
                    )
                )
            inj["stale_snapshot_reminders_sent"] += int(rem.sum())
            inj["stale_snapshot_collections_after_settlement_sent"] += int(coll_after.sum())
            inj["stale_snapshot_collections_before_due_sent"] += int(coll_due.sum())
        return Tab.concat(parts)

    # ------------------------------------------------------------------ truth
    def count(self, sms: Tab) -> None:
        """The three flags of metrics.md over the month's final messages."""
        if not sms.n:
            return
        purpose = self.tpl_purpose[sms["tpl"]]
        uid, sent, cyc = sms["uid"], sms["sent"], sms["cyc"].astype(np.int64)
        has_bill = cyc >= 0
        k = uid.astype(np.int64) * self.w.M + np.maximum(cyc, 0)
        service = (purpose == P_RMD) | (purpose == P_COLL)
        after = has_bill & service & (self.settle[k] < sent)
        before = has_bill & (purpose == P_COLL) & (sent // DAY <= self.due[k])
        no, maxd = self._says_no(purpose, sent, self._in_force(uid, sent))
        # the daily rank among the user's non-verification messages of the local date
        nv = purpose != P_VER
        idx = np.flatnonzero(nv)
        day = sent[idx] // DAY
        o = lexorder((sent[idx], day, uid[idx]))
        uu, dd = uid[idx][o], day[o]
        new = np.ones(o.shape[0], bool)
        new[1:] = (uu[1:] != uu[:-1]) | (dd[1:] != dd[:-1])
        start = np.maximum.accumulate(np.where(new, np.arange(o.shape[0]), 0))
        rank = np.zeros(sms.n, np.int64)
        rank[idx[o]] = np.arange(o.shape[0]) - start + 1
        against = nv & (no | ((maxd >= 1) & (rank > maxd)))
        self.counts["after_settlement"] += int(after.sum())
        self.counts["collection_before_due"] += int(before.sum())
        self.counts["against_preference"] += int(against.sum())

    def truth(self) -> dict:
        return {"params": asdict(self.P), **self.injected}
