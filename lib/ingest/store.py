"""Writes parsed frames into the store (upserts by natural key, derived daily activity, exemptions)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from lib.ingest.keys import combined_key, iso_days, taken
from lib.ingest.readers import ROW
from lib.ingest.totals import Coded, LoadWeeks
from lib.sources import SUBMISSION
from lib.store.bulk import bulk_insert, bulk_upsert
from lib.store.lookups import frame_of
from lib.store.models import (
    Attendance,
    CalendarPeriod,
    DailyActivity,
    Enrolment,
    EventExpectedStudent,
    Exemption,
    Module,
    MoodleUser,
    Student,
    Submission,
    TimetableEvent,
)

KEYS = ["student_id", "source", "day", "module_code"]  # daily_activity's primary key, in order


def aggregate_activity(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum occurrences into one row per student, source, day and module (minutes stay empty if none),
    sorted by that key (the table's index order). Vectorised: each key column is factorised in
    sorted order, rows are sorted by their codes, and runs of equal codes are summed (several
    times faster than a groupby followed by a sort on millions of string rows)."""
    return _aggregate(frame)[0]


def _aggregate(frame: pd.DataFrame) -> tuple[pd.DataFrame, Coded]:
    """aggregate_activity, and the codes of the text columns of its rows (for the load's weeks)."""
    day = pd.to_datetime(frame["day"]).dt.normalize().to_numpy("datetime64[ns]")
    module = frame["module_code"].fillna("").astype(str)
    keep = ~np.isnat(day) & frame["student_id"].notna().to_numpy()
    keep &= frame["source"].notna().to_numpy()
    if not keep.all():  # a row without a key names nothing (as groupby's dropna)
        frame, day, module = frame[keep], day[keep], module[keep]
    columns = {"student_id": frame["student_id"], "source": frame["source"], "module_code": module}
    codes, uniques = {}, {}
    for name, values in columns.items():
        codes[name], uniques[name] = pd.factorize(values, sort=True)
    days = day.astype("datetime64[D]").astype(np.int64)
    codes["day"] = days - (days.min() if len(days) else 0)
    key = combined_key([codes[k] for k in ("student_id", "source", "day", "module_code")])
    order = np.argsort(key, kind="stable")  # equal keys keep the file's order
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key[:0]
    first = order[starts]
    quantity = frame["quantity"].to_numpy(dtype=float, na_value=np.nan)[order]
    minutes = frame["minutes"].to_numpy(dtype=float, na_value=np.nan)[order]
    has_minutes = ~np.isnan(minutes)
    coded = {name: (codes[name][first], uniques[name]) for name in columns}
    out = pd.DataFrame(
        {
            "student_id": taken(uniques["student_id"], coded["student_id"][0]),
            "source": taken(uniques["source"], coded["source"][0]),
            "day": days[first].astype("datetime64[D]").astype("datetime64[ns]"),
            "module_code": taken(uniques["module_code"], coded["module_code"][0]),
            "quantity": _run_sums(np.nan_to_num(quantity), starts),
            "minutes": _run_sums(np.where(has_minutes, minutes, 0.0), starts),
        }
    )
    if len(starts):  # a key whose rows carry no minutes keeps them empty
        out.loc[~np.logical_or.reduceat(has_minutes, starts), "minutes"] = np.nan
    return out, coded


def _run_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sums of the runs of `values` that begin at `starts`."""
    return np.add.reduceat(values, starts) if len(starts) else values[:0]


def write_activity(
    session: Session, frame: pd.DataFrame, load_id: int, weeks: LoadWeeks | None = None
) -> int:
    """Upsert daily activity; a frame marked attrs["daily"] is already one row per key (no regroup).
    `weeks` keeps the rows of the weeks that held none for the load's weekly totals."""
    coded = None
    if frame.attrs.get("daily"):
        daily = frame.sort_values(KEYS)  # index order: far fewer page writes
    else:
        daily, coded = _aggregate(frame)  # sorted by the key already
    if daily.empty:
        return 0
    days = daily["day"].to_numpy(dtype="datetime64[D]")
    if weeks is not None:
        weeks.note(session, daily, days, coded)
    daily["load_id"] = load_id
    daily["day"] = iso_days(days).set_axis(daily.index)  # ISO dates, each day converted once
    first, last = days.min().item(), days.max().item()
    stored = select(DailyActivity.day).where(DailyActivity.day.between(first, last)).limit(1)
    if session.scalar(stored) is None:  # no stored row in these days: every row is new (COPY)
        return bulk_insert(session, DailyActivity.__table__, daily)
    return bulk_upsert(session, DailyActivity.__table__, daily, KEYS)


def _derive_attendance_activity(
    session: Session, frame: pd.DataFrame, load_id: int, weeks: LoadWeeks | None
) -> None:
    """Rebuild daily attendance/online activity for the student-days this file touched."""
    if frame.empty:
        return
    first_seen = pd.to_datetime(frame["first_seen"])
    start = first_seen.min().normalize()
    end = first_seen.max().normalize() + timedelta(days=1)
    for source in frame["source"].unique():
        stored = frame_of(
            session,
            select(
                Attendance.student_id,
                Attendance.first_seen,
                Attendance.minutes,
                TimetableEvent.module_code,
            )
            .join(TimetableEvent, TimetableEvent.event_id == Attendance.event_id, isouter=True)
            .where(
                and_(
                    Attendance.source == source,
                    Attendance.expected.is_(True),
                    Attendance.first_seen >= start.to_pydatetime(),
                    Attendance.first_seen < end.to_pydatetime(),
                )
            ),
        )
        touched = frame.loc[frame["source"] == source, "student_id"].unique()
        stored = stored[stored["student_id"].isin(touched)]
        if stored.empty:
            continue
        activity = pd.DataFrame(
            {
                "student_id": stored["student_id"],
                "source": source,
                "day": pd.to_datetime(stored["first_seen"]).dt.normalize(),
                "module_code": stored["module_code"].fillna(""),
                "quantity": 1.0,
                "minutes": pd.to_numeric(stored["minutes"], errors="coerce"),
            }
        )
        write_activity(session, activity, load_id, weeks)


