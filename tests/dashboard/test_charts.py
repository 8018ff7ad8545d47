"""charts.bar and charts.line build their figures from plain traces instead of px.bar and px.line
(35-40 ms a chart): each figure must be the one px makes, for every kind of data frame the pages
hand them. px is the reference here, not the code under test."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import plotly.express as px
import pytest

from dashboard import charts

CATEGORIES = pd.DataFrame(
    {"d": ["2025-01", "2025-02"] * 3, "v": [1, 2, 3, 4, 5, 6], "c": ["a", "a", "b", "b", "c", "c"]}
)
TIMES = pd.DataFrame(
    {
        "day": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"]),
        "n": [1.5, np.nan, 3.0],
        "p": ["x", "x", "y"],
    }
)
EMPTY = pd.DataFrame(
    {
        "d": pd.Series([], dtype=str),
        "v": pd.Series([], dtype="int64"),
        "c": pd.Series([], dtype=str),
    }
)
# dates as objects, a missing count, and a row without a colour value (px leaves it out)
NULLS = pd.DataFrame(
    {
        "d": [dt.date(2025, 1, 1), dt.date(2025, 1, 2)],
        "v": pd.array([1, None], dtype="Int64"),
        "c": pd.array(["a", None], dtype="string"),
    }
)
# rows without a colour value between others (px gives them a colour, so those after them take
# the next one), as object and as pandas' own text
GAPS = pd.DataFrame(
    {
        "d": ["w", "x", "y", "z", "w"],
        "v": [1, 2, 3, 4, 5],
        "o": pd.Series(["a", None, "b", np.nan, "a"], dtype=object),
        "s": pd.Series(["a", None, "b", None, "a"], dtype="str"),
    }
)
# categoricals, booleans as colours, numbers as colours (px.bar: a colour scale), zoned times
OTHER = pd.DataFrame(
    {
        "d": pd.Categorical(["z", "y", "z", "y"], categories=["y", "z"]),
        "v": [1, 2, 3, 4],
        "t": [True, True, False, False],
        "k": [1, 1, 2, 2],
        "m": pd.to_datetime(["2025-01-01", "2025-02-01"] * 2).tz_localize("Asia/Shanghai"),
    }
)
# more rows than px draws without WebGL (a line of them is a scattergl trace)
MANY = pd.DataFrame(
    {
        "day": pd.date_range("2023-01-01", periods=1200, freq="D"),
        "v": np.arange(1200) % 7,
        "c": ["a", "b", "c"] * 400,
    }
)
FRAMES = [
    (CATEGORIES, "d", "v", "c"),
    (CATEGORIES, "d", "v", None),
    (TIMES, "day", "n", "p"),
    (TIMES, "day", "n", None),
    (EMPTY, "d", "v", "c"),
    (EMPTY, "d", "v", None),
    (NULLS, "d", "v", "c"),
    (OTHER, "d", "v", "t"),
    (OTHER, "d", "v", "k"),
    (OTHER, "m", "v", "t"),
    (MANY, "day", "v", "c"),
    (GAPS, "d", "v", "o"),
    (GAPS, "d", "v", "s"),
    (CATEGORIES, "c", "v", "c"),  # the category axis is also the colour (px orders it)
]
COLOURS = [None, {"b": "#123456", "y": "#654321", True: "#111111"}]


def spec(fig) -> dict:
    return json.loads(fig.to_json())


@pytest.mark.parametrize("frame", range(len(FRAMES)))
@pytest.mark.parametrize("barmode", ["stack", "group", "relative"])
@pytest.mark.parametrize("orientation", ["v", "h"])
@pytest.mark.parametrize("colours", range(len(COLOURS)))
def test_bar_figure_is_the_figure_px_makes(frame, barmode, orientation, colours):
    df, x, y, color = FRAMES[frame]
    if orientation == "h":
        x, y = y, x
    cmap = COLOURS[colours]
    want = px.bar(
        df, x=x, y=y, color=color, barmode=barmode, orientation=orientation,
        color_discrete_map=dict(cmap or {}),
    ).update_traces(hovertemplate=None)  # fmt: skip
    got = charts._bar_figure(df, x, y, color, barmode, orientation, cmap)
    assert spec(got) == spec(want)


def test_bar_colours_by_hand():
    # the map's colours first; the other values take the palette's next colours in the order
    # they appear, counting the map's entries (as px does)
    fig = charts._bar_figure(CATEGORIES, "d", "v", "c", "stack", "v", {"b": "#123456"})
    assert [(t.name, t.marker.color) for t in fig.data] == [
        ("a", charts.fmt.PALETTE[1]),
        ("b", "#123456"),
        ("c", charts.fmt.PALETTE[2]),
    ]


@pytest.mark.parametrize("frame", range(len(FRAMES)))
@pytest.mark.parametrize("markers", [True, False])
@pytest.mark.parametrize("colours", range(len(COLOURS)))
def test_line_figure_is_the_figure_px_makes(frame, markers, colours):
    df, x, y, color = FRAMES[frame]
    cmap = COLOURS[colours]
    want = px.line(
        df, x=x, y=y, color=color, markers=markers, color_discrete_map=dict(cmap or {})
    ).update_traces(hovertemplate=None)
    got = charts._line_figure(df, x, y, color, markers, cmap)
    assert spec(got) == spec(want)


def test_a_long_line_is_drawn_with_webgl():
    fig = charts._line_figure(MANY, "day", "v", "c", True, None)
    assert {t.type for t in fig.data} == {"scattergl"}
    short = charts._line_figure(MANY.head(1000), "day", "v", "c", True, None)
    assert {t.type for t in short.data} == {"scatter"}
