"""A messaging policy, the value weights, the scope, and parsing them from user text."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace

from pipelines.whatif.rules import FILTERS

BANDS = ("A", "B", "C", "D", "E")
# Pre-due reminder caps the aggregate mart covers: K due reminders besides the bill notice (never
# capped), K <= MAX_REMINDER_CAP (mart.policy_cap_histogram's cap K + 1).
MAX_REMINDER_CAP = 5
DAILY_CAPS = (1, 2, 3, 4, 5, 6)


class PolicyError(ValueError):
    """A policy, weights or scope the engine cannot evaluate (shown to the user as is)."""


@dataclass(frozen=True)
class Policy:
    """What changes against today's messaging. `Policy()` is the current policy."""

    block_marketing_without_permission: bool = False
    suppress_duplicates: bool = False
    quiet_hours: bool = False
    no_promo_in_reminders: bool = False
    # due reminders a bill may get before its due date besides the bill notice (None: no cap);
    # a band missing from `reminder_cap_by_band` uses `max_pre_due_reminders`
    max_pre_due_reminders: int | None = None
    reminder_cap_by_band: tuple[tuple[str, int], ...] = ()
    daily_cap: int | None = None
    # drop due reminders and collection messages sent after their bill was settled
    suppress_after_settlement: bool = False
    # drop what the user's own settings in force refused (mart.sms_message_flags'
    # is_against_preference, judged on the log as sent)
    honour_user_settings: bool = False

    def __post_init__(self) -> None:
        caps = [self.max_pre_due_reminders, *(k for _, k in self.reminder_cap_by_band)]
        for k in caps:
            if k is not None and not 0 <= k <= MAX_REMINDER_CAP:
                raise PolicyError(
                    f"pre-due reminder cap {k}: choose 0..{MAX_REMINDER_CAP} (besides the "
                    "bill notice)"
                )
        for band, _ in self.reminder_cap_by_band:
            if band not in BANDS:
                raise PolicyError(f"unknown score band {band!r}: choose from {', '.join(BANDS)}")
        if self.daily_cap is not None and self.daily_cap not in DAILY_CAPS:
            raise PolicyError(
                f"daily cap {self.daily_cap}: choose {DAILY_CAPS[0]}..{DAILY_CAPS[-1]}"
            )

    def filters(self) -> int:
        """Bit set of the filter rules on (mart.policy_cap_histogram's `filters`)."""
        on = self.enabled()
        return sum(r.bit for r in FILTERS if on[r.name])

    @classmethod
    def with_filters(cls, filters: int, **kw) -> Policy:
        """A policy with the filter rules of bit set `filters` on (and `kw` for the rest)."""
        on = {r.name for r in FILTERS if filters & r.bit}
        return cls(
            block_marketing_without_permission="compliance" in on,
            honour_user_settings="user_settings" in on,
            suppress_after_settlement="after_settlement" in on,
            suppress_duplicates="duplicates" in on,
            quiet_hours="quiet_hours" in on,
            **kw,
        )

    def reminder_cap(self, band: str | None) -> int | None:
        """The cap of a band's bills (None: no cap); unknown users get the uniform cap."""
        return dict(self.reminder_cap_by_band).get(band or "", self.max_pre_due_reminders)

    def enabled(self) -> dict[str, bool]:
        return {
            "compliance": self.block_marketing_without_permission,
            "user_settings": self.honour_user_settings,
            "after_settlement": self.suppress_after_settlement,
            "duplicates": self.suppress_duplicates,
            "quiet_hours": self.quiet_hours,
            "reminder_cap": self.max_pre_due_reminders is not None
            or bool(self.reminder_cap_by_band),
            "daily_cap": self.daily_cap is not None,
            "promo": self.no_promo_in_reminders,
        }

    def is_current(self) -> bool:
        return not any(self.enabled().values())

    def as_dict(self) -> dict[str, object]:
        return {
            "block_marketing_without_permission": self.block_marketing_without_permission,
            "honour_user_settings": self.honour_user_settings,
            "suppress_after_settlement": self.suppress_after_settlement,
            "suppress_duplicates": self.suppress_duplicates,
            "quiet_hours": self.quiet_hours,
            "no_promo_in_reminders": self.no_promo_in_reminders,
            "max_pre_due_reminders": self.max_pre_due_reminders,
            "max_pre_due_reminders_by_band": dict(self.reminder_cap_by_band) or None,
            "daily_cap": self.daily_cap,
        }

    def with_band_caps(self, caps: dict[str, int | None]) -> Policy:
        """The same policy with a cap per band (None: no cap for that band)."""
        if all(k is None for k in caps.values()):
            return replace(self, max_pre_due_reminders=None, reminder_cap_by_band=())
        return replace(
            self,
            max_pre_due_reminders=None,
            reminder_cap_by_band=tuple(sorted((b, k) for b, k in caps.items() if k is not None)),
        )


