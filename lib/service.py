"""Store <-> engagement engine: read loaded data, compute, persist measures/flags/DQ events, read flags."""

from __future__ import annotations

import copy
import time
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import Integer, case, cast, delete, distinct, extract, func, literal_column, select
from sqlalchemy.orm import Session

from lib.engagement.config import DEFAULTS, config_hash, merge_config, parse_assignments
from lib.engagement.engine import run
from lib.engagement.explain import dq_frame, measures_frame, sources_used
from lib.engagement.explain import flags_frame as engine_flags
from lib.engagement.measures import Inputs, build_inputs
from lib.engagement.weekly import (
    COUNT_COLUMNS,
    EXPECTED_COLUMNS,
    RATE_COLUMNS,
    RATE_SOURCES,
    SUBMISSION_COLUMNS,
)
from lib.ingest.store import bulk_upsert, expected_students_frame, timetable_frame
from lib.models import (
    CalendarPeriod,
    DailyActivity,
    DataQualityEvent,
    Enrolment,
    EventExpectedStudent,
    Exemption,
    Flag,
    Load,
    Setting,
    Student,
    Submission,
    TimetableEvent,
    WeeklyMeasure,
)

CONFIG_KEY = "engine_config"
STATE_KEY = "engine_state"
# Loads of these sources change who is expected where and when: recompute everything.
STRUCTURAL_SOURCES = {"students", "enrolments", "calendar", "timetable"}
MEASURE_CHUNK_STUDENTS = 2000
FLAG_COLUMNS = ["student_id", "week_start", "kind", "severity", "explanation"]


# --- configuration ---------------------------------------------------------------------------------


def _setting(session: Session, key: str):
    row = session.get(Setting, key)
    return row.value if row is not None else None


def _put_setting(session: Session, key: str, value, updated_by: str) -> None:
    row = session.get(Setting, key)
    now = datetime.now().replace(microsecond=0)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=now, updated_by=updated_by))
    else:
        row.value, row.updated_at, row.updated_by = value, now, updated_by
    session.flush()


def load_engine_config(session: Session) -> dict:
    """The engine configuration: documented defaults (lib.engagement.config) with stored overrides."""
    return merge_config(_setting(session, CONFIG_KEY))


def save_engine_config(session: Session, values: dict, updated_by: str) -> None:
    """Store the values that differ from the defaults (validated); the next compute is full."""
    merged = merge_config(values)
    overrides = {k: v for k, v in merged.items() if v != DEFAULTS[k]}
    _put_setting(session, CONFIG_KEY, overrides, updated_by)


def set_engine_config(session: Session, assignments: list[str], updated_by: str) -> dict:
    """Apply KEY=VALUE words over the stored overrides (validated, nothing stored when one is
    refused), save them and recompute everything; returns the changed settings and the summary."""
    before = load_engine_config(session)
    stored = copy.deepcopy(_setting(session, CONFIG_KEY) or {})
    for key, value in parse_assignments(assignments).items():
        if isinstance(value, dict):
            stored[key] = {**stored.get(key, {}), **value}
        else:
            stored[key] = value
    save_engine_config(session, stored, updated_by)
    after = load_engine_config(session)
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    return {"changed": changed, "compute": compute(session, full=True)}


# --- reading the store -----------------------------------------------------------------------------


