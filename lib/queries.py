"""Read-side queries for the pages; every student query takes the user's scope from lib.access."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from lib.access import (
    User,
    can,
    can_see_welfare,
    can_view_student,
    fields_for,
    student_filter,
    without_welfare,
)
from lib.models import (
    CalendarPeriod,
    DailyActivity,
    DataQualityEvent,
    Enrolment,
    Exemption,
    Flag,
    Load,
    QuarantinedRow,
    StaffUser,
    Student,
    WeeklyMeasure,
)

# --- cohort filters (kept in the URL so a view can be shared) -------------------------------------

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
        return int(str(value).strip()) if value not in (None, "") else None
    except ValueError:
        return None


def from_params(params: Mapping[str, str]) -> CohortFilters:
    """Filters from query parameters; unknown or malformed values fall back to defaults."""
    visa = (params.get("visa") or "any").lower()
    flag = (params.get("flag") or "any").lower()
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
        week_from=_date(params.get("from")),
        week_to=_date(params.get("to")),
    )


def describe(filters: CohortFilters) -> str:
    """A short text of the active filters (for the access log)."""
    params = filters.to_params()
    return ", ".join(f"{k}={v}" for k, v in params.items()) or "no filters"


# --- shared ---------------------------------------------------------------------------------------


def data_version(session: Session) -> str:
    """A key that changes whenever loaded data or engine results change (for caches)."""
    try:
        from lib.service import data_version as service_version

        base = str(service_version(session))
    except (ImportError, AttributeError):
        base = str(session.scalar(select(func.max(Load.id))) or 0)
    extra = session.execute(
        select(
            select(func.max(Exemption.id)).scalar_subquery(),
            select(func.max(Flag.id)).scalar_subquery(),
            select(func.count()).select_from(StaffUser).scalar_subquery(),
        )
    ).one()
    return f"{base}:{extra[0] or 0}:{extra[1] or 0}:{extra[2] or 0}"


def store_counts(session: Session) -> dict[str, int]:
    """How many students, loads, weekly measures and flags the store holds (aggregate only)."""

    def count(model) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return {
        "students": count(Student),
        "loads": count(Load),
        "weekly_measures": count(WeeklyMeasure),
        "flags": count(Flag),
    }


def week_range(session: Session) -> tuple[date | None, date | None]:
    """First and last week with engine results."""
    first = session.scalar(select(func.min(WeeklyMeasure.week_start)))
    last = session.scalar(select(func.max(WeeklyMeasure.week_start)))
    return first, last


def default_weeks(session: Session, weeks: int = 16) -> tuple[date | None, date | None]:
    """The default date range: `weeks` weeks up to the latest teaching week with results
    (so that a summer vacation at the end of the data does not hide the term)."""
    first, last = week_range(session)
    if last is None:
        return None, None
    last_teaching = session.scalar(
        select(func.max(WeeklyMeasure.week_start)).where(
            WeeklyMeasure.source == "index",
            WeeklyMeasure.teaching.is_(True),
            WeeklyMeasure.value.is_not(None),
        )
    )
    last = last_teaching or last
    last_activity = session.scalar(select(func.max(DailyActivity.day)))
    if last_activity is not None:  # weeks after the newest loaded activity hold no evidence yet
        activity_week = last_activity - timedelta(days=last_activity.weekday())
        last = min(last, activity_week)
    start = max(first, last - timedelta(weeks=weeks - 1)) if first else last
    return start, last


def week_list(week_from: date, week_to: date) -> list[date]:
    """Every Monday-aligned week start from week_from to week_to."""
    out, current = [], week_from
    while current <= week_to and len(out) < 600:
        out.append(current)
        current += timedelta(weeks=1)
    return out


def _in_force(week_from: date | None, week_to: date | None, flag=Flag):
    """Flags in force during the weeks (or now, when no range)."""
    if week_from is None and week_to is None:
        return flag.ended_week.is_(None)
    clauses = []
    if week_to is not None:
        clauses.append(flag.week_start <= week_to)
    if week_from is not None:
        clauses.append(or_(flag.ended_week.is_(None), flag.ended_week >= week_from))
    return and_(*clauses)


def student_clauses(user: User, f: CohortFilters) -> list:
    """WHERE clauses on `students`: the user's scope (always) and the cohort filters."""
    clauses = [student_filter(user)]
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
            _in_force(f.week_from, f.week_to, other),
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


