"""The contacts and ladder steps of a student's cases, as hover-labelled markers for the charts."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.access import User, can_view_student, visible_tracks
from lib.cases import ladder
from lib.cases.queries import effective_entries, entries_frame
from lib.store.models import Case

MARKER_COLUMNS = ["when", "label", "track", "step", "kind", "channel", "outcome"]

KIND_NAMES = {
    "open": "case opened",
    "contact": "contact",
    "handover": "handed over to the wellbeing team",
    "referral": "referral",
    "emergency_decision": "emergency-contact decision",
    "close": "case closed",
    "reopen": "case reopened",
    "correction": "contact (corrected)",
}


def marker_label(
    track: str, step: float | None, kind: str, channel: str | None, outcome: str | None
) -> str:
    """The hover text of one entry: track, step, what happened, channel and outcome (never a note)."""
    labels = {
        **ladder.OUTCOME_LABELS,
        **ladder.CLOSE_OUTCOME_LABELS,
        **ladder.EMERGENCY_DECISION_LABELS,
    }
    number = int(step) if step is not None and not pd.isna(step) else None
    parts = [
        ladder.TRACK_LABELS.get(track, track),
        ladder.step_title(number) if number is not None and track == "welfare" else None,
        f"visa contact {number}" if number is not None and track == "visa" else None,
        KIND_NAMES.get(kind, kind),
        ladder.CHANNEL_LABELS.get(channel) if isinstance(channel, str) else None,
        labels.get(outcome) if isinstance(outcome, str) else None,
    ]
    return " · ".join(p for p in parts if p)


def case_markers(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """One row per entry in force on the student's cases of the tracks the user may see (a
    corrected contact shows as its correction). Notes are never read into the labels."""
    tracks = visible_tracks(user)
    if not tracks or not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=MARKER_COLUMNS)
    cases = dict(
        session.execute(
            select(Case.id, Case.track).where(Case.student_id == student_id, Case.track.in_(tracks))
        ).all()
    )
    if not cases:
        return pd.DataFrame(columns=MARKER_COLUMNS)
    entries = effective_entries(entries_frame(session, list(cases))).drop(columns="note")
    entries = entries.sort_values(["at", "id"], kind="stable")
    track = entries["case_id"].map(cases)
    labels = [
        marker_label(t, s, k, c, o)
        for t, s, k, c, o in zip(
            track,
            entries["step"],
            entries["kind"],
            entries["channel"],
            entries["outcome"],
            strict=True,
        )
    ]
    return pd.DataFrame(
        {
            "when": entries["at"].to_numpy(),
            "label": labels,
            "track": track.to_numpy(),
            "step": entries["step"].to_numpy(),
            "kind": entries["kind"].to_numpy(),
            "channel": entries["channel"].to_numpy(),
            "outcome": entries["outcome"].to_numpy(),
        },
        columns=MARKER_COLUMNS,
    )
