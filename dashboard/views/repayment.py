"""Repayment & risk: on-time and DPD by due month and band, FPD, cure, vintages, 30+ balance."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t

f: data.Filters = st.session_state["filters"]
st.title(t("page_repayment"))
COLS = ["metric", "period", "segment", "value", "numerator", "denominator"]
BANDS = [f"score_band={b}" for b in "ABCDE"]


def labelled(df):
    df = df.copy()
    df["label"] = df["metric"].map(lambda m: t(f"m_{m}"))
    return df


# On-time and DPD by due month (the band's segment where published)
rates = labelled(
    data.for_band(
        data.metrics(["on_time_rate", "dpd7_rate", "dpd30_rate", "dpd90_rate"], f), f.band
    )
)
if rates.empty:
    st.info(t("empty"))
else:
    fig = charts.line(
        rates, "period", "value", f"{t('m_on_time_rate')} · DPD · {t('by_due_month')}",
        color="label", y_pct=True, labels={"period": t("due_month"), "value": t("rate")},
    )  # fmt: skip
    charts.monthly(fig)
    charts.show(fig, rates[COLS], "repayment_rates")

# By score band
banded = data.metrics(["on_time_rate", "dpd30_rate"], f, segments=BANDS)
banded = labelled(banded[banded["segment"].isin(BANDS)])
if not banded.empty:
    banded["band"] = banded["segment"].str.removeprefix("score_band=")
    fig = px.line(
        banded, x="period", y="value", color="band", line_dash="label", markers=True,
        labels={"period": t("due_month"), "value": t("rate"), "label": ""},
    )  # fmt: skip
    charts.style(fig, f"{t('m_on_time_rate')} · {t('m_dpd30_rate')} · {t('by_band')}", y_pct=True)
    charts.monthly(fig)
    charts.show(fig, banded[COLS], "repayment_by_band")

# First-payment default, cure rate, 30+ balance ratio
other = labelled(
    data.for_band(data.metrics(["fpd30_rate", "cure_rate_30", "dpd30_balance_ratio"], f), f.band)
)
if not other.empty:
    fig = charts.line(
        other, "period", "value",
        f"{t('m_fpd30_rate')} · {t('m_cure_rate_30')} · {t('m_dpd30_balance_ratio')}",
        color="label", y_pct=True, labels={"period": t("month"), "value": t("rate")},
    )  # fmt: skip
    charts.monthly(fig)
    charts.show(fig, other[COLS], "repayment_fpd_cure_balance")
if f.band:
    st.caption(t("band_fallback") + f" ({t('m_cure_rate_30')}, {t('m_dpd30_balance_ratio')})")

# Vintage curves
vin = data.vintage(f)
if vin.empty:
    st.info(t("empty"))
else:
    fig = charts.line(
        vin, "months_on_book", "dpd30_rate", t("vintage_title"), color="cohort", y_pct=True,
        labels={"months_on_book": t("months_on_book"), "dpd30_rate": t("m_dpd30_rate"),
                "cohort": t("cohort")},
    )  # fmt: skip
    fig.update_xaxes(dtick=1)
    charts.show(fig, vin, "repayment_vintage")
st.caption(t("filters_apply", which=f"{t('filter_date')}, {t('filter_band')}"))
