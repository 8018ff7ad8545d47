"""Scoped update of `mart.preference_users`: only the users whose row can have changed.

A row (one per user who saved their message settings) depends on the user's
`core.sms_preferences` rows, which fix the day `d` they first chose; on their messages,
complaints and opt-outs of the local days [d - 30, d + 30]; on their score band; on `as_of`
(`after_complete`: d + 30 <= as_of); and on the first day with messages of all users
(`before_complete`). Until this module it was rebuilt in full on every run: at half of scale l
4.9 CPU-s of a new day (0.23 at m), mostly the join of every such user with their message days.
An incremental build recomputes the users:

- whose settings changed: the flags' scope of users `flags_scope_users` (pipelines.marts.
  state), whose fingerprint hashes exactly the columns of `core.sms_preferences` this file
  reads (it also holds the users whose first opt-out or consent changed: a few more);
- with a (user, local date) within 30 days of their stored `chosen_date` whose messages (the
  flags rows that changed), complaints or opt-outs changed: the pairs user_cycle's update
  compares (pipelines.marts.cycle.changed_pairs, computed once for both);
- whose stored score band differs from `core.users`;
- whose stored `after_complete` disagrees with the new `as_of`.

Their rows are deleted, and the file runs over their `core.sms_preferences` rows. The first
day with messages is kept (`mart_build.pref_first_day`); when it moved, every row's
`before_complete` may change, and the table is rebuilt in full. So it is when the flags are,
without the table or the state, when the file reads a table not in `FOLLOWED`, when a user
without an id is in scope, or when the users are more than half of the table.
"""

from __future__ import annotations

from collections.abc import Mapping

import duckdb

from pipelines.marts import cycle, keyed, temp
from pipelines.marts import state as mart_state
from pipelines.marts.keyed import KeyedPlan
from pipelines.marts.rewrite import replace_keys

FILE = "marts/preference_users"
TABLE = "mart.preference_users"
SCHEMA = mart_state.SCHEMA
FIRST_DAY = "pref_first_day"  # the first local date with messages, at the last build
FIRST_DAY_SQL = "select min(local_date) as first_date from mart_int.sms_user_days"

# Every table the file reads, each followed above (tests/marts/test_preferences_incremental.py).
FOLLOWED = frozenset(
    {
        "mart.run_context",
        "core.sms_preferences",
        "mart_int.sms_user_days",
        "mart.complaints_classified",
        "core.opt_outs",
        "core.users",
    }
)
# the day inputs whose changed (user, local date) this file follows, besides the messages
DAY_INPUTS = (cycle.COMPLAINT_DAYS, cycle.OPT_OUT_DAYS)


def plan(
    con: duckdb.DuckDBPyConnection, *, flags_full: bool, dates: Mapping[str, str]
) -> KeyedPlan:
    """Fill temp `pref_scope_users` with the users to recompute; full or how many.
    (`dates`: what the per-date marts recomputed; this file reads none of them.)"""
    refused = keyed.refuse(
        con,
        FILE,
        FOLLOWED,
        flags_full=flags_full,
        tables=(TABLE, f"{SCHEMA}.{FIRST_DAY}"),
        temps=("flags_scope_users",),
    )
    if refused:
        return refused
    if not cycle.state_kept(con, *DAY_INPUTS):
        return KeyedPlan(True, reason="no state of a previous build, or no table")
    (moved,) = con.execute(
        f"""select (select first_date from {SCHEMA}.{FIRST_DAY})
            is distinct from ({FIRST_DAY_SQL})"""
    ).fetchone()
    if moved:
        return KeyedPlan(True, reason="the first day with messages moved")

    cycle.changed_pairs(con, DAY_INPUTS)
    sources = ", ".join(f"'{s}'" for s in (cycle.SMS, *(k.state for k in DAY_INPUTS)))
    temp.create(
        con,
        "pref_scope_users",
        f"""select user_id from flags_scope_users
        union
        select p.user_id
        from {TABLE} as p
        inner join _cycle_changed_pairs as c
            on c.user_id = p.user_id
        where c.source in ({sources})
            and c.local_date between p.chosen_date - 30 and p.chosen_date + 30
        union
        select p.user_id
        from {TABLE} as p
        left join core.users as u
            on u.user_id = p.user_id
        where p.score_band is distinct from u.score_band
        union
        select p.user_id
        from {TABLE} as p
        cross join mart.run_context as c
        where p.after_complete is distinct from (p.chosen_date + 30 <= c.as_of)""",
    )
    return keyed.decide(con, TABLE, "pref_scope_users", "user_id")


def update(con: duckdb.DuckDBPyConnection) -> None:
    """Replace the rows of the planned users (after plan, not full)."""
    replace_keys(con, FILE, "pref_scope_users", "user_id", "core.sms_preferences", "pref_input")


def save(con: duckdb.DuckDBPyConnection) -> None:
    """Record the first day with messages this build reflected (inside its transaction). A
    plan that got as far as a scope found it unchanged: nothing to write then."""
    if temp.exists(con, "pref_scope_users"):
        return
    con.execute(f"create schema if not exists {SCHEMA}")
    con.execute(f"create or replace table {SCHEMA}.{FIRST_DAY} as {FIRST_DAY_SQL}")
