"""Reads the compliance inputs of every sponsored student from the store in a few bulk queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Integer, case, cast, extract, func, select
from sqlalchemy.orm import Session

from lib.compliance.policy import Thresholds
from lib.compliance.status import POINT_COLUMNS, ComplianceInputs
from lib.compute.frames import query_frame
from lib.store.models import (
    Attendance,
    CalendarPeriod,
    Case,
    CaseEntry,
    ComplianceRecord,
    DailyActivity,
    Enrolment,
    EventExpectedStudent,
    Exemption,
    Student,
    Submission,
    TimetableEvent,
)

TUTORIAL_OUTCOMES = ("tutorial_booked", "tutorial_attended")


def _sponsored(only: list[str] | None = None):
    """SELECT of the sponsored students' ids (optionally only some of them)."""
    query = select(Student.student_id).where(Student.visa_sponsored.is_(True))
    if only is not None:
        query = query.where(Student.student_id.in_(only))
    return query


def _session_points(
    session: Session, ids, first: datetime, last: datetime, grace: int
) -> pd.DataFrame:
    """Timetabled sessions each sponsored student was expected at (explicit list, else module
    enrolment in the event's academic year), met by a QR scan or Teams join inside the session."""
    te, ees, en = TimetableEvent, EventExpectedStudent, Enrolment
    in_window = te.start_at.between(first, last)
    cols = ["event_id", "module_code", "event_type", "start_at", "end_at", "online"]
    explicit = query_frame(
        session,
        select(ees.student_id, *(getattr(te, c) for c in cols))
        .join(te, te.event_id == ees.event_id)
        .where(in_window, ees.student_id.in_(ids)),
        ["student_id", *cols],
    )
    year = extract("year", te.start_at) - case((extract("month", te.start_at) < 9, 1), else_=0)
    events = query_frame(
        session,
        select(*(getattr(te, c) for c in cols), cast(year, Integer)).where(
            in_window, te.explicit_list.is_not(True)
        ),
        [*cols, "academic_year"],
    )
    enrolled = query_frame(
        session,
        select(en.student_id, en.module_code, en.academic_year).where(en.student_id.in_(ids)),
        ["student_id", "module_code", "academic_year"],
    )
    events["academic_year"] = events["academic_year"].astype(np.int64)
    enrolled["academic_year"] = enrolled["academic_year"].astype(np.int64)
    cohort = enrolled.merge(events, on=["module_code", "academic_year"])[["student_id", *cols]]
    points = pd.concat([explicit, cohort], ignore_index=True)
    seen = query_frame(
        session,
        select(Attendance.student_id, Attendance.event_id, Attendance.source, Attendance.first_seen)
        .where(Attendance.student_id.in_(ids))
        .where(Attendance.first_seen >= first - timedelta(days=1)),
        ["student_id", "event_id", "source", "first_seen"],
    )
    if points.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    points["start_at"] = pd.to_datetime(points["start_at"])
    points["end_at"] = pd.to_datetime(points["end_at"])
    seen["first_seen"] = pd.to_datetime(seen["first_seen"])
    joined = points[["student_id", "event_id", "start_at", "end_at"]].merge(
        seen, on=["student_id", "event_id"]
    )
    inside = joined[
        (joined["first_seen"] >= joined["start_at"] - pd.Timedelta(minutes=grace))
        & (joined["first_seen"] <= joined["end_at"])
    ]
    inside = inside.sort_values("first_seen").drop_duplicates(["student_id", "event_id"])
    points = points.merge(
        inside[["student_id", "event_id", "source", "first_seen"]],
        on=["student_id", "event_id"],
        how="left",
    )
    met = points["first_seen"].notna()
    how = np.where(points["source"] == "online", "Teams join", "QR scan")
    seen_at = points["first_seen"].dt.strftime("%H:%M").fillna("")
    evidence = pd.Series(how, index=points.index) + " at " + seen_at
    # where the feed carries no per-session rows, the day's scans and joins per module stand in:
    # the first `n` sessions of that module that day are met by `n` recorded attendances
    daily = _daily_attendance(session, ids, first, last)
    points["day"] = points["start_at"].dt.date
    points["order"] = (
        points.sort_values("start_at").groupby(["student_id", "module_code", "day"]).cumcount()
    )
    points = points.merge(daily, on=["student_id", "module_code", "day"], how="left")
    by_day = ~met.to_numpy() & (points["order"] < points["attended"].fillna(0)).to_numpy()
    evidence = np.where(
        met,
        evidence,
        np.where(
            by_day,
            "attendance recorded for " + points["module_code"].astype(str) + " that day",
            "no QR scan or Teams join inside the session",
        ),
    )
    met = met.to_numpy() | by_day
    return pd.DataFrame(
        {
            "student_id": points["student_id"].astype(str),
            "at": points["start_at"],
            "kind": "session",
            "ref": points["event_type"].astype(str)
            + " "
            + points["module_code"].astype(str)
            + " ("
            + points["event_id"].astype(str)
            + ")",
            "met": met,
            "evidence": evidence,
        }
    )


