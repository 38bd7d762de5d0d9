"""Compliance use cases: statuses for a scope, one student's evidence, recording reports and withdrawals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.compliance.policy import load_thresholds
from lib.compliance.read import read_inputs
from lib.compliance.status import COLUMNS, ComplianceResult, by_urgency, compute
from lib.store.models import ComplianceRecord, StaffUser, Student
from lib.workdays import working_days

MAX_REFERENCE = 100


def result(
    session: Session,
    as_of: date,
    only: list[str] | None = None,
    since: date | None = None,
    detail: bool = False,
) -> ComplianceResult:
    """Statuses and contact points of every sponsored student (or of `only` those) at `as_of`,
    read over the configured look-back (or from `since`, when earlier); `detail`: evidence texts."""
    thresholds = load_thresholds(session)
    if since is not None and (as_of - since).days + 60 > thresholds.lookback_days:
        thresholds = replace(thresholds, lookback_days=(as_of - since).days + 60)
    inputs = read_inputs(session, as_of, thresholds, only, detail)
    return compute(inputs, thresholds, as_of, working_days(session))


def statuses(session: Session, as_of: date, only: list[str] | None = None) -> pd.DataFrame:
    """One row per sponsored student, most urgent first, with name and course for the list."""
    frame = by_urgency(result(session, as_of, only).statuses)
    names = pd.DataFrame(
        session.execute(
            select(
                Student.student_id,
                Student.given_name,
                Student.family_name,
                Student.course_code,
                Student.school,
            ).where(Student.student_id.in_(frame["student_id"].tolist()))
        ).all(),
        columns=["student_id", "given_name", "family_name", "course_code", "school"],
    )
    names["name"] = names["given_name"] + " " + names["family_name"]
    out = frame.merge(
        names[["student_id", "name", "course_code", "school"]], on="student_id", how="left"
    )
    return out


def cli_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The SPEC §8 columns, dates ISO or empty."""
    out = frame[COLUMNS].copy()
    for c in ("last_engagement_on", "threshold_crossed_on", "report_due_by", "reported_on"):
        out[c] = out[c].map(lambda d: d.isoformat() if d is not None else "")
    return out.sort_values("student_id").reset_index(drop=True)


def _known_user(session: Session, username: str) -> str:
    username = (username or "").strip()
    if not session.scalar(select(StaffUser.username).where(StaffUser.username == username)):
        raise ValueError(f"--by {username!r} is not a user of the dashboard")
    return username


def _sponsored_student(session: Session, student_id: str) -> Student:
    student = session.get(Student, (student_id or "").strip())
    if student is None or not student.visa_sponsored:
        raise ValueError(f"no sponsored student {student_id!r} in the store")
    return student


def record_report(
    session: Session, student_id: str, on: date, reference: str, by: str, today: date | None = None
) -> ComplianceRecord:
    """Record a report made to UKVI: refused when dated in the future, before the threshold was
    crossed, or when no threshold is crossed; the reference is required and bounded."""
    today = today or date.today()
    student = _sponsored_student(session, student_id)
    by = _known_user(session, by)
    reference = (reference or "").strip()
    if not reference or len(reference) > MAX_REFERENCE or any(ord(c) < 32 for c in reference):
        raise ValueError(f"the reference must be 1 to {MAX_REFERENCE} printable characters")
    if on > today:
        raise ValueError(f"a report cannot be dated in the future ({on.isoformat()})")
    row = result(session, on, [student.student_id]).statuses.iloc[0]
    crossed = row["threshold_crossed_on"]
    if crossed is None:  # nothing open on that day: crossed later, or nothing to report at all
        later = result(session, today, [student.student_id], since=on).statuses.iloc[0]
        if later["threshold_crossed_on"] is not None:
            raise ValueError(
                "a report cannot be dated before the threshold was crossed "
                f"({later['threshold_crossed_on'].isoformat()})"
            )
        raise ValueError(
            f"{student.student_id} has no threshold crossed and not yet reported: nothing to report"
        )
    record = ComplianceRecord(
        student_id=student.student_id,
        kind="report",
        status="reported",
        recorded_at=datetime.now(),
        recorded_by=by,
        threshold_date=crossed,
        report_due=row["report_due_by"],
        reported_on=on,
        reference=reference,
    )
    session.add(record)
    session.commit()
    return record


def record_withdrawal(
    session: Session, student_id: str, on: date, by: str, today: date | None = None
) -> ComplianceRecord:
    """Record that a sponsored student withdrew on a date (kept: the status stays withdrawn)."""
    today = today or date.today()
    student = _sponsored_student(session, student_id)
    by = _known_user(session, by)
    if on > today:
        raise ValueError(f"a withdrawal cannot be dated in the future ({on.isoformat()})")
    record = ComplianceRecord(
        student_id=student.student_id,
        kind="withdrawn",
        status="withdrawn",
        recorded_at=datetime.now(),
        recorded_by=by,
        effective_on=on,
    )
    session.add(record)
    session.commit()
    return record


def evidence(
    session: Session, student_id: str, as_of: date
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """One sponsored student's status row, contact points (met/missed/exempt with the source
    record, newest first) and compliance records (reports, withdrawal)."""
    res = result(session, as_of, [student_id], detail=True)
    if res.statuses.empty:
        raise ValueError(f"no sponsored student {student_id!r} in the store")
    points = res.points.sort_values("at", ascending=False)[
        ["at", "kind", "ref", "state", "evidence", "consecutive_missed"]
    ]
    records = pd.DataFrame(
        session.execute(
            select(
                ComplianceRecord.kind,
                ComplianceRecord.reported_on,
                ComplianceRecord.effective_on,
                ComplianceRecord.reference,
                ComplianceRecord.recorded_by,
                ComplianceRecord.recorded_at,
            )
            .where(
                ComplianceRecord.student_id == student_id,
                ComplianceRecord.kind.in_(("report", "withdrawn")),
            )
            .order_by(ComplianceRecord.recorded_at)
        ).all(),
        columns=["kind", "reported_on", "effective_on", "reference", "recorded_by", "recorded_at"],
    )
    return res.statuses.iloc[0].to_dict(), points.reset_index(drop=True), records
