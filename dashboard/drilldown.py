"""The compliance drill-down: from a complaint (or a user) to the messages that user was sent
in the days before it, with their flags. Shown on the complaints page; other pages (e.g. an
incidents page) call `messages_before(user_id, before, key=...)` the same way."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import charts, data
from dashboard.i18n import code, lang, t

FLAGS = (
    "is_duplicate",
    "is_quiet_hours",
    "is_after_opt_out",
    "is_over_daily_cap",
    "is_marketing_in_service",
    "is_marketing_without_consent",
)


def messages_before(user_id: str, before: object, key: str, days: int = 7) -> pd.DataFrame:
    """Show the messages `user_id` was sent in the `days` days up to `before` (an instant),
    newest first, each with its flags in words; returns the rows shown."""
    df = data.user_messages(user_id, before, days)
    if df.empty:
        st.info(t("drill_no_messages", days=days))
        return df
    flags = [c for c in FLAGS if c in df.columns]
    out = df.copy()
    out["flags"] = out[flags].apply(
        lambda r: "、".join(code("flag", c) for c in flags if r[c]) if lang() == "zh"
        else ", ".join(code("flag", c) for c in flags if r[c]),
        axis=1,
    )  # fmt: skip
    out["sent"] = out["sent_at"]
    shown = out[["sent", "message_id", "purpose", "template_code", "delivery_status", "flags",
                 "content"]]  # fmt: skip
    n_flagged = int((out[flags].any(axis=1)).sum())
    st.caption(t("drill_summary", n=len(out), flagged=n_flagged, days=days))
    charts.table(
        shown,
        key,
        codes={"purpose": "purpose", "delivery_status": "delivery_status"},
        formats={"sent": "time"},
    )
    return out
