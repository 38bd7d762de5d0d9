"""Case actions (SPEC §5): open, record a contact, hand over, refer, emergency decision, close,
reopen, correct. Each asks the access policy, validates its input field by field and appends entries;
nothing is saved when anything is refused (the caller's transaction rolls back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import NotAllowed, User, can, can_on_track, can_view_student
from lib.cases import ladder
from lib.cases.store import (
    append_entry,
    entry_by_key,
    lock_case,
    new_case,
    open_case_for,
    refresh_case,
)
from lib.store.models import Case, CaseEntry, StaffUser, Student
from lib.workdays import WorkingDays, working_days

WELLBEING_QUEUE = ladder.WELLBEING_QUEUE
NOTE_MAX = 4000
ACTION_MAX = 500


class CaseDenied(NotAllowed):
    """The access policy refuses this action to this user (for this student or track)."""


@dataclass
class CaseInputError(ValueError):
    """Input refused, with one message per form field (shown next to that field)."""

    errors: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(f"{k}: {v}" for k, v in self.errors.items())


@dataclass(frozen=True)
class Contact:
    """A contact attempt as entered (SPEC §5): when, channel, outcome, note, next action, due."""

    contacted_at: datetime | None
    channel: str | None
    outcome: str | None
    note: str = ""
    next_action: str = ""
    next_due: date | None = None
    step: int | None = None  # default: the case's current step
    staff_username: str | None = None  # default: the user recording it


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _clean(text: str | None, limit: int, name: str, errors: dict[str, str]) -> str | None:
    value = (text or "").strip()
    if len(value) > limit:
        errors[name] = f"At most {limit} characters (this has {len(value)})."
    return value or None


def _denied(user: User | None, action: str) -> str:
    who = user.role.replace("_", " ") if user else "nobody logged in"
    return f"Your role ({who}) may not {action.replace('_', ' ')}."


def _check(user: User, action: str, track: str) -> None:
    if not can_on_track(user, action, track):
        raise CaseDenied(
            f"Your role ({user.role}) may not {action.replace('_', ' ')} on the {track} track."
        )


def _student_in_scope(session: Session, user: User, student_id: str) -> Student:
    if not can_view_student(session, user, student_id):
        raise CaseInputError({"student_id": "This student is not among the students you may see."})
    return session.get_one(Student, student_id)


def _locked_case(session: Session, user: User, case_id: int, action: str) -> Case:
    case = lock_case(session, case_id)
    if case is None:
        raise CaseInputError({"case_id": f"There is no case {case_id}."})
    _check(user, action, case.track)
    _student_in_scope(session, user, case.student_id)
    return case


@dataclass
class _Entry:
    """One case action under way: who, on which case, when; its field errors; then its entry."""

    session: Session
    user: User
    case: Case
    now: datetime
    key: str | None
    given_days: WorkingDays | None = None
    errors: dict[str, str] = field(default_factory=dict)

    @cached_property
    def days(self) -> WorkingDays:
        return self.given_days or working_days(self.session)

    def text(self, value: str | None, limit: int, name: str) -> str | None:
        """The stripped text (None when empty); an error on `name` when it is too long."""
        return _clean(value, limit, name, self.errors)

    def due(self, working_days_later: int = ladder.DEFAULT_WAIT_WORKING_DAYS) -> date:
        return self.days.add(self.now.date(), working_days_later)

    def refuse_if_errors(self) -> None:
        if self.errors:
            raise CaseInputError(self.errors)

    def record(self, kind: str, **fields: Any) -> CaseEntry:
        """Append the entry (refused when any field has an error) and bring the case up to date."""
        self.refuse_if_errors()
        entry, _ = append_entry(
            self.session,
            dict(
                case_id=self.case.id,
                recorded_at=self.now,
                recorded_by=self.user.username,
                kind=kind,
                idempotency_key=self.key,
                **fields,
            ),
        )
        refresh_case(self.session, self.case, self.days, self.now.date())
        return entry


_CLOSED = "This case is closed: reopen it first."


def _begin(
    session: Session,
    user: User,
    action: str,
    case_id: int,
    key: str | None,
    now: datetime | None,
    days: WorkingDays | None,
    closed: str | None = _CLOSED,
) -> tuple[_Entry, CaseEntry | None]:
    """Lock the case and check its track and student (the caller checked the role); the entry
    already recorded under `key` when this is a repeat, else a refusal (`closed`) when the case is
    closed."""
    now = _now(now)
    case = _locked_case(session, user, case_id, action)
    done = entry_by_key(session, key)
    if done is None and closed and case.state == "closed":
        raise CaseInputError({"case_id": closed})
    return _Entry(session, user, case, now, key, days), done


def default_owner(student: Student, track: str, user: User) -> str:
    """Welfare: the student's personal tutor (else the user); visa: the visa user opening it."""
    if track == "welfare" and student.tutor_username:
        return student.tutor_username
    return user.username


