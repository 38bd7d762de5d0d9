"""Case actions (SPEC §5): open, record a contact, hand over, refer, emergency decision, close,
reopen, correct. Each asks the access policy, validates its input field by field and appends entries;
nothing is saved when anything is refused (the caller's transaction rolls back)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

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


def _finish(session: Session, case: Case, days: WorkingDays, now: datetime) -> None:
    refresh_case(session, case, days, now.date())


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
    days = days or working_days(session)
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
    first = ladder.LADDER[1] if track == "welfare" else None
    append_entry(
        session,
        dict(
            case_id=case.id,
            recorded_at=now,
            recorded_by=user.username,
            kind="open",
            step=1,
            note=clean_note,
            next_action=(
                f"{ladder.step_title(1)}: {first.action}"
                if first
                else "Visa team: contact the student"
            ),
            next_due=days.add(now.date(), ladder.FIRST_CONTACT_WORKING_DAYS),
            idempotency_key=key,
        ),
    )
    _finish(session, case, days, now)
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
    if not can(user, "record_contact"):  # the role; the track and the student are checked below
        raise CaseDenied(_denied(user, "record_contact"))
    now = _now(now)
    case = _locked_case(session, user, case_id, "record_contact")
    done = entry_by_key(session, key)
    if done is not None:
        return done
    if case.state == "closed":
        raise CaseInputError({"case_id": "This case is closed: reopen it to record a contact."})
    days = days or working_days(session)
    fields = validate_contact(contact, case, user, now, days)
    entry, _ = append_entry(
        session,
        dict(
            case_id=case.id,
            recorded_at=now,
            recorded_by=user.username,
            kind="contact",
            idempotency_key=key,
            load_id=load_id,
            **fields,
        ),
    )
    _finish(session, case, days, now)
    return entry


def _simple_entry(
    session: Session,
    user: User,
    case: Case,
    *,
    kind: str,
    now: datetime,
    days: WorkingDays,
    key: str | None,
    **fields,
) -> CaseEntry:
    entry, _ = append_entry(
        session,
        dict(
            case_id=case.id,
            recorded_at=now,
            recorded_by=user.username,
            kind=kind,
            idempotency_key=key,
            **fields,
        ),
    )
    _finish(session, case, days, now)
    return entry


def _open_locked(session: Session, user: User, case_id: int, action: str, key: str | None):
    case = _locked_case(session, user, case_id, action)
    done = entry_by_key(session, key)
    if done is None and case.state == "closed":
        raise CaseInputError({"case_id": "This case is closed: reopen it first."})
    return case, done


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
    now = _now(now)
    case, done = _open_locked(session, user, case_id, "handover", key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    clean = _clean(note, NOTE_MAX, "note", errors)
    if not clean:
        errors["note"] = "Say what has been tried and why the case goes to the wellbeing team."
    if case.ladder_step >= 4:
        errors["case_id"] = "The case is already with the wellbeing team."
    if errors:
        raise CaseInputError(errors)
    days = days or working_days(session)
    case.owner_username = WELLBEING_QUEUE
    return _simple_entry(
        session,
        user,
        case,
        kind="handover",
        now=now,
        days=days,
        key=key,
        step=4,
        note=clean,
        next_action=f"{ladder.step_title(4)}: {ladder.LADDER[4].action}",
        next_due=days.add(now.date(), ladder.DEFAULT_WAIT_WORKING_DAYS),
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
    now = _now(now)
    case, done = _open_locked(session, user, case_id, "refer", key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    clean = _clean(note, NOTE_MAX, "note", errors)
    if case.ladder_step < 4:
        errors["case_id"] = "Hand the case over to the wellbeing team (step 4) before a referral."
    if errors:
        raise CaseInputError(errors)
    student = session.get_one(Student, case.student_id)
    referral = ladder.referral_for(student.residence)
    days = days or working_days(session)
    reason = f"Referred to {referral.team}: {referral.reason}."
    return _simple_entry(
        session,
        user,
        case,
        kind="referral",
        now=now,
        days=days,
        key=key,
        step=5,
        team=referral.team,
        note=f"{reason}\n{clean}" if clean else reason,
        next_action=f"Follow up the referral with {referral.team}",
        next_due=days.add(now.date(), ladder.DEFAULT_WAIT_WORKING_DAYS),
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
    now = _now(now)
    case, done = _open_locked(session, user, case_id, "emergency_decision", key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    if decision not in ladder.EMERGENCY_DECISIONS:
        errors["decision"] = "Choose the decision."
    clean = _clean(reason, NOTE_MAX, "reason", errors)
    if not clean:
        errors["reason"] = "Give the reason for the decision."
    if authorised_by not in wellbeing_colleagues(session, user):
        errors["authorised_by"] = "Name a second member of the wellbeing team who authorised it."
    if case.ladder_step < 5:
        errors["case_id"] = "The emergency contact decision comes after a referral (step 5)."
    if errors:
        raise CaseInputError(errors)
    days = days or working_days(session)
    return _simple_entry(
        session,
        user,
        case,
        kind="emergency_decision",
        now=now,
        days=days,
        key=key,
        step=6,
        outcome=decision,
        note=clean,
        authorised_by=authorised_by,
        next_action="Follow up the emergency contact decision",
        next_due=days.add(now.date(), ladder.DEFAULT_WAIT_WORKING_DAYS),
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
    now = _now(now)
    case, done = _open_locked(session, user, case_id, "close_case", key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    if outcome not in ladder.CLOSE_OUTCOMES:
        errors["outcome"] = "Choose the outcome the case closes with."
    clean = _clean(note, NOTE_MAX, "note", errors)
    if outcome == "other" and not clean:
        errors["note"] = "Say what the outcome was."
    if errors:
        raise CaseInputError(errors)
    case.closed_at = now
    case.closed_by = user.username
    return _simple_entry(
        session,
        user,
        case,
        kind="close",
        now=now,
        days=days or working_days(session),
        key=key,
        outcome=outcome,
        note=clean,
    )


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
    now = _now(now)
    case = _locked_case(session, user, case_id, "reopen_case")
    done = entry_by_key(session, key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    if case.state != "closed":
        errors["case_id"] = "This case is not closed."
    elif open_case_for(session, case.student_id, case.track) is not None:
        errors["case_id"] = "The student has another open case on this track."
    clean = _clean(reason, NOTE_MAX, "reason", errors)
    if not clean:
        errors["reason"] = "Give the reason for reopening."
    if errors:
        raise CaseInputError(errors)
    days = days or working_days(session)
    step = case.ladder_step
    return _simple_entry(
        session,
        user,
        case,
        kind="reopen",
        now=now,
        days=days,
        key=key,
        note=clean,
        next_action=f"{ladder.step_title(step)}: {ladder.LADDER[step].action}"
        if case.track == "welfare"
        else "Visa team: contact the student",
        next_due=days.add(now.date(), ladder.FIRST_CONTACT_WORKING_DAYS),
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
    now = _now(now)
    original = session.get(CaseEntry, entry_id)
    if original is None or original.kind not in ("contact", "correction"):
        raise CaseInputError({"entry_id": "Only a recorded contact attempt can be corrected."})
    case = _locked_case(session, user, original.case_id, "correct_entry")
    done = entry_by_key(session, key)
    if done is not None:
        return done
    errors: dict[str, str] = {}
    clean = _clean(reason, NOTE_MAX, "reason", errors)
    if not clean:
        errors["reason"] = "Say what the correction changes."
    days = days or working_days(session)
    try:
        fields = validate_contact(contact, case, user, now, days)
    except CaseInputError as error:
        errors.update(error.errors)
    if errors:
        raise CaseInputError(errors)
    fields["note"] = f"Correction: {clean}\n{fields['note'] or ''}".strip()
    return _simple_entry(
        session,
        user,
        case,
        kind="correction",
        now=now,
        days=days,
        key=key,
        corrects_entry_id=original.id,
        **fields,
    )
