"""Every parameter of the simulated world, with where its value comes from.

This is the one place to change the world. Values marked *calibrated* are set so that the
generated data lands in the range of a published figure (source given); values marked
*assumption* are plausible choices with no single published source; *fault* values describe
the injected operational incidents the seed complaints talk about.

`ground_truth.json` repeats these values under `params`, so every generated data set carries
the world it was drawn from.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# Scales of `--scale`: (users, months).
SCALES: dict[str, tuple[int, int]] = {
    "s": (2_000, 3),  # tests: a few seconds
    "m": (50_000, 6),  # the demo
    "l": (500_000, 12),  # benchmarks
}
DEFAULT_START = "2025-01"
DEFAULT_SEED = 20250101

BANDS = ("A", "B", "C", "D", "E")
ARMS = ("control", "reminders_1", "reminders_2", "reminders_4")
EXPERIMENT_ID = "reminder_cadence"


@dataclass(frozen=True)
class Params:
    # ---------------------------------------------------------------- users
    # assumption: a prime-lending book skewed to the better bands.
    band_share: tuple[float, ...] = (0.20, 0.30, 0.25, 0.15, 0.10)
    # assumption: median credit limit per band in CNY (consumer pay-later lines are small;
    # Ant Group's 2020 prospectus reports Huabei balances of a few thousand yuan per user).
    credit_limit_median: tuple[float, ...] = (20_000, 12_000, 8_000, 5_000, 3_000)
    credit_limit_sigma: float = 0.35
    # assumption: most users consent to marketing at sign-up, not all.
    marketing_consent_rate: float = 0.85
    # assumption: share of users whose account opened before the first simulated month
    # (opened up to `preexisting_days` earlier); the rest open during the window.
    preexisting_share: float = 0.70
    preexisting_days: int = 365
    auto_debit_share: float = 0.60  # assumption: users who bound auto-debit (自动扣款)
    statement_day_range: tuple[int, int] = (2, 28)  # fixed statement day per user
    due_gap_days: tuple[int, ...] = (9, 10)  # due date = statement date + 9 or 10 days
    provinces: tuple[str, ...] = (
        "广东", "浙江", "江苏", "山东", "河南", "四川", "湖北", "湖南", "福建", "上海",
        "北京", "安徽", "河北", "陕西", "重庆",
    )  # fmt: skip

    # ---------------------------------------------------------------- experiment
    # The randomized experiment `reminder_cadence`. 60 % of users, four equal arms: at m scale
    # that is ~7,500 users (~23,000 evaluable bills) per arm, so a 7-point on-time difference
    # has a standard error of ~0.3 points (z > 20); at s scale ~300 users and ~380 evaluable
    # bills per arm (z ~ 3-5 for every arm; at 40 % a single arm's z fell below 2 for some
    # seeds).
    experiment_share: float = 0.60
    # pre-due reminders per arm (the bill notice at statement is sent to everyone)
    arm_reminders: tuple[int, ...] = (0, 1, 2, 4)
    production_reminders: int = 2  # cadence of users outside the experiment
    # days before the due date each reminder goes out, by cadence (0 = on the due date)
    reminder_offsets: dict = field(
        default_factory=lambda: {0: (), 1: (1,), 2: (3, 1), 4: (5, 3, 1, 0)}
    )

    # ---------------------------------------------------------------- repayment
    # calibrated: on-time repayment probability per band *without* pre-due reminders. With
    # the production cadence (2 reminders, x1.09) the book lands at ~94 % on time, inside the
    # 90-98 % range of Ant Group (2020 prospectus: Huabei 30+ DPD ~1-2 %) and Lexin (FY2023
    # annual report: 90+ DPD ~2-3 % of balance) disclosures.
    base_on_time: tuple[float, ...] = (0.905, 0.885, 0.860, 0.835, 0.800)
    # calibrated: relative multiplier on the on-time probability by number of pre-due
    # reminders. Cadena & Schoar (2011, NBER w17020): a text reminder raised on-time loan
    # repayment by ~7-9 %, comparable to a 25 % interest cut. Karlan, McConnell, Mullainathan
    # & Zinman (2016, Management Science 62(12)): reminders work by keeping the payment top of
    # mind; additional reminders add little.
    reminder_lift: tuple[float, ...] = (1.0, 1.080, 1.090, 1.095, 1.100)
    on_time_cap: float = 0.995
    # calibrated: given a late bill, shares of (cure within 29 days, cure 30-89 days late,
    # cure 90-150 days late, never) per band; with ~6 % late bills this gives 30+ DPD ~1.5-2.5 %
    # and 90+ DPD ~0.6-1.2 % of bills (Ant Group / Lexin disclosures above).
    late_severity: tuple[tuple[float, float, float, float], ...] = (
        (0.82, 0.10, 0.02, 0.06),
        (0.78, 0.12, 0.02, 0.08),
        (0.74, 0.14, 0.03, 0.09),
        (0.68, 0.16, 0.04, 0.12),
        (0.62, 0.18, 0.05, 0.15),
    )
    # assumption: among on-time payers with auto-debit, the share who settle by the
    # auto-debit run on the due date (the rest pay manually earlier)
    autodebit_settles_share: float = 0.85
    autodebit_first_attempt_fail: float = 0.08  # assumption: retried the same day
    partial_payment_share: float = 0.10  # assumption: on-time manual payers paying in 2 parts
    late_partial_share: float = 0.25  # assumption: late payers paying a part before due
    zero_bill_share: float = 0.25  # assumption: users with no new charges get a 0 statement

    # ---------------------------------------------------------------- shopping
    sessions_per_month: float = 5.0  # assumption: mean checkout sessions per active user
    sessions_gamma_shape: float = 1.5  # heterogeneity of user activity
    bnpl_offered_share: float = 0.60  # random share of sessions offered pay-later
    # assumption (industry: BNPL lifts checkout conversion by ~20-30 % relative)
    conversion_offered: float = 0.62
    conversion_not_offered: float = 0.50
    # payment method among completed sessions: (bnpl, bnpl_installment, card, balance, other)
    method_offered: tuple[float, ...] = (0.45, 0.20, 0.25, 0.08, 0.02)
    method_not_offered: tuple[float, ...] = (0.0, 0.0, 0.70, 0.25, 0.05)
    installment_terms: tuple[int, ...] = (3, 6, 12)
    installment_term_share: tuple[float, ...] = (0.5, 0.3, 0.2)
    order_amount_median: float = 150.0  # CNY, lognormal
    order_amount_sigma: float = 0.9
    channels: tuple[str, ...] = ("live", "short_video", "mall", "search", "other")
    channel_share: tuple[float, ...] = (0.30, 0.25, 0.25, 0.15, 0.05)
    order_status_share: tuple[float, ...] = (0.93, 0.03, 0.04)  # paid, cancelled, refunded
    verification_per_session: float = 0.6  # one-time code at checkout
    verification_logins_per_month: float = 2.0  # login codes

    # ---------------------------------------------------------------- messaging
    marketing_per_month: float = 18.0  # assumption: campaigns a consented user receives
    # calibrated: opt-outs per month of the users a programme messages. SMS platforms count
    # opt-outs over the contacts messaged in a 30-day window and call below 1 % healthy, with
    # carriers filtering or warning above 3 % (Roezan, "Target metrics for SMS",
    # help.roezan.com/help/target-metrics-for-sms; OneSignal's glossary gives 0.5-2 % per
    # campaign). A consented user here gets ~18 campaigns a month, so the per-send probability
    # is small: 18 x 0.04 % + fatigue + 0.2 % spontaneous lands at ~1 % of active accounts a
    # month (~6 % in six months; before: 0.6 % a send, ~8 % a month, 39 % in six months).
    opt_out_per_send: float = 0.0004
    opt_out_fatigue_per_msg: float = 0.00002  # + per message above 15 last month
    opt_out_per_send_max: float = 0.0015  # cap of per-send probability with fatigue
    opt_out_spontaneous_per_month: float = 0.002  # opt-outs via app/hotline, not a reply
    # assumption: a delivered marketing SMS triggers a checkout session within 72 h
    marketing_session_lift: float = 0.04
    # assumption: message fatigue: next-month activity x exp(-k * max(0, msgs - threshold))
    fatigue_threshold: int = 15
    fatigue_k: float = 0.02
    collection_max_days: int = 60  # daily collection SMS from due+1 while overdue
    delivery_share: tuple[float, ...] = (0.96, 0.03, 0.01)  # delivered, failed, pending
    delivered_at_missing: float = 0.10
    segments_missing: float = 0.05
    provider_share: tuple[float, ...] = (0.6, 0.4)  # aliyun, tencent
    # natural gateway retries: a copy 1-9 min later (duplicates) / 11-30 min (not duplicates)
    gateway_retry_dup: float = 0.0005
    gateway_retry_late: float = 0.0005

    # ---------------------------------------------------------------- complaints
    # calibrated: 2-10 complaints per 10,000 active users a month (CBIRC consumer-complaint
    # bulletins; Heimao/黑猫投诉 volumes of large consumer-credit brands), multiplied by
    # duplicate, night and excess messages. The base is per user-month (about 60 % of users
    # are active in a month), so with the faults the book lands at ~7-10 per 10,000 active.
    complaint_base: float = 0.0004
    complaint_rr_duplicate: float = 1.0  # + per duplicate message that month (cap 10)
    complaint_rr_night: float = 1.5  # + per quiet-hours message (cap 10)
    complaint_rr_excess: float = 0.5  # + per message over the daily cap (cap 20)
    complaint_rr_after_opt_out: float = 3.0  # + per marketing message after opt-out (cap 5)
    complaint_rr_collection: float = 0.1  # + per collection message (cap 30)
    complaint_category_given: float = 0.70
    complaint_phone_in_text: float = 0.10
    complaint_unknown_user: float = 0.05
    complaint_source_share: tuple[float, ...] = (0.40, 0.35, 0.15, 0.10)
    complaint_resolved_share: float = 0.85
    complaint_resolution_hours_median: float = 20.0

    # ---------------------------------------------------------------- faults
    # fault: duplicate-send incidents: per month probability of one incident (the first
    # month always has one); in its window every message of the affected purposes is sent
    # 2-5 times, copies 20-180 s apart
    duplicate_incident_per_month: float = 0.6
    duplicate_window_minutes: tuple[int, int] = (20, 90)
    duplicate_copies: tuple[int, int] = (1, 4)  # extra copies per message
    # fault: mis-scheduled night batch: days per month on which the reminder/collection batch
    # goes out between 22:30 and 23:59 local instead of the morning
    night_batch_days_per_month: int = 2
    night_batch_share: float = 0.6  # share of that day's batch affected
    # fault: a reminder template carrying a promotion is used for this share of reminders in
    # a window of `promo_template_days` days each month
    promo_template_share: float = 0.5
    promo_template_days: int = 10
    # fault: a marketing campaign uses a stale suppression list (ignores opt-outs) or ignores
    # consent on this many days per month
    stale_optout_days_per_month: int = 1
    no_consent_days_per_month: int = 1

    # ---------------------------------------------------------------- --dirty
    dirty_rows_per_reason_per_month: int = 2
    dirty_duplicate_share: float = 0.002  # share of a month's rows re-exported once more

    def as_dict(self) -> dict:
        d = asdict(self)
        d["reminder_offsets"] = {str(k): list(v) for k, v in self.reminder_offsets.items()}
        return d


PARAMS = Params()

# The ten promotion keywords of metrics.md (`is_marketing_in_service`); the service
# templates below avoid them except the deliberately faulty promo variants.
PROMO_KEYWORDS = ("优惠", "领券", "红包", "立减", "折扣", "限时", "活动", "免息券", "抽奖", "福利")