def open_case(
    session: Session,
    user: User,
    student_id: str,
    *,
    track: str = "welfare",
    flag_id: int | None = None,
    owner: str | None = None,
    note: str = "",
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> Case:
    """Open a case (from a flag or by hand); the student's case on that track when one is open."""
    if not can(user, "open_case"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "open_case"))
    now = _now(now)
    if track not in ladder.TRACKS:
        raise CaseInputError({"track": "Choose the welfare or the visa track."})
    _check(user, "open_case", track)
    student = _student_in_scope(session, user, student_id)
    errors: dict[str, str] = {}
    clean_note = _clean(note, NOTE_MAX, "note", errors)
    if errors:
        raise CaseInputError(errors)
    done = entry_by_key(session, key)
    if done is not None:
        return session.get_one(Case, done.case_id)
    existing = open_case_for(session, student_id, track)
    if existing is not None:
        return existing
    case, created = new_case(
        session,
        student_id=student_id,
        track=track,
        owner=owner or default_owner(student, track, user),
        opened_by=user.username,
        opened_at=now,
        flag_id=flag_id,
    )
    if not created:  # another session opened it a moment ago
        return case
    entry = _Entry(session, user, case, now, key, days)
    first = ladder.LADDER[1] if track == "welfare" else None
    entry.record(
        "open",
        step=1,
        note=clean_note,
        next_action=(
            f"{ladder.step_title(1)}: {first.action}" if first else "Visa team: contact the student"
        ),
        next_due=entry.due(ladder.FIRST_CONTACT_WORKING_DAYS),
    )
    return case


def validate_contact(
    contact: Contact, case: Case, user: User, now: datetime, days: WorkingDays
) -> dict:
    """The entry fields of a contact attempt, or CaseInputError naming each bad field."""
    errors: dict[str, str] = {}
    step = contact.step or case.ladder_step
    allowed_steps = ladder.contact_steps_for(case.track, user.role)
    if step not in allowed_steps:
        errors["step"] = (
            f"Your role may record contacts at steps {', '.join(map(str, allowed_steps)) or 'none'}"
            f" of the {case.track} track, not step {step}."
            + (" Hand the case over to the wellbeing team instead." if step >= 4 else "")
        )
    if contact.contacted_at is None:
        errors["contacted_at"] = "Give the date and time of the contact."
    elif contact.contacted_at > now:
        errors["contacted_at"] = "The contact time is in the future."
    elif contact.contacted_at.date() < case.opened_at.date():
        errors["contacted_at"] = "The contact time is before the case was opened."
    if contact.channel not in ladder.CHANNELS:
        errors["channel"] = "Choose a channel."
    elif "step" not in errors and contact.channel not in ladder.channels_for(case.track, step):
        allowed = ", ".join(ladder.CHANNEL_LABELS[c] for c in ladder.channels_for(case.track, step))
        errors["channel"] = f"Step {step} allows: {allowed}."
    if contact.outcome not in ladder.OUTCOMES:
        errors["outcome"] = "Choose the outcome of the contact."
    note = _clean(contact.note, NOTE_MAX, "note", errors)
    next_action = _clean(contact.next_action, ACTION_MAX, "next_action", errors)
    if (
        contact.next_due is not None
        and contact.contacted_at is not None
        and contact.next_due < contact.contacted_at.date()
    ):
        errors["next_due"] = "The due date is before the contact."
    staff = (contact.staff_username or user.username).strip()
    if not staff or len(staff) > 100:
        errors["staff_username"] = "Name the member of staff who made the contact."
    when = contact.contacted_at
    if errors or when is None:
        raise CaseInputError(errors)
    next_due = contact.next_due or days.add(when.date(), ladder.DEFAULT_WAIT_WORKING_DAYS)
    return dict(
        contacted_at=when.replace(microsecond=0),
        channel=contact.channel,
        outcome=contact.outcome,
        note=note,
        next_action=next_action or ladder.suggested_next_action(case.track, step, contact.outcome),
        next_due=next_due,
        step=step,
        staff_username=staff,
    )


