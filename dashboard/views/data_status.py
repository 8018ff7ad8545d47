"""Data status: what was published when, freshness per source, the file ledger, quarantine."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import t
from pipelines.contract import SOURCE_NAMES

st.title(t("page_status"))
meta = data.meta() or {}

c1, c2, c3 = st.columns(3)
c1.metric(t("as_of"), str(meta.get("as_of", "—")))
published = meta.get("published_at")
c2.metric(
    t("published_at"),
    pd.Timestamp(published).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M")
    if published is not None
    else "—",
)
c3.metric(t("run_id"), str(meta.get("run_id", "—")))

rows = meta.get("rows_per_source")
if isinstance(rows, str):
    rows = json.loads(rows)
if rows:
    st.subheader(t("rows_per_source"))
    rps = pd.DataFrame(sorted(rows.items()), columns=["source", "rows"])
    charts.show(charts.bar(rps, "source", "rows", t("rows_per_source")), rps, "status_rows")

st.subheader(t("freshness"))
fresh = data.freshness()
# every source of the contract, also those no file has arrived for yet (the gateways'
# receipts are optional: their absence is said on the SMS health page)
missing = sorted(set(SOURCE_NAMES) - set(fresh["source"]))
if missing:
    fresh = pd.concat(
        [fresh, pd.DataFrame({"source": missing, "files": 0})], ignore_index=True
    ).sort_values("source")
    st.warning(t("no_files", sources=", ".join(missing)))
failed = int(fresh["failed_files"].sum()) if not fresh.empty else 0
if failed:
    st.warning(t("failed_files", n=failed))
charts.table(fresh, "status_freshness")

st.subheader(t("quarantine"))
q = data.quarantine_summary()
if q.empty:
    st.info(t("empty"))
else:
    fig = charts.bar(q, "source", "rows", t("quarantine"), color="reason_code")
    charts.show(fig, q, "status_quarantine")
    with st.expander(t("quarantine_rows")):
        st.dataframe(data.quarantine_rows(), hide_index=True, key="status_quarantine_rows")

st.subheader(t("ledger"))
charts.table(data.ledger(), "status_ledger")
