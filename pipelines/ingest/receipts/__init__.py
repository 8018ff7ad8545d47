"""The tenth source, `sms_receipts`: the SMS gateways' own receipt files (sms-receipts.md).

`read_files` recognises each file's format and fills the temp view `raw`; `validation_sql`
types and checks the rows. Staging (pipelines.ingest.stage) calls these two instead of the
contract readers for this source; everything after that (ledger, quarantine, core merge) is
shared with the other sources.
"""

from pipelines.ingest.receipts.reader import read_files
from pipelines.ingest.receipts.validate import validation_sql

__all__ = ["read_files", "validation_sql"]
