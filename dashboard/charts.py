"""One chart library (Plotly), one look; every chart is shown with a download of its data.

Conventions every page follows (and new pages should):
- series of different magnitudes never share an axis: `small_multiples` (one panel per
  metric, each with its own axis) or `line(..., secondary=...)`;
- every axis title names its unit (`t("unit_...")` helpers: %, count, per month, ...);
- colours come from `dashboard.format.color_map(kind, codes)`, so a code has one colour on every
  page; labels from `dashboard.i18n.code` / `t`;
- dates on axes use `format.day_tick()` / `format.month_tick()` (language-aware);
- tables go through `table(df, key, codes=..., formats=...)`: codes shown as labels, headers
  translated, times in Asia/Shanghai, numbers with separators; the CSV download keeps the data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.subplots import make_subplots

from dashboard import format as fmt
from dashboard.i18n import code, col, t

FONT = "Noto Sans CJK SC, PingFang SC, Microsoft YaHei, Helvetica, Arial, sans-serif"
HEAT = "Blues"
PCT = ".1~%"  # 80%, 2.5%: one decimal only where it says something
TICKS = {"pct": PCT, "int": ",d", "dec1": ",.1~f", "dec2": ",.2~f", "yuan": ",.0f"}

# The app's template: plotly_white's layout, and its trace defaults for the trace types the app
# draws only (TRACE_TYPES; a test checks every chart against it). Plotly copies and validates
# a figure's whole template when it is assigned, which px does for every chart: plotly_white
# holds the defaults of 24 trace types, and its copy was about a fifth of making a px chart.
# Every figure starts from it (go.Figure, make_subplots and px alike), so `style` does not
# assign it again (that copy was most of what styling a chart cost).
TEMPLATE = "nudgescope"
TRACE_TYPES = ("bar", "scatter", "scattergl", "heatmap")
_WHITE = pio.templates["plotly_white"]
pio.templates[TEMPLATE] = go.layout.Template(
    layout=_WHITE.layout, data={kind: _WHITE.data[kind] for kind in TRACE_TYPES}
)
pio.templates.default = TEMPLATE  # px too: it takes the default template when given none
# Plotly Express picks colours when a trace is made: set its defaults, not only the layout.
px.defaults.color_discrete_sequence = list(fmt.PALETTE)
# What the browser may fetch: nothing outside the app (no Plotly logo link, no mode bar).
CONFIG = {"displaylogo": False, "displayModeBar": False}


# The width a chart gets on a page of the wide layout at a common screen (1400-1600 px): the
# main column, or one of `columns` side by side. Only the legend's rows are estimated from it.
PAGE_WIDTH_PX = 860
LEGEND_ROW_PX = 20
PANEL_GAP = 0.12  # between small multiples side by side, a share of the figure's width


def legend_rows(names: Sequence[str], width_px: float) -> int:
    """How many rows a horizontal legend of `names` takes in `width_px` (Plotly wraps it): each
    entry is its symbol and gap (about 40 px) and its text (13 px per CJK character, 7.5 per
    other one, at the font size of `style`), packed left to right."""
    rows, used = 1, 0.0
    for name in names:
        text = sum(13.0 if ord(ch) > 0x2E7F else 7.5 for ch in str(name))
        entry = 40.0 + text
        if used and used + entry > width_px:
            rows, used = rows + 1, 0.0
        used += entry
    return rows


def _legend_names(fig: go.Figure) -> list[str]:
    seen: list[str] = []
    for trace in fig.data:
        if trace.showlegend is not False and trace.name and trace.name not in seen:
            seen.append(trace.name)
    return seen


def style(
    fig: go.Figure,
    title: str,
    y_pct: bool = False,
    height: int = 380,
    legend: bool = True,
    columns: int = 1,
) -> go.Figure:
    """The one look: title top left, legend under the title (never over an axis title), CJK-
    capable font. `y_pct`: the y axis shows shares as %. A lone unnamed series gets no legend
    (Plotly would label it "trace 0"): the title names it. `columns`: the chart is one of that
    many side by side; a legend that wraps to more rows in that width gets the room for them
    above the plot, so it never runs into the title."""
    if len(fig.data) == 1 and not fig.data[0].name:
        legend = False
    extra = 0
    if legend:
        width = PAGE_WIDTH_PX / max(1, columns) - 40  # the plot's margins and axis labels
        extra = (legend_rows(_legend_names(fig), width) - 1) * LEGEND_ROW_PX
    fig.update_layout(
        colorway=list(fmt.PALETTE),
        font={"family": FONT, "size": 13},
        title={"text": title, "x": 0.0, "y": 0.98, "yanchor": "top", "font": {"size": 15}},
        margin={"l": 10, "r": 10, "t": (80 + extra) if legend else 50, "b": 10},
        legend={
            "orientation": "h",
            "x": 0.0,
            "y": 1.0,
            "yanchor": "bottom",
            "xanchor": "left",
            "title": None,
        },
        showlegend=legend,
        height=height,
        separators=".,",
    )
    if y_pct:
        fig.update_yaxes(tickformat=PCT)
    return fig


def align_tops(figs: Sequence[go.Figure]) -> None:
    """Charts shown side by side: give each the largest top margin of them (a legend of more
    rows takes more), so their plots have the same height and their axes line up."""
    top = max((fig.layout.margin.t or 0) for fig in figs) if figs else 0
    for fig in figs:
        fig.update_layout(margin={"t": top})


def axis_title(name: str, unit: str | None) -> str:
    """ "On-time rate (%)": every axis says what it counts and in which unit. A unit the name
    already ends with is not said twice: "Flagged messages", not "Flagged messages
    (messages)" (the Chinese name, 问题短信, still takes its unit: 问题短信（条）)."""
    if unit and name.lower().split()[-1:] == [unit.lower()]:
        unit = None
    return f"{name}（{unit}）" if unit and _zh() else (f"{name} ({unit})" if unit else name)


