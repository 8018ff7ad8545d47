"""nudgescope dashboard: the router entry point.

Shared sidebar (language, filters) lives here; each page is a script in `views/`; all data
access goes through `dashboard.data`, every label through `dashboard.i18n` and every format
and colour through `dashboard.format`. Run with `nudgescope dashboard` (or `make dashboard`).

Shareable views: the page is the URL's path and the filters are its query parameters
(`?lang=en&from=2026-01-01&to=2026-03-31&band=E&exp=EXP-1`); a link opens the same view.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from dashboard import data
from dashboard.i18n import LANGUAGES, labeller, t

# A local icon: Streamlit fetches ":material/...:" favicons from fonts.gstatic.com.
ICON = Path(__file__).parent / "assets" / "favicon.png"
st.set_page_config(page_title="nudgescope", page_icon=str(ICON), layout="wide")


def _from_url(opts: dict, first: dt.date, as_of: dt.date, default: tuple) -> None:
    """The first run of a session takes the filters from the link, when they are valid."""
    qp = st.query_params
    if "date_range" not in st.session_state:
        try:
            start = dt.date.fromisoformat(qp.get("from", ""))
            end = dt.date.fromisoformat(qp.get("to", ""))
            ok = first <= start <= end <= as_of
        except ValueError:
            ok = False
        st.session_state["date_range"] = (start, end) if ok else default
    # (only a valid choice: a None in session state would show the empty placeholder)
    if "band" not in st.session_state and qp.get("band") in opts["bands"]:
        st.session_state["band"] = qp.get("band")
    if "experiment" not in st.session_state and qp.get("exp") in opts["experiments"]:
        st.session_state["experiment"] = qp.get("exp")


def _to_url(f: data.Filters) -> None:
    """Keep the link in step with what is on the screen (only the keys that changed)."""
    want = {"lang": st.session_state.get("lang"), "from": f.start.isoformat(),
            "to": f.end.isoformat(), "band": f.band, "exp": f.experiment}  # fmt: skip
    for key, value in want.items():
        if value is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != value:
            st.query_params[key] = value


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
    _from_url(opts, first, as_of, (default_start, as_of))

    with st.sidebar:
        st.subheader(t("filters"))
        picked = st.date_input(
            t("date_range"),
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
        st.caption(t("share_link"))

    if isinstance(picked, tuple | list) and len(picked) == 2:
        start, end = picked
    elif isinstance(picked, tuple | list) and len(picked) == 1:
        start, end = picked[0], as_of
    else:
        start, end = default_start, as_of
    st.session_state["filters"] = filters = data.Filters(
        start=start, end=end, band=band, experiment=experiment
    )
    _to_url(filters)

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


# One read-only connection for the whole script run, closed when it ends, and the published
# file's database instance kept open between runs of this process (dashboard.data.connection).
data.hold_between_runs()
with data.page_run():
    main()
