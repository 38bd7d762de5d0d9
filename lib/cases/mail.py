"""Message templates for contacting a student (welfare check e-mail; tutorial invitation with
proposed times) as `mailto:` links for the user's mail client, and optionally sent through the
configured SMTP server and recorded as the case's contact attempt (access-logged)."""

from __future__ import annotations

import os
import re
import smtplib
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from pathlib import Path
from urllib.parse import quote, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, can_view_student
from lib.audit import log_access
from lib.cases import ladder
from lib.cases.service import CaseDenied, CaseInputError, Contact, record_contact
from lib.cases.store import entry_by_key
from lib.store.models import Case, CaseEntry, StaffUser, Student

SMTP_ENV = "DASHBOARD_SMTP_URL"
FROM_ENV = "DASHBOARD_MAIL_FROM"  # sender when a user has no e-mail address (e.g. a team mailbox)
SECRETS_PATH = Path(__file__).resolve().parents[2] / ".streamlit" / "secrets.toml"
MAX_TIMES = 5
SMTP_TIMEOUT_SECONDS = 30
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$'*+/=^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class MailError(RuntimeError):
    """The message could not be sent (no SMTP server configured, or the server refused it)."""


# --- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    """Where outgoing mail goes: `smtp://host:port`."""

    host: str
    port: int


def parse_smtp_url(url: str) -> SmtpServer:
    """`smtp://host:port` (port default 25); ValueError naming what is wrong otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme != "smtp" or not parts.hostname:
        raise ValueError(f"the SMTP URL must look like smtp://host:port, not {url!r}")
    try:
        port = parts.port or 25
    except ValueError as error:
        raise ValueError(f"the SMTP URL has a bad port: {url!r}") from error
    return SmtpServer(parts.hostname, port)


def _from_secrets(name: str, path: Path) -> str | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    value = data.get("dashboard", {}).get(name)
    return str(value) if value else None


def smtp_server(secrets_path: Path | None = None) -> SmtpServer | None:
    """The configured SMTP server (`DASHBOARD_SMTP_URL`, else `smtp_url` under `[dashboard]` in
    `.streamlit/secrets.toml`), or None when sending is not configured."""
    url = os.environ.get(SMTP_ENV) or _from_secrets("smtp_url", secrets_path or SECRETS_PATH)
    return parse_smtp_url(url) if url else None


def default_sender(secrets_path: Path | None = None) -> str | None:
    """The fallback From address (`DASHBOARD_MAIL_FROM` or `mail_from` in the secrets file)."""
    return os.environ.get(FROM_ENV) or _from_secrets("mail_from", secrets_path or SECRETS_PATH)


def valid_address(address: str | None) -> bool:
    """A plain e-mail address (no display name, no spaces, no header or URL syntax)."""
    if not address:
        return False
    return len(address) <= 254 and bool(_ADDRESS.match(address))


# --- templates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A message template: its title, the ladder step it belongs to, subject and body text."""

    key: str
    title: str
    step: int
    subject: str
    body: str


WELFARE_CHECK = Template(
    "welfare_check",
    "Welfare check e-mail",
    1,
    "Checking in: how are things going?",
    """Dear {given_name},

I am writing to check how you are getting on. It looks as if things may have changed for you
recently, and I wanted to make sure you are all right and know where to find support if you need it.

There is no judgement in this message: it is simply an offer to help. If anything is making your
studies harder at the moment, you are welcome to reply to this e-mail. You can also contact the
Support and Wellbeing team, or your school's Faculty Support and Wellbeing team, in confidence.

Please reply to let me know how you are.

Best wishes,
{sender_name}""",
)

TUTORIAL_INVITATION = Template(
    "tutorial_invitation",
    "Tutorial invitation",
    2,
    "Invitation to a personal tutorial",
    """Dear {given_name},

I would like to invite you to a personal tutorial to talk about how your studies are going,
including your engagement and attendance, and whether any support would help.

Could you let me know which of these times suits you?
{times}

If none of them suits you, please reply with a time that does.

Best wishes,
{sender_name}""",
)

TEMPLATES: dict[str, Template] = {t.key: t for t in (WELFARE_CHECK, TUTORIAL_INVITATION)}


@dataclass(frozen=True)
class Draft:
    """A filled-in template addressed to the student's university e-mail."""

    template: Template
    to: str
    subject: str
    body: str

    @property
    def mailto(self) -> str:
        """A `mailto:` link (RFC 6068) that opens this message in the user's mail client."""
        return mailto_link(self.to, self.subject, self.body)


def mailto_link(to: str, subject: str, body: str) -> str:
    """`mailto:to?subject=...&body=...`, every part percent-encoded (spaces as %20, line breaks as
    %0D%0A); ValueError for an address that is not a plain e-mail address."""
    if not valid_address(to):
        raise ValueError(f"not a plain e-mail address: {to!r}")
    crlf = "\r\n".join(body.splitlines())
    return (
        f"mailto:{quote(to, safe='@')}?subject={quote(subject, safe='')}"
        f"&body={quote(crlf, safe='')}"
    )


def format_time(moment: datetime) -> str:
    """'Tuesday 25 November 2025, 10:00'."""
    return f"{moment:%A} {moment.day} {moment:%B %Y, %H:%M}"


