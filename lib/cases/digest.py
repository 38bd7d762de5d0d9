"""The weekly digest e-mail (SPEC §8): for each opted-in user, the new and continuing flags and the
overdue case actions of their own students (the access policy's scope), written as RFC 5322 files
or sent through SMTP; every message is access-logged. Never a welfare note."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, scoped_student_ids, visible_tracks
from lib.audit import log_access
from lib.cases import ladder
from lib.cases.mail import MailError, SmtpServer, default_sender, send_message, valid_address
from lib.cases.queries import cases_frame
from lib.compute.flags import in_force
from lib.store.models import Flag, StaffUser, Student

MAX_LINES = 100  # per section; the rest are counted and left to the dashboard
# A flag is known once its week has ended: it is new in the first digest after that (its week
# ended within the 7 days before the as-of date), continuing afterwards.
NEW_DAYS = 7


@dataclass
class Digest:
    """One user's digest: recipient, text and the students it names (for the access log)."""

    username: str
    to: str
    subject: str
    body: str
    student_ids: list[str] = field(default_factory=list)


def opted_in(session: Session) -> list[StaffUser]:
    """Active staff users who opted in to the digest, by username."""
    return list(
        session.scalars(
            select(StaffUser)
            .where(StaffUser.digest.is_(True), StaffUser.active.is_(True))
            .order_by(StaffUser.username)
        )
    )


def flags_for(session: Session, user: User, as_of: date) -> pd.DataFrame:
    """Flags in force at the as-of date for the user's students, with names and whether new."""
    columns = ["student_id", "name", "week_start", "kind", "severity", "explanation"]
    rows = session.execute(
        select(
            Flag.student_id,
            Student.given_name + " " + Student.family_name,
            Flag.week_start,
            Flag.kind,
            Flag.severity,
            Flag.explanation,
        )
        .join(Student, Student.student_id == Flag.student_id)
        .where(
            Flag.student_id.in_(scoped_student_ids(user)),
            in_force(as_of),
        )
        .order_by(Flag.week_start.desc(), Flag.student_id, Flag.kind)
    ).all()
    frame = pd.DataFrame(rows, columns=columns)
    week_end = pd.to_datetime(frame["week_start"]) + pd.Timedelta(days=7)
    frame["new"] = week_end > pd.Timestamp(as_of - timedelta(days=NEW_DAYS))
    return frame


def overdue_for(session: Session, user: User, as_of: date, cases: pd.DataFrame) -> pd.DataFrame:
    """Open cases of the user's students on the tracks they may see whose next action is overdue."""
    tracks = visible_tracks(user)
    if cases.empty or not tracks:
        return cases.iloc[:0]
    scope = set(session.scalars(scoped_student_ids(user)))
    due = cases[cases["overdue"] & cases["track"].isin(tracks) & cases["student_id"].isin(scope)]
    return due.sort_values(["next_due", "student_id"])


def _severity_order(frame: pd.DataFrame) -> pd.DataFrame:
    rank = frame["severity"].map({"high": 0, "medium": 1, "low": 2}).fillna(3)
    return frame.assign(_rank=rank).sort_values(["_rank", "student_id"]).drop(columns="_rank")


def _flag_lines(frame: pd.DataFrame) -> list[str]:
    lines = [
        f"- {r.name} ({r.student_id}): {r.kind.replace('_', ' ')}, {r.severity}, since the week "
        f"of {r.week_start:%d %b %Y}. {r.explanation}"
        for r in _severity_order(frame).head(MAX_LINES).itertuples()
    ]
    if len(frame) > MAX_LINES:
        lines.append(f"- ...and {len(frame) - MAX_LINES} more: see the dashboard.")
    return lines or ["- none"]


def _overdue_lines(frame: pd.DataFrame, names: dict[str, str], as_of: date) -> list[str]:
    lines = []
    for r in frame.head(MAX_LINES).itertuples():
        late = (as_of - r.next_due).days
        lines.append(
            f"- {names.get(r.student_id, r.student_id)} ({r.student_id}), "
            f"{ladder.TRACK_LABELS.get(r.track, r.track).lower()} case {r.case_id}: "
            f"{r.next_action or 'next action'} — due {r.next_due:%d %b %Y} "
            f"({late} day{'s' if late != 1 else ''} overdue), owner {r.owner}"
        )
    if len(frame) > MAX_LINES:
        lines.append(f"- ...and {len(frame) - MAX_LINES} more: see the dashboard.")
    return lines or ["- none"]


