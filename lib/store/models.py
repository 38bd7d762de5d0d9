"""SQLAlchemy 2 typed models for the whole domain of the SPEC: people, teaching, activity, results, follow-up."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base for every table."""


# --- provenance -----------------------------------------------------------------------------------


class Load(Base):
    """One file brought into the store: where it came from, who loaded it and what happened."""

    __tablename__ = "loads"
    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    file_name: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    loaded_at: Mapped[datetime] = mapped_column(DateTime)
    loaded_by: Mapped[str] = mapped_column(String(100))
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_loaded: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    students: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(30))  # loaded | loaded_with_quarantine
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)
    message: Mapped[str | None] = mapped_column(Text)


class QuarantinedRow(Base):
    """A bad row kept aside (never silently dropped) when an admin loads a file without its bad rows."""

    __tablename__ = "quarantined_rows"
    id: Mapped[int] = mapped_column(primary_key=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id"), index=True)
    row_number: Mapped[int] = mapped_column(Integer)
    column: Mapped[str | None] = mapped_column(String(100))
    problem: Mapped[str] = mapped_column(Text)
    raw: Mapped[str | None] = mapped_column(Text)
    # harden (#13): the student the bad row names, when it names one (subject access requests)
    student_id: Mapped[str | None] = mapped_column(String(20), index=True)


# --- people ---------------------------------------------------------------------------------------


class Student(Base):
    """A student as the student record system describes them (never grades)."""

    __tablename__ = "students"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200), index=True)
    personal_email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    course_code: Mapped[str] = mapped_column(String(40), index=True)
    course_name: Mapped[str] = mapped_column(String(200))
    school: Mapped[str] = mapped_column(String(100), index=True)
    level: Mapped[str] = mapped_column(String(8))  # UG | PGT
    year_of_study: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(4))  # FT | PT
    tutor_username: Mapped[str | None] = mapped_column(String(100), index=True)
    visa_sponsored: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    residence: Mapped[str] = mapped_column(String(20))  # on_campus | off_campus
    status: Mapped[str] = mapped_column(String(40))
    start_date: Mapped[date | None] = mapped_column(Date)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))
    status_date: Mapped[date | None] = mapped_column(Date)  # detect: when `status` took effect


class StaffUser(Base):
    """A member of staff who may log in, with one role and, for senior tutors, a scope."""

    __tablename__ = "staff_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(200), index=True)
    role: Mapped[str] = mapped_column(String(20))  # tutor|senior_tutor|wellbeing|visa|admin
    is_dashboard_manager: Mapped[bool] = mapped_column(Boolean, default=False)
    school: Mapped[str | None] = mapped_column(String(100))
    years: Mapped[str | None] = mapped_column(String(50))  # comma list of years of study, or None
    password_hash: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # --- mail wing (migration 0010): opted in to the weekly digest e-mail (`users add --digest`)
    digest: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


# --- teaching -------------------------------------------------------------------------------------


class Module(Base):
    """A taught module (course unit)."""

    __tablename__ = "modules"
    module_code: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    school: Mapped[str | None] = mapped_column(String(100))


class Enrolment(Base):
    """A student taking a module in an academic year (first calendar year)."""

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("student_id", "module_code", "academic_year"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    module_code: Mapped[str] = mapped_column(String(40), index=True)
    academic_year: Mapped[int] = mapped_column(Integer)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


class TimetableEvent(Base):
    """A scheduled teaching session: an expected contact point for the students expected at it."""

    __tablename__ = "timetable_events"
    event_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    module_code: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(20))  # lecture|seminar|lab|tutorial|workshop
    title: Mapped[str | None] = mapped_column(String(300))
    start_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(DateTime)
    location: Mapped[str | None] = mapped_column(String(100))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    explicit_list: Mapped[bool] = mapped_column(Boolean, default=False)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


class EventExpectedStudent(Base):
    """An explicit student–event expectation (otherwise expectation comes from module enrolment)."""

    __tablename__ = "event_expected_students"
    event_id: Mapped[str] = mapped_column(ForeignKey("timetable_events.event_id"), primary_key=True)
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


