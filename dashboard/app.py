"""nudgescope dashboard: the router entry point.

Shared sidebar (language, filters) lives here; each page is a script in `pages/`; all data
access goes through `dashboard.data`. Run with `nudgescope dashboard` (or `make dashboard`).
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard import data
from dashboard.i18n import LANGUAGES, labeller, t

st.set_page_config(page_title="nudgescope", page_icon=":material/sms:", layout="wide")


def main() -> None:

    # A link may choose the language (?lang=en); after that the sidebar switch decides.
    if "lang" not in st.session_state and st.query_params.get("lang") in LANGUAGES:
        st.session_state["lang"] = st.query_params["lang"]

    with st.sidebar:
        st.radio(
            "语言 / Language",  # the same label in both languages, so the choice survives a rerun
            list(LANGUAGES),
            format_func=LANGUAGES.get,
            key="lang",
            horizontal=True,
        )

    meta = data.meta()
    if meta is None:
        st.title(t("app_title"))
        st.error(t("no_data", path=data.serve_path()))
        st.stop()

    opts = data.options()
    as_of: dt.date = opts["as_of"] or dt.date.today()
    first: dt.date = opts["first"] or as_of.replace(day=1)
    default_start = max(first, (as_of.replace(day=1) - dt.timedelta(days=62)).replace(day=1))

    with st.sidebar:
        st.subheader(t("filters"))
        picked = st.date_input(
            t("date_range"),
            value=(default_start, as_of),
            min_value=first,
            max_value=as_of,
            key="date_range",
        )
        band = st.selectbox(
            t("score_band"),
            [None, *opts["bands"]],
            format_func=labeller(none="all"),
            key="band",
        )
        experiment = st.selectbox(
            t("experiment"),
            [None, *opts["experiments"]],
            format_func=labeller(none="all"),
            key="experiment",
        )
        st.caption(t("as_of_caption", as_of=meta["as_of"], version=meta["data_version"]))

    if isinstance(picked, tuple | list) and len(picked) == 2:
        start, end = picked
    elif isinstance(picked, tuple | list) and len(picked) == 1:
        start, end = picked[0], as_of
    else:
        start, end = default_start, as_of
    st.session_state["filters"] = data.Filters(
        start=start, end=end, band=band, experiment=experiment
    )

    pages = [
        st.Page(
            "views/overview.py", title=t("page_overview"), icon=":material/dashboard:", default=True
        ),
        st.Page("views/tradeoffs.py", title=t("page_tradeoffs"), icon=":material/balance:"),
        st.Page("views/repayment.py", title=t("page_repayment"), icon=":material/credit_card:"),
        st.Page("views/conversion.py", title=t("page_conversion"), icon=":material/shopping_cart:"),
        st.Page("views/complaints.py", title=t("page_complaints"), icon=":material/campaign:"),
        st.Page("views/sms_health.py", title=t("page_sms"), icon=":material/sms:"),
        st.Page("views/incidents.py", title=t("page_incidents"), icon=":material/notifications:"),
        st.Page("views/sql.py", title=t("page_sql"), icon=":material/terminal:"),
        st.Page("views/data_status.py", title=t("page_status"), icon=":material/database:"),
    ]
    st.navigation(pages).run()


# One read-only connection for the whole script run, closed when it ends (dashboard.data).
with data.page_run():
    main()
