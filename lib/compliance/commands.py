"""`python -m lib compliance [...]` (SPEC §8): the status list, `report` and `withdrawn`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date

from lib.store.db import session_scope


def add_parser(sub, parse_date) -> None:
    """The `compliance` command and its `report` / `withdrawn` sub-commands."""
    comp = sub.add_parser("compliance", help="visa compliance: one row per sponsored student")
    comp.add_argument("--as-of", type=parse_date, default=None)
    comp.add_argument("--format", choices=["csv", "json"], default="csv")
    actions = comp.add_subparsers(dest="compliance_command")
    report = actions.add_parser("report", help="record a report made to UKVI")
    report.add_argument("student_id")
    report.add_argument("--on", type=parse_date, required=True)
    report.add_argument("--reference", required=True)
    report.add_argument("--by", required=True, help="the dashboard user who made the report")
    gone = actions.add_parser("withdrawn", help="record a sponsored student's withdrawal")
    gone.add_argument("student_id")
    gone.add_argument("--on", type=parse_date, required=True)
    gone.add_argument("--by", required=True)


def run(args: argparse.Namespace) -> int:
    """Print the statuses, or record a report or withdrawal (refusals: message, exit status 2)."""
    from lib.compliance import service

    with session_scope() as session:
        if args.compliance_command == "report":
            record = service.record_report(
                session, args.student_id, args.on, args.reference, args.by
            )
            print(
                f"report {record.reference} for {record.student_id} recorded "
                f"(threshold crossed {record.threshold_date}, reported {record.reported_on})"
            )
            return 0
        if args.compliance_command == "withdrawn":
            record = service.record_withdrawal(session, args.student_id, args.on, args.by)
            print(f"{record.student_id} recorded as withdrawn on {record.effective_on}")
            return 0
        frame = service.cli_rows(service.statuses(session, args.as_of or date.today()))
    if args.format == "json":
        print(json.dumps(frame.to_dict(orient="records"), indent=1))
    else:
        frame.to_csv(sys.stdout, index=False)
    return 0
