"""`nudgescope whatif`: a messaging policy's counted and expected effects on the published data."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from pipelines.errors import UserError
from pipelines.whatif.policy import (
    BANDS,
    MAX_REMINDER_CAP,
    Policy,
    PolicyError,
    Scope,
    parse_band_caps,
    parse_date,
    parse_weights,
)

EPILOG = """how the expected changes are estimated:
  - messages removed are counted exactly; a message two rules would remove counts once,
    under the first rule (compliance, user's own settings, after settlement, duplicates,
    quiet hours, reminder cap, daily cap).
  - the reminder cap (due reminders besides the bill notice) acts on repayment, 30+ DPD,
    complaints and opt-outs only through the randomised reminder experiment: the outcome
    rate of the arm with K reminders against the arm with the bill's current cadence
    (linear between arms, flat beyond them), per score band when each arm holds 200+ bills
    of the band, pooled over bands otherwise. The observational volume-outcome curve is not
    used (late payers get more reminders, so it is confounded).
  - complaints avoided by a filter or the daily cap: complaints attributed to the rule by
    their category (marketing complaints about an opt-out or missing consent -> the
    compliance rule) per flagged message, times the messages removed; regulator
    complaints are counted apart and weighted apart.
  - opt-outs avoided: opt-outs per marketing message the user could still opt out of, times
    such messages removed. Violations: marketing after opt-out / without consent removed,
    and messages against the user's own settings removed (the user refused them).
  - --honour-user-settings removes what mart.sms_message_flags flags is_against_preference:
    marketing / due reminders the user switched off, marketing and due reminders in the
    user's own quiet window, messages above the user's own daily maximum. The daily
    maximum is judged on the log as sent: removing earlier messages of a day could bring a
    later one back under the maximum; the count is exact for what the flag says. Priced
    as violations (weight `violation`), plus complaints whose narrative names the
    settings (sms_marketing / sms_night / sms_frequency), plus opt-outs through the
    marketing messages it removes.
  - --suppress-after-settlement removes due reminders and collection messages sent after
    their bill was settled (is_after_settlement). Priced by complaints of category
    collection_conduct / sms_frequency whose narrative says the bill was already repaid;
    no opt-outs (they are not marketing) and no violation weight.
  - removing a promotion from a reminder rewrites it (still sent).
  - 95% intervals: delta method over the arms' rates (binomial) and the complaint and
    opt-out counts (Poisson); they cover sampling error, not the assumptions.
  - net value = on_time*on-time + complaint*complaints avoided (regulator ones at
    regulator_complaint) + opt_out*opt-outs avoided + violation*violations avoided +
    message*messages removed; 30+ DPD bills are shown, not priced.
"""


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "whatif",
        help="what a messaging policy removes and its expected effects, with 95%% intervals",
        description=textwrap.fill(
            "Evaluate a messaging policy against the current one on the published data "
            "(serve.duckdb): messages removed per rule and the expected change of on-time "
            "repayments, 30+ DPD bills, complaints, opt-outs, violations, messages, SMS cost "
            "and net value, in total and per month, each with a 95% interval.",
            width=90,
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    caps = p.add_mutually_exclusive_group()
    caps.add_argument(
        "--max-pre-due-reminders",
        type=int,
        metavar="K",
        help=f"at most K due reminders per bill before its due date, besides the bill notice "
        f"(0..{MAX_REMINDER_CAP})",
    )
    caps.add_argument(
        "--max-pre-due-reminders-by-band",
        metavar="A=1,B=1,C=2,D=3,E=3",
        help="a pre-due reminder cap per score band (bands not named: no cap)",
    )
    p.add_argument(
        "--daily-cap", type=int, metavar="N", help="at most N messages a user-day (1..6)"
    )
    p.add_argument("--quiet-hours", action="store_true", help="send nothing 22:00-08:00 local")
    p.add_argument(
        "--suppress-duplicates", action="store_true", help="drop repeats within 10 minutes"
    )
    p.add_argument(
        "--block-marketing-without-permission",
        action="store_true",
        help="no marketing after an opt-out or without consent",
    )
    p.add_argument(
        "--honour-user-settings",
        action="store_true",
        help="send nothing the user's own settings in force refuse",
    )
    p.add_argument(
        "--suppress-after-settlement",
        action="store_true",
        help="no due reminders or collections for a bill already settled",
    )
    p.add_argument(
        "--no-promo-in-reminders",
        action="store_true",
        help="send reminders without their promotional text",
    )
    p.add_argument("--from", dest="start", metavar="DATE", help="first day (default: first data)")
    p.add_argument("--to", dest="end", metavar="DATE", help="last day (default: as_of)")
    p.add_argument(
        "--band",
        action="append",
        metavar="X",
        help=f"only users of score band X ({', '.join(BANDS)}); repeat for several",
    )
    p.add_argument(
        "--weights",
        metavar="on_time=50,complaint=200,...",
        help="yuan per unit: on_time, complaint, regulator_complaint, opt_out, violation, "
        "message (default on_time=50,complaint=200,regulator_complaint=2000,opt_out=30,"
        "violation=500,message=0.04)",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data folder with serve.duckdb (default: $NUDGESCOPE_DATA_DIR or ./data)",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=run)


def _user_error(msg: str) -> Exception:
    return UserError(msg)


def run(args: argparse.Namespace) -> int:
    # here, not at the top: the engine needs numpy, which no other command should import
    from pipelines.serve.sandbox import SandboxError, connect
    from pipelines.settings import paths
    from pipelines.whatif import engine as E
    from pipelines.whatif import report

    try:
        band_caps = (
            parse_band_caps(args.max_pre_due_reminders_by_band)
            if args.max_pre_due_reminders_by_band
            else ()
        )
        policy = Policy(
            block_marketing_without_permission=args.block_marketing_without_permission,
            suppress_duplicates=args.suppress_duplicates,
            quiet_hours=args.quiet_hours,
            no_promo_in_reminders=args.no_promo_in_reminders,
            honour_user_settings=args.honour_user_settings,
            suppress_after_settlement=args.suppress_after_settlement,
            max_pre_due_reminders=args.max_pre_due_reminders,
            reminder_cap_by_band=band_caps,
            daily_cap=args.daily_cap,
        )
        weights = parse_weights(args.weights)
        start = parse_date(args.start, "--from") if args.start else None
        end = parse_date(args.end, "--to") if args.end else None
        bands = tuple(b.strip().upper() for b in (args.band or []))
        for b in bands:
            if b not in BANDS:
                raise PolicyError(f"unknown score band {b!r}: choose from {', '.join(BANDS)}")
    except PolicyError as exc:
        raise _user_error(str(exc)) from None
    try:
        con = connect(paths(args.data_dir).serve)
    except SandboxError as exc:
        raise _user_error(str(exc)) from None
    try:
        query = E.duckdb_query(con)
        first, as_of = query(
            "select (select min(local_date) from mart.sms_daily_flags) as first, "
            "(select as_of from main.meta) as as_of",
            {},
        )[0].values()
        if first is None or as_of is None:
            raise _user_error("the published database holds no messages yet")
        try:
            scope = Scope(start or first, end or as_of, bands)
        except PolicyError as exc:
            raise _user_error(str(exc)) from None
        doc = report.whatif(query, scope, policy, weights)
    finally:
        con.close()
    if args.format == "json":
        json.dump(doc, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.table(doc))
    return 0
