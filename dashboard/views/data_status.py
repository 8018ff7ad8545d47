"""Data status: what was published when, freshness per source (with thresholds), the file
ledger, quarantine."""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard import format as fmt
from dashboard.data import alerts as alerts_data
from dashboard.i18n import code, codes, t
from pipelines.contract import SOURCES

st.title(t("page_status"))
meta = data.meta() or {}
LATE, STALE = data.freshness_days()
# background of the freshness column per state
FRESH_COLORS = {"fresh": "#d9f2d9", "late": "#fff0c2", "stale": "#f8d0d0", "missing": "#e6e6e6"}

c1, c2, _ = st.columns([2, 3, 2])
c1.metric(t("as_of"), fmt.date(meta.get("as_of")), border=True)
c2.metric(
    t("published_at_zone"), fmt.local_time(meta.get("published_at"), with_zone=False), border=True
)
st.caption(f"{t('run_id')}: {meta.get('run_id', '—')} · {t('data_version')}: "
           f"{meta.get('data_version', '—')}")  # fmt: skip

rows = meta.get("rows_per_source")
if isinstance(rows, str):
    rows = json.loads(rows)
if rows:
    rps = pd.DataFrame(sorted(rows.items()), columns=["source", "rows"])
    rps["label"] = rps["source"].map(lambda s: code("data_source", s))
    fig = charts.bar(
        rps, "label", "rows", t("rows_per_source"),
        y_title=charts.axis_title(t("published_rows"), t("unit_rows")), color="label",
        colors=fmt.color_map("data_source", codes("data_source")), x_title=t("source_axis"),
    )  # fmt: skip
    fig.update_layout(showlegend=False)
    # each bar says its count: next to the millions of SMS rows the small sources (complaints,
    # opt-outs, preferences) have no visible bar and would read as nothing published
    fig.update_traces(texttemplate="%{y:,}", textposition="outside", cliponaxis=False)
    charts.show(fig, rps.drop(columns="label"), "status_rows")

# undelivered alert notifications (pipelines.alerts), retried at the next run
alerts = alerts_data.notification_status()
if alerts.get("pending") or alerts.get("failed"):
    st.warning(t("status_alerts", pending=alerts.get("pending", 0), failed=alerts.get("failed", 0)))

st.subheader(t("freshness"))
fresh = data.freshness()
# every required source of the contract, also those no file has arrived for yet (an optional
# source such as sms_preferences may never be delivered)
missing = sorted({s for s, src in SOURCES.items() if not src.optional} - set(fresh["source"]))
if missing:
    fresh = pd.concat(
        [fresh, pd.DataFrame({"source": missing, "files": 0})], ignore_index=True
    ).sort_values("source")
    st.warning(t("no_files", sources="、".join(code("data_source", s) for s in missing)))
failed = int(fresh["failed_files"].fillna(0).sum()) if not fresh.empty else 0
if failed:
    st.warning(t("failed_files", n=failed))
behind = pd.to_numeric(fresh["days_behind"], errors="coerce")
fresh["freshness"] = "fresh"
fresh.loc[behind > LATE, "freshness"] = "late"
fresh.loc[behind > STALE, "freshness"] = "stale"
fresh.loc[behind.isna(), "freshness"] = "missing"
fresh["days_behind"] = behind.astype("Int64")
for c_ in ("files", "failed_files", "rows_read", "rows_loaded", "rows_quarantined",
           "rows_superseded"):  # fmt: skip
    fresh[c_] = pd.to_numeric(fresh[c_], errors="coerce").astype("Int64")
order = ["source", "freshness", "days_behind", "latest_dt", "files", "failed_files", "rows_read",
         "rows_loaded", "rows_quarantined", "rows_superseded", "last_loaded_at"]  # fmt: skip
charts.table(
    fresh[order],
    "status_freshness",
    codes={"source": "data_source", "freshness": "freshness"},
    formats={"latest_dt": "date", "last_loaded_at": "time"},
    cell_colors={"freshness": FRESH_COLORS},
)
st.caption(t("freshness_rule", late=LATE, stale=STALE))

st.subheader(t("quarantine"))
q = data.quarantine_summary()
if q.empty:
    st.success(t("no_quarantine"))
else:
    q = q.copy()
    q["source_label"] = q["source"].map(lambda s: code("data_source", s))
    q["reason_label"] = q["reason_code"].map(lambda r: code("reason_code", r))
    fig = charts.bar(
        q, "source_label", "rows", t("quarantine"),
        y_title=charts.axis_title(t("quarantined_rows"), t("unit_rows")), color="reason_label",
        colors=fmt.color_map("reason_code", q["reason_code"].unique()), x_title=t("source_axis"),
    )  # fmt: skip
    charts.show(fig, q.drop(columns=["source_label", "reason_label"]), "status_quarantine")
    charts.table(
        q.drop(columns=["source_label", "reason_label"]),
        "status_quarantine_summary",
        codes={"source": "data_source", "reason_code": "reason_code"},
        formats={"first_dt": "date", "last_dt": "date"},
    )
    with st.expander(t("quarantine_rows")):
        charts.table(
            data.quarantine_rows(),
            "status_quarantine_rows",
            codes={"source": "data_source", "reason_code": "reason_code"},
            formats={"dt": "date"},
        )

st.subheader(t("ledger"))
charts.table(
    data.ledger(),
    "status_ledger",
    codes={"source": "data_source", "status": "file_status"},
    formats={"dt": "date", "loaded_at": "time"},
)
charts.filters_note(
    [],
    {"date": "why_pipeline", "band": "why_pipeline", "experiment": "why_pipeline"},
)