# --- cohort ---------------------------------------------------------------------------------------


def cohort_size(session: Session, user: User, f: CohortFilters) -> int:
    """How many students match the filters in the user's scope."""
    return (
        session.scalar(select(func.count()).select_from(Student).where(*student_clauses(user, f)))
        or 0
    )


def flag_counts(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """Students with a flag in force per kind (and severity) in the selected weeks."""
    query = (
        select(Flag.kind, Flag.severity, func.count(func.distinct(Flag.student_id)))
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f), _in_force(f.week_from, f.week_to))
        .group_by(Flag.kind, Flag.severity)
    )
    rows = session.execute(query).all()
    return pd.DataFrame(rows, columns=["kind", "severity", "students"])


def flagged_students(session: Session, user: User, f: CohortFilters) -> int:
    """How many of the filtered students have at least one flag in force in the selected weeks."""
    return (
        session.scalar(
            select(func.count(func.distinct(Flag.student_id)))
            .join(Student, Student.student_id == Flag.student_id)
            .where(*student_clauses(user, f), _in_force(f.week_from, f.week_to))
        )
        or 0
    )


def flag_trend(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """New flags raised per week and kind over the selected weeks."""
    query = (
        select(Flag.week_start, Flag.kind, func.count(func.distinct(Flag.student_id)))
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f))
        .group_by(Flag.week_start, Flag.kind)
        .order_by(Flag.week_start)
    )
    if f.week_from:
        query = query.where(Flag.week_start >= f.week_from)
    if f.week_to:
        query = query.where(Flag.week_start <= f.week_to)
    return pd.DataFrame(session.execute(query).all(), columns=["week_start", "kind", "students"])


_SEVERITY_ORDER = case({"high": 0, "medium": 1, "low": 2}, value=Flag.severity, else_=3)


def flagged_list(
    session: Session, user: User, f: CohortFilters, *, limit: int = 50, offset: int = 0
) -> tuple[pd.DataFrame, int]:
    """One page of the flags in force for the filtered students, most severe first, and the total."""
    base = (
        select(
            Flag.student_id,
            Student.given_name,
            Student.family_name,
            Student.course_code,
            Student.year_of_study,
            Flag.kind,
            Flag.severity,
            Flag.week_start,
            Flag.explanation,
        )
        .join(Student, Student.student_id == Flag.student_id)
        .where(*student_clauses(user, f), _in_force(f.week_from, f.week_to))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(
        base.order_by(_SEVERITY_ORDER, Flag.week_start.desc(), Flag.student_id)
        .limit(limit)
        .offset(offset)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "student_id",
            "given_name",
            "family_name",
            "course",
            "year",
            "kind",
            "severity",
            "week_start",
            "explanation",
        ],
    )
    frame.insert(1, "name", frame.pop("given_name") + " " + frame.pop("family_name"))
    return frame, total


def heatmap_students(
    session: Session, user: User, f: CohortFilters, *, limit: int = 50, offset: int = 0
) -> tuple[list[str], int]:
    """One page of filtered student ids, flagged (most severe) first, and the total."""
    worst = (
        select(func.min(_SEVERITY_ORDER))
        .where(Flag.student_id == Student.student_id, _in_force(f.week_from, f.week_to))
        .scalar_subquery()
    )
    clauses = student_clauses(user, f)
    total = session.scalar(select(func.count()).select_from(Student).where(*clauses)) or 0
    ids = session.scalars(
        select(Student.student_id)
        .where(*clauses)
        .order_by(func.coalesce(worst, 9), Student.student_id)
        .limit(limit)
        .offset(offset)
    )
    return list(ids), total