def _frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, built column by column (much faster than from Row objects)."""
    rows = session.connection().execute(statement).fetchall()
    if not rows:
        return pd.DataFrame(columns=columns)
    return pd.DataFrame({c: list(v) for c, v in zip(columns, zip(*rows, strict=True), strict=True)})


def _raw_frame(session: Session, statement, columns: list[str]) -> pd.DataFrame:
    """Rows of a Core select as a frame, fetched through the driver's cursor (parameters bound by
    the driver) and built from plain tuples: several times faster than Row objects for big reads."""
    conn = session.connection()
    compiled = statement.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
    params = compiled.params
    if compiled.positional:
        params = tuple(params[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return pd.DataFrame.from_records(rows, columns=columns, nrows=len(rows))


def _epoch_day_sql(column: str, dialect: str) -> str:
    """SQL for the days since 1970-01-01 of a date or date-time column (static text, no values)."""
    if dialect == "sqlite":
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"
    return f"(CAST({column} AS DATE) - DATE '1970-01-01')"


def _week_sql(column: str, dialect: str):
    """The Monday-start week number of a column (lib.engagement.weekly.week_number) in SQL."""
    return literal_column(f"(({_epoch_day_sql(column, dialect)} + 3) / 7)", Integer)


def _weekly_activity(session: Session, dialect: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily activity summed per (student, source, module, week) for attendance/online and per
    (student, source, week) with active days and last active day for every other source."""
    a = DailyActivity
    week = _week_sql("daily_activity.day", dialect).label("week")
    positive = a.quantity > 0
    pday = case((positive, literal_column(_epoch_day_sql("daily_activity.day", dialect))))
    rate = _raw_frame(
        session,
        select(a.student_id, a.source, a.module_code, week, func.sum(a.quantity))
        .where(a.source.in_(RATE_SOURCES))
        .group_by(a.student_id, a.source, a.module_code, week),
        RATE_COLUMNS,
    )
    count = _raw_frame(
        session,
        select(
            a.student_id,
            a.source,
            week,
            func.sum(a.quantity),
            func.sum(case((positive, a.quantity), else_=0.0)),
            func.count(distinct(pday)),
            func.sum(a.minutes),
            func.max(pday),
        )
        .where(a.source.not_in(RATE_SOURCES))
        .group_by(a.student_id, a.source, week),
        COUNT_COLUMNS,
    )
    return rate, count


def _weekly_expected(session: Session, dialect: str) -> pd.DataFrame:
    """Expected sessions per (student, module, week, online): an event's explicit list, else the
    cohort enrolled on its module in the event's academic year (as expected_students_frame). The
    cohort side is counted per module week in SQL and spread over the enrolments in pandas (a join
    in SQL would carry one row per student and session)."""
    te, ees, en = TimetableEvent, EventExpectedStudent, Enrolment
    week = _week_sql("timetable_events.start_at", dialect).label("week")
    explicit = _raw_frame(
        session,
        select(ees.student_id, te.module_code, week, te.online, func.count())
        .join(te, te.event_id == ees.event_id)
        .group_by(ees.student_id, te.module_code, week, te.online),
        EXPECTED_COLUMNS,
    )
    year = extract("year", te.start_at) - case((extract("month", te.start_at) < 9, 1), else_=0)
    year = cast(year, Integer).label("academic_year")
    sessions = _raw_frame(
        session,
        select(te.module_code, year, week, te.online, func.count())
        .where(te.explicit_list.is_not(True))
        .group_by(te.module_code, year, week, te.online),
        ["module_code", "academic_year", "week", "online", "sessions"],
    )
    enrolled = _raw_frame(
        session,
        select(en.student_id, en.module_code, en.academic_year),
        ["student_id", "module_code", "academic_year"],
    )
    sessions["academic_year"] = sessions["academic_year"].astype(np.int64)
    enrolled["academic_year"] = enrolled["academic_year"].astype(np.int64)
    cohort = enrolled.merge(sessions, on=["module_code", "academic_year"])[EXPECTED_COLUMNS]
    return pd.concat([explicit, cohort], ignore_index=True)


def _weekly_submissions(session: Session, dialect: str) -> pd.DataFrame:
    """Submissions due, on time and missing per (student, week due)."""
    sub = Submission
    week = _week_sql("submissions.due_at", dialect).label("week")
    return _raw_frame(
        session,
        select(
            sub.student_id,
            week,
            func.count(),
            func.sum(case((sub.status == "on_time", 1), else_=0)),
            func.sum(case((sub.status == "missing", 1), else_=0)),
        ).group_by(sub.student_id, week),
        SUBMISSION_COLUMNS,
    )