def _derive_submission_activity(
    session: Session, frame: pd.DataFrame, load_id: int, weeks: LoadWeeks | None
) -> None:
    """Daily `submission` activity (submissions made that day) for the students this file touched."""
    touched = set(frame["student_id"].unique())
    stored = frame_of(
        session,
        select(Submission.student_id, Submission.submitted_at, Submission.module_code).where(
            Submission.submitted_at.is_not(None)
        ),
    )
    stored = stored[stored["student_id"].isin(touched)]
    if stored.empty:
        return
    activity = pd.DataFrame(
        {
            "student_id": stored["student_id"],
            "source": SUBMISSION,
            "day": pd.to_datetime(stored["submitted_at"]).dt.normalize(),
            "module_code": stored["module_code"].fillna(""),
            "quantity": 1.0,
            "minutes": np.nan,
        }
    )
    write_activity(session, activity, load_id, weeks)


def _write_modules(session: Session, codes: pd.Series) -> None:
    codes = pd.Series(codes.dropna().unique())
    codes = codes[codes != ""]
    bulk_upsert(
        session,
        Module.__table__,
        pd.DataFrame({"module_code": codes}),
        ["module_code"],
        replace=False,
    )


def write_parsed(
    session: Session,
    frames: dict[str, pd.DataFrame],
    load_id: int,
    weeks: LoadWeeks | None = None,
) -> None:
    """Write every frame a parser returned, tagged with the load that brought it (`weeks`: see
    write_activity)."""
    tag = {"load_id": load_id}
    frames = {name: f.drop(columns=[ROW], errors="ignore") for name, f in frames.items()}
    if (f := frames.get("students")) is not None and not f.empty:
        bulk_upsert(session, Student.__table__, f.assign(**tag), ["student_id"])
    if (f := frames.get("enrolments")) is not None and not f.empty:
        _write_modules(session, f["module_code"])
        bulk_upsert(
            session,
            Enrolment.__table__,
            f.assign(**tag),
            ["student_id", "module_code", "academic_year"],
            replace=False,
        )
    if (f := frames.get("calendar")) is not None and not f.empty:
        bulk_upsert(session, CalendarPeriod.__table__, f.assign(**tag), ["kind", "start", "end"])
    if (f := frames.get("moodle_users")) is not None and not f.empty:
        bulk_upsert(session, MoodleUser.__table__, f.assign(**tag), ["moodle_id"])
    if (f := frames.get("timetable_events")) is not None and not f.empty:
        _write_modules(session, f["module_code"])
        bulk_upsert(session, TimetableEvent.__table__, f.assign(**tag), ["event_id"])
    if (f := frames.get("event_expected")) is not None and not f.empty:
        bulk_upsert(
            session,
            EventExpectedStudent.__table__,
            f.assign(**tag),
            ["event_id", "student_id"],
            replace=False,
        )
        _mark_explicit_lists(session, f["event_id"])
    if (f := frames.get("exemptions")) is not None and not f.empty:
        _write_exemptions(session, f, load_id)
    if (f := frames.get("activity")) is not None and not f.empty:
        write_activity(session, f, load_id, weeks)
    if (f := frames.get("attendance")) is not None and not f.empty:
        bulk_upsert(
            session, Attendance.__table__, f.assign(**tag), ["student_id", "event_id", "source"]
        )
        _derive_attendance_activity(session, f, load_id, weeks)
    if (f := frames.get("submissions")) is not None and not f.empty:
        bulk_upsert(session, Submission.__table__, f.assign(**tag), ["student_id", "assignment_id"])
        _derive_submission_activity(session, f, load_id, weeks)
    if (f := frames.get("contacts")) is not None and not f.empty:  # cases wing
        from lib.cases.contacts import write_contacts

        write_contacts(session, f.drop(columns=[ROW], errors="ignore"), load_id)


def _mark_explicit_lists(session: Session, event_ids: pd.Series) -> None:
    """Events named by a student-event list expect exactly those students, not the module cohort."""
    ids = [str(i) for i in pd.unique(event_ids.dropna())]
    for start in range(0, len(ids), 500):
        session.execute(
            update(TimetableEvent)
            .where(TimetableEvent.event_id.in_(ids[start : start + 500]))
            .values(explicit_list=True)
        )


def _write_exemptions(session: Session, frame: pd.DataFrame, load_id: int) -> None:
    existing = frame_of(
        session, select(Exemption.student_id, Exemption.reason, Exemption.start, Exemption.end)
    )
    keys = ["student_id", "reason", "start", "end"]
    existing["start"] = pd.to_datetime(existing["start"]).dt.date
    existing["end"] = pd.to_datetime(existing["end"]).dt.date
    merged = frame.merge(existing.assign(_seen=True), on=keys, how="left")
    new = merged[merged["_seen"].isna()]
    now = datetime.now().replace(microsecond=0)
    for row in new.itertuples(index=False):
        session.add(
            Exemption(
                student_id=row.student_id,
                reason=row.reason,
                start=row.start,
                end=row.end,
                note=row.note or None,
                created_by="import",
                created_at=now,
                load_id=load_id,
            )
        )
    session.flush()
