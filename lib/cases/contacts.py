"""`ingest contacts` (SPEC §8): the canonical contacts CSV, parsed row by row, written as case entries."""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from lib.cases import ladder
from lib.cases.service import ACTION_MAX, NOTE_MAX, WELLBEING_QUEUE
from lib.cases.store import append_entry, new_case, open_case_for, refresh_case
from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.readers import ROW, Validator, read_csv_frame, read_text
from lib.store.models import Student
from lib.workdays import working_days

CONTACT_COLUMNS = [
    "student_id",
    "occurred_at",
    "staff_username",
    "track",
    "step",
    "channel",
    "outcome",
    "note",
    "next_action",
    "next_due",
]


def _row_keys(out: pd.DataFrame) -> pd.Series:
    """A content key per row: the same contact loaded again (in any file) is the same entry."""
    text = out[CONTACT_COLUMNS].astype(str).agg("\x1f".join, axis=1)
    return text.map(lambda t: "contacts:" + hashlib.sha256(t.encode()).hexdigest()[:52])


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    """Validate every row (formats, vocabularies, the ladder's channels per step, dates)."""
    text, _ = read_text(path, ctx.file_name)
    frame = read_csv_frame(text, ctx.file_name, CONTACT_COLUMNS)
    check = Validator(frame, ctx.file_name)
    check.required("student_id", "staff_username")
    occurred = check.datetime("occurred_at")
    check.flag((occurred > pd.Timestamp.now()).fillna(False), "occurred_at", "is in the future")
    track = check.choice("track", ladder.TRACKS)
    raw_step = check.text("step")
    step = pd.to_numeric(raw_step, errors="coerce")
    check.flag(~step.isin(range(1, 7)), "step", "must be a ladder step 1-6 (SPEC §5)")
    visa_bad = (track == "visa") & step.isin([4, 5, 6])
    check.flag(visa_bad, "step", "the visa track records steps 1-3 only")
    not_sponsored = (track == "visa") & ~frame["student_id"].str.strip().isin(ctx.sponsored_ids())
    check.flag(
        not_sponsored & frame["student_id"].str.strip().ne(""),
        "track",
        "is visa, but the student is not on a sponsored route (the visa track is for sponsored "
        "students only)",
    )
    channel = check.choice("channel", ladder.CHANNELS)
    allowed = np.array(
        [
            c in ladder.channels_for(t, int(s)) if s == s and 1 <= s <= 6 else True
            for c, t, s in zip(channel, track, step, strict=True)
        ],
        dtype=bool,
    )
    known = channel.isin(ladder.CHANNELS) & track.isin(ladder.TRACKS)
    check.flag(known & ~allowed, "channel", "is not a channel this step of the ladder allows")
    outcome = check.choice("outcome", ladder.OUTCOMES)
    due = check.date("next_due", optional=True)
    check.flag(
        (due.notna() & occurred.notna() & (due < occurred.dt.normalize())).fillna(False),
        "next_due",
        "is before the contact (occurred_at)",
    )
    staff = check.text("staff_username")
    check.flag(staff.str.len() > 100, "staff_username", "is longer than 100 characters")
    note = check.text("note")
    check.flag(note.str.len() > NOTE_MAX, "note", f"is longer than {NOTE_MAX} characters")
    action = check.text("next_action")
    check.flag(
        action.str.len() > ACTION_MAX, "next_action", f"is longer than {ACTION_MAX} characters"
    )
    check.duplicates(CONTACT_COLUMNS, "contact (a repeated line?)")
    out = pd.DataFrame(
        {
            "student_id": check.text("student_id"),
            "occurred_at": occurred,
            "staff_username": staff,
            "track": track,
            "step": step.fillna(0).astype(int),
            "channel": channel,
            "outcome": outcome,
            "note": note,
            "next_action": action,
            "next_due": due,
        }
    )
    out["idempotency_key"] = _row_keys(frame[CONTACT_COLUMNS].apply(lambda c: c.str.strip()))
    out[ROW] = frame[ROW].to_numpy()
    return ParsedFile(rows_read=len(frame), frames={"contacts": out}, problems=check.problems)


def write_contacts(session: Session, frame: pd.DataFrame, load_id: int) -> int:
    """Append each row to the student's open case on its track (opened when none is), oldest first.
    Returns the number of entries added (rows already loaded add nothing)."""
    days = working_days(session)
    now = datetime.now().replace(microsecond=0)
    added = 0
    frame = frame.sort_values("occurred_at", kind="stable")  # file order among equal times
    for (student_id, track), rows in frame.groupby(["student_id", "track"], sort=False):
        case = open_case_for(session, student_id, track)
        if case is None:
            student = session.get_one(Student, student_id)
            first = rows.iloc[0]
            case, _ = new_case(
                session,
                student_id=student_id,
                track=track,
                owner=(student.tutor_username if track == "welfare" else None)
                or first["staff_username"],
                opened_by=first["staff_username"],
                opened_at=first["occurred_at"].to_pydatetime(),
                flag_id=None,
            )
        for row in rows.itertuples(index=False):
            occurred = row.occurred_at.to_pydatetime()
            due = row.next_due.date() if pd.notna(row.next_due) else None
            _, created = append_entry(
                session,
                dict(
                    case_id=case.id,
                    recorded_at=now,
                    recorded_by=f"load #{load_id}",
                    kind="contact",
                    contacted_at=occurred,
                    channel=row.channel,
                    outcome=row.outcome,
                    note=row.note or None,
                    next_action=row.next_action
                    or ladder.suggested_next_action(track, row.step, row.outcome),
                    next_due=due or days.add(occurred.date(), ladder.DEFAULT_WAIT_WORKING_DAYS),
                    step=row.step,
                    staff_username=row.staff_username,
                    idempotency_key=row.idempotency_key,
                    load_id=load_id,
                ),
            )
            added += created
        if track == "welfare" and rows["step"].max() >= 4:
            case.owner_username = WELLBEING_QUEUE
        refresh_case(session, case, days, now.date())
    return added