def _zh() -> bool:
    from dashboard.i18n import lang

    return lang() == "zh"


def _whole_ticks(fig: go.Figure, top: float, horizontal: bool = False) -> None:
    """Counts up to 10: one tick per whole number (no 0.5 ticks that read as 0, 1, 1, 2)."""
    if pd.notna(top) and top <= 10:
        (fig.update_xaxes if horizontal else fig.update_yaxes)(dtick=1, tick0=0)


DAY_LABEL_STANDOFF_PX = 6  # how much lower the labels of a day axis stand


def time_axis(fig: go.Figure, grain: str, title: str | None = None) -> go.Figure:
    """An x axis of days or months, its ticks and hover labels in the page's language."""
    if grain == "month":
        fig.update_xaxes(
            dtick="M1",
            tickformat=fmt.month_tick(),
            hoverformat=fmt.month_tick(),  # a month reads the same on hover
            title=title or t("month"),
        )
    else:
        fig.update_xaxes(
            tickformat=fmt.day_tick(),
            hoverformat=fmt.day_hover(),
            title=title or t("day"),
            # a little lower, so a first label at the plot's left edge does not share a line
            # with the y axis's "0" (centred on the axis line): "0%Feb 23"
            ticklabelstandoff=DAY_LABEL_STANDOFF_PX,
        )
    return fig


def x_range(values, grain: str) -> list[pd.Timestamp] | None:
    """An x range of dates reaching beyond the first and the last point, so the first label
    does not sit beside the y axis's lowest tick ("0Apr 2025", "0Apr 1") and the last one is
    not cut at the edge: half a month for points on the first of each month, a twentieth of
    the span (at least a day) for days. None when there are no dates."""
    xs = pd.to_datetime(pd.Series(values), errors="coerce").dropna()
    if xs.empty:
        return None
    if grain == "month":
        pad = pd.Timedelta(days=15)
    else:
        pad = max(pd.Timedelta(days=1), (xs.max() - xs.min()) / 20)
    return [xs.min() - pad, xs.max() + pad]


# Width of a month's tick label at the axes' font, with the gap to the next one, in px: one
# line (Mar 2026 / 2026年3月) or two (the month over the year).
MONTH_LABEL_PX = {False: 70, True: 42}


