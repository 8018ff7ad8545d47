"""One chart library (Plotly), one look; every chart is shown with a download of its data."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboard.i18n import t

COLORS = ["#1f5aa6", "#e07b39", "#2a9d8f", "#c0392b", "#8e6bbf", "#7f8c8d", "#d4a017"]
FONT = "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, Helvetica, Arial, sans-serif"
HEAT = "Blues"
PCT = ".1~%"  # 80%, 2.5%: one decimal only where it says something

# Plotly Express picks colours when a trace is made: set its defaults, not only the layout.
px.defaults.template = "plotly_white"
px.defaults.color_discrete_sequence = COLORS


def style(fig: go.Figure, title: str, y_pct: bool = False, height: int = 360) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        colorway=COLORS,
        font={"family": FONT, "size": 13},
        title={"text": title, "x": 0.0, "font": {"size": 15}},
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.25, "yanchor": "top", "title": None},
        height=height,
    )
    if y_pct:
        fig.update_yaxes(tickformat=PCT)
    return fig


def monthly(fig: go.Figure) -> go.Figure:
    """An x axis of months: one tick per month, labelled YYYY-MM."""
    fig.update_xaxes(dtick="M1", tickformat="%Y-%m")
    return fig


def line(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    color: str | None = None,
    y_pct: bool = False,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    fig = px.line(df, x=x, y=y, color=color, markers=True, labels=labels or {})
    return style(fig, title, y_pct)


def bar(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    color: str | None = None,
    y_pct: bool = False,
    labels: dict[str, str] | None = None,
    barmode: str = "stack",
    orientation: str = "v",
) -> go.Figure:
    fig = px.bar(
        df, x=x, y=y, color=color, labels=labels or {}, barmode=barmode, orientation=orientation
    )
    return style(fig, title, y_pct)


def heatmap(
    pivot: pd.DataFrame, title: str, x_label: str, y_label: str, pct: bool = False
) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=[str(c) for c in pivot.columns],
            y=[str(i) for i in pivot.index],
            colorscale=HEAT,
            texttemplate="%{z:.0%}" if pct else "%{z}",
            hoverongaps=False,
        )
    )
    fig.update_xaxes(title=x_label, type="category")
    fig.update_yaxes(title=y_label, type="category", autorange="reversed")
    return style(fig, title)


def show(fig: go.Figure, df: pd.DataFrame, key: str) -> None:
    """Render the figure and, under it, a CSV download of exactly the data it plots."""
    st.plotly_chart(fig, key=f"chart_{key}", theme=None)
    st.download_button(
        t("download_csv"),
        df.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"dl_{key}",
    )


def table(df: pd.DataFrame, key: str) -> None:
    """A data table with its CSV download."""
    st.dataframe(df, hide_index=True, key=f"table_{key}")
    st.download_button(
        t("download_csv"),
        df.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"dl_{key}",
    )


def pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or pd.isna(v) else f"{v * 100:.{digits}f}%"


def num(v: float | None, digits: int = 0) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:,.{digits}f}"


def signed(v: float | None, digits: int = 2) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:+,.{digits}f}"
