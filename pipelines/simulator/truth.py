"""Exact per-message flags of metrics.md over the final (loaded) messages, default settings.

Computed independently of how the faults were injected: whatever produced a message, it is
flagged here by the definitions alone (10-minute window, quiet hours 22-8 local, daily cap 3,
verification messages never flagged and not counted in the daily-cap rank). The content
keyword flag (`marketing_in_service`) is counted in `writer.py` from each message's template:
the values filled into a template (digits, dates) never make or break a keyword.

Counts of `is_duplicate` and `is_over_daily_cap` do not depend on how ties in `sent_at` are
broken (`message_id` order): in a group sorted by time, a message is a duplicate exactly when
its predecessor is at most 10 minutes earlier, and a day with c messages has max(0, c − 3)
over the cap, whichever message ranks where.
"""

from __future__ import annotations

import numpy as np

from pipelines.simulator.tables import DAY, HOUR, MINUTE, Tab, lexorder

VERIFICATION = 4
MARKETING = 3
DUPLICATE_WINDOW = 10 * MINUTE
QUIET_START, QUIET_END = 22, 8
DAILY_CAP = 3


def month_flags(sms: Tab, prev_tail: Tab, consent, t_opt, tpl_purpose) -> dict[str, np.ndarray]:
    n = sms.n
    purpose = tpl_purpose[sms["tpl"]]
    nv = purpose != VERIFICATION
    sent = sms["sent"]

    # duplicate: predecessor in (user, template, bill) within the window; last month's final
    # 10 minutes are prepended so that the first minutes of this month see them
    keys = ("uid", "tpl", "cyc", "sent")
    if prev_tail.n:
        allk = {k: np.concatenate([prev_tail[k], sms[k]]) for k in keys}
        own = np.concatenate([np.zeros(prev_tail.n, bool), np.ones(n, bool)])
    else:
        allk = {k: sms[k] for k in keys}
        own = np.ones(n, bool)
    order = lexorder((allk["sent"], allk["cyc"], allk["tpl"], allk["uid"]))
    u, t, c, s = (allk[k][order] for k in keys)
    same = np.zeros(order.shape[0], bool)
    same[1:] = (
        (u[1:] == u[:-1])
        & (t[1:] == t[:-1])
        & (c[1:] == c[:-1])
        & (s[1:] - s[:-1] <= DUPLICATE_WINDOW)
    )
    dup_all = np.zeros(order.shape[0], bool)
    dup_all[order] = same
    duplicate = dup_all[own] & nv

    hour = (sent % DAY) // HOUR
    quiet = nv & ((hour >= QUIET_START) | (hour < QUIET_END))

    uid = sms["uid"]
    after = (purpose == MARKETING) & (t_opt[uid] < sent)
    without = (purpose == MARKETING) & ~consent[uid]

    # daily cap: rank among the user's non-verification messages of the local date
    idx = np.flatnonzero(nv)
    day = sent[idx] // DAY
    o = lexorder((sent[idx], day, uid[idx]))
    uu, dd = uid[idx][o], day[o]
    newgrp = np.ones(o.shape[0], bool)
    newgrp[1:] = (uu[1:] != uu[:-1]) | (dd[1:] != dd[:-1])
    grp_start = np.maximum.accumulate(np.where(newgrp, np.arange(o.shape[0]), 0))
    rank = np.arange(o.shape[0]) - grp_start + 1
    over = np.zeros(n, bool)
    over[idx[o]] = rank > DAILY_CAP

    return {
        "duplicate": duplicate,
        "quiet_hours": quiet,
        "after_opt_out": after,
        "over_daily_cap": over,
        "marketing_without_consent": without,
    }