def read_frames(session: Session) -> dict:
    """Everything loaded, as the weekly frames `build_inputs` takes (keyword names match): the store
    aggregates days to weeks (GROUP BY), so only weekly rows cross into Python."""
    dialect = session.get_bind().dialect.name
    students = pd.Index(session.scalars(select(Student.student_id).order_by(Student.student_id)))
    calendar = _frame(
        session,
        select(CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end),
        ["kind", "start", "end"],
    )
    exemptions = _frame(
        session,
        select(Exemption.student_id, Exemption.start, Exemption.end),
        ["student_id", "start", "end"],
    )
    return {
        "students": students,
        "activity": _weekly_activity(session, dialect),
        "expected": _weekly_expected(session, dialect),
        "submissions": _weekly_submissions(session, dialect),
        "calendar": calendar,
        "exemptions": exemptions,
        "horizon": session.scalar(select(func.max(DailyActivity.day))),
    }


def read_daily_frames(session: Session) -> dict:
    """Everything loaded as daily long frames (one row per day / expected session / submission):
    the slow reference form, for benchmarks and the equivalence test of `read_frames`."""
    frames = read_frames(session)
    frames.pop("horizon")
    frames["activity"] = _frame(
        session,
        select(
            DailyActivity.student_id,
            DailyActivity.source,
            DailyActivity.day,
            DailyActivity.module_code,
            DailyActivity.quantity,
            DailyActivity.minutes,
        ),
        ["student_id", "source", "day", "module_code", "quantity", "minutes"],
    )
    pairs = expected_students_frame(session)
    events = timetable_frame(session)[["event_id", "module_code", "start_at", "online"]]
    expected = pairs.merge(events, on="event_id")
    frames["expected"] = expected.assign(day=pd.to_datetime(expected["start_at"]).dt.normalize())[
        ["student_id", "module_code", "day", "online"]
    ]
    frames["submissions"] = _frame(
        session,
        select(Submission.student_id, Submission.due_at, Submission.status),
        ["student_id", "due_at", "status"],
    )
    return frames


def read_inputs(session: Session, config: dict) -> Inputs:
    """Everything loaded, as engine inputs."""
    return build_inputs(**read_frames(session), config=config)


def _touch(touched: dict, rows) -> None:
    """Merge (student, earliest day) rows into touched (None: every week of that student)."""
    for student, day in rows:
        day = day.date() if isinstance(day, datetime) else day
        known = touched.get(student, date.max)
        if student not in touched or (known is not None and (day is None or day < known)):
            touched[student] = day


def _changes(session: Session, state: dict) -> tuple[bool, dict, int, int]:
    """(needs full, {student touched: earliest day touched, None for every week}, newest load id,
    newest exemption id) since the last compute."""
    last_load = session.scalar(select(func.max(Load.id))) or 0
    last_ex = session.scalar(select(func.max(Exemption.id))) or 0
    since = int(state.get("load_id", 0))
    sources = set(session.scalars(select(Load.source).where(Load.id > since)))
    if sources & STRUCTURAL_SOURCES:
        return True, {}, last_load, last_ex
    touched: dict = {}
    for model, day in ((DailyActivity, DailyActivity.day), (Submission, Submission.due_at)):
        query = select(model.student_id, func.min(day)).where(model.load_id > since)
        _touch(touched, session.execute(query.group_by(model.student_id)).all())
    exempted = (Exemption.load_id > since) | (Exemption.id > int(state.get("exemption_id", 0)))
    _touch(
        touched, ((s, None) for s in session.scalars(select(Exemption.student_id).where(exempted)))
    )
    return False, touched, last_load, last_ex


# --- writing results -------------------------------------------------------------------------------


def _write_measures(session: Session, frame: pd.DataFrame) -> int:
    frame = frame.assign(week_start=frame["week_start"].to_numpy("datetime64[D]").astype(str))
    return bulk_upsert(
        session, WeeklyMeasure.__table__, frame, ["student_id", "week_start", "source"]
    )


def _delete_for(session: Session, model, students: list[str] | None) -> None:
    if students is None:
        session.execute(delete(model))
        return
    for i in range(0, len(students), 500):
        session.execute(delete(model).where(model.student_id.in_(students[i : i + 500])))