class CalendarPeriod(Base):
    """A dated period of the term calendar: term, vacation, reading_week, exam or bank_holiday."""

    __tablename__ = "calendar_periods"
    __table_args__ = (UniqueConstraint("kind", "start", "end"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    label: Mapped[str | None] = mapped_column(String(200))
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


class Exemption(Base):
    """A documented reason (illness, approved leave, placement, interruption) covering a date range."""

    __tablename__ = "exemptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    reason: Mapped[str] = mapped_column(String(40))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


# --- activity (daily aggregates, never raw log lines) ---------------------------------------------


class DailyActivity(Base):
    """One student's activity from one source on one day (and module, '' when none)."""

    __tablename__ = "daily_activity"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    module_code: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    quantity: Mapped[float] = mapped_column(Float, default=0.0)
    minutes: Mapped[float | None] = mapped_column(Float)
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id"))

    # (load_id, day): the earliest day changed by recent loads is read from the index alone
    __table_args__ = (
        Index("ix_daily_activity_day_source", "day", "source"),
        Index("ix_daily_activity_load_id_day", "load_id", "day"),
    )


class WeeklyActivity(Base):
    """One week of daily activity summed as the engine reads it (lib.compute.totals): compute
    folds in the weeks recent loads changed, so it never re-reads every daily row."""

    __tablename__ = "weekly_activity"
    week: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # week number
    load_id: Mapped[int] = mapped_column(Integer)  # the newest load id when the week was folded
    rows: Mapped[int] = mapped_column(Integer)  # daily rows summed
    data: Mapped[bytes] = mapped_column(LargeBinary)  # .npz of the weekly rate and count rows


class Attendance(Base):
    """A student seen at a timetabled event (QR scan or Teams), with whether they were expected."""

    __tablename__ = "attendance"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(60), primary_key=True, index=True)
    source: Mapped[str] = mapped_column(String(20), primary_key=True)  # attendance | online
    first_seen: Mapped[datetime] = mapped_column(DateTime)
    minutes: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[bool] = mapped_column(Boolean, default=True)
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id"), index=True)


class Submission(Base):
    """A student's submission for one assignment due: submitted when, and on time, late or missing."""

    __tablename__ = "submissions"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    assignment_id: Mapped[str] = mapped_column(String(60), primary_key=True)
    module_code: Mapped[str | None] = mapped_column(String(40))
    due_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(12))  # on_time | late | missing
    load_id: Mapped[int] = mapped_column(ForeignKey("loads.id"))

    __table_args__ = (Index("ix_submissions_load_id_due_at", "load_id", "due_at"),)


class MoodleUser(Base):
    """Moodle user export row mapping a Moodle user to a student id (idnumber)."""

    __tablename__ = "moodle_users"
    moodle_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(100))
    student_id: Mapped[str | None] = mapped_column(String(20), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str | None] = mapped_column(String(200), index=True)
    load_id: Mapped[int | None] = mapped_column(ForeignKey("loads.id"))


# --- engine results -------------------------------------------------------------------------------


class WeeklyMeasure(Base):
    """A student's measures in one week, one row for the engine index and every core source
    (lib.store.measures reads it back as one row per source), with baselines and their spread.

    A source's columns hold a value only when its bit in `measured` is set (the student had
    activity or expected counts in it by that week); its cold start is the same bit in `cold`
    (bits in the order of lib.store.measures.WIDE_SOURCES). The low and high of a baseline are
    max(baseline - 2 spread, 0) and baseline + 2 spread. Other sources: WeeklyMeasureOther."""

    __tablename__ = "weekly_measures"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    # results versions (migration 0009, lib.store.results_version): a compute writes its rows
    # under a new version in short transactions; readers see only the current version's rows
    v_from: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, server_default="0")
    v_to: Mapped[int | None] = mapped_column(Integer)  # the version that replaced the row
    teaching: Mapped[bool] = mapped_column(Boolean, default=True)
    measured: Mapped[int] = mapped_column(Integer, default=0)  # bit per source with a measure
    cold: Mapped[int] = mapped_column(Integer, default=0)  # bit per source in cold start
    index_value: Mapped[float | None] = mapped_column(Float)
    index_baseline: Mapped[float | None] = mapped_column(Float)
    index_spread: Mapped[float | None] = mapped_column(Float)
    attendance_value: Mapped[float | None] = mapped_column(Float)
    attendance_expected: Mapped[float | None] = mapped_column(Float)  # sessions timetabled
    attendance_baseline: Mapped[float | None] = mapped_column(Float)
    attendance_spread: Mapped[float | None] = mapped_column(Float)
    online_value: Mapped[float | None] = mapped_column(Float)
    online_expected: Mapped[float | None] = mapped_column(Float)
    online_baseline: Mapped[float | None] = mapped_column(Float)
    online_spread: Mapped[float | None] = mapped_column(Float)
    vle_value: Mapped[float | None] = mapped_column(Float)
    vle_baseline: Mapped[float | None] = mapped_column(Float)
    vle_spread: Mapped[float | None] = mapped_column(Float)
    submission_value: Mapped[float | None] = mapped_column(Float)
    submission_expected: Mapped[float | None] = mapped_column(Float)  # submissions due
    submission_baseline: Mapped[float | None] = mapped_column(Float)
    submission_spread: Mapped[float | None] = mapped_column(Float)
    lecture_capture_value: Mapped[float | None] = mapped_column(Float)
    lecture_capture_baseline: Mapped[float | None] = mapped_column(Float)
    lecture_capture_spread: Mapped[float | None] = mapped_column(Float)

    # (migration 0016) the rows replaced (few) found without reading the whole table
    __table_args__ = (
        Index(
            "ix_weekly_measures_v_to",
            "v_to",
            sqlite_where=text("v_to IS NOT NULL"),
            postgresql_where=text("v_to IS NOT NULL"),
        ),
    )


