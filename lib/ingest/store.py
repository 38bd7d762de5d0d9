"""Writes parsed frames into the store in bulk (upserts by natural key) and reads the lookups parsers need."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import Table, and_, select, update
from sqlalchemy.orm import Session

from lib.ingest.readers import ROW
from lib.models import (
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
from lib.sources import SUBMISSION

# --- lookups ---------------------------------------------------------------------------------------


def student_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Student.student_id)))


def student_emails(session: Session) -> dict[str, str]:
    rows = session.execute(select(Student.email, Student.student_id, Student.personal_email))
    mapping: dict[str, str] = {}
    for email, student_id, personal in rows:
        if personal:
            mapping[personal.lower()] = student_id
        if email:
            mapping[email.lower()] = student_id
    return mapping


def _frame(session: Session, statement) -> pd.DataFrame:
    result = session.execute(statement)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


def student_names_frame(session: Session) -> pd.DataFrame:
    """(student_id, full_name) of every student, full name = given and family name."""
    frame = _frame(session, select(Student.student_id, Student.given_name, Student.family_name))
    full = frame["given_name"].fillna("") + " " + frame["family_name"].fillna("")
    return pd.DataFrame({"student_id": frame["student_id"], "full_name": full.str.strip()})


def moodle_users_frame(session: Session) -> pd.DataFrame:
    return _frame(
        session,
        select(
            MoodleUser.moodle_id,
            MoodleUser.username,
            MoodleUser.student_id,
            MoodleUser.email,
            MoodleUser.full_name,
        ),
    )


def timetable_frame(session: Session, module_code: str | None = None) -> pd.DataFrame:
    """Timetabled events, all or those of one module."""
    statement = select(
        TimetableEvent.event_id,
        TimetableEvent.module_code,
        TimetableEvent.event_type,
        TimetableEvent.title,
        TimetableEvent.start_at,
        TimetableEvent.end_at,
        TimetableEvent.location,
        TimetableEvent.online,
        TimetableEvent.explicit_list,
    )
    if module_code is not None:
        statement = statement.where(TimetableEvent.module_code == module_code)
    frame = _frame(session, statement)
    for column in ("start_at", "end_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def explicit_frame(session: Session) -> pd.DataFrame:
    """(event_id, student_id) of the explicit student-event lists."""
    return _frame(session, select(EventExpectedStudent.event_id, EventExpectedStudent.student_id))


def enrolments_frame(session: Session) -> pd.DataFrame:
    return _frame(
        session, select(Enrolment.student_id, Enrolment.module_code, Enrolment.academic_year)
    )


def academic_year_of(moment: pd.Series) -> pd.Series:
    """Academic year (first calendar year) of each date: September starts a new year."""
    moment = pd.to_datetime(moment)
    return moment.dt.year - (moment.dt.month < 9).astype(int)


def expected_students_frame(session: Session, module_code: str | None = None) -> pd.DataFrame:
    """(event_id, student_id) for every timetabled event (or one module's): its explicit list, else
    its module's cohort."""
    events = timetable_frame(session, module_code)
    statement = select(EventExpectedStudent.event_id, EventExpectedStudent.student_id)
    if module_code is not None:
        statement = statement.join(
            TimetableEvent, TimetableEvent.event_id == EventExpectedStudent.event_id
        ).where(TimetableEvent.module_code == module_code)
    explicit = _frame(session, statement)
    by_module = events[~events["explicit_list"].astype(bool)][
        ["event_id", "module_code", "start_at"]
    ]
    by_module = by_module.assign(academic_year=academic_year_of(by_module["start_at"]))
    cohort = by_module.merge(enrolments_frame(session), on=["module_code", "academic_year"])
    return pd.concat([explicit, cohort[["event_id", "student_id"]]], ignore_index=True)


# --- bulk writes -----------------------------------------------------------------------------------

BULK_CHUNK_ROWS = 200_000


def _column_values(series: pd.Series, dialect: str) -> list:
    """Python values for one column, in the form the driver stores for SQLAlchemy's types."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.to_numpy(dtype="datetime64[us]")
        missing = np.isnat(values)
        if dialect == "sqlite":
            text = np.datetime_as_string(values, unit="us").astype(object)
            text = np.char.replace(text.astype(str), "T", " ").astype(object)
        else:
            text = series.dt.to_pydatetime().astype(object)
        text[missing] = None
        return text.tolist()
    if series.dtype == object and len(series) and hasattr(series.iloc[0], "isoformat"):
        if dialect == "sqlite":
            return [None if v is None or v is pd.NaT else v.isoformat() for v in series]
        return [None if v is pd.NaT else v for v in series.tolist()]
    if pd.api.types.is_bool_dtype(series):
        return series.astype(int).tolist() if dialect == "sqlite" else series.tolist()
    if pd.api.types.is_float_dtype(series):
        values = series.astype(object)
        values[series.isna()] = None
        return values.tolist()
    if pd.api.types.is_integer_dtype(series):
        return series.astype(int).tolist()
    values = series.astype(object)
    values[series.isna()] = None
    return values.tolist()


def _driver_rows(session: Session, frame: pd.DataFrame):
    """(connection, dialect name, columns, quoted column list, row tuples as the driver takes)."""
    columns = list(frame.columns)
    conn = session.connection()
    dialect = conn.dialect.name
    rows = list(zip(*(_column_values(frame[c], dialect) for c in columns), strict=True))
    return conn, dialect, columns, ", ".join(f'"{c}"' for c in columns), rows


def bulk_upsert(
    session: Session, table: Table, frame: pd.DataFrame, keys: list[str], *, replace: bool = True
) -> int:
    """INSERT rows, and on a natural-key conflict update them (replace) or keep the stored row.

    A stored row whose values are all unchanged keeps its load_id: the engine recomputes only
    what loads changed, and a weekly export repeating earlier rows changes nothing."""
    if frame.empty:
        return 0
    frame = frame.drop(columns=[ROW], errors="ignore")
    if len(frame) > BULK_CHUNK_ROWS:  # bounded memory: Python row tuples cost ~10x the frame
        return sum(
            bulk_upsert(session, table, frame.iloc[i : i + BULK_CHUNK_ROWS], keys, replace=replace)
            for i in range(0, len(frame), BULK_CHUNK_ROWS)
        )
    conn, dialect, columns, quoted, rows = _driver_rows(session, frame)
    key_list = ", ".join(f'"{k}"' for k in keys)
    updates = [c for c in columns if c not in keys]
    if replace and updates:
        action = "DO UPDATE SET " + ", ".join(f'"{c}" = excluded."{c}"' for c in updates)
        compared = [c for c in updates if c != "load_id"]
        if "load_id" in updates and compared:
            differs = "IS NOT" if dialect == "sqlite" else "IS DISTINCT FROM"
            action += " WHERE " + " OR ".join(
                f'"{table.name}"."{c}" {differs} excluded."{c}"' for c in compared
            )
    else:
        action = "DO NOTHING"
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        sql = f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks}) ON CONFLICT ({key_list}) {action}'
        conn.exec_driver_sql(sql, rows)
        return len(rows)
    temp = f"tmp_{uuid.uuid4().hex[:10]}"
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cursor:
        cursor.execute(f'CREATE TEMP TABLE {temp} (LIKE "{table.name}" INCLUDING DEFAULTS)')
        with cursor.copy(f"COPY {temp} ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM {temp} '
            f"ON CONFLICT ({key_list}) {action}"
        )
        cursor.execute(f"DROP TABLE {temp}")
    return len(rows)


def bulk_insert(session: Session, table: Table, frame: pd.DataFrame) -> int:
    """INSERT rows known to be new (COPY on PostgreSQL): for rows whose keys were just deleted."""
    if frame.empty:
        return 0
    if len(frame) > BULK_CHUNK_ROWS:
        return sum(
            bulk_insert(session, table, frame.iloc[i : i + BULK_CHUNK_ROWS])
            for i in range(0, len(frame), BULK_CHUNK_ROWS)
        )
    conn, dialect, columns, quoted, rows = _driver_rows(session, frame)
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
        return len(rows)
    with conn.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)


def aggregate_activity(frame: pd.DataFrame) -> pd.DataFrame:
    """Sum occurrences into one row per student, source, day and module (minutes stay empty if none)."""
    frame = frame.assign(
        day=pd.to_datetime(frame["day"]).dt.normalize(),
        module_code=frame["module_code"].fillna("").astype(str),
        has_minutes=frame["minutes"].notna(),
    )
    keys = ["student_id", "source", "day", "module_code"]
    out = frame.groupby(keys, sort=False).agg(
        quantity=("quantity", "sum"), minutes=("minutes", "sum"), has_minutes=("has_minutes", "any")
    )
    out.loc[~out["has_minutes"], "minutes"] = np.nan
    return out.drop(columns="has_minutes").reset_index()


def write_activity(session: Session, frame: pd.DataFrame, load_id: int) -> int:
    """Upsert daily activity; a frame marked attrs["daily"] is already one row per key (no regroup)."""
    keys = ["student_id", "source", "day", "module_code"]
    daily = frame.copy() if frame.attrs.get("daily") else aggregate_activity(frame)
    daily = daily.sort_values(keys)  # index order: far fewer page writes
    daily["load_id"] = load_id
    daily["day"] = daily["day"].to_numpy(dtype="datetime64[D]").astype(str)  # ISO dates, vectorised
    return bulk_upsert(
        session, DailyActivity.__table__, daily, ["student_id", "source", "day", "module_code"]
    )


def _derive_attendance_activity(session: Session, frame: pd.DataFrame, load_id: int) -> None:
    """Rebuild daily attendance/online activity for the student-days this file touched."""
    if frame.empty:
        return
    first_seen = pd.to_datetime(frame["first_seen"])
    start = first_seen.min().normalize()
    end = first_seen.max().normalize() + timedelta(days=1)
    for source in frame["source"].unique():
        stored = _frame(
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
        write_activity(session, activity, load_id)


def _derive_submission_activity(session: Session, frame: pd.DataFrame, load_id: int) -> None:
    """Daily `submission` activity (submissions made that day) for the students this file touched."""
    touched = set(frame["student_id"].unique())
    stored = _frame(
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
    write_activity(session, activity, load_id)


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


def write_parsed(session: Session, frames: dict[str, pd.DataFrame], load_id: int) -> None:
    """Write every frame a parser returned, tagged with the load that brought it."""
    tag = {"load_id": load_id}
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
        write_activity(session, f.drop(columns=[ROW], errors="ignore"), load_id)
    if (f := frames.get("attendance")) is not None and not f.empty:
        bulk_upsert(
            session, Attendance.__table__, f.assign(**tag), ["student_id", "event_id", "source"]
        )
        _derive_attendance_activity(session, f, load_id)
    if (f := frames.get("submissions")) is not None and not f.empty:
        bulk_upsert(session, Submission.__table__, f.assign(**tag), ["student_id", "assignment_id"])
        _derive_submission_activity(session, f, load_id)
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
    existing = _frame(
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
