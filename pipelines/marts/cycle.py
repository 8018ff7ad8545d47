"""Scoped update of `mart.user_cycle`: only the bills whose row can have changed.

A row of user_cycle (one per bill) is a function of its bill's row in `mart.bill_state`, of
its user's rows in the other inputs, and of `as_of`. Until this module it was rebuilt in full
on every run (at half of scale l 30 of a new day's 186 CPU-s; docs/performance-history.md). An
incremental build now recomputes the union of:

- the bills whose columns taken from `mart.bill_state` (user, cycle, dates, score band,
  on_time, dpd30) differ from the stored row, and new and removed bills. The stored row holds
  those columns itself, so this needs no state; `on_time` and `dpd30` follow `as_of` there;
- the bills whose `active_next_cycle` is null when it should not be, or the other way round:
  it is null exactly while the last day of N lies after `as_of`;
- every bill of a user whose experiment assignments changed (the assignment is the latest one
  before the statement date);
- the bills of a changed flags row (`_agg_changed`, the scoped flags update's symmetric
  difference): their pre-due reminders (`mart_int.sms_bill_reminders`, a function of the flags
  rows of its bill);
- the bills whose window W holds a (user, local date) whose messages (`mart_int.sms_user_days`,
  a function of the flags rows of that user and date: the pairs of `_agg_changed` again),
  complaints or opt-outs changed, and the bills whose window N holds one whose BNPL orders
  changed. The complaints, opt-outs and orders per (user, local date) are kept as state in
  schema `mart_build` (`DAY_INPUTS`) and compared with their current sums.

Those bills' rows are deleted and the file's own text runs over their `mart.bill_state` rows
(pipelines.marts.rewrite swaps the table): the other inputs join on the user, so only those
users' rows are summed. Nothing else of the table is touched.

Full rebuild when the flags are rebuilt in full (first build, settings or SQL changed, no
incremental), when the state or the table is missing, when the file reads a table this module
does not follow (`FOLLOWED`), or when the bills cover more than half of the table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from pipelines.marts import diff, keyed, lineage, temp
from pipelines.marts import state as mart_state
from pipelines.marts.keyed import KeyedPlan
from pipelines.marts.rewrite import replace_keys

FILE = "marts/user_cycle"
TABLE = "mart.user_cycle"
SCHEMA = mart_state.SCHEMA

# Every table the file reads, each followed above. A file that reads another one is rebuilt in
# full (and tests/marts/test_cycle_incremental.py fails) until this module follows it too.
FOLLOWED = frozenset(
    {
        "mart.run_context",
        "mart.bill_state",
        "core.experiment_assignments",
        "mart_int.sms_bill_reminders",
        "mart_int.sms_user_days",
        "mart.complaints_classified",
        "core.opt_outs",
        "mart.bnpl_orders",
    }
)

# The columns of a row that come from its bill in mart.bill_state (the key, and the values).
BILL_VALUES = ("user_id", "cycle", "statement_date", "due_date", "score_band", "on_time", "dpd30")
BILL_COLUMNS = ", ".join(("bill_id", *BILL_VALUES))


@dataclass(frozen=True)
class Kept:
    """An input kept as state: its rows by key at the last build, compared with its rows now."""

    state: str  # the rows at the last build, in SCHEMA
    now: str  # temp table of the rows now
    query: str  # the keys, then the values user_cycle's rows depend on
    keys: tuple[str, ...]
    values: tuple[str, ...]
    # the window of a bill where a (user, local date) counts: "w" (the bill's cycle) or "n" (the
    # next one); None: every bill of the user
    window: str | None
    # the mart file whose table this sums, when that file is updated by local date
    # (pipelines.marts.by_date): only the dates it recomputed can have changed. The query then
    # names that table `{source}`, so that it can read only those dates' rows
    by_date: str | None = None

    def sql(self, dates: str | None = None) -> str:
        """The query over all rows, or over the rows of the local dates in temp `dates`."""
        if self.by_date is None:
            return self.query
        table = lineage.file_table(self.by_date)
        if dates is not None:
            table = f"(select * from {table} where local_date in (select local_date from {dates}))"
        return self.query.format(source=table)


DAY_INPUTS: tuple[Kept, ...] = (
    Kept(
        state="cycle_complaint_days",
        now="_cycle_complaint_days_now",
        query="""select
            user_id,
            local_date,
            count(*) as complaints,
            count(*) filter (where is_sms) as sms_complaints
        from mart.complaints_classified
        where user_id is not null and local_date is not null
        group by user_id, local_date""",
        keys=("user_id", "local_date"),
        values=("complaints", "sms_complaints"),
        window="w",
    ),
    Kept(
        state="cycle_opt_out_days",
        now="_cycle_opt_out_days_now",
        query="""select
            user_id,
            cast(received_at at time zone 'Asia/Shanghai' as date) as local_date,
            count(*) as opt_outs
        from core.opt_outs
        where user_id is not null and received_at is not null
        group by all""",
        keys=("user_id", "local_date"),
        values=("opt_outs",),
        window="w",
    ),
    Kept(
        state="cycle_order_days",
        now="_cycle_order_days_now",
        query="""select user_id, local_date, count(*) as bnpl_orders
        from {source}
        where user_id is not null and local_date is not null
        group by user_id, local_date""",
        keys=("user_id", "local_date"),
        values=("bnpl_orders",),
        window="n",
        by_date="marts/bnpl_orders",
    ),
)
COMPLAINT_DAYS, OPT_OUT_DAYS, ORDER_DAYS = DAY_INPUTS
# a user's assignments, as a count and a sum of hashes (the fingerprint pipelines.marts.state
# keeps of core per day)
ASSIGNMENTS = Kept(
    state="cycle_assignments",
    now="_cycle_assignments_now",
    query="""select
        user_id,
        count(*) as n,
        sum(hash(experiment_id, arm, assigned_at)::hugeint) as h
    from core.experiment_assignments
    where user_id is not null
    group by user_id""",
    keys=("user_id",),
    values=("n", "h"),
    window=None,
)
KEPT = (*DAY_INPUTS, ASSIGNMENTS)
# the source of the pairs whose messages changed (sms_user_days, read from the flags' change)
SMS = "sms_user_days"


def changed_pairs(
    con: duckdb.DuckDBPyConnection,
    inputs: Sequence[Kept],
    dates: Mapping[str, str] | None = None,
) -> None:
    """Temp `_cycle_changed_pairs`: (input, user, local date) whose sums changed since the last
    build, for the messages (the flags rows that changed) and for each of `inputs` (a kept day
    input, whose state must exist). Each input is compared once per build, by the first
    caller (user_cycle, or a file planned before it that reads the same input), so call it
    only once that input's table is built. `dates`: as for plan."""
    dates = dates or {}
    if not temp.exists(con, "_cycle_changed_pairs"):
        temp.create(
            con,
            "_cycle_changed_pairs",
            "select null::varchar as source, null::varchar as user_id, null::date as local_date"
            " limit 0",
        )
        if temp.exists(con, "_agg_changed"):
            con.execute(
                f"""insert into _cycle_changed_pairs
                select distinct '{SMS}', user_id, local_date from _agg_changed
                where user_id is not null"""
            )
    for kept in inputs:
        if temp.exists(con, kept.now):  # compared already in this build
            continue
        saved = f"{SCHEMA}.{kept.state}"
        only = dates.get(kept.by_date) if kept.by_date else None
        if only is not None:
            saved = f"(select * from {saved} where local_date in (select local_date from {only}))"
        temp.create(con, kept.now, kept.sql(only))
        changed = diff.changed_keys(kept.now, saved, kept.keys, kept.values)
        con.execute(
            f"""insert into _cycle_changed_pairs
            select '{kept.state}', user_id, local_date from ({changed})"""
        )