class WeeklyMeasureOther(Base):
    """A student's measure in one week for a source without columns in WeeklyMeasure (any other
    word of the canonical events), under the same results versions (migration 0017)."""

    __tablename__ = "weekly_measures_other"
    student_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    source: Mapped[str] = mapped_column(String(40), primary_key=True)
    v_from: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, server_default="0")
    v_to: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[float | None] = mapped_column(Float)
    expected: Mapped[float | None] = mapped_column(Float)
    baseline: Mapped[float | None] = mapped_column(Float)
    spread: Mapped[float | None] = mapped_column(Float)
    cold_start: Mapped[bool] = mapped_column(Boolean, default=False)
    teaching: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        Index(
            "ix_weekly_measures_other_v_to",
            "v_to",
            sqlite_where=text("v_to IS NOT NULL"),
            postgresql_where=text("v_to IS NOT NULL"),
        ),
    )


class Flag(Base):
    """A significant change against a student's own baseline, or a rule breach, with an explanation."""

    __tablename__ = "flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(String(20), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))  # low | medium | high
    week_start: Mapped[date] = mapped_column(Date, index=True)
    ended_week: Mapped[date | None] = mapped_column(Date)  # week engagement returned to baseline
    explanation: Mapped[str] = mapped_column(Text)
    recovery_explanation: Mapped[str | None] = mapped_column(Text)
    computed_at: Mapped[datetime] = mapped_column(DateTime)


class DataQualityEvent(Base):
    """A systemic drop (outage, cancelled session) affecting a module's or source's students."""

    __tablename__ = "data_quality_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    week_start: Mapped[date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(String(40))
    module_code: Mapped[str | None] = mapped_column(String(40))
    share_affected: Mapped[float] = mapped_column(Float)
    students_affected: Mapped[int] = mapped_column(Integer)
    explanation: Mapped[str] = mapped_column(Text)


class Setting(Base):
    """A configurable value (engine thresholds, compliance policy, retention) stored as JSON."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[dict | list | str | int | float | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class EngineSnapshot(Base):
    """The engine's state after one of the last computed weeks (lib.engagement.snapshot): a load
    changing only that week's successors resumes from it instead of recomputing every week."""

    __tablename__ = "engine_snapshots"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)  # the week's Monday, ISO
    version: Mapped[int] = mapped_column(Integer)  # the engine state version that saved it
    saved_at: Mapped[datetime] = mapped_column(DateTime)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ResultVersion(Base):
    """The one row naming the weekly measures readers see (lib.store.results_version): rows
    written from `base` on, up to `current`, and not replaced by `current`."""

    __tablename__ = "result_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    current: Mapped[int] = mapped_column(Integer)
    base: Mapped[int] = mapped_column(Integer)
    # (migration 0016) the version a compute is writing, until it is published: a compute
    # finding one above `current` clears the rows a killed compute left
    writing: Mapped[int | None] = mapped_column(Integer)


# --- follow-up: cases, compliance, withdrawal review, subject access -------------------------------


