"""Command line of SPEC §8: `python -m lib COMMAND ...` for operators, tests and benchmarks."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from lib.sources import INGEST_SOURCES


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date (YYYY-MM-DD): {text!r}") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("init-db", help="create or upgrade the schema (migrations)")

    demo = sub.add_parser("demo-data", help="write realistic synthetic exports in every format")
    demo.add_argument("--students", type=int, default=500)
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--out", type=Path, required=True)
    demo.add_argument(
        "--academic-year", type=int, default=None, help="e.g. 2025 = Sept 2025 to Aug 2026"
    )
    demo.add_argument("--until", type=_parse_date, default=None, help="no activity after this date")
    demo.add_argument(
        "--no-system-exports", action="store_true", help="canonical CSVs only (large benchmarks)"
    )
    demo.add_argument(
        "--past-years",
        type=int,
        default=2,
        help="earlier complete years with outcomes under history/ (for `model train`; 0: none)",
    )
    demo.add_argument(
        "--past-students",
        type=int,
        default=None,
        help="students per earlier year (default: --students)",
    )

    ingest = sub.add_parser("ingest", help="load export files into the store")
    ingest.add_argument("source", choices=INGEST_SOURCES)
    ingest.add_argument("files", nargs="+", type=Path)
    ingest.add_argument(
        "--year", type=int, default=None, help="academic year for dates without one"
    )
    ingest.add_argument("--json", action="store_true", help="one JSON object per file")
    ingest.add_argument(
        "--quarantine",
        action="store_true",
        help="load the good rows and keep the bad ones in the quarantine report (default: reject the file)",
    )
    ingest.add_argument(
        "--due",
        default=None,
        help="submissions: the due date-time of a grading worksheet without an assignments.csv",
    )
    ingest.add_argument(
        "--module", default=None, help="submissions: the worksheet's module code (with --due)"
    )
    ingest.add_argument("--by", default="cli", help="who is loading (recorded as provenance)")
    ingest.add_argument("--no-compute", action="store_true", help="skip bringing flags up to date")

    export = sub.add_parser("export", help="export stored data")
    export.add_argument("what", choices=["activity"])
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("--out", type=Path, default=None, help="file to write (default: stdout)")

    compute = sub.add_parser(
        "compute", help="bring weekly measures, baselines and flags up to date"
    )
    compute.add_argument("--full", action="store_true", help="recompute everything from scratch")

    flags = sub.add_parser("flags", help="print the flags in force")
    flags.add_argument("--as-of", type=_parse_date, default=None)
    flags.add_argument("--all", action="store_true", help="every flag raised up to that date")
    flags.add_argument("--format", choices=["csv", "json"], default="csv")

    cases = sub.add_parser("cases", help="print the welfare and visa cases at a date")
    cases.add_argument("--as-of", type=_parse_date, default=None)
    cases.add_argument(
        "--state", choices=["open", "overdue", "stalled", "closed", "all"], default="all"
    )
    cases.add_argument("--format", choices=["csv", "json"], default="csv")

    sar = sub.add_parser("sar", help="subject access export for one student")
    sar.add_argument("student_id")
    sar.add_argument("--out", type=Path, required=True)
    sar.add_argument(
        "--by",
        required=True,
        help="your staff username (an active user; recorded in the access log)",
    )

    users = sub.add_parser("users", help="manage staff users")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add or update a staff user")
    add.add_argument("username")
    add.add_argument(
        "--role", required=True, choices=["tutor", "senior_tutor", "wellbeing", "visa", "admin"]
    )
    add.add_argument("--school", default=None)
    add.add_argument("--years", default=None, help="years of study in scope, e.g. 1,2")
    add.add_argument("--name", default=None, help="display name")
    add.add_argument("--email", default=None)
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument(
        "--digest", action="store_true", help="opt in to the weekly digest e-mail (needs --email)"
    )
    users_sub.add_parser("list", help="list staff users")
    demo = users_sub.add_parser(
        "reset-demo", help="new passwords for the demo users, printed with their roles"
    )
    demo.add_argument("--folder", type=Path, default=Path("sample_data"), help="its staff.csv")
    unlock = users_sub.add_parser(
        "unlock", help="clear a user's failed sign-ins and wait (and, with --client, a machine's)"
    )
    unlock.add_argument("username")
    unlock.add_argument("--client", default=None, help="also clear this client address's wait")

    config = sub.add_parser("config", help="show or change the engine thresholds and windows")
    config_sub = config.add_subparsers(dest="config_command", required=True)
    show = config_sub.add_parser("show", help="effective settings with defaults and descriptions")
    show.add_argument("--json", action="store_true", help="one JSON object per setting")
    change = config_sub.add_parser("set", help="validate, store and recompute everything")
    change.add_argument("assignments", nargs="+", metavar="KEY=VALUE", help="e.g. zero_weeks=3")
    change.add_argument("--by", default="cli", help="who changes it (recorded with the setting)")

    _ops_parsers(sub)
    digest = sub.add_parser(
        "digest", help="the weekly digest e-mail for each opted-in user (scoped by the policy)"
    )
    digest.add_argument("--as-of", type=_parse_date, default=None)
    where = digest.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="write one USERNAME.eml per user into this folder")
    where.add_argument("--send", action="store_true", help="send through DASHBOARD_SMTP_URL")

    from lib.compliance.commands import add_parser as add_compliance_parser

    add_compliance_parser(sub, _parse_date)

    model = sub.add_parser("model", help="the learned withdrawal-risk ranking (lib/risk)")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    model_sub.add_parser("train", help="train on earlier years, test on the latest, store")
    model_sub.add_parser("show", help="the stored model's window, scores and whether it is used")

    sample = sub.add_parser(
        "load-sample", help="load a demo-data folder into an empty store and create demo users"
    )
    sample.add_argument("folder", type=Path)
    sample.add_argument("--force", action="store_true", help="load even if the store holds data")
    return parser


def _ops_parsers(sub) -> None:
    """backup, restore, purge and retention (lib.ops)."""
    backup = sub.add_parser("backup", help="write every table of the store to a portable zip")
    backup.add_argument("--out", type=Path, required=True)
    restore = sub.add_parser("restore", help="restore a backup into an empty store")
    restore.add_argument("file", type=Path)
    purge = sub.add_parser("purge", help="remove engagement data older than the retention")
    purge.add_argument("--as-of", type=_parse_date, default=None)
    purge.add_argument("--dry-run", action="store_true", help="count only, remove nothing")
    purge.add_argument("--by", default="cli", help="who runs it (recorded in the access log)")
    retention = sub.add_parser("retention", help="show or set the data retention in years")
    retention.add_argument("--years", type=int, default=None)
    retention.add_argument("--by", default="cli")


def _cmd_ops(args: argparse.Namespace) -> int:
    from lib.ops.backup import BackupError, backup, restore
    from lib.ops.retention import get_retention, purge, set_retention
    from lib.store.db import session_scope

    try:
        if args.command == "backup":
            result = backup(args.out)
        elif args.command == "restore":
            result = restore(args.file)
        elif args.command == "purge":
            with session_scope() as session:
                result = purge(session, as_of=args.as_of, by=args.by, dry_run=args.dry_run)
        else:
            with session_scope() as session:
                kept = (
                    set_retention(session, args.years, args.by)
                    if args.years is not None
                    else get_retention(session)
                )
                result = {"retention_years": kept.years, "updated_by": kept.updated_by}
    except BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, default=str))
    return 0


def _cmd_demo_data(args: argparse.Namespace) -> int:
    from lib.demo import generate

    summary = generate(
        students=args.students,
        seed=args.seed,
        out=args.out,
        academic_year=args.academic_year,
        until=args.until,
        system_exports=not args.no_system_exports,
        past_years=args.past_years,
        past_students=args.past_students,
    )
    print(json.dumps(summary, default=str))
    return 0


def _ingest_extra(args: argparse.Namespace) -> dict | None:
    """Per-file facts given on the command line (a worksheet's due date and module)."""
    extra = {"due_at": args.due, "module_code": args.module}
    extra = {k: v for k, v in extra.items() if v}
    return extra or None


def _cmd_ingest(args: argparse.Namespace) -> int:
    from lib.store.db import session_scope
    from lib.usecases import load_and_recompute

    with session_scope() as session:
        outcome = load_and_recompute(
            session,
            [(args.source, path) for path in args.files],
            year=args.year,
            loaded_by=args.by,
            quarantine=args.quarantine,
            extra=_ingest_extra(args),
            recompute=not args.no_compute and args.source != "contacts",  # no flag changes
        )
    for report in outcome.reports:
        if args.json:
            print(json.dumps(report.as_json()))
        else:
            print(report.as_text(), file=sys.stderr if report.status == "rejected" else sys.stdout)
    if outcome.summary is not None and not args.json:
        print(json.dumps(outcome.summary.as_dict(), default=str))
    return 1 if outcome.failed else 0


def _cmd_compute(args: argparse.Namespace) -> int:
    from lib.store.db import session_scope
    from lib.usecases import compute_serialised

    with session_scope() as session:
        summary = compute_serialised(session, full=args.full)
    print(json.dumps(summary.as_dict(), default=str))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from lib.export import activity_csv
    from lib.store.db import session_scope

    with session_scope() as session:
        text = activity_csv(session)
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def _cmd_flags(args: argparse.Namespace) -> int:
    from lib.compute.flags import flags_frame
    from lib.safe_csv import write_csv
    from lib.store.db import session_scope

    with session_scope() as session:
        frame = flags_frame(session, as_of=args.as_of, include_ended=args.all)
    if args.format == "json":
        frame = frame.astype({"week_start": str})
        print(json.dumps(frame.to_dict(orient="records"), indent=1))
    else:
        write_csv(frame, sys.stdout)
    return 0


def _cmd_cases(args: argparse.Namespace) -> int:
    from lib.cases.cli import cases_command

    return cases_command(args.as_of, args.state, args.format, sys.stdout)


def _cmd_sar(args: argparse.Namespace) -> int:
    from lib.sar import UnknownStudent, write_subject_access_export
    from lib.store.db import session_scope

    try:
        with session_scope() as session:
            path = write_subject_access_export(
                session, args.student_id, args.out, requested_by=args.by
            )
    except UnknownStudent as error:
        print(f"sar: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def _cmd_users(args: argparse.Namespace) -> int:
    from lib.auth import add_user, list_users
    from lib.store.db import session_scope

    with session_scope() as session:
        if args.users_command == "unlock":
            return _unlock(session, args.username, args.client)
        if args.users_command == "list":
            for user in list_users(session):
                print(f"{user.username}\t{user.role}\t{user.school or ''}\t{user.years or ''}")
            return 0
        if args.users_command == "reset-demo":
            from lib.usecases import reset_demo_logins

            print(reset_demo_logins(session, args.folder))
            return 0
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
        add_user(
            session,
            args.username,
            role=args.role,
            school=args.school,
            years=args.years,
            display_name=args.name,
            email=args.email,
            password=password,
            digest=True if args.digest else None,
        )
    print(f"user {args.username} saved ({args.role})")
    return 0


def _unlock(session, username: str, client: str | None) -> int:
    from lib.auth import unlock
    from lib.login_guard import clear_client

    user = unlock(session, username)
    print(f"user {user.username} unlocked")
    if client is not None:
        cleared = clear_client(session, client)
        print(f"client {client}: " + ("unlocked" if cleared else "had no failed sign-ins"))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from lib.compute.service import load_engine_config, set_engine_config
    from lib.engagement.config import describe
    from lib.store.db import session_scope

    with session_scope() as session:
        if args.config_command == "set":
            from lib.ingest.lock import store_lock

            with store_lock(session):  # its recompute is one writer among loads and computes
                result = set_engine_config(session, args.assignments, updated_by=args.by)
                session.commit()
            print(json.dumps(result, default=str))
            return 0
        rows = describe(load_engine_config(session))
    for key, value, default, text in rows:
        if args.json:
            print(json.dumps({"key": key, "value": value, "default": default, "description": text}))
        else:
            mark = "" if value == default else f"  (default {default})"
            print(f"{key} = {value}{mark}  # {text}")
    return 0


def _cmd_digest(args: argparse.Namespace) -> int:
    from lib.cases.digest import send_digests, write_digests
    from lib.cases.mail import SMTP_ENV, smtp_server
    from lib.store.db import session_scope

    with session_scope() as session:
        if args.out is not None:
            lines = write_digests(session, args.out, args.as_of)
        else:
            server = smtp_server()
            if server is None:
                print(f"digest: no SMTP server: set {SMTP_ENV} (smtp://host:port)", file=sys.stderr)
                return 2
            lines = send_digests(session, server, args.as_of)
    print("\n".join(lines) or "no user has opted in to the digest")
    return 1 if any("NOT sent" in line for line in lines) else 0


def _cmd_model(args: argparse.Namespace) -> int:
    from lib.risk import show, train
    from lib.store.db import session_scope

    with session_scope() as session:
        result = train(session) if args.model_command == "train" else show(session)
    print(json.dumps(result, indent=1, default=str))
    return 0


def _cmd_load_sample(args: argparse.Namespace) -> int:
    from lib.store.db import session_scope
    from lib.usecases import load_sample_folder

    with session_scope() as session:
        summary = load_sample_folder(session, args.folder, force=args.force)
    print(summary)
    return 0


def _cmd_compliance(args: argparse.Namespace) -> int:
    from lib.compliance.commands import run

    return run(args)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "init-db":
        from lib.store.db import init_db

        init_db()
        print("schema is up to date")
        return 0
    from sqlalchemy.exc import SQLAlchemyError

    from lib.ingest.errors import IngestError

    handlers = {
        "demo-data": _cmd_demo_data,
        "ingest": _cmd_ingest,
        "export": _cmd_export,
        "compute": _cmd_compute,
        "flags": _cmd_flags,
        "cases": _cmd_cases,
        "sar": _cmd_sar,
        "users": _cmd_users,
        "load-sample": _cmd_load_sample,
        "config": _cmd_config,
        "backup": _cmd_ops,
        "restore": _cmd_ops,
        "purge": _cmd_ops,
        "retention": _cmd_ops,
        "digest": _cmd_digest,
        "compliance": _cmd_compliance,
        "model": _cmd_model,
    }
    try:
        return handlers[args.command](args)
    except (IngestError, ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:  # never a raw database traceback (issue #13)
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:300]
        print(f"error: the store refused the operation: {first}", file=sys.stderr)
        return 3
