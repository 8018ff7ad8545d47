"""SMS health page, section "Gateway receipts": the send log against what the gateways report.

Reads `mart.sms_gateway_reconciliation` (one row per local date and provider). The table has
no score band or experiment: only the date filter applies.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.i18n import code, t

RECONCILIATION_SQL = """
select local_date, provider, log_messages, receipts, matched_receipts, unmatched_receipts,
       log_messages_without_receipt, gateway_only_sends, gateway_only_duplicates,
       contradicted, log_segments, billed_segments
from mart.sms_gateway_reconciliation
where local_date between $start and $end
order by local_date, provider
"""

HEADLINES = (
    "receipts",
    "log_messages_without_receipt",
    "gateway_only_sends",
    "contradicted",
    "unmatched_receipts",
)
DAILY = ("gateway_only_sends", "contradicted", "unmatched_receipts")
COUNTS = (
    "log_messages",
    "receipts",
    "matched_receipts",
    "unmatched_receipts",
    "log_messages_without_receipt",
    "gateway_only_sends",
    "gateway_only_duplicates",
    "contradicted",
    "log_segments",
    "billed_segments",
)


def reconciliation(f: data.Filters) -> pd.DataFrame:
    return data.query(RECONCILIATION_SQL, f.params())


def receipts_through() -> object | None:
    """The latest day whose receipts file is loaded (None: no receipts loaded)."""
    fresh = data.freshness()
    latest = fresh.loc[fresh["source"] == "sms_receipts", "latest_dt"]
    return None if latest.empty or pd.isna(latest.iloc[0]) else latest.iloc[0]


def section(f: data.Filters) -> None:
    """The gateway section of the SMS health page. Days after the last receipts file are
    left out: their messages have no receipt yet, which would read as gateway problems."""
    st.subheader(t("gw_title"))
    df = reconciliation(f)
    through = receipts_through()
    cut = through is not None and not df.empty and df["local_date"].max() > pd.Timestamp(through)
    if cut:
        df = df[df["local_date"] <= pd.Timestamp(through)]
    if df.empty or int(df["receipts"].sum()) == 0:
        st.info(t("gw_no_receipts"))
        return
    if cut:
        st.caption(t("gw_receipts_through", day=fmt.date(through)))
    cols = st.columns(len(HEADLINES))
    for col, name in zip(cols, HEADLINES, strict=True):
        col.metric(t(f"gw_{name}"), f"{int(df[name].sum()):,}")
    daily = df.groupby("local_date", as_index=False)[list(DAILY)].sum()
    long = daily.melt(id_vars="local_date", value_vars=list(DAILY), var_name="what",
                      value_name="count")  # fmt: skip
    long["label"] = long["what"].map(lambda x: t(f"gw_{x}"))
    fig = charts.line(
        long, "local_date", "count", t("gw_daily_title"), color="label", grain="day",
        x_title=t("day"),
        y_title=charts.axis_title(t("unit_messages_count"), t("unit_msgs_per_day")),
    )  # fmt: skip
    charts.show(fig, long.drop(columns="label"), "sms_gateway_daily")
    by_provider = df.groupby("provider", as_index=False)[list(COUNTS)].sum()
    by_provider["provider"] = by_provider["provider"].map(lambda v: code("provider", v))
    shown = by_provider.rename(columns={"provider": t("gw_provider")} | {
        c: t(f"gw_{c}") for c in COUNTS
    })  # fmt: skip
    charts.table(shown, "sms_gateway_reconciliation")
    st.caption(t("gw_caption") + " " + t("filters_apply", which=t("filter_date")))