class Case(Base):
    """A welfare case for a student, worked up the contact-and-escalation ladder (SPEC §5)."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    flag_id: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    owner_username: Mapped[str] = mapped_column(String(100), index=True)
    # the owner it was opened with (migration 0015): who owned it before a hand-over, for `--as-of`
    first_owner: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))  # open|escalated|referred|emergency|closed
    ladder_step: Mapped[int] = mapped_column(Integer, default=1)
    referral_team: Mapped[str | None] = mapped_column(String(60))
    # --- cases wing (migration 0004): derived from the entries (lib.cases.queries.derive_cases), kept
    # so the worklists filter in SQL; `revision` is bumped first in every write (the case's lock).
    track: Mapped[str] = mapped_column(String(10), default="welfare", server_default="welfare")
    next_action: Mapped[str | None] = mapped_column(Text)
    next_due: Mapped[date | None] = mapped_column(Date, index=True)
    last_entry_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_by: Mapped[str | None] = mapped_column(String(100))
    close_outcome: Mapped[str | None] = mapped_column(String(30))
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        Index("ix_cases_student_id_track", "student_id", "track"),
        # one case per student and track that is not closed, even when two staff open it at once
        Index(
            "uq_cases_one_open_per_track",
            "student_id",
            "track",
            unique=True,
            sqlite_where=text("state <> 'closed'"),
            postgresql_where=text("state <> 'closed'"),
        ),
    )


class CaseEntry(Base):
    """An append-only entry on a case: a contact attempt, hand-over, referral, decision or correction."""

    __tablename__ = "case_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(
        String(30)
    )  # contact|handover|referral|emergency_decision|state|correction
    contacted_at: Mapped[datetime | None] = mapped_column(DateTime)
    channel: Mapped[str | None] = mapped_column(String(40))
    outcome: Mapped[str | None] = mapped_column(String(60))
    note: Mapped[str | None] = mapped_column(Text)
    next_action: Mapped[str | None] = mapped_column(Text)
    next_due: Mapped[date | None] = mapped_column(Date)
    authorised_by: Mapped[str | None] = mapped_column(String(100))
    corrects_entry_id: Mapped[int | None] = mapped_column(Integer)
    # --- cases wing (migration 0004); kinds: open|contact|handover|referral|emergency_decision|
    # close|reopen|correction. Never updated or deleted (append-only triggers, migration 0003).
    step: Mapped[int | None] = mapped_column(Integer)  # the ladder step (SPEC §5) of this entry
    staff_username: Mapped[str | None] = mapped_column(String(100))  # who made the contact
    team: Mapped[str | None] = mapped_column(String(60))  # referral team
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    load_id: Mapped[int | None] = mapped_column(Integer, index=True)  # ingest contacts provenance


class ComplianceRecord(Base):
    """A sponsored student's compliance status change, visa-team contact or UKVI report (append-only)."""

    __tablename__ = "compliance_records"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # status | contact | report | authorised_absence
    status: Mapped[str | None] = mapped_column(String(30))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    recorded_by: Mapped[str] = mapped_column(String(100))
    threshold_date: Mapped[date | None] = mapped_column(Date)
    report_due: Mapped[date | None] = mapped_column(Date)
    reported_on: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    # --- compliance wing: the day the record takes effect (a withdrawal's date) ---
    effective_on: Mapped[date | None] = mapped_column(Date)


class WithdrawalReviewDecision(Base):
    """A reviewer's decision on one student in the termly assumed-withdrawal review."""

    __tablename__ = "withdrawal_review_decisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    term_label: Mapped[str] = mapped_column(String(60), index=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    decision: Mapped[str] = mapped_column(String(30))  # no_action | contact | start_withdrawal
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    last_engagement: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)


class SubjectAccessRequest(Base):
    """A student's request for a copy of their data, and its fulfilment (with the tutor's copy)."""

    __tablename__ = "subject_access_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[str] = mapped_column(ForeignKey("students.student_id"), index=True)
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    logged_by: Mapped[str] = mapped_column(String(100))
    fulfilled_on: Mapped[date | None] = mapped_column(Date)
    fulfilled_by: Mapped[str | None] = mapped_column(String(100))
    tutor_copy_to: Mapped[str | None] = mapped_column(String(100))


class AccessLogEntry(Base):
    """Append-only record of who viewed or exported which students' data, when and how."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(30))  # view | export | sar | login | ...
    what: Mapped[str] = mapped_column(String(200))  # page or export name, with its filters
    student_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    student_count: Mapped[int] = mapped_column(Integer, default=0)


# --- secure: login sessions and the login backoff ---------------------------------------------------


class LoginSession(Base):
    """A server-side login session: the cookie names it, every run checks it, logout revokes it."""

    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the cookie's id
    username: Mapped[str] = mapped_column(String(100), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginThrottle(Base):
    """Failed logins of one account or one client, and until when its next attempt must wait."""

    __tablename__ = "login_throttle"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # account:NAME | client:ADDRESS
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(DateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(DateTime)


# --- detect: the learned withdrawal-risk ranking (lib/risk) -----------------------------------------


class RiskModel(Base):
    """A trained withdrawal-risk model: its coefficients (JSON, no pickle), training window and the
    held-out year's scores against the rule-based order; used only when it beats that order."""

    __tablename__ = "risk_models"
    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    trained_at: Mapped[datetime] = mapped_column(DateTime)
    trained_by: Mapped[str] = mapped_column(String(100))
    train_years: Mapped[str] = mapped_column(String(100))  # e.g. "2023,2024"
    test_year: Mapped[int] = mapped_column(Integer)
    weeks: Mapped[int] = mapped_column(Integer)  # teaching weeks of each year the features cover
    in_use: Mapped[bool] = mapped_column(Boolean)
    scores: Mapped[dict] = mapped_column(JSON)
    model: Mapped[dict] = mapped_column(JSON)
