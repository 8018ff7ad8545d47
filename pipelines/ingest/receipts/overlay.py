"""Delivery as the gateway saw it: `core.sms_receipt_matches` and `core.sms_messages`.

Runs at the start of every mart build, after the core merges of `sms_logs` and
`sms_receipts` (so inside the build's transaction, before the incremental flags look for
what changed): the marts read `core.sms_messages` instead of `core.sms_logs`. Because the
incremental flags find their scope from a fingerprint of that table per day, a receipts file
that changes a few messages' delivery re-flags only those messages' days.
"""

from __future__ import annotations

import duckdb

from pipelines import sqlfiles
from pipelines.contract import RECEIPTS
from pipelines.schema import core_table_ddl

FILES = ("core/sms_receipt_matches", "core/sms_messages")


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild both tables from core.sms_logs and core.sms_receipts (an empty receipts table
    is created when the warehouse has none yet: every message then keeps the log's values)."""
    con.execute(core_table_ddl(RECEIPTS))
    for name in FILES:
        sqlfiles.run(con, name)