def relative_engagement(
    session: Session, student_ids: list[str], week_from: date, week_to: date, source: str = "index"
) -> pd.DataFrame:
    """Long frame student_id, week_start, ratio (value / own baseline), teaching for these students.

    Callers pass ids already scoped by `heatmap_students` or `can_view_student`."""
    if not student_ids:
        return pd.DataFrame(columns=["student_id", "week_start", "ratio", "teaching"])
    rows = session.execute(
        select(
            WeeklyMeasure.student_id,
            WeeklyMeasure.week_start,
            WeeklyMeasure.value,
            WeeklyMeasure.baseline,
            WeeklyMeasure.teaching,
        ).where(
            WeeklyMeasure.student_id.in_(student_ids),
            WeeklyMeasure.source == source,
            WeeklyMeasure.week_start.between(week_from, week_to),
        )
    ).all()
    frame = pd.DataFrame(
        rows, columns=["student_id", "week_start", "value", "baseline", "teaching"]
    )
    baseline = frame["baseline"].astype(float)
    frame["ratio"] = (frame["value"].astype(float) / baseline.where(baseline > 0)).clip(upper=3.0)
    return frame[["student_id", "week_start", "ratio", "teaching"]]


def data_quality_events(
    session: Session, week_from: date | None, week_to: date | None, *, limit: int = 200
) -> pd.DataFrame:
    """Systemic drops (not student problems) in the selected weeks, newest first."""
    query = select(
        DataQualityEvent.week_start,
        DataQualityEvent.source,
        DataQualityEvent.module_code,
        DataQualityEvent.share_affected,
        DataQualityEvent.students_affected,
        DataQualityEvent.explanation,
    ).order_by(DataQualityEvent.week_start.desc(), DataQualityEvent.source)
    if week_from:
        query = query.where(DataQualityEvent.week_start >= week_from)
    if week_to:
        query = query.where(DataQualityEvent.week_start <= week_to)
    columns = [
        "week_start",
        "source",
        "module_code",
        "share_affected",
        "students_affected",
        "explanation",
    ]
    return pd.DataFrame(session.execute(query.limit(limit)).all(), columns=columns)


def cohort_export(session: Session, user: User, f: CohortFilters) -> pd.DataFrame:
    """The filtered students (profile fields the user may see) with their flags in force, for CSV."""
    allowed = [c for c in fields_for(user) if c in EXPORT_FIELDS]
    if not allowed:
        return pd.DataFrame()
    columns = [getattr(Student, c) for c in allowed]
    students = pd.DataFrame(
        session.execute(
            select(*columns).where(*student_clauses(user, f)).order_by(Student.student_id)
        ).all(),
        columns=allowed,
    )
    flags = pd.DataFrame(
        session.execute(
            select(Flag.student_id, Flag.kind, Flag.severity, Flag.week_start, Flag.explanation)
            .join(Student, Student.student_id == Flag.student_id)
            .where(*student_clauses(user, f), _in_force(f.week_from, f.week_to))
        ).all(),
        columns=["student_id", "kind", "severity", "week_start", "explanation"],
    )
    if flags.empty:
        students["flags"] = ""
        return students
    flags["text"] = (
        flags["kind"] + " (" + flags["severity"] + ", " + flags["week_start"].astype(str) + ")"
    )
    summary = flags.groupby("student_id")["text"].agg("; ".join).rename("flags")
    return students.merge(summary, how="left", left_on="student_id", right_index=True).fillna(
        {"flags": ""}
    )


EXPORT_FIELDS = (
    "student_id",
    "given_name",
    "family_name",
    "email",
    "course_code",
    "school",
    "level",
    "year_of_study",
    "mode",
    "tutor_username",
    "visa_sponsored",
    "residence",
    "status",
)


# --- home / my students ---------------------------------------------------------------------------


