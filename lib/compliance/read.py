"""Reads the compliance inputs of every sponsored student from the store in a few bulk queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from lib.compliance.fetch import copy_frame, fetch_rows, read_frame, typed_frame
from lib.compliance.policy import Thresholds
from lib.compliance.status import POINT_COLUMNS, ComplianceInputs
from lib.store.dates import epoch_day, iso_day
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
ATTENDANCE_SOURCES = ("attendance", "online")
DAY_TEXT = 10  # characters of an ISO date
SEP = "\x1f"  # ASCII unit separator: pads module codes to one width


def _sponsored(only: list[str] | None = None):
    """SELECT of the sponsored students' ids (optionally only some of them)."""
    query = select(Student.student_id).where(Student.visa_sponsored.is_(True))
    if only is not None:
        query = query.where(Student.student_id.in_(only))
    return query


def _codes_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """Positions in `index` of the values (-1 when absent); a categorical is looked up by category."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        by_category = index.get_indexer(values.cat.categories.astype(str))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, by_category[codes], -1)
    return index.get_indexer(values)


def _module_width(modules: list[str]) -> int:
    """Characters a module code is padded to: the longest timetabled code and a separator."""
    return max((len(m) for m in modules), default=0) + 1  # longer codes differ at the separator


def _activity_select(ids, first_day: date, as_of: date, width: int, dialect: str):
    """The grouped scan of `_activity`: per student and source (the primary key's order), the
    count of engaged rows and their records concatenated: ISO day, quantity rounded up and capped
    at 9 (one character), module code padded to `width`."""
    a = DailyActivity
    # a CASE, as CAST to an integer rounds on PostgreSQL; most rows stop at the second branch
    times = case(*((a.quantity <= k, str(k)) for k in range(9)), else_="9")
    module = func.substr(a.module_code + SEP * width, 1, width)
    return (
        select(
            a.student_id,
            a.source,
            func.count(),
            func.aggregate_strings(iso_day(a.day, dialect) + times + module, ""),
        )
        .where(
            a.student_id.in_(ids),
            a.day.between(first_day, as_of),
            (a.quantity > 0) | (a.minutes > 0),
        )
        .group_by(a.student_id, a.source)
    )


def statements(session: Session, as_of: date, thresholds: Thresholds) -> list:
    """The bulk selects `read_inputs` sends for every sponsored student (for measuring the store's
    own share of the read)."""
    first_day = as_of - timedelta(days=thresholds.lookback_days + 7)
    modules = _timetabled(session, first_day, as_of)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return [_engaged_select(_sponsored(), first_day, as_of)]
    return [_activity_select(_sponsored(), first_day, as_of, _module_width(modules), dialect)]


def _engaged_select(ids, first_day: date, as_of: date):
    """The engaged activity rows of the window (PostgreSQL streams them as CSV)."""
    a = DailyActivity
    return select(a.student_id, a.source, a.day, a.module_code, a.quantity).where(
        a.student_id.in_(ids), a.day.between(first_day, as_of), (a.quantity > 0) | (a.minutes > 0)
    )


def _timetabled(session: Session, first_day: date, as_of: date) -> list[str]:
    """Codes of the modules with sessions in the window, sorted."""
    te = TimetableEvent
    first = datetime.combine(first_day, datetime.min.time())
    last = datetime.combine(as_of, datetime.max.time())
    query = select(te.module_code).where(te.start_at.between(first, last)).distinct()
    return list(session.scalars(query.order_by(te.module_code)).all())


def _activity(
    session: Session, ids, first_day: date, as_of: date, modules: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sponsored students' engaged activity in the window, in one scan of the store grouped by
    student and source (the primary key's order: no sort), each group's rows sent back as one
    text of fixed-width records that numpy parses in bulk: attendance rows (QR/Teams with a
    quantity: student, module, epoch day, quantity capped at 9) and the days with any other
    engagement (student, epoch day; a day may repeat). `modules` are the timetabled modules:
    attendance at any other module has a missing module. Student ids and modules come back
    categorical."""
    width = _module_width(modules)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return _activity_copied(session, ids, first_day, as_of, modules)
    rows = fetch_rows(session, _activity_select(ids, first_day, as_of, width, dialect))
    record = np.dtype([("day", f"S{DAY_TEXT}"), ("times", "S1"), ("module", f"S{width}")])
    counts = np.array([r[2] for r in rows], np.int64)
    text = "".join(r[3] for r in rows).encode("utf-8")
    if len(text) != int(counts.sum()) * record.itemsize:  # a module code that is not ASCII
        return _activity_rows(session, ids, first_day, as_of, modules)
    records = np.frombuffer(text, dtype=record)
    names = pd.Index(sorted({r[0] for r in rows}), dtype=object)
    student = np.repeat(names.get_indexer([r[0] for r in rows]), counts)
    source = np.repeat(np.array([r[1] in ATTENDANCE_SOURCES for r in rows], bool), counts)
    times = records["times"].astype(np.int64)
    attended = source & (times > 0)
    days = _iso_days(records["day"])
    module_codes = np.full(int(attended.sum()), -1, np.int64)
    if modules:
        padded = np.array([(m + SEP * width)[:width].encode("ascii", "replace") for m in modules])
        order = np.argsort(padded)
        wanted = records["module"][attended]
        found = np.searchsorted(padded[order], wanted).clip(0, len(modules) - 1)
        hit = padded[order][found] == wanted
        module_codes[hit] = order[found[hit]]
    attendance = pd.DataFrame(
        {
            "student_id": pd.Categorical.from_codes(student[attended], names),
            "module_code": pd.Categorical.from_codes(module_codes, pd.Index(modules, dtype=object)),
            "day": days[attended],
            "quantity": times[attended].astype(float),
        }
    )
    others = pd.DataFrame(
        {
            "student_id": pd.Categorical.from_codes(student[~source], names),
            "day": days[~source],
        }
    )
    return attendance, others


def _activity_copied(
    session: Session, ids, first_day: date, as_of: date, modules: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`_activity` on PostgreSQL: the engaged rows streamed as CSV (`COPY`), student, source, day
    and module read as categoricals (each distinct text parsed once)."""
    frame = copy_frame(
        session,
        _engaged_select(ids, first_day, as_of),
        ["student_id", "source", "day", "module_code", "quantity"],
        {
            "student_id": "category",
            "source": "category",
            "day": "category",
            "module_code": "category",
        },
    )
    student = frame["student_id"].cat
    names = pd.Index(student.categories.astype(str), dtype=object)
    codes = student.codes.to_numpy()
    source = frame["source"].cat
    source_attends = np.asarray(source.categories.astype(str).isin(ATTENDANCE_SOURCES), bool)
    attends = source_attends[source.codes.to_numpy()] if len(frame) else np.zeros(0, bool)
    quantity = frame["quantity"].to_numpy(float)
    attended = attends & (quantity > 0)
    day = frame["day"].cat
    day_of = pd.to_datetime(day.categories.astype(str)).to_numpy("datetime64[D]").astype(np.int64)
    days = day_of[day.codes.to_numpy()] if len(frame) else np.zeros(0, np.int64)
    known = pd.Index(modules, dtype=object)
    module_codes = _codes_in(known, frame["module_code"])
    attendance = pd.DataFrame(
        {
            "student_id": pd.Categorical.from_codes(codes[attended], names),
            "module_code": pd.Categorical.from_codes(module_codes[attended], known),
            "day": days[attended],
            "quantity": quantity[attended],
        }
    )
    others = pd.DataFrame(
        {"student_id": pd.Categorical.from_codes(codes[~attends], names), "day": days[~attends]}
    )
    return attendance, others


def _iso_days(days: np.ndarray) -> np.ndarray:
    """Fixed-width ISO date bytes as epoch days (int64)."""
    return days.astype("datetime64[D]").astype(np.int64)


def _activity_rows(
    session: Session, ids, first_day: date, as_of: date, modules: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`_activity` read row by row (for module codes that are not ASCII)."""
    a = DailyActivity
    in_window = (a.student_id.in_(ids), a.day.between(first_day, as_of))
    dialect = session.get_bind().dialect.name
    attendance = read_frame(
        session,
        select(a.student_id, a.module_code, epoch_day(a.day, dialect), a.quantity).where(
            *in_window, a.source.in_(ATTENDANCE_SOURCES), a.quantity > 0
        ),
        ["student_id", "module_code", "day", "quantity"],
    )
    other = read_frame(
        session,
        select(a.student_id, epoch_day(a.day, dialect))
        .where(
            *in_window,
            a.source.not_in(ATTENDANCE_SOURCES),
            (a.quantity > 0) | (a.minutes > 0),
        )
        .distinct(),
        ["student_id", "day"],
    )
    for frame in (attendance, other):
        frame["student_id"] = frame["student_id"].astype("category")
        frame["day"] = frame["day"].astype(np.int64)
    attendance["quantity"] = attendance["quantity"].astype(float)
    known = pd.Index(modules, dtype=object)
    attendance["module_code"] = pd.Categorical.from_codes(
        known.get_indexer(attendance["module_code"]), categories=known
    )
    return attendance, other


def _session_points(
    session: Session,
    ids,
    first: datetime,
    last: datetime,
    grace: int,
    detail: bool,
    activity: pd.DataFrame,
) -> pd.DataFrame:
    """Timetabled sessions each sponsored student was expected at (explicit list, else module
    enrolment in the event's academic year), met by a QR scan or Teams join inside the session,
    or, where the feed has no per-session rows, by the day's attendances of that module (the
    first n sessions of the module that day are met by n attendances). Events and enrolments are
    read once and joined in memory on integer codes; evidence texts only with `detail`."""
    te, ees, en = TimetableEvent, EventExpectedStudent, Enrolment
    cols = ["event_id", "module_code", "event_type", "start_at", "end_at", "online", "explicit"]
    events = read_frame(
        session,
        select(
            te.event_id,
            te.module_code,
            te.event_type,
            te.start_at,
            te.end_at,
            te.online,
            te.explicit_list,
        ).where(te.start_at.between(first, last)),
        cols,
    )
    if events.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    events["start_at"] = pd.to_datetime(events["start_at"])
    events["end_at"] = pd.to_datetime(events["end_at"])
    events["year"] = events["start_at"].dt.year - (events["start_at"].dt.month < 9)
    modules = pd.Index(events["module_code"].unique())
    events["m"] = modules.get_indexer(events["module_code"])
    enrolled = read_frame(
        session,
        select(en.student_id, en.module_code, en.academic_year).where(en.student_id.in_(ids)),
        ["student_id", "module_code", "year"],
    )
    students = pd.Index(enrolled["student_id"].unique())
    explicit = read_frame(
        session,
        select(ees.student_id, ees.event_id)
        .join(te, te.event_id == ees.event_id)
        .where(te.start_at.between(first, last), ees.student_id.in_(ids)),
        ["student_id", "event_id"],
    )
    students = students.append(pd.Index(explicit["student_id"].unique())).unique()
    event_index = pd.Index(events["event_id"])
    # cohort expectation: every enrolment x its module's events of that academic year
    cohort_events = events[~events["explicit"].astype(bool)]
    key_events = cohort_events["m"].to_numpy(np.int64) * 10_000 + cohort_events["year"].to_numpy()
    enrolled_m = modules.get_indexer(enrolled["module_code"])
    key_enrolled = enrolled_m.astype(np.int64) * 10_000 + enrolled["year"].to_numpy(np.int64)
    pair = pd.DataFrame({"k": key_enrolled, "s": students.get_indexer(enrolled["student_id"])})
    pair = pair[enrolled_m >= 0].merge(
        pd.DataFrame({"k": key_events, "e": cohort_events.index.to_numpy()}), on="k"
    )
    listed = pd.DataFrame(
        {
            "s": students.get_indexer(explicit["student_id"]),
            "e": event_index.get_indexer(explicit["event_id"]),
        }
    )
    points = pd.concat([pair[["s", "e"]], listed[listed["e"] >= 0]], ignore_index=True)
    s_code = points["s"].to_numpy()
    e_code = points["e"].to_numpy()
    start = events["start_at"].to_numpy("datetime64[s]")[e_code]
    end = events["end_at"].to_numpy("datetime64[s]")[e_code]
    m_code = events["m"].to_numpy(np.int64)[e_code]
    day = start.astype("datetime64[D]").astype(np.int64)

    # per-session rows (QR scan or Teams join inside the session, with a grace before the start)
    met = np.zeros(len(points), bool)
    how = np.full(len(points), "", dtype=object)
    seen = read_frame(
        session,
        select(Attendance.student_id, Attendance.event_id, Attendance.source, Attendance.first_seen)
        .where(Attendance.student_id.in_(ids))
        .where(Attendance.first_seen >= first - timedelta(days=1)),
        ["student_id", "event_id", "source", "first_seen"],
    )
    if not seen.empty:
        seen_key = pd.DataFrame(
            {
                "s": students.get_indexer(seen["student_id"]),
                "e": event_index.get_indexer(seen["event_id"]),
                "t": pd.to_datetime(seen["first_seen"]).to_numpy("datetime64[s]"),
                "src": seen["source"].to_numpy(),
            }
        )
        joined = points.reset_index().merge(seen_key, on=["s", "e"])
        at = joined["t"].to_numpy("datetime64[s]")
        inside = (at >= start[joined["index"]] - np.timedelta64(grace * 60, "s")) & (
            at <= end[joined["index"]]
        )
        hits = joined[inside].sort_values("t").drop_duplicates("index")
        met[hits["index"].to_numpy()] = True
        how[hits["index"].to_numpy()] = np.where(
            hits["src"] == "online", "Teams join at ", "QR scan at "
        ) + pd.to_datetime(hits["t"]).dt.strftime("%H:%M")

    # the day's attendances per module stand in where no per-session row met the point
    daily = activity
    width = 1 << 20  # > any epoch day up to 2990
    n_mod = len(modules) + 1
    point_key = (s_code * n_mod + m_code) * width + day
    daily_s = _codes_in(students, daily["student_id"])
    daily_m = _codes_in(modules, daily["module_code"])
    ok = (daily_s >= 0) & (daily_m >= 0)
    daily_key = (daily_s[ok].astype(np.int64) * n_mod + daily_m[ok]) * width + daily[
        "day"
    ].to_numpy(np.int64)[ok]
    # attendances per (student, module, day): sorted distinct keys and their summed quantity
    daily_keys, inverse = np.unique(daily_key, return_inverse=True)
    daily_quantity = np.bincount(
        inverse, weights=daily["quantity"].to_numpy(float)[ok], minlength=len(daily_keys)
    )
    order = np.lexsort((start.astype(np.int64), point_key))
    sorted_key = point_key[order]
    group_start = (
        np.r_[True, sorted_key[1:] != sorted_key[:-1]] if len(order) else np.zeros(0, bool)
    )
    first_of_group = np.maximum.accumulate(np.where(group_start, np.arange(len(order)), 0))
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - first_of_group
    slot = np.searchsorted(daily_keys, point_key).clip(0, max(len(daily_keys) - 1, 0))
    found = daily_keys[slot] == point_key if len(daily_keys) else np.zeros(len(point_key), bool)
    quantity = np.where(found, daily_quantity[slot] if len(daily_keys) else 0.0, 0.0)
    by_day = ~met & (rank < quantity)
    frame = pd.DataFrame(
        {
            "student_id": pd.Categorical.from_codes(s_code, categories=students.astype(str)),
            "at": start,
            "kind": _repeated("session", len(s_code)),
            "met": met | by_day,
        }
    )
    if not detail:
        frame["ref"] = frame["evidence"] = _repeated("", len(s_code))
        return frame[POINT_COLUMNS]
    ev = events.iloc[e_code]
    frame["ref"] = (
        ev["event_type"].astype(str)
        + " "
        + ev["module_code"].astype(str)
        + " ("
        + ev["event_id"].astype(str)
        + ")"
    ).to_numpy()
    module_text = ev["module_code"].astype(str).to_numpy()
    frame["evidence"] = np.where(
        met,
        how,
        np.where(
            by_day,
            "attendance recorded for " + module_text + " that day",
            "no QR scan or Teams join inside the session",
        ),
    )
    return frame[POINT_COLUMNS]


def _deadline_points(
    session: Session, ids, first: datetime, last: datetime, detail: bool
) -> pd.DataFrame:
    """Submission deadlines, met by a submission made by the deadline; texts only with `detail`."""
    sub = Submission
    texts = (sub.assignment_id, sub.module_code) if detail else ()
    frame = read_frame(
        session,
        select(sub.student_id, sub.due_at, sub.submitted_at, *texts).where(
            sub.student_id.in_(ids), sub.due_at.between(first, last)
        ),
        ["student_id", "due_at", "submitted_at", *(["assignment_id", "module_code"] * detail)],
    )
    if frame.empty:
        return pd.DataFrame(columns=POINT_COLUMNS)
    due = pd.to_datetime(frame["due_at"])
    sent = pd.to_datetime(frame["submitted_at"])
    met = (sent.notna() & (sent <= due)).to_numpy()
    out = pd.DataFrame(
        {
            "student_id": frame["student_id"].astype("category"),
            "at": due,
            "kind": _repeated("deadline", len(frame)),
            "met": met,
        }
    )
    if not detail:
        out["ref"] = out["evidence"] = _repeated("", len(frame))
        return out
    sent_text = sent.dt.strftime("%Y-%m-%d %H:%M").fillna("")
    out["evidence"] = np.where(
        sent.isna(), "no submission", np.where(met, "submitted ", "late: submitted ") + sent_text
    )
    out["ref"] = (
        "assignment "
        + frame["assignment_id"].astype(str)
        + " "
        + frame["module_code"].fillna("").astype(str)
    )
    return out


def _tutorial_points(session: Session, ids, first: datetime, last: datetime) -> pd.DataFrame:
    """Tutorials booked in cases (on the next-action date, else the entry's date), met when the case
    records one attended on or after the booking; an attended one never booked is a met point."""
    when = func.coalesce(CaseEntry.contacted_at, CaseEntry.recorded_at)
    frame = typed_frame(
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


def _categorical_concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Point frames concatenated with `student_id` as one categorical (no column of strings)."""
    names: set[str] = set()
    for part in parts:
        column = part["student_id"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            names.update(column.cat.categories.astype(str))
        else:
            names.update(column.astype(str).unique())
    categories = pd.Index(sorted(names))
    fixed = []
    for part in parts:
        column = part["student_id"]
        if isinstance(column.dtype, pd.CategoricalDtype):
            column = column.cat.set_categories(categories)
        else:
            column = pd.Categorical(column.astype(str), categories=categories)
        at = pd.to_datetime(part["at"]).astype("datetime64[s]")  # one unit: no cast when joined
        fixed.append(
            part.assign(student_id=column, at=at, met=part["met"].astype(bool))[POINT_COLUMNS]
        )
    # texts as categoricals of the same categories, so that they concatenate without a copy
    for name in ("kind", "ref", "evidence"):
        texts = pd.Index(
            sorted({str(v) for f in fixed for v in pd.unique(f[name]) if pd.notna(v)}), dtype=object
        )
        for i, frame in enumerate(fixed):
            fixed[i] = frame.assign(**{name: _recoded(frame[name], texts)})
    return pd.concat(fixed, ignore_index=True)


def _recoded(column: pd.Series, texts: pd.Index) -> pd.Categorical:
    """A column of texts as a categorical of `texts` (missing values stay missing)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        by_category = texts.get_indexer(column.cat.categories.astype(str))
        codes = column.cat.codes.to_numpy()
        return pd.Categorical.from_codes(np.where(codes >= 0, by_category[codes], -1), texts)
    values = column.to_numpy(object)
    codes = texts.get_indexer(
        np.asarray(np.where(pd.isna(values), None, values.astype(str)), dtype=object)
    )
    return pd.Categorical.from_codes(codes, texts)


def _repeated(text: str, n: int) -> pd.Categorical:
    """One text n times, as a categorical (no column of n strings)."""
    return pd.Categorical.from_codes(np.zeros(n, np.int8), categories=[text])


def read_inputs(
    session: Session,
    as_of: date,
    thresholds: Thresholds,
    only: list[str] | None = None,
    detail: bool = False,
) -> ComplianceInputs:
    """The inputs of every sponsored student (or of `only` those) for statuses at `as_of`; with
    `detail`, each session point carries its reference and evidence in words."""
    ids = _sponsored(only)
    first_day = as_of - timedelta(days=thresholds.lookback_days + 7)
    first = datetime.combine(first_day, datetime.min.time())
    last = datetime.combine(as_of, datetime.max.time())
    students = typed_frame(
        session,
        select(Student.student_id, Student.start_date, Student.status).where(
            Student.student_id.in_(ids)
        ),
        ["student_id", "start_date", "status"],
    )
    withdrawals = typed_frame(
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
    timetabled = _timetabled(session, first_day, as_of)
    attended, other_days = _activity(session, ids, first_day, as_of, timetabled)
    points = _categorical_concat(
        [
            _session_points(
                session, ids, first, last, thresholds.scan_grace_minutes, detail, attended
            ),
            _deadline_points(session, ids, first, last, detail),
            _tutorial_points(session, ids, first, last),
        ]
    )
    engaged = (DailyActivity.quantity > 0) | (DailyActivity.minutes > 0)
    names = pd.Index(
        sorted(
            set(attended["student_id"].cat.categories.astype(str))
            | set(other_days["student_id"].cat.categories.astype(str))
        ),
        dtype=object,
    )
    engaged_students = pd.Categorical.from_codes(
        np.concatenate(
            [
                _codes_in(names, attended["student_id"]),
                _codes_in(names, other_days["student_id"]),
            ]
        ),
        categories=names,
    )
    days = np.concatenate(
        [attended["day"].to_numpy(np.int64), other_days["day"].to_numpy(np.int64)]
    )
    activity = pd.DataFrame({"student_id": engaged_students, "day": days.astype("datetime64[D]")})
    # the newest engagement before the window (inside it, the window's own rows tell)
    earlier = typed_frame(
        session,
        select(DailyActivity.student_id, func.max(DailyActivity.day))
        .where(DailyActivity.student_id.in_(ids), DailyActivity.day < first_day, engaged)
        .group_by(DailyActivity.student_id),
        ["student_id", "day"],
    )
    newest = activity.groupby("student_id", observed=True)["day"].max().reset_index()
    newest["student_id"] = newest["student_id"].astype(str)
    last_activity = pd.concat([earlier, newest], ignore_index=True)
    exemptions = typed_frame(
        session,
        select(Exemption.student_id, Exemption.start, Exemption.end).where(
            Exemption.student_id.in_(ids), Exemption.end >= first_day
        ),
        ["student_id", "start", "end"],
    )
    calendar = typed_frame(
        session,
        select(CalendarPeriod.kind, CalendarPeriod.start, CalendarPeriod.end),
        ["kind", "start", "end"],
    )
    reports = typed_frame(
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