def check_times(times: Sequence[datetime], now: datetime) -> list[datetime]:
    """Proposed tutorial times: 1 to MAX_TIMES, all in the future, sorted, no repeats."""
    unique = sorted(set(times))
    if not unique:
        raise CaseInputError({"times": "Propose at least one time for the tutorial."})
    if len(unique) > MAX_TIMES:
        raise CaseInputError({"times": f"Propose at most {MAX_TIMES} times."})
    if any(t <= now for t in unique):
        raise CaseInputError({"times": "Every proposed time must be in the future."})
    return unique


def draft_message(
    template_key: str,
    student: Student,
    sender_name: str,
    times: Sequence[datetime] = (),
    *,
    now: datetime | None = None,
) -> Draft:
    """The template filled in for this student (university e-mail) and sender."""
    template = TEMPLATES.get(template_key)
    if template is None:
        raise CaseInputError({"template": "Choose a message template."})
    if not valid_address(student.email):
        raise CaseInputError({"to": "The student has no valid university e-mail address."})
    listed = ""
    if template is TUTORIAL_INVITATION:
        proposed = check_times(times, now or datetime.now())
        listed = "\n".join(f"- {format_time(t)}" for t in proposed)
    body = template.body.format(
        given_name=student.given_name,
        sender_name=sender_name or "Your personal tutor",
        times=listed,
    )
    return Draft(template, student.email, template.subject, body)


def message_for(draft: Draft, sender: str, sender_name: str) -> EmailMessage:
    """The RFC 5322 message of a draft, from the member of staff."""
    message = EmailMessage()
    message["From"] = formataddr((sender_name, sender))
    message["To"] = draft.to
    message["Subject"] = draft.subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=sender.rsplit("@", 1)[-1])
    message.set_content(draft.body)
    return message


def send_message(message: EmailMessage, server: SmtpServer) -> None:
    """Hand one message to the SMTP server; MailError when it cannot be delivered to it."""
    try:
        with smtplib.SMTP(server.host, server.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise MailError(f"the mail server {server.host}:{server.port} refused: {error}") from error


# --- sending as a contact attempt -----------------------------------------------------------------


def sender_address(session: Session, user: User) -> str | None:
    """The user's own e-mail address (the staff record's), else the configured team sender."""
    address = user.email or session.scalar(
        select(StaffUser.email).where(StaffUser.username == user.username)
    )
    return address if valid_address(address) else default_sender()


def contact_step(case: Case, template: Template, role: str) -> int:
    """The step a sent e-mail is recorded at: the case's step when a university e-mail belongs to
    it (e.g. the wellbeing team's step 4), else the template's own step."""
    if case.track == "visa":
        return case.ladder_step
    current = case.ladder_step
    if current >= template.step and "uni_email" in ladder.channels_for("welfare", current):
        allowed = ladder.contact_steps_for("welfare", role)
        if current in allowed:
            return current
    return template.step


def send_to_student(
    session: Session,
    user: User,
    case_id: int,
    template_key: str,
    times: Sequence[datetime] = (),
    *,
    next_due=None,
    key: str | None = None,
    server: SmtpServer | None = None,
    now: datetime | None = None,
) -> CaseEntry:
    """Send a template to the student's university e-mail through the SMTP server and record it as
    the contact attempt on the case (university e-mail, no response yet), access-logged. Nothing
    is recorded when the policy, the input or the server refuses; a repeated key sends nothing."""
    if not can(user, "send_email"):
        raise CaseDenied(f"Your role ({user.role}) may not send e-mail from the dashboard.")
    done = entry_by_key(session, key)
    if done is not None:
        return done
    now = (now or datetime.now()).replace(microsecond=0)
    case = session.get(Case, case_id)
    if case is None or not can_view_student(session, user, case.student_id):
        raise CaseInputError({"case_id": f"There is no case {case_id} among your students."})
    server = server or smtp_server()
    if server is None:
        raise MailError(f"Sending is not configured (set {SMTP_ENV} or smtp_url in secrets.toml).")
    sender = sender_address(session, user)
    if sender is None:
        raise CaseInputError({"sender": "Your staff record has no e-mail address to send from."})
    student = session.get_one(Student, case.student_id)
    sender_name = user.display_name or user.username
    draft = draft_message(template_key, student, sender_name, times, now=now)
    note = f"Sent from the dashboard: {draft.template.title} ({draft.subject!r})"
    if draft.template is TUTORIAL_INVITATION:
        note += "; proposed times: " + "; ".join(format_time(t) for t in sorted(set(times)))
    contact = Contact(
        contacted_at=now,
        channel="uni_email",
        outcome="no_response",
        note=note,
        next_action="",
        next_due=next_due,
        step=contact_step(case, draft.template, user.role),
    )
    entry = record_contact(session, user, case_id, contact, key=key, now=now)
    try:
        send_message(message_for(draft, sender, sender_name), server)
    except MailError:
        session.rollback()
        raise
    log_access(
        session,
        user,
        f"e-mail to student: {draft.template.title} (case {case_id})",
        [case.student_id],
        action="email",
    )  # commits the contact entry together with the log row
    return entry