def month_ticks(months: int, width_px: float) -> dict:
    """Tick settings of a monthly axis `width_px` wide showing `months` months: a label a
    month on one line when they fit, else on two lines, else every k-th month on two lines.
    Labels that do not fit are never tilted: plotly's tilted labels ran past the figure's
    edge, and the last month lost its label."""
    for two in (False, True):
        if months * MONTH_LABEL_PX[two] <= width_px:
            return {"dtick": "M1", "tickformat": fmt.month_tick(two), "tickangle": 0}
    step = -(-months * MONTH_LABEL_PX[True] // max(width_px, 1))
    return {"dtick": f"M{int(step)}", "tickformat": fmt.month_tick(True), "tickangle": 0}


def _months_in(span: list[pd.Timestamp]) -> int:
    """The months a monthly x_range shows (it reaches half a month beyond each end)."""
    return round((span[1] - span[0]).days / 30.44)


# Width of a day's tick label (Jun 29 / 6月29日) with the gap to the next one, in px, and the
# steps a daily axis may take between labels, in days, before it labels months.
DAY_LABEL_PX = 60
DAY_STEPS = (1, 2, 7, 14)
MONTH_START_LABEL_PX = 50  # the first of a month (Mar 1 / 3月1日) with its gap


def day_ticks(values, width_px: float) -> dict:
    """Tick settings of a daily axis `width_px` wide over the dates `values`, and its range: a
    label every 1, 2, 7 or 14 days counted from the first date (the first step whose labels
    fit), else the first of every k-th month from the first month start of the data (k: as
    many as the month starts' labels need to fit). The range reaches a twentieth of the span
    beyond the data (x_range) but stops half a day short of the label before the first date
    and of the one after the last: Plotly's own ticks (weekly on Sundays, on a padded range)
    labelled 1 March to 30 June "Feb 23" to "Jul 5", days the data does not have."""
    xs = pd.to_datetime(pd.Series(values), errors="coerce").dropna()
    if xs.empty:
        return {}
    first, last = xs.min().normalize(), xs.max().normalize()
    days = (last - first).days
    step = next((s for s in DAY_STEPS if (days // s + 1) * DAY_LABEL_PX <= width_px), None)
    if step is not None:
        tick0, dtick = first, step * 86_400_000
        before = first - pd.Timedelta(days=step)
        after = first + pd.Timedelta(days=(days // step + 1) * step)
    else:
        tick0 = first if first.day == 1 else first + pd.offsets.MonthBegin(1)
        starts = (last.year - tick0.year) * 12 + last.month - tick0.month + 1
        every = max(1, -(-starts * MONTH_START_LABEL_PX // max(int(width_px), 1)))
        months = pd.DateOffset(months=every)
        dtick, before, after = f"M{every}", tick0 - months, tick0
        while after <= last:
            after += months
    pad, half_day = x_range(xs, "day"), pd.Timedelta(hours=12)
    return {
        "tick0": tick0.strftime("%Y-%m-%d"),
        "dtick": dtick,
        "range": [max(pad[0], before + half_day), min(pad[1], after - half_day)],
    }


def _fit_time_axis(fig: go.Figure, values, grain: str, width_px: float, pad: bool = False) -> None:
    """A one-axis chart of days or months `width_px` wide: labels that fit (month_ticks,
    day_ticks), and with `pad` the padded range (lines; bars have room either side already)."""
    span = x_range(values, grain)
    if span is None:
        return
    if grain == "month":
        axis = {**month_ticks(_months_in(span), width_px), "range": span}
    else:
        axis = day_ticks(values, width_px)
    if not pad:
        axis.pop("range")
    fig.update_xaxes(**axis)


def monthly(fig: go.Figure) -> go.Figure:
    return time_axis(fig, "month")


def line(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    y_title: str | None = None,
    color: str | None = None,
    colors: Mapping[str, str] | None = None,
    y_format: str = "int",
    grain: str | None = None,
    x_title: str | None = None,
    markers: bool = True,
    y_pct: bool = False,
    labels: Mapping[str, str] | None = None,
) -> go.Figure:
    """Lines of ONE magnitude on one axis (a rate family, or counts); `y_title` with its unit.
    (`y_pct` and `labels` are the older way to say y_format="pct" and the axis titles.)"""
    y_format = "pct" if y_pct else y_format
    labels = dict(labels or {})
    y_title = y_title if y_title is not None else labels.get(y, "")
    x_title = x_title if x_title is not None else labels.get(x)
    # px.line's figure without px's hover template (it names the data frame's columns)
    fig = _line_figure(df, x, y, color, markers, colors)
    style(fig, title, legend=color is not None)
    fig.update_yaxes(title=y_title, tickformat=TICKS.get(y_format, y_format), rangemode="tozero")
    if y_format == "int" and len(df):
        _whole_ticks(fig, pd.to_numeric(df[y], errors="coerce").max())
    if grain:
        time_axis(fig, grain, x_title)
    elif x_title:
        fig.update_xaxes(title=x_title)
    if grain in ("month", "day"):
        _fit_time_axis(fig, df[x], grain, PAGE_WIDTH_PX - 80, pad=True)
    return fig


def _values(col: pd.Series):
    """A column as px hands it to a trace: times with a time zone as their wall-clock time."""
    if isinstance(col.dtype, pd.DatetimeTZDtype):
        col = col.dt.tz_localize(None)
    return col.to_numpy()


_NO_VALUE = object()  # the colour key of the rows without a value


def _groups(
    df: pd.DataFrame, color: str | None, colors: Mapping[str, str] | None
) -> list[tuple[str, pd.DataFrame, str]]:
    """The traces px makes of `df` by `color`, as (name, rows, colour): a trace per value in
    the order the values first appear, each in its colour from `colors` or else the palette's
    next one, counting the entries of `colors` (px's rule); rows without a value get no trace,
    but take a colour as px gives them one (so the values after them keep px's colours); without
    `color`, one trace (even of no rows) in the palette's first colour."""
    sequence = list(px.defaults.color_discrete_sequence)
    if color is None:
        return [("", df, sequence[0])]
    mapping: dict[object, str] = dict(colors or {})
    out = []
    for key in df[color].unique():
        slot = _NO_VALUE if pd.isna(key) else key
        if slot not in mapping:
            mapping[slot] = sequence[len(mapping) % len(sequence)]
        if slot is not _NO_VALUE:
            out.append((str(key), df[df[color] == key], mapping[key]))
    return out


def _numeric_colour(df: pd.DataFrame, color: str | None) -> bool:
    """Numbers as colours, which px.bar draws as a colour scale (px.line as categories): no bar
    chart of the app has them, and px draws those."""
    if color is None:
        return False
    kind = df[color].dtype
    return pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind)


def _px_layout(
    fig: go.Figure, df: pd.DataFrame, x: str, y: str, color: str | None, **more
) -> go.Figure:
    """The layout px gives a one-panel figure: axis titles the column names; an axis whose
    column is also the colour lists its categories in the order they first appear (top down on
    the y axis, as px)."""
    xaxis = {"anchor": "y", "domain": [0.0, 1.0], "title": {"text": x}}
    yaxis = {"anchor": "x", "domain": [0.0, 1.0], "title": {"text": y}}
    if color is not None and color in (x, y):
        order = list(df[color].unique())
        if color == x:
            xaxis.update(categoryorder="array", categoryarray=order)
        else:
            yaxis.update(categoryorder="array", categoryarray=order[::-1])
    return fig.update_layout(
        xaxis=xaxis,
        yaxis=yaxis,
        legend={"tracegroupgap": 0, **({"title": {"text": color}} if color and fig.data else {})},
        margin={"t": 60},
        **more,
    )


def _bar_figure(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str | None,
    barmode: str,
    orientation: str,
    colors: Mapping[str, str] | None,
) -> go.Figure:
    """The figure `px.bar(df, x=x, y=y, color=color, barmode=barmode, orientation=orientation,
    color_discrete_map=colors)` makes, without its hover template, built from plain traces.
    px took 35-40 ms a chart to make it (most of drawing a page's bars); this takes 2-3 ms.
    tests/dashboard/test_charts.py checks that both give the same figure."""
    if _numeric_colour(df, color):
        fig = px.bar(df, x=x, y=y, color=color, barmode=barmode, orientation=orientation,
                     color_discrete_map=dict(colors or {}))  # fmt: skip
        return fig.update_traces(hovertemplate=None)
    grouped = barmode == "group"
    traces = [
        go.Bar(
            **({"alignmentgroup": "True", "offsetgroup": name} if grouped else {}),
            legendgroup=name,
            marker={"color": colour, "pattern": {"shape": ""}},
            name=name,
            orientation=orientation,
            showlegend=color is not None,
            textposition="auto",
            x=_values(part[x]),
            xaxis="x",
            y=_values(part[y]),
            yaxis="y",
        )
        for name, part, colour in _groups(df, color, colors)
    ]
    return _px_layout(go.Figure(traces), df, x, y, color, barmode=barmode)


# px draws a line chart of more rows than this with WebGL (render_mode "auto")
WEBGL_ROWS = 1000


def _line_figure(
    df: pd.DataFrame,
    x: str,
    y: str,
    color: str | None,
    markers: bool,
    colors: Mapping[str, str] | None,
) -> go.Figure:
    """The figure `px.line(df, x=x, y=y, color=color, markers=markers,
    color_discrete_map=colors)` makes, without its hover template, from plain traces (as
    `_bar_figure`; the same test)."""
    webgl = len(df) > WEBGL_ROWS
    trace = go.Scattergl if webgl else go.Scatter
    traces = [
        trace(
            **({} if webgl else {"orientation": "v"}),
            legendgroup=name,
            line={"color": colour, "dash": "solid"},
            marker={"symbol": "circle"},
            mode="lines+markers" if markers else "lines",
            name=name,
            showlegend=color is not None,
            x=_values(part[x]),
            xaxis="x",
            y=_values(part[y]),
            yaxis="y",
        )
        for name, part, colour in _groups(df, color, colors)
    ]
    return _px_layout(go.Figure(traces), df, x, y, color)


def bar(
    df: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    y_title: str | None = None,
    color: str | None = None,
    colors: Mapping[str, str] | None = None,
    y_format: str = "int",
    grain: str | None = None,
    x_title: str | None = None,
    barmode: str = "stack",
    orientation: str = "v",
    y_pct: bool = False,
    labels: Mapping[str, str] | None = None,
    columns: int = 1,
) -> go.Figure:
    """Bars; `y_title` names the value axis with its unit (the horizontal one when
    orientation is "h"). (`y_pct` and `labels`: the older way to say y_format="pct" and the
    axis titles.) `columns`: shown as one of that many charts side by side (see `style`)."""
    y_format = "pct" if y_pct else y_format
    labels = dict(labels or {})
    value_col, category_col = (x, y) if orientation == "h" else (y, x)
    y_title = y_title if y_title is not None else labels.get(value_col)
    x_title = x_title if x_title is not None else labels.get(category_col)
    # px.bar's figure without px's hover template (it names the data frame's columns)
    fig = _bar_figure(df, x, y, color, barmode, orientation, colors)
    style(fig, title, legend=color is not None, columns=columns)
    value_axis = fig.update_xaxes if orientation == "h" else fig.update_yaxes
    value_axis(tickformat=TICKS.get(y_format, y_format))
    if y_format == "int" and len(df):
        by = y if orientation == "h" else x
        _whole_ticks(fig, pd.to_numeric(df.groupby(by)[x if orientation == "h" else y].sum(),
                     errors="coerce").max(), horizontal=orientation == "h")  # fmt: skip
    if y_title is not None:
        value_axis(title=y_title)
    if grain:
        time_axis(fig, grain, x_title)
    elif x_title is not None:  # "" on purpose: no title (else px shows the column's name)
        (fig.update_yaxes if orientation == "h" else fig.update_xaxes)(title=x_title)
    if grain in ("month", "day") and orientation == "v":  # (bars keep their own padding)
        _fit_time_axis(fig, df[x], grain, PAGE_WIDTH_PX / max(1, columns) - 80)
    return fig


@dataclass(frozen=True)
class Panel:
    """One panel of small multiples: which rows, the axis title (with unit), its format."""

    key: str  # value of the facet column
    title: str  # panel title
    y_title: str  # axis title with unit
    y_format: str = "pct"
    color: str = fmt.PALETTE[0]


def small_multiples(
    df: pd.DataFrame,
    x: str,
    y: str,
    facet: str,
    panels: Sequence[Panel],
    title: str,
    grain: str | None = "month",
    series: str | None = None,
    series_colors: Mapping[str, str] | None = None,
    cols: int = 2,
    panel_height: int = 230,
) -> go.Figure:
    """One panel per metric, each with its own y axis and unit: series of different
    magnitudes never flatten each other. `series` splits a panel into lines (e.g. bands)."""
    panels = [p for p in panels if (df[facet] == p.key).any()]
    if not panels:
        return style(go.Figure(), title)
    cols = min(cols, len(panels))
    rows = -(-len(panels) // cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[p.title for p in panels],
        vertical_spacing=min(0.6 / rows, 0.18) if rows > 1 else 0.1,
        horizontal_spacing=PANEL_GAP,
    )
    # a panel's plot area: the page less the figure's margins, less the gaps between panels
    panel_px = (PAGE_WIDTH_PX - 20) * (1 - PANEL_GAP * (cols - 1)) / cols
    # every panel spans the same dates, so a month or a day lines up from panel to panel (a
    # panel whose metric lags, e.g. the next month's repeat rate, ends early)
    shown_x = df.loc[df[facet].isin([p.key for p in panels]), x]
    span = x_range(shown_x, "month") if grain == "month" else None
    day_axis = day_ticks(shown_x, panel_px) if grain == "day" else {}
    shown: set[str] = set()
    empty: list[str] = []  # axis suffixes of the panels whose every value is hidden or missing
    # Every panel's traces and axis settings are gathered, then set in one go: Plotly's
    # add_trace / update_yaxes by row and column look the subplot up each call (a quarter of
    # the 120 ms six panels took). Panel i is subplot i + 1 of make_subplots' grid, row by row:
    # axes x/y, x2/y2, ...
    traces: list[go.Scatter] = []
    axes: dict[str, dict] = {}
    for i, p in enumerate(panels):
        sub = "" if i == 0 else str(i + 1)
        xaxis, yaxis = axes.setdefault(f"xaxis{sub}", {}), axes.setdefault(f"yaxis{sub}", {})
        part = df[df[facet] == p.key].sort_values(x)
        if series:
            names = list(dict.fromkeys(
                [n for n in (series_colors or {}) if n in set(part[series])]
                + sorted(set(part[series]) - set(series_colors or {}))
            ))  # fmt: skip
            groups = [(n, part[part[series] == n]) for n in names]
        else:
            groups = [(None, part)]
        for name, g in groups:
            name = name[0] if isinstance(name, tuple) else name
            colour = (series_colors or {}).get(name, p.color) if series else p.color
            traces.append(
                go.Scatter(
                    x=g[x],
                    y=g[y],
                    mode="lines" if grain == "day" else "lines+markers",
                    name=str(name) if series else p.title,
                    legendgroup=str(name) if series else p.key,
                    showlegend=bool(series) and str(name) not in shown,
                    line={"color": colour},
                    marker={"color": colour},
                    xaxis=f"x{sub}",
                    yaxis=f"y{sub}",
                )
            )
            if series:
                shown.add(str(name))
        yaxis.update(
            title={"text": p.y_title, "font": {"size": 11}},
            tickformat=TICKS.get(p.y_format, p.y_format),
        )
        vals = pd.to_numeric(part[y], errors="coerce").dropna()
        if vals.empty:
            empty.append(sub)
        if p.y_format == "pct" and len(vals) and vals.min() >= 0 and vals.max() <= 1:
            # a share: never below 0 % or above 100 %, and a flat line is not centred on 0
            lo, hi = float(vals.min()), float(vals.max())
            pad = max((hi - lo) * 0.1, 0.02)
            yaxis.update(range=[max(0.0, lo - pad), min(1.0, hi + pad)])
        elif p.y_format != "pct":  # counts and ratios from zero (also a single point)
            yaxis.update(rangemode="tozero")
        top = vals.max() if len(vals) else None
        if p.y_format == "int" and top is not None and top <= 10:
            yaxis.update(dtick=1, tick0=0, rangemode="tozero")
        if grain == "month":
            xaxis.update(
                **month_ticks(_months_in(span) if span else 1, panel_px),
                hoverformat=fmt.month_tick(),  # a month reads the same on hover
                range=span,
            )
        elif grain == "day":
            xaxis.update(
                **day_axis,
                tickformat=fmt.day_tick(),
                hoverformat=fmt.day_hover(),
                ticklabelstandoff=DAY_LABEL_STANDOFF_PX,  # as time_axis's
            )
    fig.add_traces(traces)
    fig.update_layout(axes)
    for a in fig.layout.annotations:
        a.update(font={"size": 13}, x=a.x, xanchor="center")
    for sub in empty:  # an empty panel says why, rather than showing a bare axis
        fig.add_annotation(
            text=t("too_few"),
            xref=f"x{sub} domain",
            yref=f"y{sub} domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"size": 13, "color": "#888888"},
        )
    height = 110 + panel_height * rows
    style(fig, title, height=height, legend=bool(series))
    if series:  # above the panels' own titles, not over them
        fig.update_layout(
            legend={"y": 1 + 30 / (height - 80 - 10)}, margin={"t": 105}, title={"y": 0.995}
        )
    return fig


def heatmap(
    pivot: pd.DataFrame,
    title: str,
    x_label: str,
    y_label: str,
    text: pd.DataFrame | None = None,
    value_title: str = "",
    value_format: str = ",d",
    x_labels: Sequence[str] | None = None,
    y_labels: Sequence[str] | None = None,
    height: int = 380,
) -> go.Figure:
    """A heatmap whose cells show `text` (formatted by the caller, one format for all cells)
    and whose colour bar uses the same format and names its unit."""
    fig = go.Figure(
        go.Heatmap(
            z=pivot.to_numpy(),
            x=list(x_labels) if x_labels is not None else [str(c) for c in pivot.columns],
            y=list(y_labels) if y_labels is not None else [str(i) for i in pivot.index],
            colorscale=HEAT,
            text=text.to_numpy() if text is not None else None,
            texttemplate="%{text}" if text is not None else None,
            textfont={"size": 11},
            hoverongaps=False,
            colorbar={"title": {"text": value_title}, "tickformat": value_format},
        )
    )
    fig.update_xaxes(title=x_label, type="category")
    fig.update_yaxes(title=y_label, type="category", autorange="reversed")
    return style(fig, title, height=height, legend=False)


def show(fig: go.Figure, df: pd.DataFrame, key: str) -> None:
    """Render the figure and, under it, a CSV download of exactly the data it plots."""
    st.plotly_chart(fig, key=f"chart_{key}", theme=None, config=CONFIG)
    st.download_button(
        t("download_csv"),
        df.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"dl_{key}",
    )


# How a column is shown: a Streamlit column config per format name.
def _column_config(kind: str, label: str):
    cc = st.column_config
    if kind == "int":
        return cc.NumberColumn(label, format="localized")
    if kind == "pct":  # the display frame holds percent values (x 100)
        return cc.NumberColumn(label, format="%.1f%%")
    if kind in ("dec1", "dec2"):
        return cc.NumberColumn(label, format=f"%.{kind[-1]}f")
    if kind == "yuan":  # "yen": the ¥ sign with separators, whole units
        return cc.NumberColumn(label, format="yen")
    if kind == "yuan2":  # sums that may be small (SMS spend): fen shown, "92,611.32"; the
        # header names the unit (a printf format had no thousands separator)
        return cc.NumberColumn(label, format="accounting")
    return cc.Column(label)


def display_frame(
    df: pd.DataFrame,
    codes: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """The frame as the page shows it, and its column config.

    `codes`: column -> code kind (values shown as labels); `formats`: column -> one of
    int, pct, dec1, dec2, yuan, date, time (an instant: Asia/Shanghai wall time), text.
    Integer columns not named are shown with separators; every header is translated.
    """
    out = df.copy()
    formats = dict(formats or {})
    for c_, kind in (codes or {}).items():
        if c_ in out.columns:
            out[c_] = out[c_].map(lambda v, k=kind: code(k, v))
    config = {}
    for c_ in out.columns:
        kind = formats.get(c_)
        series = out[c_]
        if kind is None:
            if pd.api.types.is_integer_dtype(series):
                kind = "int"
            elif isinstance(series.dtype, pd.DatetimeTZDtype):
                kind = "time"
            elif pd.api.types.is_datetime64_dtype(series):  # a DATE: no 00:00:00
                stamps = series.dropna()
                kind = "date" if (stamps == stamps.dt.normalize()).all() else None
            elif pd.api.types.is_float_dtype(series):  # no 17.9517 hours
                kind = "dec2"
        if kind == "time":
            out[c_] = series.map(lambda v: fmt.local_time(v, with_zone=False))
        elif kind == "date":
            out[c_] = series.map(fmt.date)
        elif kind == "pct":
            out[c_] = pd.to_numeric(series, errors="coerce") * 100
        elif kind in (None, "text") and (
            pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)
        ):
            # an empty text cell (a marketing message's bill id) as the dash every other
            # missing value on the pages shows, not Streamlit's grey English "None"
            out[c_] = series.map(lambda v: fmt.MISSING if fmt.is_missing(v) else v)
        config[c_] = _column_config(kind or "text", col(c_))
    return out, config


def table(
    df: pd.DataFrame,
    key: str,
    codes: Mapping[str, str] | None = None,
    formats: Mapping[str, str] | None = None,
    height: int | str = "auto",
    cell_colors: Mapping[str, Mapping[str, str]] | None = None,
) -> None:
    """A data table (codes as labels, translated headers, formatted numbers and times) with
    its CSV download (the data as it is). `cell_colors`: column -> {code: background colour}
    (e.g. a status column: green / amber / red)."""
    shown, config = display_frame(df, codes, formats)
    view = shown
    if cell_colors:
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        for c_, by_code in cell_colors.items():
            if c_ in df.columns:
                css[c_] = df[c_].map(lambda v, m=by_code: f"background-color: {m[v]}" if v in m
                                     else "")  # fmt: skip
        view = shown.style.apply(lambda _: css, axis=None)
    st.dataframe(view, hide_index=True, key=f"table_{key}", column_config=config, height=height)
    st.download_button(
        t("download_csv"),
        df.to_csv(index=False).encode("utf-8-sig"),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"dl_{key}",
    )


def filters_note(applied: Sequence[str], not_applied: Mapping[str, str] | None = None) -> None:
    """Say on the page's face which sidebar filters its figures follow, and which they cannot
    and why. Filters are "date", "band", "experiment"; reasons are i18n keys (why_...)."""
    names = {
        "date": t("filter_date"),
        "band": t("filter_band"),
        "experiment": t("filter_experiment"),
    }
    if applied:
        sep = "、" if _zh() else ", "
        st.caption(t("filters_apply", which=sep.join(names[a] for a in applied)))
    for name, why in (not_applied or {}).items():
        st.caption(t("filters_not_applied", which=names[name], why=t(why)))


# Kept as they were for the pages that still call them (new code: dashboard.format).
def pct(v: float | None, digits: int = 1) -> str:
    return "—" if v is None or pd.isna(v) else f"{v * 100:.{digits}f}%"


def num(v: float | None, digits: int = 0) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:,.{digits}f}"


def signed(v: float | None, digits: int = 2) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:+,.{digits}f}"