def _daily_attendance(session: Session, ids, first: datetime, last: datetime) -> pd.DataFrame:
    """Attendances (QR and online) recorded per student, module and day."""
    frame = query_frame(
        session,
        select(
            DailyActivity.student_id,
            DailyActivity.module_code,
            DailyActivity.day,
            func.sum(DailyActivity.quantity),
        )
        .where(
            DailyActivity.student_id.in_(ids),
            DailyActivity.source.in_(("attendance", "online")),
            DailyActivity.day.between(first.date(), last.date()),
        )
        .group_by(DailyActivity.student_id, DailyActivity.module_code, DailyActivity.day),
        ["student_id", "module_code", "day", "attended"],
    )
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    return frame


def _deadline_points(session: Session, ids, first: datetime, last: datetime) -> pd.DataFrame:
    """Submission deadlines, met by a submission made by the deadline."""
    frame = query_frame(
        session,
        select(
            Submission.student_id,
            Submission.assignment_id,
            Submission.module_code,
            Submission.due_at,
            Submission.submitted_at,
        ).where(Submission.student_id.in_(ids), Submission.due_at.between(first, last)),
        ["student_id", "assignment_id", "module_code", "due_at", "submitted_at"],
    )
    if frame.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    due = pd.to_datetime(frame["due_at"])
    sent = pd.to_datetime(frame["submitted_at"])
    met = (sent.notna() & (sent <= due)).to_numpy()
    sent_text = sent.dt.strftime("%Y-%m-%d %H:%M").fillna("")
    evidence = np.where(
        sent.isna(), "no submission", np.where(met, "submitted ", "late: submitted ") + sent_text
    )
    return pd.DataFrame(
        {
            "student_id": frame["student_id"].astype(str),
            "at": due,
            "kind": "deadline",
            "ref": "assignment "
            + frame["assignment_id"].astype(str)
            + " "
            + frame["module_code"].fillna("").astype(str),
            "met": met,
            "evidence": evidence,
        }
    )


def _tutorial_points(session: Session, ids, first: datetime, last: datetime) -> pd.DataFrame:
    """Tutorials booked in cases (on the next-action date, else the entry's date), met when the case
    records one attended on or after the booking; an attended one never booked is a met point."""
    when = func.coalesce(CaseEntry.contacted_at, CaseEntry.recorded_at)
    frame = query_frame(
        session,
        select(
            Case.student_id,
            CaseEntry.case_id,
            CaseEntry.id,
            CaseEntry.outcome,
            when,
            CaseEntry.next_due,
        )
        .join(Case, Case.id == CaseEntry.case_id)
        .where(Case.student_id.in_(ids), CaseEntry.outcome.in_(TUTORIAL_OUTCOMES))
        .where(when.between(first - timedelta(days=60), last)),
        ["student_id", "case_id", "entry_id", "outcome", "on", "next_due"],
    )
    if frame.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    frame["on"] = pd.to_datetime(frame["on"])
    booked = frame[frame["outcome"] == "tutorial_booked"].copy()
    attended = frame[frame["outcome"] == "tutorial_attended"]
    booked["at"] = pd.to_datetime(booked["next_due"]).fillna(booked["on"])
    pairs = booked.merge(attended[["case_id", "on"]], on="case_id", suffixes=("", "_att"))
    pairs = pairs[pairs["on_att"] >= pairs["on"]]
    booked["met"] = booked["entry_id"].isin(set(pairs["entry_id"]))
    lone = attended[~attended["case_id"].isin(set(booked["case_id"]))]
    out = pd.concat(
        [
            pd.DataFrame(
                {
                    "student_id": booked["student_id"].astype(str),
                    "at": booked["at"],
                    "kind": "tutorial",
                    "ref": "case "
                    + booked["case_id"].astype(str)
                    + " entry "
                    + booked["entry_id"].astype(str),
                    "met": booked["met"].to_numpy(),
                    "evidence": np.where(
                        booked["met"], "tutorial attended", "tutorial booked, not attended"
                    ),
                }
            ),
            pd.DataFrame(
                {
                    "student_id": lone["student_id"].astype(str),
                    "at": lone["on"],
                    "kind": "tutorial",
                    "ref": "case "
                    + lone["case_id"].astype(str)
                    + " entry "
                    + lone["entry_id"].astype(str),
                    "met": True,
                    "evidence": "tutorial attended",
                }
            ),
        ],
        ignore_index=True,
    )
    return out[(out["at"] >= first) & (out["at"] <= last)]