def state_kept(con: duckdb.DuckDBPyConnection, *inputs: Kept) -> bool:
    """Whether the state of every one of `inputs` exists with its columns (not, say, as older
    code kept it)."""
    return all(
        temp.table_columns(con, SCHEMA, kept.state) == [*kept.keys, *kept.values] for kept in inputs
    )


def plan(
    con: duckdb.DuckDBPyConnection, *, flags_full: bool, dates: Mapping[str, str]
) -> KeyedPlan:
    """Fill temp `cycle_scope_bills` with the bills to recompute; full or how many.

    `dates`: for a file updated by local date in this build, the temp table of the dates it
    recomputed (absent: rebuilt in full); an input that sums its table is compared on those
    dates only."""
    refused = keyed.refuse(con, FILE, FOLLOWED, flags_full=flags_full, tables=(TABLE,))
    if refused:
        return refused
    if not state_kept(con, *KEPT):
        return KeyedPlan(True, reason="no state of a previous build, or no table")

    changed_pairs(con, DAY_INPUTS, dates)
    temp.create(con, ASSIGNMENTS.now, ASSIGNMENTS.sql())
    changed = diff.changed_keys(
        ASSIGNMENTS.now, f"{SCHEMA}.{ASSIGNMENTS.state}", ASSIGNMENTS.keys, ASSIGNMENTS.values
    )
    temp.create(con, "_cycle_changed_users", changed)

    in_w = ", ".join(f"'{s}'" for s in (SMS, *(k.state for k in DAY_INPUTS if k.window == "w")))
    in_n = ", ".join(f"'{k.state}'" for k in DAY_INPUTS if k.window == "n")
    bill = f"select {BILL_COLUMNS} from"
    bills = diff.changed_keys(
        f"({bill} mart.bill_state)", f"({bill} {TABLE})", ("bill_id",), BILL_VALUES
    )
    reminders = "select null::varchar as bill_id where false"
    if temp.exists(con, "_agg_changed"):
        reminders = "select bill_id from _agg_changed where bill_id is not null"
    temp.create(
        con,
        "cycle_scope_bills",
        f"""select distinct bill_id from (
            -- new, removed or changed in mart.bill_state
            select bill_id from ({bills})
            union all
            -- N's last day crossed as_of (either way)
            select uc.bill_id
            from {TABLE} as uc
            cross join mart.run_context as context
            where (uc.active_next_cycle is null)
                <> (cast(uc.statement_date + interval 2 month as date) - 1 > context.as_of)
            union all
            select b.bill_id
            from mart.bill_state as b
            semi join _cycle_changed_users as u
                on u.user_id = b.user_id
            union all
            {reminders}
            union all
            select b.bill_id
            from mart.bill_state as b
            inner join _cycle_changed_pairs as p
                on p.user_id = b.user_id
            where (p.source in ({in_w})
                    and p.local_date >= b.statement_date
                    and p.local_date < cast(b.statement_date + interval 1 month as date))
                or (p.source in ({in_n})
                    and p.local_date >= cast(b.statement_date + interval 1 month as date)
                    and p.local_date < cast(b.statement_date + interval 2 month as date))
        )""",
    )
    return keyed.decide(con, TABLE, "cycle_scope_bills", "bill_id")


def update(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the rows of the planned bills (after plan, not full)."""
    replace_keys(con, FILE, "cycle_scope_bills", "bill_id", "mart.bill_state", "cycle_bills")


def save(con: duckdb.DuckDBPyConnection) -> None:
    """Record the inputs this build reflected (inside the build's transaction, at the end): the
    differences found by plan applied to the state, or the whole state written afresh."""
    con.execute(f"create schema if not exists {SCHEMA}")
    if not temp.exists(con, "_cycle_changed_users"):  # plan did not compare: write it all
        for kept in KEPT:
            con.execute(f"create or replace table {SCHEMA}.{kept.state} as {kept.sql()}")
        return
    for kept in KEPT:
        if kept is ASSIGNMENTS:
            changed = "select user_id from _cycle_changed_users"
        else:
            changed = f"""select user_id, local_date from _cycle_changed_pairs
                where source = '{kept.state}'"""
        diff.replace_rows(con, f"{SCHEMA}.{kept.state}", kept.now, changed, kept.keys)