@dataclass(frozen=True)
class Weights:
    """Yuan per unit of each outcome (positive = what one unit is worth avoiding or gaining)."""

    on_time: float = 50.0  # per extra on-time repayment
    complaint: float = 200.0  # per complaint avoided (app, hotline, heimao)
    regulator_complaint: float = 2000.0  # per regulator complaint avoided
    opt_out: float = 30.0  # per opt-out avoided
    violation: float = 500.0  # per marketing message after opt-out / without consent avoided
    message: float = 0.04  # SMS cost per message

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse_weights(text: str | None, base: Weights | None = None) -> Weights:
    """`on_time=50,complaint=200,...` -> Weights (unnamed weights keep their default)."""
    base = base or Weights()
    if not text:
        return base
    known = {f.name for f in fields(Weights)}
    values: dict[str, float] = {}
    for part in text.split(","):
        key, sep, raw = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise PolicyError(f"weights: {part.strip()!r} is not name=value")
        if key not in known:
            raise PolicyError(f"weights: unknown weight {key!r}; known: {', '.join(sorted(known))}")
        try:
            v = float(raw)
        except ValueError:
            raise PolicyError(f"weights: {key}={raw.strip()!r} is not a number") from None
        if v < 0 or v != v or v in (float("inf"),):
            raise PolicyError(f"weights: {key} must be a finite number >= 0")
        values[key] = v
    return replace(base, **values)


def parse_band_caps(text: str) -> tuple[tuple[str, int], ...]:
    """`A=1,B=1,C=2` -> (('A', 1), ('B', 1), ('C', 2))."""
    out: dict[str, int] = {}
    for part in text.split(","):
        band, sep, raw = part.partition("=")
        band = band.strip().upper()
        if not sep:
            raise PolicyError(f"reminder caps by band: {part.strip()!r} is not BAND=K")
        if band not in BANDS:
            raise PolicyError(f"unknown score band {band!r}: choose from {', '.join(BANDS)}")
        try:
            out[band] = int(raw)
        except ValueError:
            raise PolicyError(
                f"reminder caps by band: {band}={raw.strip()!r} is not a whole number"
            ) from None
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class Scope:
    """The bills, messages and complaints a what-if looks at."""

    start: dt.date
    end: dt.date
    bands: tuple[str, ...] = ()  # empty: every band (and users with no band)
    experiment: str | None = None  # only users assigned to this experiment
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PolicyError(f"the period ends ({self.end}) before it starts ({self.start})")
        for b in self.bands:
            if b not in BANDS:
                raise PolicyError(f"unknown score band {b!r}: choose from {', '.join(BANDS)}")

    def params(self) -> dict[str, object]:
        return {
            "start": self.start,
            "end": self.end,
            "bands": list(self.bands),
            "experiment": self.experiment,
        }

    def months(self) -> list[str]:
        """'YYYY-MM' of every calendar month the period touches."""
        out, d = [], self.start.replace(day=1)
        while d <= self.end:
            out.append(d.strftime("%Y-%m"))
            d = (d + dt.timedelta(days=32)).replace(day=1)
        return out

    def length_months(self) -> float:
        """Length of the period in months (days / 30.44, two decimals)."""
        return round(((self.end - self.start).days + 1) / (365.25 / 12), 2)


def parse_date(text: str, what: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PolicyError(f"{what} {text!r} is not a date (YYYY-MM-DD)") from None