def _write_flags(session: Session, flags: pd.DataFrame, students: list[str] | None) -> dict:
    """Replace flags (of these students), keeping the ids of unchanged flags (cases point at them)."""
    query = select(Flag.id, Flag.student_id, Flag.kind, Flag.week_start, Flag.explanation)
    if students is not None:
        stored = pd.concat(
            [
                _frame(
                    session,
                    query.where(Flag.student_id.in_(students[i : i + 500])),
                    ["id", "student_id", "kind", "week_start", "explanation"],
                )
                for i in range(0, max(len(students), 1), 500)
            ],
            ignore_index=True,
        )
    else:
        stored = _frame(session, query, ["id", "student_id", "kind", "week_start", "explanation"])
    keys = ["student_id", "kind", "week_start", "explanation"]
    merged = flags.merge(stored, on=keys, how="outer", indicator=True)
    gone = merged.loc[merged["_merge"] == "right_only", "id"].astype(int).tolist()
    for i in range(0, len(gone), 500):
        session.execute(delete(Flag).where(Flag.id.in_(gone[i : i + 500])))
    now = datetime.now().replace(microsecond=0)
    kept = merged[merged["_merge"] == "both"]
    for row in kept.itertuples(index=False):  # only flags that already existed (few)
        flag = session.get(Flag, int(row.id))
        ended = row.ended_week if isinstance(row.ended_week, date) else None
        recovery = row.recovery_explanation if isinstance(row.recovery_explanation, str) else None
        if (
            flag.ended_week != ended
            or flag.recovery_explanation != recovery
            or flag.severity != row.severity
        ):
            flag.ended_week, flag.recovery_explanation = ended, recovery
            flag.severity, flag.computed_at = row.severity, now
    new = merged[merged["_merge"] == "left_only"]
    session.add_all(
        Flag(
            student_id=r.student_id,
            kind=r.kind,
            severity=r.severity,
            week_start=r.week_start,
            ended_week=r.ended_week if isinstance(r.ended_week, date) else None,
            explanation=r.explanation,
            recovery_explanation=r.recovery_explanation
            if isinstance(r.recovery_explanation, str)
            else None,
            computed_at=now,
        )
        for r in new.itertuples(index=False)
    )
    session.flush()
    return {"flags_new": len(new), "flags_removed": len(gone)}


def _write_dq(session: Session, dq: pd.DataFrame) -> None:
    session.execute(delete(DataQualityEvent))
    session.add_all(
        DataQualityEvent(
            week_start=r.week_start,
            source=r.source,
            module_code=r.module_code if isinstance(r.module_code, str) else None,
            share_affected=float(r.share_affected),
            students_affected=int(r.students_affected),
            explanation=r.explanation,
        )
        for r in dq.itertuples(index=False)
    )
    session.flush()


def _stored_dq(session: Session) -> set:
    rows = session.execute(
        select(DataQualityEvent.week_start, DataQualityEvent.source, DataQualityEvent.module_code)
    ).all()
    return {(w, s, m if isinstance(m, str) and m else None) for w, s, m in rows}


# --- the public contract ---------------------------------------------------------------------------


def _timetable_flips(inp: Inputs, old_weeks: int) -> bool:
    """Whether any student's attendance/online is measured differently over the old weeks alone
    (by rate with a timetable, by sessions attended without one) than over all weeks."""
    for k, source in enumerate(inp.sources):
        if source in RATE_SOURCES and len(inp.weeks):
            now = ~np.isnan(inp.expected[:, 0, k])
            before = (np.nan_to_num(inp.expected[:, :old_weeks, k]) > 0).any(1)
            if (now != before).any():
                return True
    return False


def _priors(inp: Inputs, res) -> dict:
    """The cohort prior of every week per source, as stored with the engine state."""
    return {"sources": list(inp.sources), "weeks": np.round(res.prior, 12).tolist()}