def read_inputs(
    session: Session, as_of: date, thresholds: Thresholds, only: list[str] | None = None
) -> ComplianceInputs:
    """The inputs of every sponsored student (or of `only` those) for statuses at `as_of`."""
    ids = _sponsored(only)
    first_day = as_of - timedelta(days=thresholds.lookback_days + 7)
    first = datetime.combine(first_day, datetime.min.time())
    last = datetime.combine(as_of, datetime.max.time())
    students = query_frame(
        session,
        select(Student.student_id, Student.start_date, Student.status).where(
            Student.student_id.in_(ids)
        ),
        ["student_id", "start_date", "status"],
    )
    withdrawals = query_frame(
        session,
        select(
            ComplianceRecord.student_id,
            func.min(
                func.coalesce(
                    ComplianceRecord.effective_on, func.date(ComplianceRecord.recorded_at)
                )
            ),
        )
        .where(ComplianceRecord.student_id.in_(ids), ComplianceRecord.kind == "withdrawn")
        .group_by(ComplianceRecord.student_id),
        ["student_id", "withdrawn_on"],
    )
    students = students.merge(withdrawals, on="student_id", how="left")
    # the student record says withdrawn without a date: withdrawn from the start of the window
    record_says = (
        students["status"].astype(str).str.lower().eq("withdrawn") & students["withdrawn_on"].isna()
    )
    students.loc[record_says, "withdrawn_on"] = first_day
    points = pd.concat(
        [
            _session_points(session, ids, first, last, thresholds.scan_grace_minutes),
            _deadline_points(session, ids, first, last),
            _tutorial_points(session, ids, first, last),
        ],
        ignore_index=True,
    )
    engaged = (DailyActivity.quantity > 0) | (DailyActivity.minutes > 0)
    activity = query_frame(
        session,
        select(DailyActivity.student_id, DailyActivity.day)
        .where(
            DailyActivity.student_id.in_(ids), DailyActivity.day.between(first_day, as_of), engaged
        )
        .distinct(),
        ["student_id", "day"],
    )
    last_activity = query_frame(
        session,
        select(DailyActivity.student_id, func.max(DailyActivity.day))
        .where(DailyActivity.student_id.in_(ids), DailyActivity.day <= as_of, engaged)
        .group_by(DailyActivity.student_id),
        ["student_id", "day"],
    )
    exemptions = query_frame(
        session,
        select(Exemption.student_id, Exemption.start, Exemption.end).where(
            Exemption.student_id.in_(ids), Exemption.end >= first_day
        ),
        ["student_id", "start", "end"],
    )
    calendar = query_frame(
        session,
        select(CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end),
        ["kind", "start", "end"],
    )
    reports = query_frame(
        session,
        select(
            ComplianceRecord.student_id,
            ComplianceRecord.reported_on,
            ComplianceRecord.reference,
            ComplianceRecord.recorded_by,
        ).where(ComplianceRecord.student_id.in_(ids), ComplianceRecord.kind == "report"),
        ["student_id", "reported_on", "reference", "recorded_by"],
    )
    data_start = session.scalar(select(func.min(DailyActivity.day)))
    return ComplianceInputs(
        students=students[["student_id", "start_date", "withdrawn_on"]],
        points=points[POINT_COLUMNS],
        activity_days=activity,
        last_activity=last_activity,
        exemptions=exemptions,
        calendar=calendar,
        reports=reports,
        data_start=data_start,
    )
