"""Sample cases for `make run`: a canonical contacts CSV (SPEC §8) built from the sample data's flags
so that cases show in every state and step, and the closures that the contacts format cannot say."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from lib.access import User
from lib.cases import ladder
from lib.cases.contacts import CONTACT_COLUMNS
from lib.cases.service import close_case
from lib.cases.store import open_case_for

CLOSURE_COLUMNS = ["student_id", "track", "closed_at", "staff_username", "outcome", "note"]
MAX_CLOSURES = 1000

# (step, channel, outcome, who) per contact; "tutor" = the student's personal tutor
_T, _W, _V = "tutor", "wellbeing", "visa"
LADDERS: dict[str, list[tuple[int, str, str, str]]] = {
    "emergency": [
        (1, "uni_email", "no_response", _T),
        (2, "uni_email", "no_response", _T),
        (3, "phone", "no_response", _T),
        (4, "phone", "no_response", _W),
        (5, "sms", "no_response", _W),
        (6, "phone", "no_response", _W),
    ],
    "referred": [
        (1, "uni_email", "no_response", _T),
        (2, "teams_message", "no_response", _T),
        (3, "personal_email", "no_response", _T),
        (4, "sms", "no_response", _W),
        (5, "phone", "no_response", _W),
    ],
    "escalated": [
        (1, "uni_email", "no_response", _T),
        (2, "uni_email", "no_response", _T),
        (3, "sms", "no_response", _T),
        (4, "personal_email", "no_response", _W),
    ],
    "other_means": [
        (1, "uni_email", "no_response", _T),
        (2, "uni_email", "no_response", _T),
        (3, "phone", "no_response", _T),
    ],
    "tutorial": [(1, "uni_email", "no_response", _T), (2, "uni_email", "tutorial_booked", _T)],
    "first_email": [(1, "uni_email", "no_response", _T)],
    "replied": [(1, "uni_email", "replied_fine", _T)],
    "re_engaged": [
        (1, "uni_email", "no_response", _T),
        (2, "uni_email", "tutorial_booked", _T),
        (2, "in_person", "tutorial_attended", _T),
    ],
    "support": [
        (1, "uni_email", "replied_support_needed", _T),
        (1, "uni_email", "signposted", _T),
    ],
    "visa": [(1, "uni_email", "no_response", _V), (2, "phone", "replied_fine", _V)],
}
CLOSES = {"re_engaged": "re_engaged", "support": "support_in_place", "replied": "no_concern"}
NOTES = {
    "no_response": "No reply yet.",
    "replied_fine": "Student replied: busy with a part-time job, otherwise fine.",
    "replied_support_needed": "Student replied that they are struggling and would like support.",
    "signposted": "Signposted to the Support and Wellbeing team and the money advice service.",
    "tutorial_booked": "Tutorial booked for next week.",
    "tutorial_attended": "Tutorial held; agreed a plan to catch up.",
}
# which ladders the flagged students of each flag week get, in order (the rest get no case)
PLAN = [
    ["emergency", "referred", "escalated", "re_engaged", "support"],
    ["first_email"] * 6
    + ["tutorial"] * 5
    + ["other_means"] * 4
    + ["escalated"] * 3
    + ["replied"] * 2
    + ["re_engaged"] * 2,
    ["replied"] * 3 + ["first_email"] * 3 + ["tutorial"] * 2,
    ["first_email"] * 2,
    ["first_email"] * 1,
]


def _workday(day: date) -> date:
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def build_sample_contacts(
    students: pd.DataFrame, flags: pd.DataFrame, staff: dict[str, str], until: date
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(contacts CSV rows, closures CSV rows) for the flagged students, deterministic.

    students: student_id, tutor_username, visa_sponsored; flags: student_id, week_start;
    staff: role -> a username of that role (wellbeing, visa); no contact after `until`."""
    first_flag = flags.sort_values(["week_start", "student_id"]).drop_duplicates("student_id")
    tutors = students.set_index("student_id")["tutor_username"]
    visa = set(students.loc[students["visa_sponsored"].astype(bool), "student_id"])
    contacts, closures = [], []
    weeks = first_flag.groupby("week_start")
    for n, (plan, (week, group)) in enumerate(zip(PLAN, weeks, strict=False)):
        ids = list(group["student_id"])
        visa_ids = [s for s in ids if s in visa][:2] if n == 1 else []  # the visa team's own track
        rest = [s for s in ids if s not in visa_ids]
        for student_id, ladder_name in [
            *zip(rest, plan, strict=False),
            *[(s, "visa") for s in visa_ids],
        ]:
            start = min(_workday(pd.Timestamp(week).date() + timedelta(days=8)), until)
            track = "visa" if ladder_name == "visa" else "welfare"
            day = start
            for step, channel, outcome, who in LADDERS[ladder_name]:
                if day > until:
                    break
                username = tutors.get(student_id) if who == _T else staff[who]
                contacts.append(
                    {
                        "student_id": student_id,
                        "occurred_at": datetime.combine(day, time(10, 0)).isoformat(" "),
                        "staff_username": username,
                        "track": track,
                        "step": step,
                        "channel": channel,
                        "outcome": outcome,
                        "note": NOTES[outcome],
                        "next_action": "",
                        "next_due": "",
                    }
                )
                last, day = day, _workday(day + timedelta(days=7))
            if ladder_name in CLOSES:
                closures.append(
                    {
                        "student_id": student_id,
                        "track": track,
                        "closed_at": datetime.combine(last, time(16, 0)).isoformat(" "),
                        "staff_username": tutors.get(student_id),
                        "outcome": CLOSES[ladder_name],
                        "note": "Closed after the student's reply.",
                    }
                )
    return (
        pd.DataFrame(contacts, columns=CONTACT_COLUMNS),
        pd.DataFrame(closures, columns=CLOSURE_COLUMNS),
    )


def close_sample_cases(session: Session, path: Path) -> int:
    """Close the open cases a closures CSV names (as the staff user it names, at its time);
    loading it again changes nothing. ValueError naming file, row and column on bad input."""
    if not path.exists():
        return 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=MAX_CLOSURES + 1)
    if list(frame.columns) != CLOSURE_COLUMNS:
        raise ValueError(f"{path.name}: the header must be {','.join(CLOSURE_COLUMNS)}")
    if len(frame) > MAX_CLOSURES:
        raise ValueError(f"{path.name}: at most {MAX_CLOSURES} rows")
    closed = 0
    for number, row in enumerate(frame.itertuples(index=False), start=2):
        where = f"{path.name}, row {number}"
        if row.outcome not in ladder.CLOSE_OUTCOMES:
            raise ValueError(
                f"{where}, column outcome: not one of {', '.join(ladder.CLOSE_OUTCOMES)}"
            )
        try:
            closed_at = datetime.fromisoformat(row.closed_at)
        except ValueError as error:
            raise ValueError(f"{where}, column closed_at: not an ISO date-time") from error
        if row.track not in ladder.TRACKS or not 0 < len(row.staff_username) <= 100:
            raise ValueError(f"{where}, column track/staff_username: not a track and a username")
        case = open_case_for(session, row.student_id, row.track)
        if case is None:
            continue  # closed by an earlier load
        # the welfare case's personal tutor (the student's tutor, in scope) or the visa team
        role = "tutor" if row.track == "welfare" else "visa"
        close_case(
            session,
            User(row.staff_username, role),
            case.id,
            row.outcome,
            row.note,
            key=f"sample-close:{row.student_id}:{row.track}",
            now=closed_at,
        )
        closed += 1
    session.commit()
    return closed