def record_contact(
    session: Session,
    user: User,
    case_id: int,
    contact: Contact,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
    load_id: int | None = None,
) -> CaseEntry:
    """Append a contact attempt to an open case."""
    closed = "This case is closed: reopen it to record a contact."
    if not can(user, "record_contact"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "record_contact"))
    entry, done = _begin(session, user, "record_contact", case_id, key, now, days, closed)
    if done is not None:
        return done
    fields = validate_contact(contact, entry.case, user, entry.now, entry.days)
    return entry.record("contact", load_id=load_id, **fields)


def hand_over(
    session: Session,
    user: User,
    case_id: int,
    note: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """Step 4: pass the case to the wellbeing team's queue, with a note."""
    if not can(user, "handover"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "handover"))
    entry, done = _begin(session, user, "handover", case_id, key, now, days)
    if done is not None:
        return done
    clean = entry.text(note, NOTE_MAX, "note")
    if not clean:
        entry.errors["note"] = (
            "Say what has been tried and why the case goes to the wellbeing team."
        )
    if entry.case.ladder_step >= 4:
        entry.errors["case_id"] = "The case is already with the wellbeing team."
    entry.refuse_if_errors()
    entry.case.owner_username = WELLBEING_QUEUE
    return entry.record(
        "handover",
        step=4,
        note=clean,
        next_action=f"{ladder.step_title(4)}: {ladder.LADDER[4].action}",
        next_due=entry.due(),
    )


def refer(
    session: Session,
    user: User,
    case_id: int,
    note: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """Step 5: refer to ResX (on campus) or Faculty Support and Wellbeing (off campus), with why."""
    if not can(user, "refer"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "refer"))
    entry, done = _begin(session, user, "refer", case_id, key, now, days)
    if done is not None:
        return done
    clean = entry.text(note, NOTE_MAX, "note")
    if entry.case.ladder_step < 4:
        entry.errors["case_id"] = (
            "Hand the case over to the wellbeing team (step 4) before a referral."
        )
    entry.refuse_if_errors()
    student = session.get_one(Student, entry.case.student_id)
    referral = ladder.referral_for(student.residence)
    reason = f"Referred to {referral.team}: {referral.reason}."
    return entry.record(
        "referral",
        step=5,
        team=referral.team,
        note=f"{reason}\n{clean}" if clean else reason,
        next_action=f"Follow up the referral with {referral.team}",
        next_due=entry.due(),
    )


def wellbeing_colleagues(session: Session, user: User) -> list[str]:
    """Other active wellbeing users who may authorise an emergency-contact decision."""
    return list(
        session.scalars(
            select(StaffUser.username)
            .where(
                StaffUser.role == "wellbeing",
                StaffUser.active.is_(True),
                StaffUser.username != user.username,
            )
            .order_by(StaffUser.username)
        )
    )