def _priors_moved(inp: Inputs, res, stored: dict | None) -> bool:
    """Whether the cohort prior (the cold-start baseline of everyone) of a week computed before
    changed (a touched student's earlier weeks can move it); unknown counts as moved."""
    if not stored or not stored.get("weeks"):
        return True
    old = np.array(stored["weeks"], float)
    now = np.round(res.prior[: len(old)], 12)
    if len(old) > len(now):
        return True
    for k_old, source in enumerate(stored["sources"]):
        if source not in inp.sources:
            return True
        if not np.array_equal(now[:, inp.sources.index(source)], old[:, k_old], equal_nan=True):
            return True
    return False


def _full_reason(inp: Inputs, res, state: dict, full: bool, dq_changed: bool) -> str | None:
    """Why everything must be rewritten (None when a partial write is exact)."""
    span = [str(inp.weeks[0]), str(inp.weeks[-1])] if len(inp.weeks) else []
    old = state.get("weeks") or []
    if full:
        return "requested, first compute, configuration or structural load"
    if dq_changed:
        return "a systemic (data-quality) event appeared or vanished"
    if not span or len(old) != 2 or span[0] != old[0] or span[1] < old[1]:
        return "the weeks computed changed other than by new weeks at the end"
    if _priors_moved(inp, res, state.get("priors")):
        return "a week's cohort prior (cold-start baseline) moved"
    old_weeks = int(np.searchsorted(inp.weeks, np.datetime64(old[1]), side="right"))
    if _timetable_flips(inp, old_weeks):
        return "a student's timetable status changed with the new weeks"
    return None


def _plan(
    inp: Inputs, res, state: dict, full: bool, touched: dict, dq_changed: bool
) -> tuple[str, str, list[str] | None, int]:
    """(mode, reason, students whose every week is rewritten (None: everyone), first week
    rewritten for everyone else (len(weeks): none)).

    full: everything. incremental: the touched students only. new_weeks: the data horizon moved
    forward (a weekly load): in full the students touched before the new weeks and those using a
    source for the first time, everyone else only the new weeks; the engine is causal week by week,
    so earlier weeks are unchanged unless a systemic event, a week's cohort prior or a student's
    timetable status changed (then everything is rewritten)."""
    W = len(inp.weeks)
    reason = _full_reason(inp, res, state, full, dq_changed)
    if reason is not None:
        return "full", reason, None, W
    known = set(inp.student_ids)
    if str(inp.weeks[-1]) == state["weeks"][1]:
        return "incremental", "loads touched these students", sorted(set(touched) & known), W
    old_weeks = int(np.searchsorted(inp.weeks, np.datetime64(state["weeks"][1]), side="right"))
    new_from = inp.weeks[old_weeks].item()
    earlier = {s for s, day in touched.items() if day is None or day < new_from} & known
    everyone = np.arange(len(inp.student_ids))
    first_use = (sources_used(inp, everyone) != sources_used(inp, everyone, old_weeks)).any(1)
    students = sorted(earlier | set(inp.student_ids[first_use]))
    return "new_weeks", "the data horizon moved forward", students, old_weeks


def _persist_measures(
    session: Session, inp: Inputs, res, students: list[str] | None, first_week: int
) -> int:
    """Replace the weekly measures of these students (None: everyone) and, for everyone else, of
    the weeks from first_week on; rows built per chunk of students (bounded memory)."""
    W = len(inp.weeks)
    if students is None:
        session.execute(delete(WeeklyMeasure))
        groups = [(np.arange(len(inp.student_ids)), 0)]
    else:
        _delete_for(session, WeeklyMeasure, students)
        groups = [(inp.student_ids.get_indexer(students), 0)]
        if first_week < W:
            session.execute(
                delete(WeeklyMeasure).where(
                    WeeklyMeasure.week_start >= inp.weeks[first_week].item()
                )
            )
            rest = np.setdiff1d(np.arange(len(inp.student_ids)), groups[0][0])
            groups.append((rest, first_week))
    rows = 0
    for sel, first in groups:
        for i in range(0, len(sel), MEASURE_CHUNK_STUDENTS):
            chunk = sel[i : i + MEASURE_CHUNK_STUDENTS]
            rows += _write_measures(session, measures_frame(inp, res, chunk, first))
    return rows


