"""Combining a scope's two count queries per policy (pipelines.whatif.engine.count_tables,
combine, count) and the search's grid of point estimates (search.grid_values): numbers worked
out by hand.

The query answers below stand for sql/whatif/filter_counts.sql (what the filters remove per
filter set) and sql/whatif/cap_counts.sql (what the caps remove per filter set read, kind and
histogram reminder cap: cut_K / promo_K / surplus_K for cap K = 1..6). Filter sets 0 (none)
and 1 (compliance) only; the other sets count nothing. Cells: March band A and March unknown
users ('?').
"""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from pipelines.whatif import engine as E
from pipelines.whatif import search as S
from pipelines.whatif.estimate import Quantity
from pipelines.whatif.policy import Policy, Scope

SCOPE = Scope(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
M = "2026-03"


def frow(s, band, **values):
    return {"set_filters": s, "month": M, "band_key": band,
            **{k: values.get(k, 0) for k in E.FILTER_COLUMNS}}  # fmt: skip


def crow(s, kind, rc, band="A", month=M, cut=(), promo=(), surplus=()):
    row = {"set_filters": s, "month": month, "band_key": band, "kind": kind,
           "hist_reminder_cap": rc}  # fmt: skip
    for k in range(1, 7):
        row[f"cut_{k}"] = (list(cut) + [0] * 6)[k - 1]
        row[f"promo_{k}"] = (list(promo) + [0] * 6)[k - 1]
        row[f"surplus_{k}"] = (list(surplus) + [0] * 6)[k - 1]
    return row


FLAGGED = {"flagged_compliance": 5, "flagged_promo": 12, "flagged_daily_cap": 40,
           "marketing_reachable": 30}  # fmt: skip
FILTER_ROWS = [
    frow(0, "A", messages=100, promo_after_filters=10, alone_compliance=5, alone_promo=10,
         **FLAGGED),
    frow(1, "A", messages=100, promo_after_filters=8, alone_compliance=5, alone_promo=10,
         removed_compliance=5, removed_marketing_reachable=2, **FLAGGED),
    frow(0, "?", messages=20, promo_after_filters=2, alone_promo=2),
    frow(1, "?", messages=20, promo_after_filters=2, alone_promo=2),
]  # fmt: skip
CAP_ROWS = [
    # reminders: cut_K = reminders ranked above K, promo_K = the promotions among them
    crow(0, "reminder", 1, cut=(20, 12, 6, 3, 1), promo=(4, 2, 1)),
    crow(1, "reminder", 1, cut=(18, 10, 5, 2), promo=(3, 2, 1)),
    crow(0, "reminder", 1, band="?", cut=(9, 4, 2)),
    # days: surplus_N = messages over daily cap N; per histogram reminder cap (-1: any cap)
    crow(0, "day", -1, surplus=(30, 14, 6, 2)),
    crow(0, "day", 0, surplus=(10, 4, 1)),
    crow(0, "day", 3, surplus=(7, 3, 1)),
    crow(1, "day", -1, surplus=(25, 11, 4, 1)),
    crow(1, "day", 3, surplus=(6, 2)),
    crow(1, "day", 0, surplus=(9, 5, 2)),
    crow(1, "promo_day", -1, cut=(3, 1)),
    crow(1, "promo_day", 3, cut=(2, 1)),
    crow(1, "promo_day", 0, cut=(4, 2)),
    # April: no message of the cell in scope (not among the filter rows), nothing to remove
    crow(0, "reminder", 1, month="2026-04", cut=(99, 99, 99)),
]


def query(sql: str, params: dict) -> list[dict]:
    assert params["filter_sets"] == list(range(32))
    if "sms_daily_flags" in sql:
        return FILTER_ROWS
    if "policy_cap_histogram" in sql:
        return CAP_ROWS
    raise AssertionError(sql)


def as_frame(rows: list[dict]) -> pd.DataFrame:
    """Rows as the dashboard's cached queries give them: a DataFrame read from DuckDB (its
    column types, strings and nullable counts as DuckDB returns them)."""
    frame = pd.DataFrame(rows)  # noqa: F841 - read by DuckDB by its name
    return duckdb.sql("select * from frame").df()


def frame_query(sql: str, params: dict) -> pd.DataFrame:
    return as_frame(query(sql, params))


def answering(filter_rows: list[dict], cap_rows: list[dict], form: str):
    """A query giving these rows for the filter counts and the cap counts, as rows or a frame."""

    def run(sql: str, params: dict):
        rows = filter_rows if "sms_daily_flags" in sql else cap_rows
        return rows if form == "rows" else as_frame(rows)

    return run


@pytest.fixture(scope="module", params=["rows", "frame"])
def tables(request):
    # the engine reads a result given as rows (the CLI) or as a DataFrame (the dashboard)
    return E.count_tables(query if request.param == "rows" else frame_query, SCOPE)


def test_tables_hold_what_the_queries_said(tables):
    assert tables.cells == [(M, "?"), (M, "A")]
    a = tables.cells.index((M, "A"))
    assert tables.reminder_cut[1, a].tolist() == [0, 18, 10, 5, 2, 0, 0]  # cap 0 = none
    assert tables.day_surplus[1, a, 3 + 1].tolist() == [0, 6, 2, 0, 0, 0, 0]
    assert tables.day_surplus[1, a, 0].tolist() == [0, 25, 11, 4, 1, 0, 0]  # cap -1
    assert tables.promo_day_cut[1, a, 0 + 1].tolist() == [0, 4, 2, 0, 0, 0, 0]
    # sets without rows count nothing; the April row has no cell
    assert not tables.filters[5].any() and not tables.reminder_cut[5].any()
    assert tables.reminder_cut.sum() == 20 + 12 + 6 + 3 + 1 + 18 + 10 + 5 + 2 + 9 + 4 + 2


@pytest.mark.parametrize("form", ["rows", "frame"])
def test_null_counts_read_as_zero(form):
    # a count the query leaves null reads as 0, whether the result comes as rows or a frame
    capped = [dict(CAP_ROWS[0], cut_4=None, promo_2=None)]
    got = E.count_tables(answering(FILTER_ROWS, capped, form), SCOPE)
    a = got.cells.index((M, "A"))
    assert got.reminder_cut[0, a].tolist() == [0, 20, 12, 6, 0, 1, 0]
    assert got.reminder_promo[0, a].tolist() == [0, 4, 0, 1, 0, 0, 0]


@pytest.mark.parametrize("form", ["rows", "frame"])
def test_a_null_month_does_not_cut_the_other_cells(form):
    # a null text value reads as "None" in either form, and the other months stay whole (with
    # a NaN among them numpy once sized the strings by it: every month cut to one character)
    odd = [*FILTER_ROWS, dict(frow(0, "A", messages=7), month=None)]
    got = E.count_tables(answering(odd, CAP_ROWS, form), SCOPE)
    assert got.cells == [(M, "?"), (M, "A"), ("None", "A")]
    assert got.filters[0, 2, E.FILTER_COLUMNS.index("messages")] == 7
    assert got.reminder_cut[1, 1].tolist() == [0, 18, 10, 5, 2, 0, 0]


def test_compliance_reminder_cap_daily_cap_and_rewrite_by_hand(tables):
    # compliance on, 2 due reminders (histogram cap 3), at most 2 messages a day, rewrite on
    p = Policy(block_marketing_without_permission=True, max_pre_due_reminders=2, daily_cap=2,
               no_promo_in_reminders=True)  # fmt: skip
    a = E.count_from(tables, {"p": p})["p"][(M, "A")]
    assert a["removed_compliance"] == 5  # filter set 1
    # reminders ranked above 3 among those compliance left: cut_3 of set 1
    assert a["removed_reminder_cap"] == 5
    # days of reminder cap 3 (2) plus days no reminder cap changes (11), daily cap 2, set 1;
    # the days of no reminder cap (5) are not this policy's
    assert a["removed_daily_cap"] == 2 + 11
    # alone: set 0; the reminder cap's cut_3 (6); the daily cap over the days of no reminder
    # cap (4) and of any (14), not those of cap 3 (3)
    assert a["alone_reminder_cap"] == 6
    assert a["alone_daily_cap"] == 4 + 14
    # promotions compliance left (8) less those the reminder cap (promo_3 = 1) and the daily
    # cap (1 + 1) remove
    assert a["rewritten_promo"] == 8 - 1 - 2
    assert a["removed_marketing_reachable"] == 2
    assert a["messages"] == 100 and a["flagged_promo"] == 12 and a["marketing_reachable"] == 30
    # unknown users: nothing in set 1's '?' cap rows, and the daily rows are band A's
    u = E.count_from(tables, {"p": p})["p"][(M, "?")]
    assert u["removed_reminder_cap"] == 0 and u["alone_reminder_cap"] == 2  # set 0: cut_3
    assert u["rewritten_promo"] == 2 and u["messages"] == 20


def test_current_policy_removes_nothing(tables):
    counts = E.count_from(tables, {"now": Policy()})["now"]
    for cell in counts.values():
        assert all(cell[f"removed_{r}"] == 0 for r in E.REMOVING)
        assert cell["alone_reminder_cap"] == cell["alone_daily_cap"] == 0
        assert cell["rewritten_promo"] == 0
    assert counts[(M, "A")]["alone_compliance"] == 5  # what compliance would remove alone


def test_band_caps_and_unknown_users(tables):
    # band A capped at 0 due reminders (histogram cap 1): cut_1 = 20; unknown users have no
    # band, so the uniform cap (none here) applies to them
    band = Policy(no_promo_in_reminders=True).with_band_caps({"A": 0})
    uniform = Policy(max_pre_due_reminders=0, no_promo_in_reminders=True)
    out = E.count_from(tables, {"band": band, "uniform": uniform})
    assert out["band"][(M, "A")]["removed_reminder_cap"] == 20
    assert out["band"][(M, "A")]["rewritten_promo"] == 10 - 4
    assert out["band"][(M, "?")]["removed_reminder_cap"] == 0
    assert out["uniform"][(M, "?")]["removed_reminder_cap"] == 9
    assert out["uniform"][(M, "?")]["rewritten_promo"] == 2  # no promotion among them
    # the same without the rewrite: nothing rewritten
    plain = E.count_from(tables, {"x": Policy(max_pre_due_reminders=0)})["x"]
    assert plain[(M, "A")]["rewritten_promo"] == 0


def test_count_reads_the_scope_count_tables():
    p = Policy(max_pre_due_reminders=4, daily_cap=1)  # histogram cap 5: cut_5 = 1
    a = E.count(query, SCOPE, {"p": p})["p"][(M, "A")]
    assert a["removed_reminder_cap"] == 1
    assert a["removed_daily_cap"] == 30  # surplus_1 of the days of any cap; none of cap 5
    assert a["alone_daily_cap"] == 10 + 30


def test_no_messages_in_scope():
    def empty(sql, params):
        return []

    assert E.count(empty, SCOPE, {"p": Policy(daily_cap=1)}) == {"p": {}}
    assert E.count(empty, SCOPE, {}) == {}


def test_grid_values_by_hand(tables):
    # no experiment: the reminder cap changes only messages; the value outcomes of one cell
    q = {f"complaints:{g}:{r}": Quantity(0.0, 1.0) for g in
         ("compliance", "user_settings", "after_settlement", "duplicates", "quiet_hours",
          "daily_cap", "promo") for r in (0, 1)}  # fmt: skip
    q["complaints:compliance:0"] = Quantity(4.0, 5.0)
    q["complaints:compliance:1"] = Quantity(1.0, 2.0)
    q["complaints:daily_cap:0"] = Quantity(8.0, 9.0)
    q["opt_outs"] = Quantity(6.0, 7.0)
    inputs = E.Inputs(SCOPE, q, {}, 6, None, {}, [], tables)
    combos = [(0, 0), (1, 2)]
    X, removed = S.grid_values(inputs, combos)
    a, k2 = S.BAND_KEYS.index("A"), S.CAP_CHOICES.index(2)
    on_time, compl, reg, opt, viol, msgs = X[1, 0, a, k2]
    # compliance 5 of 5 flagged: 5 complaints (4 + 1 regulator) avoided; the daily cap 13 of
    # 40 flagged: 13/40 x 8 = 2.6
    assert compl == pytest.approx(-(5 / 5) * 5 - (13 / 40) * 8)
    assert reg == pytest.approx(-1.0)
    # reachable marketing removed: 2 by compliance (the daily cap's has no marketing share:
    # flagged_daily_cap_marketing = 0); 6 opt-outs per 30 reachable
    assert opt == pytest.approx(-2 / 30 * 6)
    assert viol == -5
    assert msgs == -(5 + 5 + 13)
    assert on_time == 0
    # the promotion rewrite adds nothing to the grid's points (see search.grid_values)
    assert (X[:, 1] == X[:, 0]).all()
    # messages removed over both cells: band A 23, unknown users 0 (set 1, cut_3 = 0)
    assert removed[1, k2] == 23
    assert removed[0, S.CAP_CHOICES.index(None)] == 0
    assert np.isfinite(X).all()