def build_digest(
    session: Session, staff: StaffUser, as_of: date, cases: pd.DataFrame
) -> Digest | None:
    """The digest of one opted-in user (None when their role gets no digest or no address)."""
    user = User.from_staff(staff)
    to = staff.email
    if not can(user, "receive_digest") or to is None or not valid_address(to):
        return None
    flags = flags_for(session, user, as_of)
    overdue = overdue_for(session, user, as_of, cases)
    names = dict(zip(flags["student_id"], flags["name"], strict=True))
    missing = sorted(set(overdue["student_id"]) - set(names))
    if missing:
        names |= dict(
            session.execute(
                select(Student.student_id, Student.given_name + " " + Student.family_name).where(
                    Student.student_id.in_(missing)
                )
            ).all()
        )
    new, continuing = flags[flags["new"]], flags[~flags["new"]]
    subject = (  # short enough never to be folded
        f"Engagement digest {as_of:%d %b %Y}: {len(new)} new flags, {len(overdue)} overdue"
    )
    body = "\n".join(
        [
            f"Dear {staff.display_name or staff.username},",
            "",
            f"Your weekly Student Engagement Dashboard digest as of {as_of:%A %d %B %Y}, for "
            "the students you support. Open the dashboard to record contacts.",
            "",
            f"New flags (raised since last week's digest): {len(new)}",
            *_flag_lines(new),
            "",
            f"Continuing flags: {len(continuing)}",
            *_flag_lines(continuing),
            "",
            f"Overdue next actions on cases: {len(overdue)}",
            *_overdue_lines(overdue, names, as_of),
            "",
            "You receive this e-mail because you opted in to the weekly digest.",
            "It names students: please do not forward it.",
        ]
    )
    ids = sorted(set(flags["student_id"]) | set(overdue["student_id"]))
    return Digest(staff.username, to, subject, body, ids)


def digests(session: Session, as_of: date | None = None) -> tuple[list[Digest], list[str]]:
    """(the digest of every opted-in user, the usernames skipped and why)."""
    as_of = as_of or date.today()
    cases = cases_frame(session, as_of)
    out, skipped = [], []
    for staff in opted_in(session):
        digest = build_digest(session, staff, as_of, cases)
        if digest is None:
            why = "no valid e-mail address" if not valid_address(staff.email) else "role"
            skipped.append(f"{staff.username}: {why}")
        else:
            out.append(digest)
    return out, skipped


def to_message(digest: Digest, as_of: date) -> EmailMessage:
    """The RFC 5322 message of a digest."""
    sender = default_sender() or f"engagement-dashboard@{digest.to.rsplit('@', 1)[-1]}"
    message = EmailMessage()
    message["From"] = formataddr(("Student Engagement Dashboard", sender))
    message["To"] = digest.to
    message["Subject"] = digest.subject
    message["Date"] = format_datetime(pd.Timestamp(as_of).to_pydatetime().astimezone())
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(digest.body)
    return message


def _log(session: Session, staff_username: str, digest: Digest, as_of: date, how: str) -> None:
    staff = session.scalars(select(StaffUser).where(StaffUser.username == staff_username)).one()
    log_access(
        session,
        User.from_staff(staff),
        f"weekly digest e-mail as of {as_of.isoformat()} ({how})",
        digest.student_ids,
        action="digest",
    )


def write_digests(session: Session, out: Path, as_of: date | None = None) -> list[str]:
    """One `USERNAME.eml` per opted-in user in `out`; returns report lines."""
    as_of = as_of or date.today()
    out.mkdir(parents=True, exist_ok=True)
    found, skipped = digests(session, as_of)
    lines = []
    for digest in found:
        path = out / f"{digest.username}.eml"
        path.write_bytes(to_message(digest, as_of).as_bytes(policy=policy.SMTP))
        _log(session, digest.username, digest, as_of, "written to a file")
        lines.append(f"{digest.username}: {path} ({len(digest.student_ids)} students)")
    return lines + [f"skipped {s}" for s in skipped]


def send_digests(session: Session, server: SmtpServer, as_of: date | None = None) -> list[str]:
    """Send each opted-in user's digest through the SMTP server; returns report lines. A message
    the server refuses is reported and not logged; the others are still sent."""
    as_of = as_of or date.today()
    found, skipped = digests(session, as_of)
    lines = []
    for digest in found:
        try:
            send_message(to_message(digest, as_of), server)
        except MailError as error:  # report it and go on with the other users
            lines.append(f"{digest.username}: NOT sent ({error})")
            continue
        _log(session, digest.username, digest, as_of, "sent")
        lines.append(f"{digest.username}: sent to {digest.to} ({len(digest.student_ids)} students)")
    return lines + [f"skipped {s}" for s in skipped]
