"""Alert settings: environment variables with documented defaults (docs/alerts.md).

Every threshold of the incident rules, the quiet interval after which an incident resolves,
where notifications go and how delivery is retried. Read once per evaluation
(`AlertSettings.from_env()`), so a test or an operator changes behaviour by setting variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pipelines.contract import SOURCE_NAMES

FORMATS = ("json", "dingtalk", "feishu", "wecom", "slack")
LANGS = ("zh", "en")
KINDS = (
    "duplicate_burst",
    "night_batch",
    "promo_in_service",
    "after_opt_out",
    "over_cap_surge",
    "delivery_drop",
    "stale_source",
)


class AlertSettingsError(ValueError):
    """A setting that cannot be read (named, with the value given)."""


def _num(name: str, default, kind=float, minimum: float | None = 0):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        raise AlertSettingsError(f"{name}={raw!r} is not a {kind.__name__}") from None
    if minimum is not None and value < minimum:
        raise AlertSettingsError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in choices:
        raise AlertSettingsError(f"{name}={raw!r}: choose one of {', '.join(choices)}")
    return raw


def _stale_hours(default_hours: float) -> dict[str, float]:
    """NUDGESCOPE_ALERT_STALE_HOURS: "26" (every source) or "26,sms_logs=2,opt_outs=48"."""
    raw = os.environ.get("NUDGESCOPE_ALERT_STALE_HOURS", "").strip()
    hours = dict.fromkeys(SOURCE_NAMES, default_hours)
    for part in filter(None, (p.strip() for p in raw.split(","))):
        source, sep, value = part.rpartition("=")
        if sep and source.strip() not in SOURCE_NAMES:
            raise AlertSettingsError(
                f"NUDGESCOPE_ALERT_STALE_HOURS: unknown source {source.strip()!r}"
            )
        try:
            number = float(value)
        except ValueError:
            raise AlertSettingsError(
                f"NUDGESCOPE_ALERT_STALE_HOURS: {value.strip()!r} is not a number of hours"
            ) from None
        if number <= 0:
            raise AlertSettingsError("NUDGESCOPE_ALERT_STALE_HOURS: hours must be positive")
        if sep:
            hours[source.strip()] = number
        else:
            hours = {s: number for s in hours}
    return hours


@dataclass(frozen=True)
class AlertSettings:
    # rules (defaults: docs/alerts.md)
    quiet_minutes: int = 180
    history_hours: int = 24
    duplicate_min: int = 20
    duplicate_multiple: float = 5.0
    night_min: int = 20
    promo_min: int = 5
    opt_out_min: int = 1
    over_cap_min: int = 50
    over_cap_multiple: float = 5.0
    delivery_fraction: float = 0.8
    delivery_min: int = 50
    stale_hours: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SOURCE_NAMES, 26.0))
    # notifications
    webhooks: tuple[str, ...] = ()
    format: str = "json"
    lang: str = "zh"
    retries: int = 3
    backoff_seconds: float = 1.0
    timeout_seconds: float = 5.0
    retry_hours: float = 24.0

    @classmethod
    def from_env(cls) -> AlertSettings:
        d = cls()
        raw_urls = os.environ.get("NUDGESCOPE_ALERT_WEBHOOK", "").split(",")
        urls = tuple(u.strip() for u in raw_urls if u.strip())
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise AlertSettingsError(f"NUDGESCOPE_ALERT_WEBHOOK: {url!r} is not an http(s) URL")
        return cls(
            quiet_minutes=_num("NUDGESCOPE_ALERT_QUIET_MINUTES", d.quiet_minutes, int, 1),
            history_hours=_num("NUDGESCOPE_ALERT_HISTORY_HOURS", d.history_hours, int, 0),
            duplicate_min=_num("NUDGESCOPE_ALERT_DUPLICATE_MIN", d.duplicate_min, int, 1),
            duplicate_multiple=_num("NUDGESCOPE_ALERT_DUPLICATE_MULTIPLE", d.duplicate_multiple),
            night_min=_num("NUDGESCOPE_ALERT_NIGHT_MIN", d.night_min, int, 1),
            promo_min=_num("NUDGESCOPE_ALERT_PROMO_MIN", d.promo_min, int, 1),
            opt_out_min=_num("NUDGESCOPE_ALERT_OPT_OUT_MIN", d.opt_out_min, int, 1),
            over_cap_min=_num("NUDGESCOPE_ALERT_OVER_CAP_MIN", d.over_cap_min, int, 1),
            over_cap_multiple=_num("NUDGESCOPE_ALERT_OVER_CAP_MULTIPLE", d.over_cap_multiple),
            delivery_fraction=_num("NUDGESCOPE_ALERT_DELIVERY_FRACTION", d.delivery_fraction),
            delivery_min=_num("NUDGESCOPE_ALERT_DELIVERY_MIN", d.delivery_min, int, 1),
            stale_hours=_stale_hours(26.0),
            webhooks=urls,
            format=_choice("NUDGESCOPE_ALERT_FORMAT", d.format, FORMATS),
            lang=_choice("NUDGESCOPE_ALERT_LANG", d.lang, LANGS),
            retries=_num("NUDGESCOPE_ALERT_RETRIES", d.retries, int, 1),
            backoff_seconds=_num("NUDGESCOPE_ALERT_BACKOFF_SECONDS", d.backoff_seconds),
            timeout_seconds=_num("NUDGESCOPE_ALERT_TIMEOUT_SECONDS", d.timeout_seconds),
            retry_hours=_num("NUDGESCOPE_ALERT_RETRY_HOURS", d.retry_hours),
        )

    def rule_params(self) -> dict:
        """The thresholds as bound SQL parameters."""
        return {
            "quiet_minutes": self.quiet_minutes,
            "duplicate_min": self.duplicate_min,
            "duplicate_multiple": self.duplicate_multiple,
            "night_min": self.night_min,
            "promo_min": self.promo_min,
            "opt_out_min": self.opt_out_min,
            "over_cap_min": self.over_cap_min,
            "over_cap_multiple": self.over_cap_multiple,
            "delivery_fraction": self.delivery_fraction,
            "delivery_min": self.delivery_min,
        }