def my_students(
    session: Session, user: User, *, limit: int = 25, offset: int = 0, weeks: int = 10
) -> tuple[pd.DataFrame, int]:
    """The user's students, flagged (most severe) and most changed first, with a sparkline series.

    "Most changed" is the latest week's combined index relative to the student's own baseline
    (lowest first); students without a result that week come last."""
    _, last = default_weeks(session)  # "now": the latest teaching week with loaded activity
    clauses = student_clauses(user, CohortFilters())
    total = session.scalar(select(func.count()).select_from(Student).where(*clauses)) or 0
    worst = (
        select(func.min(_SEVERITY_ORDER))
        .where(Flag.student_id == Student.student_id, _in_force(last, last))
        .scalar_subquery()
    )
    latest = aliased(WeeklyMeasure)
    ratio = case(
        (latest.baseline > 0, latest.value / latest.baseline),
        else_=None,
    )
    query = select(Student.student_id).where(*clauses)
    if last is not None:
        query = query.outerjoin(
            latest,
            and_(
                latest.student_id == Student.student_id,
                latest.week_start == last,
                latest.source == "index",
            ),
        )
        order = (func.coalesce(worst, 9), func.coalesce(ratio, 99.0), Student.student_id)
    else:
        order = (func.coalesce(worst, 9), Student.student_id)
    ids = list(session.scalars(query.order_by(*order).limit(limit).offset(offset)))
    if not ids:
        return pd.DataFrame(), total
    profile = pd.DataFrame(
        session.execute(
            select(
                Student.student_id,
                Student.given_name,
                Student.family_name,
                Student.course_code,
                Student.year_of_study,
            ).where(Student.student_id.in_(ids), student_filter(user))
        ).all(),
        columns=["student_id", "given_name", "family_name", "course", "year"],
    )
    profile.insert(1, "name", profile.pop("given_name") + " " + profile.pop("family_name"))
    flags = session.execute(
        select(Flag.student_id, Flag.kind, Flag.severity, Flag.explanation)
        .where(Flag.student_id.in_(ids), _in_force(last, last))
        .order_by(_SEVERITY_ORDER)
    ).all()
    by_student: dict[str, list] = {}
    for sid, kind, severity, explanation in flags:
        by_student.setdefault(sid, []).append((kind, severity, explanation))
    profile["flag"] = profile["student_id"].map(
        lambda s: ", ".join(f"{k} ({sev})" for k, sev, _ in by_student.get(s, []))
    )
    profile["explanation"] = profile["student_id"].map(
        lambda s: " ".join(e for _, _, e in by_student.get(s, []))
    )
    spark: dict[str, list[float]] = {s: [] for s in ids}
    if last is not None:
        rel = relative_engagement(session, ids, last - timedelta(weeks=weeks - 1), last)
        for sid, group in rel.sort_values("week_start").groupby("student_id"):
            # non-teaching weeks (no ratio) are left out rather than drawn as a drop to zero
            spark[sid] = [round(float(v), 2) for v in group["ratio"] if pd.notna(v)]
    profile["trend"] = profile["student_id"].map(lambda s: spark.get(s, []))
    profile["latest"] = profile["trend"].map(lambda t: t[-1] if t else None)
    order = {sid: i for i, sid in enumerate(ids)}
    profile = profile.sort_values("student_id", key=lambda c: c.map(order)).reset_index(drop=True)
    return profile, total


def search_students(session: Session, user: User, text: str, *, limit: int = 20) -> pd.DataFrame:
    """Students in the user's scope whose id, name or e-mail contains the text."""
    text = (text or "").strip()
    columns = ["student_id", "name", "course", "year"]
    if len(text) < 2 or not can(user, "search_students"):
        return pd.DataFrame(columns=columns)
    like = f"%{text.lower()}%"
    full_name = func.lower(Student.given_name + " " + Student.family_name)
    rows = session.execute(
        select(
            Student.student_id,
            Student.given_name + " " + Student.family_name,
            Student.course_code,
            Student.year_of_study,
        )
        .where(
            student_filter(user),
            or_(
                func.lower(Student.student_id).like(like),
                full_name.like(like),
                func.lower(Student.email).like(like),
            ),
        )
        .order_by(Student.student_id)
        .limit(limit)
    ).all()
    return pd.DataFrame(rows, columns=columns)


# --- student --------------------------------------------------------------------------------------


def student_profile(session: Session, user: User, student_id: str) -> dict | None:
    """The fields of one student the user may see, or None when out of scope or unknown."""
    if not can_view_student(session, user, student_id):
        return None
    student = session.get(Student, student_id)
    if student is None:
        return None
    return {c: getattr(student, c) for c in fields_for(user) if hasattr(Student, c)}


