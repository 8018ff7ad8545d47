"""Repayment & risk: on-time and DPD by due month and band, FPD, cure, vintages, 30+ balance.

Rates of different magnitudes (on time ~90 %, DPD ~1-5 %) are on panels of their own."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.i18n import code, t

f: data.Filters = st.session_state["filters"]
st.title(t("page_repayment"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]
BANDS = [f"score_band={b}" for b in "ABCDE"]
DPD = ["dpd7_rate", "dpd30_rate", "dpd90_rate"]


def labelled(df):
    df = df.copy()
    df["label"] = df["metric"].map(lambda m: t(f"m_{m}"))
    return df


# On-time and DPD by due month (the band's segment where published): two panels
MIN_N = data.min_denominator()
rates = labelled(
    fmt.hide_small(data.for_band(data.metrics(["on_time_rate", *DPD], f), f.band), MIN_N)
)
if rates.empty:
    st.info(t("empty"))
else:
    rates["panel"] = rates["metric"].where(rates["metric"] == "on_time_rate", "dpd")
    panels = [
        charts.Panel("on_time_rate", t("m_on_time_rate"), fmt.metric_unit("on_time_rate")),
        charts.Panel("dpd", t("dpd_panel"), t("u_dpd_panel")),
    ]
    colors = fmt.color_map("metric", ["on_time_rate", *DPD])
    fig = charts.small_multiples(
        rates, "period", "value", "panel", panels,
        t("repayment_rates_title"),
        series="label", series_colors=colors, panel_height=280,
    )  # fmt: skip
    charts.show(fig, rates[COLS], "repayment_rates")
    # a DPD rate needs its days past due to pass before a month counts: its line stops
    # earlier than the on-time rate's, which is no drop to nothing (the overview's note)
    newest = rates.groupby("metric")["period"].max()
    for metric in DPD:
        if metric in newest and newest[metric] < newest.get("on_time_rate", newest[metric]):
            st.caption(
                t("latest_month_note", metric=t(f"m_{metric}"), month=fmt.month(newest[metric]))
            )
    # a due month still running is drawn too (its bills due so far are a fair sample, and an
    # early warning), but its point stands on fewer bills: the caption says which. "Running"
    # as the overview says "complete": a month is complete on its last day (and its point
    # then misses only the bills due that day)
    as_of = data.published_as_of()
    on_time = rates[rates["metric"] == "on_time_rate"]
    if as_of is not None and not on_time.empty:
        last = pd.Timestamp(on_time["period"].max()).date()
        # bills due before as_of: the month's first days (none on its first day)
        if last > data.latest_complete_month(as_of, as_of) and as_of > last:
            st.caption(
                t(
                    "due_month_running",
                    month=fmt.month(last),
                    as_of=fmt.date(as_of),
                    days=(as_of - last).days,
                    total=(data.month_end(last) - last).days + 1,
                )
            )

# By score band: on time and 30+ DPD, each on its own panel, one line per band
banded = data.metrics(["on_time_rate", "dpd30_rate"], f, segments=BANDS)
banded = labelled(fmt.hide_small(banded[banded["segment"].isin(BANDS)], MIN_N))
if not banded.empty:
    banded["band"] = (
        banded["segment"].str.removeprefix("score_band=").map(lambda b: code("score_band", b))
    )
    panels = [
        charts.Panel(m, t(f"m_{m}"), fmt.metric_unit(m)) for m in ("on_time_rate", "dpd30_rate")
    ]
    fig = charts.small_multiples(
        banded, "period", "value", "metric", panels,
        f"{t('m_on_time_rate')} · {t('m_dpd30_rate')} · {t('by_band')}",
        series="band", series_colors=fmt.color_map("score_band", list("ABCDE")),
        panel_height=280,
    )  # fmt: skip
    charts.show(fig, banded[COLS], "repayment_by_band")
    st.caption(t("by_band_scope"))

# First-payment default, cure rate, 30+ balance ratio: three panels
OTHER = ["fpd30_rate", "cure_rate_30", "dpd30_balance_ratio"]
other = labelled(fmt.hide_small(data.for_band(data.metrics(OTHER, f), f.band), MIN_N))
if not other.empty:
    panels = [charts.Panel(m, t(f"m_{m}"), fmt.metric_unit(m), "pct", fmt.metric_color(m))
              for m in OTHER]  # fmt: skip
    fig = charts.small_multiples(
        other, "period", "value", "metric", panels,
        f"{t('m_fpd30_rate')} · {t('m_cure_rate_30')} · {t('m_dpd30_balance_ratio')}", cols=3,
    )  # fmt: skip
    charts.show(fig, other[COLS], "repayment_fpd_cure_balance")
if f.band:
    st.caption(t("band_fallback") + f" ({t('m_cure_rate_30')}, {t('m_dpd30_balance_ratio')})")

# Vintage curves
vin = data.vintage(f)
if vin.empty:
    st.info(t("empty"))
else:
    vin = vin.copy()
    vin["cohort_label"] = vin["cohort"].map(fmt.month)
    fig = charts.line(
        vin, "months_on_book", "dpd30_rate", t("vintage_title"),
        y_title=fmt.metric_axis("dpd30_rate"), color="cohort_label", y_format="pct",
        x_title=t("months_on_book"),
    )  # fmt: skip
    fig.update_xaxes(dtick=1)
    charts.show(fig, vin.drop(columns="cohort_label"), "repayment_vintage")
st.caption(t("too_few_chart_note", min=MIN_N))
charts.filters_note(["date", "band"], {"experiment": "why_not_per_experiment"})