def emergency_decision(
    session: Session,
    user: User,
    case_id: int,
    decision: str,
    reason: str,
    authorised_by: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """Step 6 (wellbeing only): the emergency-contact decision, its reason and who authorised it."""
    if not can(user, "emergency_decision"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "emergency_decision"))
    entry, done = _begin(session, user, "emergency_decision", case_id, key, now, days)
    if done is not None:
        return done
    if decision not in ladder.EMERGENCY_DECISIONS:
        entry.errors["decision"] = "Choose the decision."
    clean = entry.text(reason, NOTE_MAX, "reason")
    if not clean:
        entry.errors["reason"] = "Give the reason for the decision."
    if authorised_by not in wellbeing_colleagues(session, user):
        entry.errors["authorised_by"] = (
            "Name a second member of the wellbeing team who authorised it."
        )
    if entry.case.ladder_step < 5:
        entry.errors["case_id"] = "The emergency contact decision comes after a referral (step 5)."
    return entry.record(
        "emergency_decision",
        step=6,
        outcome=decision,
        note=clean,
        authorised_by=authorised_by,
        next_action="Follow up the emergency contact decision",
        next_due=entry.due(),
    )


def close_case(
    session: Session,
    user: User,
    case_id: int,
    outcome: str,
    note: str = "",
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """Close with an outcome: re-engaged, support in place, no concern, withdrawn, other."""
    if not can(user, "close_case"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "close_case"))
    entry, done = _begin(session, user, "close_case", case_id, key, now, days)
    if done is not None:
        return done
    if outcome not in ladder.CLOSE_OUTCOMES:
        entry.errors["outcome"] = "Choose the outcome the case closes with."
    clean = entry.text(note, NOTE_MAX, "note")
    if outcome == "other" and not clean:
        entry.errors["note"] = "Say what the outcome was."
    entry.refuse_if_errors()
    entry.case.closed_at = entry.now
    entry.case.closed_by = user.username
    return entry.record("close", outcome=outcome, note=clean)


def reopen_case(
    session: Session,
    user: User,
    case_id: int,
    reason: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """Reopen a closed case at the step it had, with the reason."""
    if not can(user, "reopen_case"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "reopen_case"))
    entry, done = _begin(session, user, "reopen_case", case_id, key, now, days, closed=None)
    if done is not None:
        return done
    case = entry.case
    if case.state != "closed":
        entry.errors["case_id"] = "This case is not closed."
    elif open_case_for(session, case.student_id, case.track) is not None:
        entry.errors["case_id"] = "The student has another open case on this track."
    clean = entry.text(reason, NOTE_MAX, "reason")
    if not clean:
        entry.errors["reason"] = "Give the reason for reopening."
    entry.refuse_if_errors()
    step = case.ladder_step
    return entry.record(
        "reopen",
        note=clean,
        next_action=f"{ladder.step_title(step)}: {ladder.LADDER[step].action}"
        if case.track == "welfare"
        else "Visa team: contact the student",
        next_due=entry.due(ladder.FIRST_CONTACT_WORKING_DAYS),
    )


def correct_entry(
    session: Session,
    user: User,
    entry_id: int,
    contact: Contact,
    reason: str,
    *,
    key: str | None = None,
    now: datetime | None = None,
    days: WorkingDays | None = None,
) -> CaseEntry:
    """A correction of a contact attempt: a new entry pointing at the one it corrects (which stays)."""
    if not can(user, "correct_entry"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "correct_entry"))
    original = session.get(CaseEntry, entry_id)
    if original is None or original.kind not in ("contact", "correction"):
        raise CaseInputError({"entry_id": "Only a recorded contact attempt can be corrected."})
    entry, done = _begin(
        session, user, "correct_entry", original.case_id, key, now, days, closed=None
    )
    if done is not None:
        return done
    clean = entry.text(reason, NOTE_MAX, "reason")
    if not clean:
        entry.errors["reason"] = "Say what the correction changes."
    try:
        fields = validate_contact(contact, entry.case, user, entry.now, entry.days)
    except CaseInputError as error:
        entry.errors.update(error.errors)
    entry.refuse_if_errors()
    fields["note"] = f"Correction: {clean}\n{fields['note'] or ''}".strip()
    return entry.record("correction", corrects_entry_id=original.id, **fields)
