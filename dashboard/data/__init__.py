"""All data access of the dashboard, in two layers.

- `connection`: connections, caching and version consistency (one published file per page
  run, results cached per `meta.data_version`). Nothing page-specific.
- the page queries, one module per page (`metrics`, `tradeoffs`, `repayment`, `conversion`,
  `complaints`, `sms`, `status`), each one aggregating statement with bound parameters, scoped
  by the sidebar's `scope.Filters`; `masking` masks phone numbers with the ingestion's own
  implementation (pipelines.ingest.mask).

Every page reads small tables only: the metrics and the aggregate marts built for the dashboard
(`AGGREGATE_MARTS`; see docs/metrics.md), never a scan of the message-level
`mart.sms_message_flags` (the compliance drill-down reads one user's rows of it).

The names below are the package's interface: pages call `data.<name>`.
"""

from __future__ import annotations

from dashboard.data.complaints import complaints_monthly, narratives, resolution
from dashboard.data.connection import hold_between_runs, meta, page_run, query, serve_path
from dashboard.data.conversion import retention
from dashboard.data.masking import mask_frame, mask_phones
from dashboard.data.metrics import for_band, metrics
from dashboard.data.repayment import vintage
from dashboard.data.scope import (
    Filters,
    freshness_days,
    latest_complete_month,
    min_denominator,
    month_end,
    options,
    partial_month,
    price_per_segment,
    published_as_of,
)
from dashboard.data.sms import (
    complaint,
    complaint_choices,
    delivery,
    flags_daily,
    hour_weekday,
    incidents,
    non_permitted_marketing,
    user_messages,
    worst_templates,
)
from dashboard.data.status import freshness, ledger, quarantine_rows, quarantine_summary, schema
from dashboard.data.tradeoffs import curve, experiment_effects, frontier

# The aggregate marts the pages read instead of the message-level ones (sql/marts/<name>.sql).
AGGREGATE_MARTS = (
    "sms_daily_flags",
    "sms_day_hour",
    "sms_non_permitted",
    "sms_never_sent",
    "policy_cap_histogram",
    "user_cycle_summary",
    "opt_outs_daily",
    "sms_daily_delivery",
)

__all__ = [
    "AGGREGATE_MARTS",
    "Filters",
    "complaint",
    "complaint_choices",
    "complaints_monthly",
    "curve",
    "delivery",
    "experiment_effects",
    "flags_daily",
    "for_band",
    "freshness",
    "freshness_days",
    "frontier",
    "hold_between_runs",
    "hour_weekday",
    "incidents",
    "latest_complete_month",
    "ledger",
    "mask_frame",
    "mask_phones",
    "meta",
    "metrics",
    "min_denominator",
    "month_end",
    "narratives",
    "non_permitted_marketing",
    "options",
    "page_run",
    "partial_month",
    "price_per_segment",
    "published_as_of",
    "quarantine_rows",
    "quarantine_summary",
    "query",
    "resolution",
    "retention",
    "schema",
    "serve_path",
    "user_messages",
    "vintage",
    "worst_templates",
]
