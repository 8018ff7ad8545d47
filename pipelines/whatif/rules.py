"""The levers of a messaging policy, as data.

A filter rule is a flag of `mart.sms_daily_flags` (a boolean SQL expression over its columns)
plus what prices it: the complaints attributed to it (`complaint_group`, see
`sql/whatif/complaints.sql`) per flagged message, and whether a removed message is a
compliance violation avoided. Adding a lever is one more `Rule` here, one more bit in
`mart.policy_cap_histogram`'s `filters`, one more `when` in `sql/whatif/filter_counts.sql` and in
`sql/whatif/complaints.sql` if complaints can be attributed to it.

The order of `FILTERS` then `CAPS` is the attribution order: a message two rules would remove
is counted once, under the first. The rules priced as violations come first, so a policy with
such a rule on avoids every violation of it in scope whatever else it switches on; then the
other messages that should never have gone out (reminders and collections for a settled bill);
then the hygiene filters. Bits follow the order the levers were added, not this order.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    name: str  # id used in JSON, the CLI and i18n keys (`rule_<name>`)
    flag: str  # SQL boolean over mart.sms_daily_flags columns (filters only)
    bit: int  # bit of `filters` in mart.policy_cap_histogram (filters only; 0 for caps)
    complaint_group: str | None  # complaints attributed to it (sql/whatif/complaints.sql)
    violation: bool = False  # a removed message is a compliance violation avoided


# Filters act on the log as sent, in this order.
FILTERS: tuple[Rule, ...] = (
    Rule(
        "compliance",
        "is_after_opt_out or is_marketing_without_consent",
        1,
        "compliance",
        violation=True,
    ),
    # the user's own settings in force said no (marketing / reminders off, own quiet window,
    # own daily maximum judged on the log as sent): a violation of an explicit refusal
    Rule("user_settings", "is_against_preference", 8, "user_settings", violation=True),
    # a due reminder or collection sent after its bill was settled
    Rule("after_settlement", "is_after_settlement", 16, "after_settlement"),
    Rule("duplicates", "is_duplicate", 2, "duplicates"),
    Rule("quiet_hours", "is_quiet_hours", 4, "quiet_hours"),
)
VIOLATIONS: tuple[str, ...] = tuple(r.name for r in FILTERS if r.violation)
ALL_FILTERS = sum(r.bit for r in FILTERS)  # every filter on: the histogram's largest `filters`
# Caps count only what the filters left.
CAPS: tuple[Rule, ...] = (
    Rule("reminder_cap", "", 0, None),  # priced by the experiment, not by a complaint group
    Rule("daily_cap", "is_over_daily_cap", 0, "daily_cap"),
)
REMOVING: tuple[str, ...] = tuple(r.name for r in (*FILTERS, *CAPS))
# Rewrites a reminder without its promotion: removes no message, only its marketing risk.
PROMO = Rule("promo", "is_marketing_in_service", 0, "promo")
ALL_RULES: tuple[str, ...] = (*REMOVING, PROMO.name)
BY_NAME = {r.name: r for r in (*FILTERS, *CAPS, PROMO)}
