"""Incident alerts: rules over each run's loads, incidents kept as state, webhook notifications.

- `settings`: thresholds and delivery settings from NUDGESCOPE_ALERT_* (defaults in
  docs/alerts.md)
- `evaluate`: one evaluation (rules → incidents → notifications), SQL in sql/alerts/
- `notify`: message bodies (generic JSON, DingTalk, Feishu, WeCom, Slack) and delivery
"""

from pipelines.alerts.evaluate import AlertResult, evaluate, pending_count
from pipelines.alerts.settings import AlertSettings, AlertSettingsError

__all__ = ["AlertResult", "AlertSettings", "AlertSettingsError", "evaluate", "pending_count"]