def compute(session: Session, full: bool = False) -> dict:
    """Bring weekly measures, baselines, flags and data-quality events up to date with the store.

    The engine pass is always over everyone in memory (so results equal a full recompute); what is
    written depends on what changed since the last compute (see `_plan`): a change of calendar,
    timetable, enrolments, students, configuration or of the systemic (data-quality) events
    rewrites everything; loads of activity, submissions or exemptions rewrite the students they
    touched, plus the new weeks of everyone when the data horizon moved forward."""
    t0 = time.perf_counter()
    config = load_engine_config(session)
    state = _setting(session, STATE_KEY) or {}
    needs_full, touched, last_load, last_ex = _changes(session, state)
    full = full or needs_full or state.get("config") != config_hash(config)
    if not full and not touched:
        return {"mode": "up_to_date", "seconds": round(time.perf_counter() - t0, 2)}
    inp = read_inputs(session, config)
    t_read = time.perf_counter()
    res = run(inp, config)
    flags = engine_flags(inp, res, config)
    dq = dq_frame(inp, res)
    t_engine = time.perf_counter()
    new_dq = {
        (w, s, m if isinstance(m, str) and m else None)
        for w, s, m in dq[["week_start", "source", "module_code"]].itertuples(index=False)
    }
    dq_changed = not full and new_dq != _stored_dq(session)
    mode, reason, students, first_week = _plan(inp, res, state, full, touched, dq_changed)
    rows = _persist_measures(session, inp, res, students, first_week)
    t_measures = time.perf_counter()
    flag_scope = students if mode == "incremental" else None  # new weeks can end anyone's flag
    flag_rows = flags if flag_scope is None else flags[flags["student_id"].isin(flag_scope)]
    counts = _write_flags(session, flag_rows, flag_scope)
    _write_dq(session, dq)
    span = [str(inp.weeks[0]), str(inp.weeks[-1])] if len(inp.weeks) else []
    version = int(state.get("version", 0)) + 1
    _put_setting(
        session,
        STATE_KEY,
        {
            "load_id": last_load,
            "exemption_id": last_ex,
            "config": config_hash(config),
            "version": version,
            "weeks": span,
            "priors": _priors(inp, res),
        },
        "engine",
    )
    return {
        "mode": mode,
        "reason": reason,
        "students": int(len(inp.student_ids)) if students is None else len(students),
        "weeks": int(len(inp.weeks)),
        "weeks_rewritten_for_everyone": int(len(inp.weeks) - first_week)
        if students is not None
        else int(len(inp.weeks)),
        "teaching_weeks": int(inp.teaching.sum()),
        "measures_written": rows,
        "flags_raised": int(len(flags)),
        "flags_open": int(flags["ended_week"].isna().sum()),
        "flags_ended": int(flags["ended_week"].notna().sum()),
        **counts,
        "dq_events": int(len(dq)),
        "seconds_read": round(t_read - t0, 2),
        "seconds_engine": round(t_engine - t_read, 2),
        "seconds_measures": round(t_measures - t_engine, 2),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def flags_frame(
    session: Session, as_of: date | None = None, include_ended: bool = False
) -> pd.DataFrame:
    """Flags in force at `as_of` (default today), or with include_ended every flag raised by then."""
    as_of = as_of or date.today()
    query = select(
        Flag.student_id, Flag.week_start, Flag.kind, Flag.severity, Flag.explanation
    ).where(Flag.week_start <= as_of)
    if not include_ended:
        query = query.where((Flag.ended_week.is_(None)) | (Flag.ended_week > as_of))
    query = query.order_by(Flag.week_start, Flag.student_id, Flag.kind)
    return _frame(session, query, FLAG_COLUMNS)


def data_version(session: Session) -> int:
    """A number that changes whenever engine results are rewritten (for caches)."""
    return int((_setting(session, STATE_KEY) or {}).get("version", 0))
