"""SQL: ad-hoc read-only queries on the published database, through the shared sandbox."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboard import data
from dashboard.i18n import labeller, sandbox_message, t
from pipelines.serve import sandbox, sql_output

# The time limit can be tightened for tests or a busy machine (NUDGESCOPE_SQL_TIMEOUT, seconds).
LIMITS = sandbox.Limits(
    timeout_s=float(os.environ.get("NUDGESCOPE_SQL_TIMEOUT", "10")), max_rows=10_000
)

EXAMPLES = {
    "on_time_by_band": (
        "select period, segment, value, numerator, denominator\n"
        "from mart.metrics\n"
        "where metric = 'on_time_rate' and grain = 'month'\n"
        "order by period, segment"
    ),
    "flags_by_purpose": (
        "select purpose, count(*) as messages,\n"
        "       count(*) filter (where is_duplicate) as duplicates,\n"
        "       count(*) filter (where is_quiet_hours) as quiet_hours,\n"
        "       count(*) filter (where is_over_daily_cap) as over_daily_cap\n"
        "from mart.sms_message_flags\n"
        "group by purpose\norder by messages desc"
    ),
    "reminders_vs_on_time": (
        "select least(pre_due_reminders, 5) as reminders, count(*) as bills,\n"
        "       avg(on_time::int) as on_time_rate, avg(complained::int) as complaint_rate\n"
        "from mart.user_cycle\n"
        "group by 1\norder by 1"
    ),
    "experiment_effects": (
        "select * from mart.experiment_effects\norder by experiment_id, arm, outcome"
    ),
    "quarantine_reasons": (
        "select source, reason_code, count(*) as rows\n"
        "from ingest.quarantine\ngroup by all\norder by rows desc"
    ),
    "publish_metadata": "select * from meta",
}


def result_frame(result: sandbox.Result) -> pd.DataFrame:
    """The rows as a frame: instants as Asia/Shanghai text with the offset, integral float
    columns as integers, nested values as JSON text."""
    df = pd.DataFrame(result.rows, columns=result.columns)
    for name, type_ in zip(result.columns, result.types, strict=True):
        upper = type_.upper()
        if "TIME ZONE" in upper or "[]" in upper or upper.startswith(("STRUCT", "MAP", "JSON")):
            df[name] = df[name].map(lambda v: None if v is None else sql_output.text(v))
        elif upper in ("DOUBLE", "FLOAT", "REAL"):
            vals = pd.to_numeric(df[name], errors="coerce")
            finite = vals.dropna()
            if len(finite) and (finite == finite.round()).all() and finite.abs().max() < 2**53:
                df[name] = vals.astype("Int64")
    return df


st.title(t("page_sql"))
st.caption(
    t(
        "sql_intro",
        mem=sandbox.MEMORY_LIMIT,
        timeout=f"{LIMITS.timeout_s:g}",
        rows=f"{LIMITS.max_rows:,}",
    )
)
st.caption(t("sql_filters"))

if "sql_text" not in st.session_state:
    st.session_state["sql_text"] = EXAMPLES["on_time_by_band"]


def _use_example() -> None:
    st.session_state["sql_text"] = EXAMPLES[st.session_state["sql_example"]]


left, right = st.columns([1, 3])
with left:
    st.subheader(t("schema_browser"))
    schema = data.schema()
    for (sch, table), cols in schema.groupby(["table_schema", "table_name"], sort=True):
        with st.expander(f"{sch}.{table}"):
            st.dataframe(
                cols[["column_name", "data_type"]].rename(
                    columns={"column_name": t("column"), "data_type": t("type")}
                ),
                hide_index=True,
                key=f"schema_{sch}_{table}",
            )
with right:
    st.selectbox(
        t("examples"),
        list(EXAMPLES),
        key="sql_example",
        on_change=_use_example,
        format_func=labeller("ex_{}"),
    )
    sql = st.text_area(t("query"), key="sql_text", height=180)
    if st.button(t("run"), type="primary", key="sql_run"):
        try:
            result = sandbox.run(sql, data.serve_path(), LIMITS)
            st.session_state["sql_result"] = result
            st.session_state["sql_error"] = None
        except sandbox.SandboxError as exc:
            st.session_state["sql_result"] = None
            st.session_state["sql_error"] = (exc.kind, exc.message)
    err = st.session_state.get("sql_error")
    result = st.session_state.get("sql_result")
    if err:
        kind, message = err
        key = {"refused": "refused", "timeout": "timeout"}.get(kind, "sql_error")
        st.error(t(key, msg=sandbox_message(message)))
    elif result is not None:
        df = data.mask_frame(result_frame(result))
        st.caption(t("rows_returned", n=f"{len(df):,}", s=result.elapsed_s))
        for note in result.notes:
            st.warning(sandbox_message(note))
        # column names as the query wrote them; values formatted (times in Asia/Shanghai)
        st.dataframe(df, hide_index=True, key="table_sql_result")
        st.download_button(
            t("download_csv"),
            df.to_csv(index=False).encode("utf-8-sig"),
            file_name="sql_result.csv",
            mime="text/csv",
            key="dl_sql_result",
        )
