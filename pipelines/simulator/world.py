"""The simulated pay-later programme, generated one calendar month at a time.

`World.month(m)` returns every record whose local business date falls in month `m` (in the
simulator's internal columnar form, see `tables.py`). Events planned for later months (late
repayments, collection messages, opt-out replies after midnight on the last day) wait in
`pending` until their month, so each partition is written exactly once and memory holds one
month plus the open tail. Per-user state carried between months: billed-but-not-yet-due
charges (installments), opt-out time, default flag, last month's message count (fatigue).
"""

from __future__ import annotations

import numpy as np

from pipelines.simulator import content as C
from pipelines.simulator.params import Params
from pipelines.simulator.policy_truth import PolicyTruth, complaint_rate
from pipelines.simulator.preferences import Preferences
from pipelines.simulator.tables import (
    DAY,
    HOUR,
    MINUTE,
    NEVER,
    Tab,
    choice_rows,
    expand,
    lexorder,
)
from pipelines.simulator.truth import month_flags

TPL = {code: i for i, code in enumerate(C.TEMPLATE_CODES)}
PURPOSES = ("bill_notice", "due_reminder", "overdue_collection", "marketing", "verification")
TPL_PURPOSE = np.array([PURPOSES.index(C.TEMPLATES[c][0]) for c in C.TEMPLATE_CODES], np.int8)
P_BILL, P_RMD, P_COLL, P_MKT, P_VER = range(5)
BUF = 14  # ring buffer of future cycles (installments up to 12 + carry)

# checkout hour-of-day profile (local): quiet at night, peaks at lunch and evening
_HOURS = np.array(
    [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.5, 2.5, 3, 3.5, 4, 5, 4.5, 4, 4, 4, 4.5, 5, 6, 7, 7.5, 6, 3]
)
HOUR_P = _HOURS / _HOURS.sum()
MARKETING_SLOTS = np.array([10, 12, 15, 19, 20])


def month_day_numbers(year: int, month: int, months: int) -> np.ndarray:
    """Day numbers of the first day of each month, months+1 entries (the last is the end)."""
    out = []
    for k in range(months + 1):
        y, mo = divmod(month - 1 + k, 12)
        out.append(np.datetime64(f"{year + y:04d}-{mo + 1:02d}-01", "D").astype(np.int64))
    return np.array(out, dtype=np.int64)


