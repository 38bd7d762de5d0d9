"""The contacts and ladder steps of a student's cases, as hover-labelled markers for the charts."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can, can_view_student
from lib.models import Case, CaseEntry

MARKER_COLUMNS = ["when", "label"]

CHANNEL_NAMES = {
    "uni_email": "university e-mail",
    "personal_email": "personal e-mail",
    "teams_call": "Teams call",
    "teams_message": "Teams message",
    "phone": "phone call",
    "sms": "SMS",
    "letter": "letter",
    "in_person": "in person",
}
OUTCOME_NAMES = {
    "no_response": "no response",
    "replied_fine": "replied — fine",
    "replied_support_needed": "replied — support needed",
    "signposted": "signposted",
    "tutorial_booked": "tutorial booked",
    "tutorial_attended": "tutorial attended",
}
KIND_NAMES = {
    "contact": "contact",
    "handover": "handed over to wellbeing",
    "referral": "referral",
    "emergency_decision": "emergency-contact decision",
    "state": "case state changed",
    "correction": "correction",
}


def marker_label(step: int | None, kind: str, channel: str | None, outcome: str | None) -> str:
    """The hover text of one entry: step, what happened, channel and outcome (never the note)."""
    parts = [f"step {step}" if step else None, KIND_NAMES.get(kind, kind)]
    parts += [CHANNEL_NAMES.get(channel, channel), OUTCOME_NAMES.get(outcome, outcome)]
    return " · ".join(p for p in parts if p)


def case_markers(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """One row per contact or step entry on the student's cases the user may see (`when`, `label`).

    Roles without welfare information see no welfare-track entries; notes are never read."""
    if not can_view_student(session, user, student_id) or not can(user, "view_welfare_notes"):
        return pd.DataFrame(columns=MARKER_COLUMNS)
    rows = session.execute(
        select(
            CaseEntry.contacted_at,
            CaseEntry.recorded_at,
            Case.ladder_step,
            CaseEntry.kind,
            CaseEntry.channel,
            CaseEntry.outcome,
        )
        .join(Case, Case.id == CaseEntry.case_id)
        .where(Case.student_id == student_id, CaseEntry.kind != "correction")
        .order_by(CaseEntry.id)
    ).all()
    out = [
        (contacted or recorded, marker_label(step, kind, channel, outcome))
        for contacted, recorded, step, kind, channel, outcome in rows
    ]
    return pd.DataFrame(out, columns=MARKER_COLUMNS)
