"""The Cohort filters (kept in the URL so a view can be shared) and the student clauses they make."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date

from sqlalchemy import case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from lib.access import User, student_filter
from lib.compute.flags import in_force
from lib.store.models import Enrolment, Flag, Student
from lib.store.statuses import LEFT_STATUSES

FLAG_KINDS = ("no_engagement", "index_drop", "source_drop", "missed_submissions")
FLAG_STATES = ("any", "flagged", "not_flagged", *FLAG_KINDS)
YES_NO = ("any", "yes", "no")


@dataclass(frozen=True)
class CohortFilters:
    """What the Cohort page shows: every field maps to one URL query parameter."""

    school: str | None = None
    course: str | None = None
    year: int | None = None
    module: str | None = None
    level: str | None = None
    mode: str | None = None
    visa: str = "any"
    residence: str | None = None
    flag: str = "any"
    week_from: date | None = None
    week_to: date | None = None

    def to_params(self) -> dict[str, str]:
        """Query parameters for the non-default fields (dates ISO)."""
        out: dict[str, str] = {}
        for name, value in asdict(self).items():
            if value is None or (name in ("visa", "flag") and value == "any"):
                continue
            out[_PARAM[name]] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    def with_weeks(self, week_from: date | None, week_to: date | None) -> CohortFilters:
        return replace(self, week_from=week_from, week_to=week_to)


_PARAM = {
    f.name: {"week_from": "from", "week_to": "to"}.get(f.name, f.name)
    for f in fields(CohortFilters)
}


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:100] or None


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat((value or "").strip()) if value else None
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    try:
        number = int(str(value).strip()[:6]) if value not in (None, "") else None
    except ValueError:
        return None
    return number if number is not None and 0 <= number <= 100 else None


def _clamp(day: date | None, first: date | None, last: date | None) -> date | None:
    if day is None:
        return None
    if first is not None and day < first:
        return first
    if last is not None and day > last:
        return last
    return day


def from_params(
    params: Mapping[str, str], first: date | None = None, last: date | None = None
) -> CohortFilters:
    """Filters from query parameters; unknown or malformed values fall back to defaults, and dates
    are clamped into first..last (the weeks with results) when given, earliest first."""
    visa = (params.get("visa") or "any").lower()
    flag = (params.get("flag") or "any").lower()
    week_from = _clamp(_date(params.get("from")), first, last)
    week_to = _clamp(_date(params.get("to")), first, last)
    if week_from and week_to and week_from > week_to:
        week_from, week_to = week_to, week_from
    return CohortFilters(
        school=_text(params.get("school")),
        course=_text(params.get("course")),
        year=_int(params.get("year")),
        module=_text(params.get("module")),
        level=_text(params.get("level")),
        mode=_text(params.get("mode")),
        visa=visa if visa in YES_NO else "any",
        residence=_text(params.get("residence")),
        flag=flag if flag in FLAG_STATES else "any",
        week_from=week_from,
        week_to=week_to,
    )


def describe(filters: CohortFilters) -> str:
    """A short text of the active filters (for the access log)."""
    params = filters.to_params()
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "no filters"


SEVERITY_ORDER = case({"high": 0, "medium": 1, "low": 2}, value=Flag.severity, else_=3)


def worst_flags(as_of: date | None):
    """Subquery (student_id, worst): each student's most severe flag in force on `as_of`
    (SEVERITY_ORDER, 0 = high), for students with one. Joined once, it ranks 40,000 students in a
    hash join where a correlated subquery per student took seconds on PostgreSQL."""
    return (
        select(Flag.student_id, func.min(SEVERITY_ORDER).label("worst"))
        .where(in_force(as_of))
        .group_by(Flag.student_id)
        .subquery("worst_flags")
    )


def not_left_before(day: date):
    """Students who had not left (withdrawn, completed, ...) before `day`: earlier years' leavers
    are in nobody's cohort or worklist, while this year's leavers stay visible with their status."""
    return or_(
        func.lower(Student.status).not_in(LEFT_STATUSES),
        Student.status_date.is_(None),
        Student.status_date >= day,
    )


def student_clauses(user: User, f: CohortFilters) -> list:
    """WHERE clauses on `students`: the user's scope (always), students still there when the
    window starts, and the cohort filters."""
    clauses = [student_filter(user)]
    if f.week_from is not None:
        clauses.append(not_left_before(f.week_from))
    for column, value in (
        (Student.school, f.school),
        (Student.course_code, f.course),
        (Student.year_of_study, f.year),
        (Student.level, f.level),
        (Student.mode, f.mode),
        (Student.residence, f.residence),
    ):
        if value is not None:
            clauses.append(column == value)
    if f.visa != "any":
        clauses.append(Student.visa_sponsored.is_(f.visa == "yes"))
    if f.module:
        clauses.append(
            exists().where(
                Enrolment.student_id == Student.student_id, Enrolment.module_code == f.module
            )
        )
    if f.flag != "any":
        # An alias, so that the subquery stays correlated on Student only even when the outer
        # query also selects from flags (flag counts, the flagged list).
        other = aliased(Flag)
        conditions = [
            other.student_id == Student.student_id,
            in_force(f.week_to, other),
        ]
        if f.flag in FLAG_KINDS:
            conditions.append(other.kind == f.flag)
        flagged = exists().where(*conditions).correlate(Student)
        clauses.append(~flagged if f.flag == "not_flagged" else flagged)
    return clauses


def filter_options(session: Session, user: User) -> dict[str, list]:
    """The distinct values the cohort filters offer, within the user's scope."""
    scope = student_filter(user)

    def distinct(column) -> list:
        rows = session.scalars(select(column).where(scope).distinct().order_by(column))
        return [r for r in rows if r not in (None, "")]

    modules = session.scalars(
        select(Enrolment.module_code)
        .where(Enrolment.student_id.in_(select(Student.student_id).where(scope)))
        .distinct()
        .order_by(Enrolment.module_code)
    )
    return {
        "school": distinct(Student.school),
        "course": distinct(Student.course_code),
        "year": distinct(Student.year_of_study),
        "level": distinct(Student.level),
        "mode": distinct(Student.mode),
        "residence": distinct(Student.residence),
        "module": list(modules),
    }