class World:
    def __init__(self, n_users: int, months: int, year: int, month: int, seed: int, P: Params):
        self.P, self.N, self.M, self.seed = P, n_users, months, seed
        self.year, self.month0 = year, month
        self.md = month_day_numbers(year, month, months)
        self.end_day = int(self.md[-1]) - 1
        rng = np.random.default_rng([seed, 1])
        N = n_users
        d_start = int(self.md[0])

        self.band = rng.choice(5, N, p=np.array(P.band_share)).astype(np.int8)
        med = np.array(P.credit_limit_median)[self.band]
        lim_yuan = np.round(med * np.exp(P.credit_limit_sigma * rng.standard_normal(N)) / 100)
        self.limit = (np.maximum(lim_yuan, 5) * 100 * 100).astype(np.int64)  # cents
        self.consent = rng.random(N) < P.marketing_consent_rate
        pre = rng.random(N) < P.preexisting_share
        hi = max(d_start + 1, self.end_day - 20)
        open_day = np.where(
            pre,
            d_start - 1 - rng.integers(0, P.preexisting_days, N),
            rng.integers(d_start, hi, N),
        )
        self.opened = open_day * DAY + rng.integers(8 * HOUR, 23 * HOUR, N)
        self.open_day = open_day
        self.province = rng.integers(0, len(P.provinces), N).astype(np.int8)
        upd = self.opened + rng.integers(0, 10 * DAY, N)
        upd = np.minimum(upd, (self.end_day + 1) * DAY - 1)
        self.updated = np.where(rng.random(N) < 0.6, upd, -1)
        self.stmt_dom = rng.integers(P.statement_day_range[0], P.statement_day_range[1] + 1, N)
        self.due_gap = rng.choice(np.array(P.due_gap_days), N)
        self.auto = rng.random(N) < P.auto_debit_share
        shape = P.sessions_gamma_shape
        self.activity = rng.gamma(shape, P.sessions_per_month / shape, N)

        in_exp = rng.random(N) < P.experiment_share
        self.arm = np.where(in_exp, rng.integers(0, 4, N), -1).astype(np.int8)
        assigned = np.where(
            pre,
            d_start * DAY + rng.integers(HOUR, 8 * HOUR, N),
            self.opened + rng.integers(60, 1800, N),
        )
        self.assigned = np.where(in_exp, assigned, -1)
        arm_rem = np.array(P.arm_reminders)
        self.cadence = np.where(in_exp, arm_rem[np.maximum(self.arm, 0)], P.production_reminders)
        # first day a statement may fall on is the day after this one
        self.elig_day = np.where(in_exp, self.assigned // DAY, self.opened // DAY)

        self.defaulted = np.zeros(N, bool)
        self.t_opt = np.full(N, NEVER, np.int64)
        self.prev_msgs = np.zeros(N, np.int64)
        self.buf = np.zeros((N, BUF), np.int64)
        self.had_bill = np.zeros(N, bool)
        self.counters = dict.fromkeys(
            ("sessions", "orders", "repayments", "sms", "opt_outs", "complaints"), 0
        )
        self.pending: dict[str, Tab] = {}
        self.prev_tail = Tab()  # last 10 minutes of last month's messages (duplicate flag)
        # accumulated truth
        self.bill_log: list[Tab] = []
        self.policy_truth = PolicyTruth()
        self.faults = dict.fromkeys(
            (
                "duplicate",
                "quiet_hours",
                "after_opt_out",
                "over_daily_cap",
                "marketing_without_consent",
            ),
            0,
        )
        self.injected = {
            "duplicate_incidents": [],
            "duplicate_copies": 0,
            "gateway_retry_copies_within_window": 0,
            "gateway_retry_copies_outside_window": 0,
            "night_batch_days": [],
            "night_batch_messages": 0,
            "promo_template_windows": [],
            "promo_template_messages": 0,
            "stale_opt_out_list_days": [],
            "marketing_after_opt_out_sent": 0,
            "no_consent_campaign_days": [],
            "marketing_without_consent_sent": 0,
        }
        # users' own message settings, the bills' settlement, and the faults against them
        self.prefs = Preferences(self, TPL, TPL_PURPOSE)

    # ------------------------------------------------------------------ helpers
    def _rng(self, m: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, 100 + m, stream])

    def _new_msgs(
        self, rng, uid, tpl, sent, cyc=None, due=None, amt=None, nover=None, code=None
    ) -> Tab:
        n = uid.shape[0]
        z32 = np.zeros(n, np.int32)
        status = rng.choice(3, n, p=np.array(self.P.delivery_share)).astype(np.int8)
        return Tab(
            uid=uid.astype(np.int32),
            tpl=np.broadcast_to(np.asarray(tpl, np.int8), (n,)).copy(),
            cyc=(np.full(n, -1, np.int16) if cyc is None else cyc.astype(np.int16)),
            due=(z32 if due is None else due.astype(np.int32)),
            amt=(np.zeros(n, np.int64) if amt is None else amt.astype(np.int64)),
            nover=(np.zeros(n, np.int16) if nover is None else nover.astype(np.int16)),
            code=(z32.copy() if code is None else code.astype(np.int32)),
            sent=sent.astype(np.int64),
            status=status,
        )

    def _split(self, source: str, tab: Tab, tcol: str, d1: int) -> Tab:
        """Keep this month's rows; park later ones in `pending`."""
        if tab.n == 0:
            return tab
        fut = tab[tcol] >= d1 * DAY
        if fut.any():
            self.pending[source] = Tab.concat([self.pending.get(source, Tab()), tab.take(fut)])
        return tab.take(~fut)

    def _take_pending(self, source: str, tcol: str, d1: int) -> Tab:
        tab = self.pending.pop(source, Tab())
        return self._split(source, tab, tcol, d1) if tab.n else tab

    # ------------------------------------------------------------------ one month
    def month(self, m: int) -> dict[str, Tab]:
        N = self.N
        d0, d1 = int(self.md[m]), int(self.md[m + 1])
        ndays = d1 - d0
        out: dict[str, Tab] = {}

        # users and assignments by their own date
        sel = self.open_day < d1 if m == 0 else (self.open_day >= d0) & (self.open_day < d1)
        idx = np.flatnonzero(sel)
        out["users"] = Tab(
            uid=idx,
            opened=self.opened[idx],
            limit=self.limit[idx],
            band=self.band[idx],
            consent=self.consent[idx],
            prov=self.province[idx],
            updated=self.updated[idx],
        )
        ad = self.assigned // DAY
        idx = np.flatnonzero((self.arm >= 0) & (ad >= d0) & (ad < d1))
        out["experiment_assignments"] = Tab(uid=idx, arm=self.arm[idx], assigned=self.assigned[idx])

        active = (self.open_day < d1 - 1) & ~self.defaulted
        first = np.maximum(self.open_day + 1, d0)
        span = np.maximum(d1 - first, 0)
        frac = span / ndays

        mkt, opt_outs, trig_sessions = self._marketing(m, d0, d1, active, first, span, frac)
        sessions, orders, verif = self._shopping(
            m, d0, d1, active, first, span, frac, trig_sessions
        )
        out["checkout_sessions"], out["orders"] = sessions, orders
        self._charge(m, orders)
        bills, reps, bill_msgs = self._bills(m, d0)
        out["bills"] = bills
        self.prefs.record_bills(self.bill_log[-1])
        out["sms_preferences"] = self.prefs.month_rows(m, d0, d1)

        out["repayments"] = Tab.concat(
            [
                self._take_pending("repayments", "paid", d1),
                self._split("repayments", reps, "paid", d1),
            ]
        )
        out["opt_outs"] = Tab.concat(
            [
                self._take_pending("opt_outs", "received", d1),
                self._split("opt_outs", opt_outs, "received", d1),
            ]
        )
        sms = Tab.concat(
            [
                self._take_pending("sms", "sent", d1),
                self._split("sms", bill_msgs, "sent", d1),
                mkt,
                verif,
            ]
        )
        sms = self.prefs.apply(m, d0, d1, sms)
        sms = self._faults(m, d0, d1, sms)
        sms = self._delivery(m, sms)
        self.prefs.count(sms)
        flags = month_flags(sms, self.prev_tail, self.consent, self.t_opt, TPL_PURPOSE)
        self.policy_truth.month(
            self.P, sms, flags, self.prev_tail, self.consent, self.t_opt, TPL_PURPOSE,
            self.band, self.open_day < d1 - 1, N,
        )  # fmt: skip
        for k in self.faults:
            self.faults[k] += int(flags[k].sum())
        nv = TPL_PURPOSE[sms["tpl"]] != P_VER
        tail = nv & (sms["sent"] >= d1 * DAY - 10 * MINUTE)
        self.prev_tail = sms.take(tail)
        out["sms_logs"] = sms
        out["complaints"] = self._complaints(m, d0, d1, sms, flags, first, span)
        self.prev_msgs = np.bincount(sms["uid"][nv], minlength=N)

        # ids in time order, deterministic
        for src, tcol in (
            ("repayments", "paid"),
            ("opt_outs", "received"),
            ("complaints", "received"),
        ):
            t = out[src]
            if t.n:
                order = lexorder((t["uid"], t[tcol]))
                t = t.take(order)
                t["id"] = self.counters[src] + np.arange(t.n, dtype=np.int64)
                self.counters[src] += t.n
            else:
                t["id"] = np.zeros(0, np.int64)
            out[src] = t
        return out

    # ------------------------------------------------------------------ marketing
    def _marketing(self, m, d0, d1, active, first, span, frac):
        P, N = self.P, self.N
        rng = self._rng(m, 1)
        ndays = d1 - d0
        n = rng.poisson(P.marketing_per_month * frac) * active
        uid, _ = expand(n)
        day = first[uid] + (rng.random(uid.shape[0]) * span[uid]).astype(np.int64)
        slot = rng.integers(0, len(MARKETING_SLOTS), uid.shape[0])
        # a campaign is a (day, slot) with one template; a user gets at most one message of
        # a campaign, sent within its first 40 minutes (so campaigns never overlap in 10 min)
        campaign = (day - d0) * len(MARKETING_SLOTS) + slot
        _, first_of = np.unique(
            uid.astype(np.int64) * (ndays * len(MARKETING_SLOTS)) + campaign, return_index=True
        )
        uid, day, slot, campaign = uid[first_of], day[first_of], slot[first_of], campaign[first_of]
        k = uid.shape[0]
        sent = day * DAY + MARKETING_SLOTS[slot] * HOUR + rng.integers(0, 40 * MINUTE, k)
        campaign_tpl = rng.integers(0, len(C.MARKETING_TEMPLATES), ndays * len(MARKETING_SLOTS))
        tpl = np.array([TPL[c] for c in C.MARKETING_TEMPLATES])[campaign_tpl[campaign]]
        msgs = self._new_msgs(rng, uid, tpl, sent)

        days = np.arange(d0, d1)
        stale = rng.choice(days, min(P.stale_optout_days_per_month, ndays), replace=False)
        nocons = rng.choice(days, min(P.no_consent_days_per_month, ndays), replace=False)
        on_stale, on_nc = np.isin(day, stale), np.isin(day, nocons)

        fatigue = np.maximum(self.prev_msgs - P.fatigue_threshold, 0) * P.opt_out_fatigue_per_msg
        q = np.minimum(P.opt_out_per_send_max, P.opt_out_per_send + fatigue)
        trig = (msgs["status"] == 0) & (rng.random(k) < q[uid])
        delay = 30 + np.minimum(rng.lognormal(np.log(600), 1.5, k), 3 * DAY).astype(np.int64)
        trig_t = sent + delay

        sp = active & (rng.random(N) < P.opt_out_spontaneous_per_month)
        sp_t = first * DAY + (rng.random(N) * np.maximum(span, 1) * DAY).astype(np.int64)

        cons = self.consent[uid]
        eligible = cons | on_nc
        tstar = self.t_opt.copy()
        e = eligible & trig
        np.minimum.at(tstar, uid[e], trig_t[e])
        tstar[sp] = np.minimum(tstar[sp], sp_t[sp])
        keep_norm = eligible & (sent < tstar[uid])
        keep_stale = on_stale & (sent >= tstar[uid])
        keep = keep_norm | keep_stale
        inj = self.injected
        inj["stale_opt_out_list_days"] += [_iso_day(d) for d in sorted(stale.tolist())]
        inj["no_consent_campaign_days"] += [_iso_day(d) for d in sorted(nocons.tolist())]
        inj["marketing_after_opt_out_sent"] += int(keep_stale.sum())
        inj["marketing_without_consent_sent"] += int((keep_norm & ~cons).sum())
        self.t_opt = tstar

        kt = keep & trig
        n_sp, n_tr = int(sp.sum()), int(kt.sum())
        sp_chan = rng.choice(np.array([1, 2], np.int8), n_sp, p=[0.7, 0.3])
        texts = [(ch, t) for ch, ts in C.OPT_OUT_TEXTS.items() for t in ts]
        reply_idx = np.array([i for i, (ch, _) in enumerate(texts) if ch == "sms_reply"])
        text_of_chan = np.array(
            [[i for i, (c2, _) in enumerate(texts) if c2 == ch][0] for ch in C.OPT_OUT_TEXTS]
        )
        opt_outs = Tab(
            uid=np.concatenate([np.flatnonzero(sp), uid[kt]]).astype(np.int32),
            received=np.concatenate([sp_t[sp], trig_t[kt]]),
            chan=np.concatenate([sp_chan, np.zeros(n_tr, np.int8)]),
            text=np.concatenate(
                [text_of_chan[sp_chan], reply_idx[rng.integers(0, len(reply_idx), n_tr)]]
            ),
        )
        msgs = msgs.take(keep)
        # a delivered marketing message triggers a checkout session within 72 h
        lift = (msgs["status"] == 0) & (rng.random(msgs.n) < P.marketing_session_lift)
        ts = msgs["sent"][lift] + rng.integers(5 * MINUTE, 72 * HOUR, int(lift.sum()))
        ok = ts < d1 * DAY - HOUR
        trig_sessions = (msgs["uid"][lift][ok].astype(np.int64), ts[ok])
        return msgs, opt_outs, trig_sessions

    # ------------------------------------------------------------------ shopping
    def _shopping(self, m, d0, d1, active, first, span, frac, trig_sessions):
        P = self.P
        rng = self._rng(m, 2)
        fat = np.exp(-P.fatigue_k * np.maximum(self.prev_msgs - P.fatigue_threshold, 0))
        n = rng.poisson(self.activity * fat * frac) * active
        uid, _ = expand(n)
        k = uid.shape[0]
        day = first[uid] + (rng.random(k) * span[uid]).astype(np.int64)
        t = day * DAY + rng.choice(24, k, p=HOUR_P) * HOUR + rng.integers(0, HOUR, k)
        t = np.where(t > d1 * DAY - HOUR, t - HOUR, t)
        uid = np.concatenate([uid, trig_sessions[0]])
        t = np.concatenate([t, trig_sessions[1]])
        order = lexorder((uid, t))
        uid, t = uid[order], t[order]
        k = uid.shape[0]
        offered = rng.random(k) < P.bnpl_offered_share
        conv = np.where(offered, P.conversion_offered, P.conversion_not_offered)
        completed = rng.random(k) < conv
        probs = np.where(
            offered[:, None], np.array(P.method_offered), np.array(P.method_not_offered)
        )
        method = np.where(completed, choice_rows(rng, probs), -1).astype(np.int8)
        sid = self.counters["sessions"] + np.arange(k, dtype=np.int64)
        self.counters["sessions"] += k
        nord = int(completed.sum())
        oid = np.full(k, -1, np.int64)
        oid[completed] = self.counters["orders"] + np.arange(nord, dtype=np.int64)
        self.counters["orders"] += nord
        sessions = Tab(
            sid=sid,
            uid=uid,
            started=t,
            offered=offered,
            completed=completed,
            method=method,
            oid=oid,
        )

        c = completed
        ou = uid[c]
        amount_yuan = np.exp(
            np.log(P.order_amount_median) + P.order_amount_sigma * rng.standard_normal(nord)
        )
        amount = np.clip(np.round(amount_yuan * 100), 100, self.limit[ou]).astype(np.int64)
        om = method[c]
        terms = rng.choice(
            np.array(P.installment_terms), nord, p=np.array(P.installment_term_share)
        )
        inst = np.where(om == 1, terms, 1).astype(np.int16)
        orders = Tab(
            oid=oid[c],
            uid=ou,
            created=t[c] + rng.integers(30, 600, nord),
            amount=amount,
            method=om,
            inst=inst,
            channel=rng.choice(len(P.channels), nord, p=np.array(P.channel_share)).astype(np.int8),
            status=rng.choice(3, nord, p=np.array(P.order_status_share)).astype(np.int8),
        )
        # verification codes: at checkout, and logins
        vs = rng.random(k) < P.verification_per_session
        nl = rng.poisson(P.verification_logins_per_month * frac) * active
        lu, _ = expand(nl)
        lday = first[lu] + (rng.random(lu.shape[0]) * span[lu]).astype(np.int64)
        lt = (
            lday * DAY
            + rng.choice(24, lu.shape[0], p=HOUR_P) * HOUR
            + rng.integers(0, HOUR, lu.shape[0])
        )
        vu = np.concatenate([uid[vs], lu])
        vt = np.concatenate([t[vs] + rng.integers(3, 40, int(vs.sum())), lt])
        vtpl = np.concatenate(
            [
                np.full(int(vs.sum()), TPL[C.VERIFY_CHECKOUT]),
                np.full(lu.shape[0], TPL[C.VERIFY_LOGIN]),
            ]
        )
        verif = self._new_msgs(rng, vu, vtpl, vt, code=rng.integers(0, 1_000_000, vu.shape[0]))
        return sessions, orders, verif

    def _charge(self, m, orders: Tab):
        """Paid pay-later orders become charges on the next statement(s)."""
        b = (orders["method"] <= 1) & (orders["status"] == 0)
        u = orders["uid"][b].astype(np.int64)
        if u.shape[0] == 0:
            return
        amt, k = orders["amount"][b], orders["inst"][b].astype(np.int64)
        stmt = self.md[m] + self.stmt_dom[u] - 1
        cyc0 = np.where(orders["created"][b] // DAY < stmt, m, m + 1)
        owner, pos = expand(k)
        part = amt[owner] // k[owner] + np.where(pos == 0, amt[owner] % k[owner], 0)
        slot = (cyc0[owner] + pos) % BUF
        flat = u[owner] * BUF + slot
        add = np.bincount(flat, weights=part.astype(np.float64), minlength=self.N * BUF)
        self.buf += np.round(add).astype(np.int64).reshape(self.N, BUF)

    # ------------------------------------------------------------------ bills
    def _bills(self, m, d0):
        P, N = self.P, self.N
        rng = self._rng(m, 3)
        slot, nxt = m % BUF, (m + 1) % BUF
        stmt = d0 + self.stmt_dom - 1
        elig = self.elig_day < stmt
        amount = self.buf[:, slot].copy()
        self.buf[:, slot] = 0
        self.buf[~elig, nxt] += amount[~elig]
        amount[~elig] = 0
        issue = elig & ((amount > 0) | (self.had_bill & (rng.random(N) < P.zero_bill_share)))
        u = np.flatnonzero(issue)
        self.had_bill |= amount > 0
        bills = Tab(
            uid=u,
            cyc=np.full(u.shape[0], m, np.int16),
            stmt=stmt[u],
            due=stmt[u] + self.due_gap[u],
            amount=amount[u],
        )
        pos = bills.take(bills["amount"] > 0)
        reps, msgs, log = self._plan(rng, m, pos)
        self.bill_log.append(log)
        return bills, reps, msgs

    def _plan(self, rng, m, b: Tab):
        """Repayments and bill messages of new statements with amount > 0."""
        P = self.P
        B = b.n
        u = b["uid"]
        band, cad, auto = self.band[u], self.cadence[u], self.auto[u]
        stmt, due, amt = b["stmt"], b["due"], b["amount"]
        lift = np.array(P.reminder_lift)[cad]
        p = np.minimum(P.on_time_cap, np.array(P.base_on_time)[band] * lift)
        p = np.where(self.defaulted[u], 0.0, p)
        on_time = rng.random(B) < p
        sev = choice_rows(rng, np.array(P.late_severity)[band])
        sev = np.where(self.defaulted[u], 3, sev)
        late_days = np.where(
            sev == 0,
            np.minimum(29, rng.geometric(0.25, B)),
            np.where(sev == 1, rng.integers(30, 90, B), rng.integers(90, 151, B)),
        )

        def r(lo, hi):
            return rng.integers(lo, hi, B)

        # on time, settled by the auto-debit run on the due date (first attempt may fail)
        ad = on_time & auto & (rng.random(B) < P.autodebit_settles_share)
        fail1 = ad & (rng.random(B) < P.autodebit_first_attempt_fail)
        t_fail1 = due * DAY + 6 * HOUR + r(0, HOUR)
        t_ad = np.where(
            fail1, due * DAY + 12 * HOUR + r(0, 8 * HOUR), due * DAY + 7 * HOUR + r(0, 2 * HOUR)
        )
        # on time, manual, possibly in two parts
        man = on_time & ~ad
        k = np.minimum(due - stmt, rng.geometric(0.35, B) - 1)
        sday = due - k
        part = man & (rng.random(B) < P.partial_payment_share) & (amt >= 2)
        t_man = sday * DAY + np.where(part, 12 * HOUR + r(0, 11 * HOUR), 8 * HOUR + r(0, 15 * HOUR))
        p1day = sday - (rng.random(B) * (sday - stmt + 1)).astype(np.int64)
        t_p1 = p1day * DAY + 8 * HOUR + r(0, 4 * HOUR)
        a1 = np.clip(np.round(amt * rng.uniform(0.3, 0.7, B)), 1, np.maximum(amt - 1, 1)).astype(
            np.int64
        )
        # late: a failed auto-debit, maybe a part before due, the rest late or never
        late = ~on_time
        never = late & (sev == 3)
        cure = late & ~never
        lfail = late & auto
        t_lf = due * DAY + 7 * HOUR + r(0, 2 * HOUR)
        lfail2 = lfail & (never | (late_days > 3))
        t_lf2 = (due + 3) * DAY + 8 * HOUR + r(0, HOUR)
        lpart = late & (rng.random(B) < P.late_partial_share) & (amt >= 2)
        t_lp = np.maximum(stmt, due - r(0, 4)) * DAY + 10 * HOUR + r(0, 10 * HOUR)
        a1l = np.clip(np.round(amt * rng.uniform(0.2, 0.6, B)), 1, np.maximum(amt - 1, 1)).astype(
            np.int64
        )
        t_cure = (due + late_days) * DAY + 9 * HOUR + r(0, 13 * HOUR)
        AUTO, MAN, COLL = 0, 1, 2
        chan_cure = np.where(late_days < 15, MAN, COLL)

        pieces = [
            (fail1, t_fail1, amt, AUTO, False),
            (ad, t_ad, amt, np.where(fail1, MAN, AUTO), True),
            (part, t_p1, a1, MAN, True),
            (man, t_man, amt - np.where(part, a1, 0), MAN, True),
            (lfail, t_lf, amt, AUTO, False),
            (lfail2, t_lf2, amt, AUTO, False),
            (lpart, t_lp, a1l, MAN, True),
            (cure, t_cure, amt - np.where(lpart, a1l, 0), chan_cure, True),
        ]
        reps = Tab.concat(
            [
                Tab(
                    uid=u[s].astype(np.int32),
                    cyc=np.full(int(s.sum()), m, np.int16),
                    paid=t[s],
                    amount=a[s],
                    chan=np.broadcast_to(np.asarray(ch, np.int8), (B,))[s].copy(),
                    ok=np.full(int(s.sum()), ok),
                )
                for s, t, a, ch, ok in pieces
            ]
        )
        settle = np.where(on_time, np.where(ad, t_ad, t_man), np.where(cure, t_cure, NEVER))

        # bill notice at statement, reminders by cadence (skipped once paid), daily collection
        parts = [
            self._new_msgs(
                rng,
                u,
                TPL[C.BILL_TEMPLATE],
                stmt * DAY + 9 * HOUR + r(0, 2 * HOUR),
                cyc=np.full(B, m),
                due=due,
                amt=amt,
            )
        ]
        offsets = P.reminder_offsets
        for c in np.unique(cad):
            for o in offsets[int(c)]:
                t = (due - o) * DAY + (
                    9 * HOUR + 30 * MINUTE + r(0, 90 * MINUTE)
                    if o
                    else 8 * HOUR + 30 * MINUTE + r(0, HOUR)
                )
                s = (cad == c) & (t < settle)
                tpl = TPL[C.REMINDER_TEMPLATE] if o else TPL[C.DUE_DAY_TEMPLATE]
                parts.append(
                    self._new_msgs(
                        rng, u[s], tpl, t[s], cyc=np.full(int(s.sum()), m), due=due[s], amt=amt[s]
                    )
                )
        ncoll = np.where(
            late,
            np.minimum(
                np.where(never, P.collection_max_days, late_days - 1), P.collection_max_days
            ),
            0,
        )
        owner, pos = expand(ncoll)
        j = pos + 1
        nc = owner.shape[0]
        ctpl = np.array([TPL[c] for c in C.COLLECTION_TEMPLATES])[
            np.where(j <= 3, 0, np.where(j <= 15, 1, 2))
        ]
        outstanding = amt - np.where(lpart, a1l, 0)
        parts.append(
            self._new_msgs(
                rng,
                u[owner],
                ctpl,
                (due[owner] + j) * DAY + 10 * HOUR + rng.integers(0, 2 * HOUR, nc),
                cyc=np.full(nc, m),
                due=due[owner],
                amt=outstanding[owner],
                nover=j,
            )
        )
        msgs = Tab.concat(parts)
        self.defaulted[u[never]] = True
        # a charged-off account: its remaining installments are not billed again
        self.buf[u[never]] = 0
        settle_day = np.where(settle == NEVER, np.iinfo(np.int32).max, settle // DAY)
        log = Tab(
            uid=u,
            cyc=np.full(B, m, np.int16),
            stmt=stmt,
            due=due,
            p=p,
            settle_day=settle_day,
            settle=settle,
            amt=amt,
        )
        return reps, msgs, log

    # ------------------------------------------------------------------ faults
    def _faults(self, m, d0, d1, sms: Tab) -> Tab:
        P, inj = self.P, self.injected
        rng = self._rng(m, 4)
        ndays = d1 - d0
        purpose = TPL_PURPOSE[sms["tpl"]]
        day = sms["sent"] // DAY
        # promo template window
        w0 = d0 + int(rng.integers(0, max(1, ndays - P.promo_template_days)))
        w1 = min(d1, w0 + P.promo_template_days)
        inw = (day >= w0) & (day < w1)
        pr = (
            inw
            & (sms["tpl"] == TPL[C.REMINDER_TEMPLATE])
            & (rng.random(sms.n) < P.promo_template_share)
        )
        pb = (
            inw
            & (sms["tpl"] == TPL[C.BILL_TEMPLATE])
            & (rng.random(sms.n) < P.promo_template_share * 0.6)
        )
        sms["tpl"][pr] = TPL[C.REMINDER_PROMO_TEMPLATE]
        sms["tpl"][pb] = TPL[C.BILL_PROMO_TEMPLATE]
        inj["promo_template_windows"].append([_iso_day(w0), _iso_day(w1 - 1)])
        inj["promo_template_messages"] += int(pr.sum() + pb.sum())
        # mis-scheduled night batch
        nights = rng.choice(
            np.arange(d0, d1), min(P.night_batch_days_per_month, ndays), replace=False
        )
        nb = np.isin(day, nights) & ((purpose == P_RMD) | (purpose == P_COLL))
        nb &= rng.random(sms.n) < P.night_batch_share
        sms["sent"][nb] = (
            day[nb] * DAY + 22 * HOUR + 30 * MINUTE + rng.integers(0, 90 * MINUTE, int(nb.sum()))
        )
        inj["night_batch_days"] += [_iso_day(d) for d in sorted(nights.tolist())]
        inj["night_batch_messages"] += int(nb.sum())
        copies = []
        # duplicate-send incident
        if m == 0 or rng.random() < P.duplicate_incident_per_month:
            iday = int(rng.integers(d0, d1))
            ws = iday * DAY + 9 * HOUR + int(rng.integers(0, 90 * MINUTE))
            we = (
                ws
                + int(
                    rng.integers(P.duplicate_window_minutes[0], P.duplicate_window_minutes[1] + 1)
                )
                * MINUTE
            )
            hit = (sms["sent"] >= ws) & (sms["sent"] < we) & (purpose != P_VER)
            base = sms.take(hit)
            extra = rng.integers(P.duplicate_copies[0], P.duplicate_copies[1] + 1, base.n)
            owner, pos = expand(extra)
            gaps = rng.integers(20, 181, owner.shape[0])
            # cumulative gap within each message's copies
            cum = np.cumsum(gaps)
            start = np.cumsum(extra) - extra
            before = np.concatenate([[0], cum])[start[owner]]
            cp = base.take(owner)
            cp["sent"] = cp["sent"] + (cum - before)
            cp["status"] = rng.choice(3, cp.n, p=np.array(P.delivery_share)).astype(np.int8)
            copies.append(cp)
            inj["duplicate_incidents"].append(
                {
                    "window_start": _iso_ts(ws),
                    "window_end": _iso_ts(we),
                    "messages_in_window": int(base.n),
                    "copies_sent": int(cp.n),
                    "templates": sorted(
                        {C.TEMPLATE_CODES[t] for t in np.unique(base["tpl"]).tolist()}
                    ),
                }
            )
            inj["duplicate_copies"] += int(cp.n)
        # natural gateway retries (before 23:00 so copies stay on the same day)
        ok = (purpose != P_VER) & (sms["sent"] % DAY < 23 * HOUR)
        for share, lo, hi, key in (
            (P.gateway_retry_dup, 60, 540, "gateway_retry_copies_within_window"),
            (P.gateway_retry_late, 660, 1800, "gateway_retry_copies_outside_window"),
        ):
            s = ok & (rng.random(sms.n) < share)
            cp = sms.take(s)
            cp["sent"] = cp["sent"] + rng.integers(lo, hi, cp.n)
            cp["status"] = rng.choice(3, cp.n, p=np.array(P.delivery_share)).astype(np.int8)
            copies.append(cp)
            inj[key] += int(cp.n)
        return Tab.concat([sms, *copies])

    def _delivery(self, m, sms: Tab) -> Tab:
        P = self.P
        rng = self._rng(m, 5)
        order = lexorder((sms["cyc"], sms["tpl"], sms["uid"], sms["sent"]))
        sms = sms.take(order)
        n = sms.n
        sms["id"] = self.counters["sms"] + np.arange(n, dtype=np.int64)
        self.counters["sms"] += n
        st = sms["status"]
        dl = sms["sent"] + rng.integers(1, 30, n)
        sms["dlv"] = np.where((st == 0) & (rng.random(n) >= P.delivered_at_missing), dl, -1)
        sms["prov"] = rng.choice(2, n, p=np.array(P.provider_share)).astype(np.int8)
        # err codes: 0 DELIVRD, 1 UNDELIV, 2 MK:0001, 3 MB:1042, 4 REJECTD, -1 none (pending)
        fail_code = rng.choice(np.array([1, 2, 3, 4], np.int8), n, p=[0.5, 0.2, 0.2, 0.1])
        sms["err"] = np.where(st == 0, 0, np.where(st == 1, fail_code, -1)).astype(np.int8)
        sms["segmiss"] = rng.random(n) < P.segments_missing
        return sms

    # ------------------------------------------------------------------ complaints
    def _complaints(self, m, d0, d1, sms: Tab, flags: dict, first, span) -> Tab:
        P, N = self.P, self.N
        rng = self._rng(m, 6)
        u = sms["uid"]

        def per_user(mask):
            return np.bincount(u[mask], minlength=N).astype(np.float64)

        dup, night = per_user(flags["duplicate"]), per_user(flags["quiet_hours"])
        excess, aoo = per_user(flags["over_daily_cap"]), per_user(flags["after_opt_out"])
        coll = per_user(TPL_PURPOSE[sms["tpl"]] == P_COLL)
        lam = complaint_rate(P, dup, night, excess, aoo, coll)
        opened = self.open_day < d1 - 1
        c = np.flatnonzero(opened & (rng.random(N) < np.minimum(lam, 0.5)))
        k = c.shape[0]
        w = np.stack(
            [
                P.complaint_rr_night * np.minimum(night[c], 10),
                P.complaint_rr_duplicate * np.minimum(dup[c], 10),
                P.complaint_rr_after_opt_out * np.minimum(aoo[c], 5) + 0.05,
                P.complaint_rr_collection * np.minimum(coll[c], 30),
                P.complaint_rr_excess * np.minimum(excess[c], 20) + 0.05,
                np.full(k, 0.30),
                np.full(k, 0.25),
                np.full(k, 0.15),
                np.full(k, 0.20),
            ],
            axis=1,
        )
        cat = choice_rows(rng, w) if k else np.zeros(0, np.int64)
        day = first[c] + (rng.random(k) * span[c]).astype(np.int64)
        received = day * DAY + rng.integers(8 * HOUR, 23 * HOUR, k)
        nvar = np.array([len(C.NARRATIVES[x]) for x in C.COMPLAINT_CATEGORY_ORDER])
        narr = (rng.random(k) * nvar[cat]).astype(np.int64)
        phone_prefix = rng.choice(
            np.array([130, 133, 135, 136, 138, 139, 150, 152, 158, 177, 186, 188, 199]), k
        )
        phone = np.where(
            rng.random(k) < P.complaint_phone_in_text,
            phone_prefix * 10**8 + rng.integers(0, 10**8, k),
            -1,
        )
        hours = rng.lognormal(np.log(P.complaint_resolution_hours_median), 1.0, k)
        resolved = received + (hours * HOUR).astype(np.int64)
        is_res = (rng.random(k) < P.complaint_resolved_share) & (
            resolved <= (self.end_day + 1) * DAY - 1
        )
        return Tab(
            uid=np.where(rng.random(k) < P.complaint_unknown_user, -1, c),
            received=received,
            source=rng.choice(4, k, p=np.array(P.complaint_source_share)).astype(np.int8),
            cat=cat.astype(np.int8),
            given=rng.random(k) < P.complaint_category_given,
            narr=narr,
            phone=phone,
            status=np.where(is_res, 1, 0).astype(np.int8),
            resolved=np.where(is_res, resolved, -1),
        )


def _iso_day(d: int) -> str:
    return str(np.datetime64(int(d), "D"))


def _iso_ts(t: int) -> str:
    return str(np.datetime64(int(t), "s")).replace("T", " ") + "+08:00"
