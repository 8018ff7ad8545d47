"""Messaging trade-offs: volume-outcome curve, experiment arms, frontier, and the policy what-if."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data
from dashboard import policy as P
from dashboard.i18n import labeller, t

f: data.Filters = st.session_state["filters"]
st.title(t("page_tradeoffs"))

OUTCOMES = ["on_time", "dpd30", "complained", "sms_complained", "opted_out", "active_next_cycle"]

# --- 1. outcome vs pre-due reminders, per band, with Wilson intervals -------------------------
outcome = (
    st.segmented_control(
        t("outcome"),
        OUTCOMES,
        default="on_time",
        format_func=labeller("o_{}"),
        key="curve_outcome",
    )
    or "on_time"
)
cv = data.curve(f)
cv = cv[cv["outcome"] == outcome].copy()
cv["bucket_order"] = cv["reminders_bucket"].map({b: i for i, b in enumerate(P.BUCKETS)})
cv = cv.sort_values(["score_band", "bucket_order"]).drop(columns="bucket_order")
fig = go.Figure()
for band, g in cv.groupby("score_band", sort=False):
    fig.add_trace(
        go.Scatter(
            x=g["reminders_bucket"],
            y=g["rate"],
            name=t("all") if band == "all" else f"{t('score_band')} {band}",
            mode="lines+markers",
            line={"width": 3 if band == "all" else 1.5},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (g["ci_high"] - g["rate"]).tolist(),
                "arrayminus": (g["rate"] - g["ci_low"]).tolist(),
            },
            customdata=g[["n"]],
            hovertemplate="%{x}: %{y:.1%} (n=%{customdata[0]})<extra></extra>",
        )
    )
fig.update_xaxes(title=t("reminders"), type="category", categoryorder="array",
                 categoryarray=list(P.BUCKETS))  # fmt: skip
fig.update_yaxes(title=t(f"o_{outcome}"))
charts.style(fig, f"{t('curve_title')} · {t(f'o_{outcome}')}", y_pct=True)
charts.show(fig, cv, "tradeoff_curve")
st.caption(t("curve_scope"))

# --- 2. experiment arms against control ---------------------------------------------------------
eff = data.experiment_effects(f)
if eff.empty:
    st.info(t("no_experiment"))
else:
    eff = eff.copy()
    eff["outcome_label"] = eff["outcome"].map(lambda o: t(f"o_{o}"))
    fig = go.Figure()
    for (exp, arm), g in eff.groupby(["experiment_id", "arm"]):
        fig.add_trace(
            go.Scatter(
                x=g["diff"],
                y=g["outcome_label"],
                name=f"{exp} · {arm}",
                mode="markers",
                orientation="h",  # with scattermode="group": arms side by side
                marker={"size": 11},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["ci_high"] - g["diff"]).tolist(),
                    "arrayminus": (g["diff"] - g["ci_low"]).tolist(),
                },
                customdata=g[["rate_arm", "rate_control", "p_value"]],
                hovertemplate=(
                    "%{y}: %{x:+.1%} (arm %{customdata[0]:.1%} vs control "
                    "%{customdata[1]:.1%}, p=%{customdata[2]:.3f})<extra></extra>"
                ),
            )
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#7f8c8d")
    fig.update_layout(scattermode="group")  # arms side by side on each outcome
    fig.update_xaxes(title=t("difference"), tickformat="+.0%")
    charts.style(fig, t("arms_title"))
    charts.show(fig, eff.drop(columns="outcome_label"), "tradeoff_arms")

# --- 3. frontier ----------------------------------------------------------------------------
fr = data.frontier(f)
if fr.empty:
    st.info(t("empty"))
else:
    by = t("frontier_by_arm") if f.experiment else t("frontier_by_bucket")
    top = fr["complaint_rate"].fillna(0).max()
    rel = fr["complaint_rate"].fillna(0) / top if top > 0 else fr["complaint_rate"].fillna(0) * 0
    fig = go.Figure(
        go.Scatter(
            x=fr["sms_per_cycle"],
            y=fr["on_time_rate"],
            text=fr["grp"],
            mode="markers+text",
            textposition="top center",
            marker={
                # bubble area and colour from the complaint rate, relative to the largest
                "size": (12 + 36 * rel).tolist(),
                "color": fr["complaint_rate"].fillna(0).tolist(),
                "colorscale": [[0, "#fdd49e"], [1, "#b30000"]],
                "cmin": 0,
                "line": {"width": 1, "color": "#444"},
                "showscale": True,
                "colorbar": {"title": t("complaint_rate"), "tickformat": ".2~%"},
            },
            customdata=fr[["cycles", "complaint_rate"]],
            hovertemplate=(
                "%{text}: %{x:.2f} SMS, %{y:.1%} on time, complaints %{customdata[1]:.1%} "
                "(n=%{customdata[0]})<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(title=t("sms_per_cycle"))
    fig.update_yaxes(title=t("o_on_time"), tickformat=charts.PCT)
    charts.style(fig, f"{t('frontier_title')} · {by}")
    charts.show(fig, fr, "tradeoff_frontier")
st.caption(
    t(
        "filters_apply",
        which=", ".join([t("filter_date"), t("filter_band"), t("filter_experiment")]),
    )
)

# --- 4. policy what-if --------------------------------------------------------------------------
st.header(t("whatif"))
c1, c2 = st.columns(2)
with c1:
    compliance = st.checkbox(t("rule_compliance"), value=True, key="p_compliance")
    duplicates = st.checkbox(t("rule_duplicates"), value=True, key="p_duplicates")
    quiet = st.checkbox(t("rule_quiet_hours"), value=True, key="p_quiet")
    promo = st.checkbox(t("rule_promo"), value=True, key="p_promo")
with c2:
    limits = [None, 1, 2, 3, 4, 5, 6]
    max_rem = st.selectbox(
        t("rule_reminder_cap"), limits, index=0, key="p_max_reminders",
        format_func=labeller(none="no_limit"),
    )  # fmt: skip
    daily_cap = st.selectbox(
        t("rule_daily_cap"), limits, index=0, key="p_daily_cap",
        format_func=labeller(none="no_limit"),
    )  # fmt: skip
yours = P.Policy(
    block_marketing_without_permission=compliance,
    suppress_duplicates=duplicates,
    quiet_hours=quiet,
    no_promo_in_reminders=promo,
    max_pre_due_reminders=max_rem,
    daily_cap=daily_cap,
)

curve_rates = data.curve_map(f)
bills = data.bills_by_reminders(f)
dose_exp, arms = data.experiment_arms(f)
doses = P.dose_points(arms)
source = st.radio(
    t("effect_source"),
    ["experiment", "curve"],
    format_func=labeller("source_{}"),
    horizontal=True,
    key="p_effect_source",
)
if source == "experiment" and not doses:
    st.caption(t("no_dose"))
    source = "curve"


# Every policy of the page (current, the candidates, yours) counted in one query.
candidates = {**P.CANDIDATES, "yours": yours}
all_counts = data.policy_counts_many(candidates, f)
current, flagged = all_counts["current"]
base = data.baseline(f, current.messages, flagged)  # measured rates: the same for every policy


def evaluate(name: str) -> tuple[P.Counts, P.Effect]:
    counts, _flagged = all_counts[name]
    policy = candidates[name]
    if source == "experiment":
        cap = P.reminder_cap_effect_dose(bills, doses, policy.max_pre_due_reminders)
    else:
        cap = P.reminder_cap_effect(bills, curve_rates, policy.max_pre_due_reminders)
    return counts, P.expected_effect(counts, base, cap)


counts, effect = evaluate("yours")
enabled = {
    "compliance": compliance,
    "duplicates": duplicates,
    "quiet_hours": quiet,
    "reminder_cap": max_rem is not None,
    "daily_cap": daily_cap is not None,
    "promo": promo,
}
rows = [
    {
        "rule": r,
        t("rule"): t(f"rule_{r}")
        + (f" ≤ {max_rem}" if r == "reminder_cap" and max_rem else "")
        + (f" ≤ {daily_cap}" if r == "daily_cap" and daily_cap else ""),
        t("enabled"): enabled[r],
        t("alone"): counts.alone[r],
        t("combined"): counts.removed[r],
    }
    for r in P.RULES
]
rows.append(
    {
        "rule": "promo",
        t("rule"): t("rule_promo") + " — " + t("rewritten"),
        t("enabled"): promo,
        t("alone"): counts.alone["promo"],
        t("combined"): counts.rewritten,
    }
)
rows.append(
    {
        "rule": "total",
        t("rule"): t("total"),
        t("enabled"): None,
        t("alone"): None,
        t("combined"): counts.total_removed,
    }
)
rules_df = pd.DataFrame(rows)
charts.table(rules_df, "whatif_rules")

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric(t("messages_in_scope"), f"{counts.messages:,}")
m2.metric(
    t("messages_removed"),
    f"{counts.total_removed:,}",
    delta=f"{-counts.total_removed / counts.messages:.1%}" if counts.messages else None,
    delta_color="off",
)
m3.metric(
    t("exp_on_time"),
    charts.signed(effect.on_time),
    delta=f"{effect.on_time_rate_pp:+.2f} pp" if effect.on_time_rate_pp is not None else None,
)
m4.metric(t("exp_complaints"), charts.signed(effect.complaints))
m5.metric(t("exp_opt_outs"), charts.signed(effect.opt_outs))

with st.expander(t("assumptions"), expanded=True):
    for key in P.ASSUMPTIONS:
        st.markdown(f"- {t(key)}")
    rates = pd.DataFrame(
        [
            {
                t("rule"): t(f"rule_{r}"),
                "category": P.RULE_CATEGORY[r],
                "complaints": base.complaints_by_category.get(P.RULE_CATEGORY[r], 0),
                "flagged_messages": base.flagged.get(r, 0),
                "complaints_per_message": base.complaint_rate(r),
            }
            for r in ("compliance", "duplicates", "quiet_hours", "daily_cap", "promo")
        ]
    )
    st.markdown(
        f"**{t('measured_rates')}** — "
        + t("measured_line", o=base.opt_outs, m=base.messages, r=base.opt_outs_per_message,
            ok=base.on_time, b=base.bills)
    )  # fmt: skip
    st.dataframe(rates, hide_index=True, key="whatif_rates")
    if arms:
        st.markdown(f"**{t('dose_title', exp=dose_exp)}**")
        st.dataframe(pd.DataFrame(arms), hide_index=True, key="whatif_dose")
    on_time_eff = eff[eff["outcome"] == "on_time"] if not eff.empty else eff
    for r in on_time_eff.itertuples():
        st.caption(
            t("experiment_check", exp=r.experiment_id, arm=r.arm, diff=charts.pct(r.diff),
              lo=charts.pct(r.ci_low), hi=charts.pct(r.ci_high),
              a=r.avg_total_sms_arm or 0.0, c=r.avg_total_sms_control or 0.0)
        )  # fmt: skip

# --- value weighting and ranking ----------------------------------------------------------------
st.subheader(t("value_weights"))
w1, w2, w3, w4 = st.columns(4)
weights = P.Weights(
    yuan_per_on_time=w1.number_input(t("w_on_time"), 0.0, 10_000.0, 50.0, 10.0, key="w_ontime"),
    yuan_per_complaint=w2.number_input(t("w_complaint"), 0.0, 100_000.0, 200.0, 10.0, key="w_c"),
    yuan_per_opt_out=w3.number_input(t("w_opt_out"), 0.0, 10_000.0, 30.0, 5.0, key="w_o"),
    yuan_per_message=w4.number_input(t("w_message"), 0.0, 10.0, 0.04, 0.01, key="w_m",
                                     format="%.3f"),
)  # fmt: skip
evaluated = {name: evaluate(name) for name in candidates}
values = {name: P.value(e, weights) for name, (_, e) in evaluated.items()}
ranked = pd.DataFrame(
    [
        {
            t("rank"): rank,
            "policy": name,
            t("policy"): t(f"p_{name}"),
            t("messages_removed"): evaluated[name][1].messages_removed,
            t("exp_on_time"): round(evaluated[name][1].on_time, 3),
            t("exp_complaints"): round(evaluated[name][1].complaints, 3),
            t("exp_opt_outs"): round(evaluated[name][1].opt_outs, 3),
            t("value_yuan"): round(v, 2),
        }
        for rank, name, v in P.rank(values)
    ]
)
fig = charts.bar(ranked, t("value_yuan"), t("policy"), t("ranking"), orientation="h")
fig.update_yaxes(autorange="reversed", title=None)
charts.show(fig, ranked, "whatif_ranking")
st.dataframe(ranked, hide_index=True, key="whatif_ranking_table")