def student_measures(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Every weekly measure of one student (empty when out of scope)."""
    columns = [
        "week_start",
        "source",
        "value",
        "expected",
        "baseline",
        "baseline_low",
        "baseline_high",
        "cold_start",
        "teaching",
    ]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(*(getattr(WeeklyMeasure, c) for c in columns))
        .where(WeeklyMeasure.student_id == student_id)
        .order_by(WeeklyMeasure.week_start, WeeklyMeasure.source)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def student_flags(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Every flag of one student, newest first (empty when out of scope)."""
    columns = [
        "week_start",
        "ended_week",
        "kind",
        "severity",
        "explanation",
        "recovery_explanation",
    ]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(*(getattr(Flag, c) for c in columns))
        .where(Flag.student_id == student_id)
        .order_by(Flag.week_start.desc())
    ).all()
    return pd.DataFrame(rows, columns=columns)


def student_exemptions(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """One student's exemptions (empty when out of scope); reason and note only for a role that
    may see welfare information, the others see that an authorised absence exists and its dates."""
    columns = ["start", "end", "reason", "note", "created_by", "created_at"]
    if not can_see_welfare(user):
        columns = ["start", "end", "created_by", "created_at"]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    rows = session.execute(
        select(*(getattr(Exemption, c) for c in columns))
        .where(Exemption.student_id == student_id)
        .order_by(Exemption.start)
    ).all()
    return without_welfare(user, pd.DataFrame(rows, columns=columns))


def calendar_periods(session: Session) -> pd.DataFrame:
    """The term calendar (not personal data)."""
    rows = session.execute(
        select(
            CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end, CalendarPeriod.label
        ).order_by(CalendarPeriod.start)
    ).all()
    return pd.DataFrame(rows, columns=["kind", "start", "end", "label"])


def cohort_median(session: Session, user: User, student_id: str) -> pd.DataFrame:
    """Median weekly value per source of the student's course-mates (context only, never a flag)."""
    columns = ["week_start", "source", "median"]
    if not can_view_student(session, user, student_id):
        return pd.DataFrame(columns=columns)
    student = session.get(Student, student_id)
    mates = select(Student.student_id).where(
        Student.course_code == student.course_code, Student.year_of_study == student.year_of_study
    )
    rows = session.execute(
        select(WeeklyMeasure.week_start, WeeklyMeasure.source, WeeklyMeasure.value).where(
            WeeklyMeasure.student_id.in_(mates)
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["week_start", "source", "value"])
    if frame.empty:
        return pd.DataFrame(columns=columns)
    return frame.groupby(["week_start", "source"])["value"].median().rename("median").reset_index()


EXEMPTION_REASONS = ("illness", "approved_leave", "placement", "interruption", "other")


def add_exemption(
    session: Session,
    user: User,
    student_id: str,
    *,
    reason: str,
    start: date,
    end: date,
    note: str | None = None,
) -> Exemption:
    """Record an exemption for a student the user may see and may add exemptions for."""
    if not can(user, "add_exemption") or not can_view_student(session, user, student_id):
        raise PermissionError("you may not add exemptions for this student")
    if reason not in EXEMPTION_REASONS:
        raise ValueError(f"reason must be one of {', '.join(EXEMPTION_REASONS)}")
    if end < start:
        raise ValueError("the exemption ends before it starts")
    exemption = Exemption(
        student_id=student_id,
        reason=reason,
        start=start,
        end=end,
        note=(note or "").strip() or None,
        created_by=user.username,
        created_at=datetime.now(),
    )
    session.add(exemption)
    session.commit()
    return exemption


# --- data (admin, aggregate only) -----------------------------------------------------------------


def loads_frame(session: Session, *, limit: int = 500) -> pd.DataFrame:
    """Load history with provenance, newest first."""
    columns = [
        "id",
        "source",
        "file_name",
        "content_hash",
        "loaded_at",
        "loaded_by",
        "rows_read",
        "rows_loaded",
        "rows_rejected",
        "students",
        "status",
        "first_date",
        "last_date",
        "message",
    ]
    rows = session.execute(
        select(*(getattr(Load, c) for c in columns)).order_by(Load.id.desc()).limit(limit)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def quarantined_rows(session: Session, load_id: int, *, limit: int = 1000) -> pd.DataFrame:
    """The bad rows kept aside by one load (row number, column, problem)."""
    rows = session.execute(
        select(QuarantinedRow.row_number, QuarantinedRow.column, QuarantinedRow.problem)
        .where(QuarantinedRow.load_id == load_id)
        .order_by(QuarantinedRow.row_number)
        .limit(limit)
    ).all()
    return pd.DataFrame(rows, columns=["row", "column", "problem"])


def coverage_frame(session: Session) -> pd.DataFrame:
    """Activity rows per source per week (so a missing export stands out)."""
    rows = session.execute(
        select(DailyActivity.day, DailyActivity.source, func.count()).group_by(
            DailyActivity.day, DailyActivity.source
        )
    ).all()
    frame = pd.DataFrame(rows, columns=["day", "source", "rows"])
    if frame.empty:
        return pd.DataFrame(columns=["week_start", "source", "rows"])
    day = pd.to_datetime(frame["day"])
    frame["week_start"] = (day - pd.to_timedelta(day.dt.weekday, unit="D")).dt.date
    return frame.groupby(["week_start", "source"], as_index=False)["rows"].sum()


def file_head(path, lines: int = 8, width: int = 300) -> str:
    """The first lines of an uploaded file as text (any of the encodings the loaders accept)."""
    from pathlib import Path

    from lib.ingest.errors import IngestError
    from lib.ingest.readers import decode_bytes, normalise_newlines

    path = Path(path)
    try:
        text, encoding = decode_bytes(path.read_bytes()[:200_000], path.name)
    except IngestError as exc:
        return str(exc)
    except UnicodeDecodeError:  # a multi-byte character cut at the sample's end
        text, encoding = decode_bytes(path.read_bytes(), path.name)
    head = normalise_newlines(text).split("\n")[:lines]
    return f"({encoding})\n" + "\n".join(line[:width] for line in head)


CALENDAR_KINDS = ("term", "vacation", "reading_week", "exam", "bank_holiday")


def add_calendar_period(
    session: Session, user: User, *, kind: str, start: date, end: date, label: str | None = None
) -> CalendarPeriod:
    """Add one period to the term calendar (admins); an identical period is not added twice."""
    if not can(user, "edit_calendar"):
        raise PermissionError("you may not change the term calendar")
    if kind not in CALENDAR_KINDS:
        raise ValueError(f"kind must be one of {', '.join(CALENDAR_KINDS)}")
    if end < start:
        raise ValueError("the period ends before it starts")
    period = session.scalar(
        select(CalendarPeriod).where(
            CalendarPeriod.kind == kind, CalendarPeriod.start == start, CalendarPeriod.end == end
        )
    )
    if period is None:
        period = CalendarPeriod(kind=kind, start=start, end=end)
        session.add(period)
    period.label = (label or "").strip() or None
    session.commit()
    return period


def users_frame(session: Session) -> pd.DataFrame:
    """Staff users with role and scope (never password hashes)."""
    columns = [
        "username",
        "display_name",
        "email",
        "role",
        "school",
        "years",
        "active",
        "locked_until",
    ]
    rows = session.execute(
        select(*(getattr(StaffUser, c) for c in columns)).order_by(StaffUser.username)
    ).all()
    return pd.DataFrame(rows, columns=columns)


def cohort_csv(session: Session, user: User, f: CohortFilters) -> bytes:
    """The filtered students as CSV; the export is written to the access log with every id."""
    from lib.audit import log_access

    if not can(user, "export_csv"):
        raise PermissionError("you may not export student data")
    frame = cohort_export(session, user, f)
    ids = frame["student_id"].tolist() if "student_id" in frame else []
    log_access(session, user, f"cohort export ({describe(f)})", ids, action="export")
    return frame.to_csv(index=False).encode("utf-8")
