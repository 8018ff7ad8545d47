"""Messaging trade-offs: the policy what-if (pipelines.whatif engine), the search over the
policy grid, and the diagnostics (experiment arms, observational curve, frontier by group)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from dashboard import charts, data
from dashboard.data.tradeoffs import policy_search
from dashboard.i18n import code, labeller, t
from pipelines.whatif import engine as E
from pipelines.whatif.policy import BANDS, MAX_REMINDER_CAP, Policy, Scope, Weights
from pipelines.whatif.report import whole

f: data.Filters = st.session_state["filters"]
st.title(t("page_tradeoffs"))


scope = Scope(f.start, f.end, (f.band,) if f.band else (), f.experiment)
# the engine reads the cached DataFrames as they are (its count tables column by column)
inputs = E.load_inputs(data.query, scope)
q = inputs.quantities
months = scope.months()
period = t("period_line", start=f.start, end=f.end, n=scope.length_months(), k=len(months))


def describe(p: Policy) -> str:
    """A policy named by what it does."""
    parts = []
    if p.block_marketing_without_permission:
        parts.append(t("d_compliance"))
    if p.honour_user_settings:
        parts.append(t("d_user_settings"))
    if p.suppress_after_settlement:
        parts.append(t("d_after_settlement"))
    if p.suppress_duplicates:
        parts.append(t("d_duplicates"))
    if p.quiet_hours:
        parts.append(t("d_quiet_hours"))
    if p.no_promo_in_reminders:
        parts.append(t("d_promo"))
    if p.reminder_cap_by_band:
        caps = dict(p.reminder_cap_by_band)
        parts.append(t("d_band_caps", caps=" ".join(f"{b}≤{caps[b]}" for b in BANDS if b in caps)))
    elif p.max_pre_due_reminders is not None:
        parts.append(t("d_reminder_cap", k=p.max_pre_due_reminders))
    if p.daily_cap is not None:
        parts.append(t("d_daily_cap", n=p.daily_cap))
    return " + ".join(parts) if parts else t("d_current")


def cell(iv: dict[str, float]) -> str:
    c, lo, hi = iv["change"], iv["ci_low"], iv["ci_high"]
    if lo == hi:
        return whole(c)
    return f"{whole(c)} ({whole(lo)} ~ {whole(hi)})"


# --- 1. the policy ------------------------------------------------------------------------------
st.header(t("whatif"))
st.caption(period)
c1, c2 = st.columns(2)
with c1:
    compliance = st.checkbox(t("rule_compliance"), value=False, key="p_compliance")
    user_settings = st.checkbox(t("rule_user_settings"), value=False, key="p_user_settings")
    settled = st.checkbox(t("rule_after_settlement"), value=False, key="p_after_settlement")
    duplicates = st.checkbox(t("rule_duplicates"), value=False, key="p_duplicates")
    quiet = st.checkbox(t("rule_quiet_hours"), value=False, key="p_quiet")
    promo = st.checkbox(t("rule_promo"), value=False, key="p_promo")
with c2:
    per_band = st.toggle(t("per_band_caps"), value=False, key="p_per_band")
    choices = [None, *range(MAX_REMINDER_CAP + 1)]
    if per_band:
        cols = st.columns(len(BANDS))
        band_caps = {
            b: cols[i].selectbox(f"{t('score_band')} {b}", choices, key=f"p_cap_{b}",
                                 format_func=labeller(none="no_limit"))
            for i, b in enumerate(BANDS)
        }  # fmt: skip
        max_rem = None
    else:
        band_caps = {}
        max_rem = st.selectbox(
            t("rule_reminder_cap"), choices, index=0, key="p_max_reminders",
            format_func=labeller(none="no_limit"),
        )  # fmt: skip
    daily_cap = st.selectbox(
        t("rule_daily_cap"), [None, 1, 2, 3, 4, 5, 6], index=0, key="p_daily_cap",
        format_func=labeller(none="no_limit"),
    )  # fmt: skip
yours = Policy(
    block_marketing_without_permission=compliance,
    suppress_duplicates=duplicates,
    quiet_hours=quiet,
    no_promo_in_reminders=promo,
    max_pre_due_reminders=max_rem,
    daily_cap=daily_cap,
    suppress_after_settlement=settled,
    honour_user_settings=user_settings,
)
if band_caps:
    yours = yours.with_band_caps(band_caps)

with st.expander(t("value_weights"), expanded=False):
    w = st.columns(6)
    weights = Weights(
        on_time=w[0].number_input(t("w_on_time"), 0.0, 10_000.0, 50.0, 10.0, key="w_ontime"),
        complaint=w[1].number_input(t("w_complaint"), 0.0, 100_000.0, 200.0, 10.0, key="w_c"),
        regulator_complaint=w[2].number_input(t("w_regulator_complaint"), 0.0, 1e6, 2000.0, 100.0,
                                              key="w_reg"),
        opt_out=w[3].number_input(t("w_opt_out"), 0.0, 10_000.0, 30.0, 5.0, key="w_o"),
        violation=w[4].number_input(t("w_violation"), 0.0, 1e6, 500.0, 50.0, key="w_v"),
        message=w[5].number_input(t("w_message"), 0.0, 10.0, 0.04, 0.01, key="w_m",
                                  format="%.3f"),
    )  # fmt: skip

counts = E.count_from(inputs.tables, {"yours": yours})["yours"]
ev = E.evaluate(inputs, yours, counts, weights)
st.markdown(f"**{t('your_policy')}:** {describe(yours)}")

removed, alone = ev.removed(), ev.alone()
total_removed = sum(removed.values())
in_scope = ev.count_total("messages")
bills = sum(n.get("on_time", 0) for n in inputs.bill_groups.values())


def metric(col, label: str, outcome: str) -> None:
    iv = ev.form(outcome).interval(q)
    col.metric(label, whole(iv["change"]),
               help=t("ci_help", lo=whole(iv["ci_low"]), hi=whole(iv["ci_high"])))  # fmt: skip
    col.caption(t("ci_short", lo=whole(iv["ci_low"]), hi=whole(iv["ci_high"])))


m = st.columns(3)
m[0].metric(t("messages_removed"), f"{total_removed:,}")
m[0].caption(t("of_in_scope", n=f"{in_scope:,}", p=f"{total_removed / in_scope:.1%}")
             if in_scope else "")  # fmt: skip
metric(m[1], t("exp_on_time"), "on_time_repayments")
metric(m[2], t("exp_complaints"), "complaints")
m = st.columns(3)
metric(m[0], t("exp_opt_outs"), "opt_outs")
metric(m[1], t("exp_violations"), "violations")
metric(m[2], t("value_yuan"), "net_value_yuan")


def pp(x: float) -> str:
    """Percentage points, two decimals, signed; zero without a sign."""
    v = round(100 * x / bills, 2)
    return f"{v:+.2f}" if v else "0.00"


on_time = ev.form("on_time_repayments").interval(q)
if bills:
    st.caption(
        t("pp_line", pp=pp(on_time["change"]), lo=pp(on_time["ci_low"]),
          hi=pp(on_time["ci_high"]), b=f"{bills:,}")
    )  # fmt: skip
for n in ev.notes:
    st.warning(t(f"note_{n}"))

# outcomes: whole period and per month, 95 % intervals
# the page shows each month's change; the CSV has every month's interval too
rows, csv_rows = [], []
for o in E.OUTCOMES:
    iv = ev.form(o).interval(q)
    row = {
        t("outcome"): t(f"out_{o}"),
        t("whole_period"): whole(iv["change"]),
        t("interval95"): "" if iv["ci_low"] == iv["ci_high"]
        else f"{whole(iv['ci_low'])} ~ {whole(iv['ci_high'])}",
    }  # fmt: skip
    for mo in months:
        miv = ev.form(o, month=mo).interval(q)
        row[mo] = whole(miv["change"])
        csv_rows.append({"outcome": o, "month": mo, **miv})
    csv_rows.append({"outcome": o, "month": "whole_period", **iv})
    rows.append(row)
st.dataframe(pd.DataFrame(rows), hide_index=True, key="whatif_outcomes", width="stretch")
st.download_button(
    t("download_csv"),
    pd.DataFrame(csv_rows).to_csv(index=False).encode("utf-8-sig"),
    file_name="whatif_outcomes.csv",
    mime="text/csv",
    key="dl_whatif_outcomes",
)
st.caption(t("outcomes_caption"))

# what each rule removes
enabled = yours.enabled()
rule_rows = [
    {
        t("rule"): t(f"rule_{r}"),
        t("enabled"): "✓" if enabled[r] else "",
        t("alone"): alone[r],
        t("combined"): removed[r],
    }
    for r in E.REMOVING
]
rule_rows.append({t("rule"): t("rule_promo") + " — " + t("rewritten"),
                  t("enabled"): "✓" if promo else "", t("alone"): alone["promo"],
                  t("combined"): ev.count_total("rewritten_promo")})  # fmt: skip
rule_rows.append({t("rule"): t("total"), t("enabled"): "", t("alone"): None,
                  t("combined"): total_removed})  # fmt: skip
rules_df = pd.DataFrame(rule_rows)
for col in (t("alone"), t("combined")):  # whole counts with separators, blank for the total
    rules_df[col] = rules_df[col].map(lambda n: "" if n is None or pd.isna(n) else f"{int(n):,}")
charts.table(rules_df, "whatif_rules")

# --- 2. the search ------------------------------------------------------------------------------
st.header(t("search_title"))
res = policy_search(inputs, weights)  # kept while the scope and weights stay
st.caption(t("search_caption", n=f"{res.grid_size:,}"))
tied = [c for c in res.ranking if c.tied_with_best]
st.info(
    t("best_line", p=describe(res.best.policy), v=cell(res.best.value))
    + " "
    + (t("tied_line", n=len(tied) - 1) if len(tied) > 1 else t("clear_winner"))
)
top = res.ranking[:10]
rank_df = pd.DataFrame(
    [
        {
            t("rank"): i + 1,
            t("policy"): describe(c.policy),
            t("messages_removed"): f"{c.messages_removed:,}",
            t("value_yuan"): whole(c.value["change"]),
            t("interval95"): (
                ""
                if c.value["ci_low"] == c.value["ci_high"]
                else f"{whole(c.value['ci_low'])} ~ {whole(c.value['ci_high'])}"
            ),
            t("tied"): "≈" if c.tied_with_best else "",
        }
        for i, c in enumerate(top)
    ]
)
# a static table: its ten policy texts wrap, so rows that differ only at the end of a long
# policy can be told apart without hovering (a data grid cuts each cell to one line)
st.table(rank_df)
st.caption(t("search_limits"))

fr = res.frontier
fig = go.Figure(
    go.Scatter(
        x=[c.messages_removed for c in fr],
        y=[c.value["change"] for c in fr],
        mode="lines+markers",
        error_y={
            "type": "data",
            "symmetric": False,
            "array": [c.value["ci_high"] - c.value["change"] for c in fr],
            "arrayminus": [c.value["change"] - c.value["ci_low"] for c in fr],
        },
        text=[describe(c.policy) for c in fr],
        hovertemplate="%{text}<br>%{x:,} · %{y:,.0f}<extra></extra>",
    )
)
# whole numbers with separators: the SI suffixes Plotly picks (5M, 100k) read oddly in Chinese
fig.update_xaxes(title=t("messages_removed"), tickformat=charts.TICKS["int"])
fig.update_yaxes(title=t("value_yuan"), tickformat=charts.TICKS["yuan"])
charts.style(fig, t("frontier_policy_title"))
fr_df = pd.DataFrame(
    [{"policy": describe(c.policy), "messages_removed": c.messages_removed, **c.value} for c in fr]
)
charts.show(fig, fr_df, "whatif_frontier")

sens_rows = []


def amount(x: float) -> str:
    if abs(x) < 1e-6:  # a bound the search found at (numerically) zero: "1.9e-10" reads oddly
        return "0"
    return f"{x:,.2f}" if x >= 1 else f"{x:.2g}"


for name, (lo, hi) in res.sensitivity.items():
    now = getattr(weights, name)
    top = t("beyond", x=amount(100 * now)) if hi is None else amount(hi)
    sens_rows.append({
        t("weight"): t(f"w_{name}"),
        t("now"): amount(now),
        t("winner_holds"): f"{'0' if lo is None else amount(lo)} ~ {top}",
    })  # fmt: skip
st.markdown(f"**{t('sensitivity_title')}**")
st.dataframe(
    pd.DataFrame(sens_rows),
    hide_index=True,
    key="whatif_sensitivity",
    # the weights' names are long (the compliance one was cut off in English)
    column_config={t("weight"): st.column_config.TextColumn(width="large")},
)

with st.expander(t("assumptions"), expanded=False):
    for key in E.ASSUMPTIONS:
        st.markdown(f"- {t(key)}")
    exp = inputs.experiment
    if exp is not None:
        st.markdown(
            t("cadence_line", exp=exp.experiment_id,
              arms=", ".join(f"{code('arm', a) if a else t('no_arm')} = {c}"
                             for a, c in exp.cadence.items()))
        )  # fmt: skip
    attr = pd.DataFrame(
        [
            {t("rule"): t(f"rule_{g}") if g != "none" else t("unattributed"),
             t("regulator"): "✓" if reg else "", t("complaints_n"): n}
            for (g, reg), n in sorted(inputs.complaints.items())
        ]
    )  # fmt: skip
    if not attr.empty:
        st.dataframe(attr, hide_index=True, key="whatif_attribution")

# --- 3. diagnostics ---------------------------------------------------------------------------
st.header(t("diagnostics"))
eff = data.experiment_effects(f)
if eff.empty:
    st.info(t("no_experiment"))
else:
    eff = eff.copy()
    eff["outcome_label"] = eff["outcome"].map(lambda o: t(f"o_{o}"))
    fig = go.Figure()
    for (exp_id, arm), g in eff.groupby(["experiment_id", "arm"]):
        fig.add_trace(
            go.Scatter(
                # percentage points: a difference of two rates, not a relative change
                x=g["diff"] * 100,
                y=g["outcome_label"],
                name=f"{exp_id} · {code('arm', arm)}",
                mode="markers",
                orientation="h",
                marker={"size": 11},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": ((g["ci_high"] - g["diff"]) * 100).tolist(),
                    "arrayminus": ((g["diff"] - g["ci_low"]) * 100).tolist(),
                },
                customdata=g[["rate_arm", "rate_control", "p_value"]],
                hovertemplate=t("hover_arm_effect") + "<extra></extra>",
            )
        )
    fig.add_vline(x=0, line_dash="dot", line_color="#7f8c8d")
    fig.update_layout(scattermode="group")
    fig.update_xaxes(title=t("difference"), tickformat="+")  # the title gives the unit
    charts.style(fig, t("arms_title"))
    charts.show(fig, eff.drop(columns="outcome_label"), "tradeoff_arms")
    st.caption(t("arms_messages_note"))

OUTCOMES = ["on_time", "dpd30", "complained", "sms_complained", "opted_out", "active_next_cycle"]
outcome = (
    st.segmented_control(t("outcome"), OUTCOMES, default="on_time",
                         format_func=labeller("o_{}"), key="curve_outcome")
    or "on_time"
)  # fmt: skip
BUCKETS = ("0", "1", "2", "3", "4", "5+")
cv = data.curve(f)
cv = cv[cv["outcome"] == outcome].copy()
cv["bucket_order"] = cv["reminders_bucket"].map({b: i for i, b in enumerate(BUCKETS)})
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
            # which line, and what its axes mean: six lines share the chart
            hovertemplate=(
                f"%{{fullData.name}}<br>{t('reminders')}{t('colon')}%{{x}}<br>"
                f"{t(f'o_{outcome}')}{t('colon')}%{{y:.1%}} (n=%{{customdata[0]:,}})"
                "<extra></extra>"
            ),
        )
    )
fig.update_xaxes(title=t("reminders"), type="category", categoryorder="array",
                 categoryarray=list(BUCKETS))  # fmt: skip
fig.update_yaxes(title=t(f"o_{outcome}"))
charts.style(fig, f"{t('curve_title')} · {t(f'o_{outcome}')}", y_pct=True)
charts.show(fig, cv, "tradeoff_curve")
st.warning(t("curve_diagnostic"))

fr = data.frontier(f)
if not fr.empty:
    by = t("frontier_by_arm") if f.experiment else t("frontier_by_bucket")
    fig = go.Figure(
        go.Scatter(
            x=fr["sms_per_cycle"],
            y=fr["on_time_rate"],
            text=[code("arm", g) for g in fr["grp"]] if f.experiment else fr["grp"],
            mode="markers+text",
            textposition="top center",
            marker={"size": 14},
            customdata=fr[["cycles", "complaint_rate"]],
            hovertemplate=t("hover_frontier") + "<extra></extra>",
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
