"""Masking of mainland mobile numbers (138****1234) — in SQL for data, in Python for messages."""

from __future__ import annotations

import re

# An 11-digit mainland mobile number (1[3-9]x xxxx xxxx, optionally split by '-' or ' ', with an
# optional +86/86 prefix) that is not part of a longer run of digits. RE2 has no look-behind, so
# the neighbouring characters are captured and put back; the replacement runs twice so that two
# numbers separated by a single character are both masked.
PHONE_RE2 = r"(^|[^0-9]|86)(1[3-9][0-9])[- ]?([0-9]{4})[- ]?([0-9]{4})($|[^0-9])"
PHONE_REPLACEMENT = r"\1\2****\4\5"
_PHONE_PY = re.compile(
    r"(?<![0-9])((?:\+?86[- ]?)?1[3-9][0-9])[- ]?[0-9]{4}[- ]?([0-9]{4})(?![0-9])"
)
# Anything that still looks like a number after masking (used by tests and checks).
UNMASKED_RE2 = r"(^|[^0-9])1[3-9][0-9][- ]?[0-9]{4}[- ]?[0-9]{4}($|[^0-9])"


# Every match of PHONE_RE2 contains this; the cheap test skips the replacement for most text.
PHONE_HINT_RE2 = r"1[3-9][0-9]"


def mask_sql(expr: str) -> str:
    """A DuckDB expression masking phone numbers inside the text expression `expr`."""
    once = f"regexp_replace({expr}, '{PHONE_RE2}', '{PHONE_REPLACEMENT}', 'g')"
    twice = f"regexp_replace({once}, '{PHONE_RE2}', '{PHONE_REPLACEMENT}', 'g')"
    return f"(case when regexp_matches({expr}, '{PHONE_HINT_RE2}') then {twice} else {expr} end)"


def mask_text(text: str | None) -> str | None:
    """Mask phone numbers in a message (error texts, reports) before it is stored or printed."""
    if text is None:
        return None
    return _PHONE_PY.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)
