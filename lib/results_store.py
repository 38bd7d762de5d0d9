"""Write the engine's results to the store: weekly measures, flags, data-quality events, snapshot."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from lib.engagement.engine import INDEX_DROP, MISSED, NO_ENGAGEMENT, SOURCE_DROP, State
from lib.engagement.explain import explain_end, measures_frame
from lib.engagement.measures import Inputs
from lib.engagement.snapshot import Snapshot, dumps, loads
from lib.ingest.store import bulk_upsert
from lib.models import DataQualityEvent, EngineSnapshot, Flag, WeeklyMeasure
from lib.store_frames import query_frame

MEASURE_CHUNK_STUDENTS = 2000
SNAPSHOT_KEY = "engine"
FLAG_KEYS = ["student_id", "kind", "week_start", "explanation"]


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


def persist_measures(
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
    return _write_groups(session, inp, res, groups)


def append_measures(session: Session, inp: Inputs, res) -> int:
    """Write the measures of every student for these weeks (after the weeks already stored)."""
    session.execute(delete(WeeklyMeasure).where(WeeklyMeasure.week_start >= inp.weeks[0].item()))
    return _write_groups(session, inp, res, [(np.arange(len(inp.student_ids)), 0)])


def _write_groups(session: Session, inp: Inputs, res, groups) -> int:
    rows = 0
    for sel, first in groups:
        for i in range(0, len(sel), MEASURE_CHUNK_STUDENTS):
            chunk = sel[i : i + MEASURE_CHUNK_STUDENTS]
            rows += _write_measures(session, measures_frame(inp, res, chunk, first))
    return rows


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _day(value) -> date | None:
    return value if isinstance(value, date) else None


def _insert_flags(session: Session, rows: pd.DataFrame, now: datetime) -> list[int]:
    """Insert these flags; their new ids in row order."""
    objects = [
        Flag(
            student_id=r.student_id,
            kind=r.kind,
            severity=r.severity,
            week_start=r.week_start,
            ended_week=_day(r.ended_week),
            explanation=r.explanation,
            recovery_explanation=_text(r.recovery_explanation),
            computed_at=now,
        )
        for r in rows.itertuples(index=False)
    ]
    session.add_all(objects)
    session.flush()
    return [flag.id for flag in objects]


def _stored_flags(session: Session, students: list[str] | None) -> pd.DataFrame:
    query = select(Flag.id, Flag.student_id, Flag.kind, Flag.week_start, Flag.explanation)
    columns = ["id", *FLAG_KEYS]
    if students is None:
        return query_frame(session, query, columns)
    parts = [
        query_frame(session, query.where(Flag.student_id.in_(students[i : i + 500])), columns)
        for i in range(0, max(len(students), 1), 500)
    ]
    return pd.concat(parts, ignore_index=True)


def write_flags(session: Session, flags: pd.DataFrame, students: list[str] | None) -> dict:
    """Replace flags (of these students), keeping the ids of unchanged flags (cases point at them)."""
    merged = flags.merge(
        _stored_flags(session, students), on=FLAG_KEYS, how="outer", indicator=True
    )
    gone = merged.loc[merged["_merge"] == "right_only", "id"].astype(int).tolist()
    for i in range(0, len(gone), 500):
        session.execute(delete(Flag).where(Flag.id.in_(gone[i : i + 500])))
    now = datetime.now().replace(microsecond=0)
    kept = merged[merged["_merge"] == "both"]
    for row in kept.itertuples(index=False):  # only flags that already existed (few)
        flag = session.get(Flag, int(row.id))
        ended, recovery = _day(row.ended_week), _text(row.recovery_explanation)
        if (
            flag.ended_week != ended
            or flag.recovery_explanation != recovery
            or flag.severity != row.severity
        ):
            flag.ended_week, flag.recovery_explanation = ended, recovery
            flag.severity, flag.computed_at = row.severity, now
    new = merged[merged["_merge"] == "left_only"]
    _insert_flags(session, new, now)
    return {"flags_new": len(new), "flags_removed": len(gone)}


def flag_ids(session: Session, flags: pd.DataFrame) -> np.ndarray:
    """The stored id of each of these flags (row order; -1 when not stored)."""
    stored = _stored_flags(session, None).drop_duplicates(FLAG_KEYS, keep="last")
    found = flags[FLAG_KEYS].merge(stored, on=FLAG_KEYS, how="left")["id"]
    return found.fillna(-1).to_numpy(np.int64)


def _column_flag(column: int) -> tuple[int, int]:
    """(kind, source position or -1) of an open_id column of the engine state."""
    if column >= 3:
        return SOURCE_DROP, column - 3
    return (NO_ENGAGEMENT, INDEX_DROP, MISSED)[column], -1


def append_flags(
    session: Session, inp: Inputs, res, flags: pd.DataFrame, ends: pd.DataFrame, before: State
) -> dict:
    """Record the flags raised in these weeks and the ends of flags raised earlier (ids of
    `before`.open_id); turns the resumed state's open ids into stored ids."""
    now = datetime.now().replace(microsecond=0)
    st = res.state
    s_open, col_open = np.nonzero(before.open_id >= 0)
    held = before.open_id[s_open, col_open].tolist()
    where = dict(zip(held, zip(s_open, col_open, strict=True), strict=True))
    updates = []
    for flag_id, week in ends[["id", "ended_w"]].itertuples(index=False):
        s, column = where[int(flag_id)]
        kind, k = _column_flag(int(column))
        updates.append(
            {
                "id": int(flag_id),
                "ended_week": inp.weeks[week].item(),
                "recovery_explanation": explain_end(inp, res, int(s), int(week), kind, k),
                "computed_at": now,
            }
        )
    if updates:  # an UPDATE by primary key per row, sent as one batch
        session.execute(update(Flag), updates)
    ids = np.array(_insert_flags(session, flags, now), np.int64)
    new = st.open_id >= st.first_id
    st.open_id[new] = ids[st.open_id[new] - st.first_id]
    return {"flags_new": len(flags), "flags_removed": 0, "flags_ended_earlier": len(ends)}


def write_dq(session: Session, dq: pd.DataFrame, since: date | None = None) -> None:
    """Replace the data-quality events (of the weeks from `since` on, when given)."""
    query = delete(DataQualityEvent)
    if since is not None:
        query = query.where(DataQualityEvent.week_start >= since)
    session.execute(query)
    session.add_all(
        DataQualityEvent(
            week_start=r.week_start,
            source=r.source,
            module_code=_text(r.module_code),
            share_affected=float(r.share_affected),
            students_affected=int(r.students_affected),
            explanation=r.explanation,
        )
        for r in dq.itertuples(index=False)
    )
    session.flush()


def stored_dq(session: Session) -> set:
    rows = session.execute(
        select(DataQualityEvent.week_start, DataQualityEvent.source, DataQualityEvent.module_code)
    ).all()
    return {(w, s, m if isinstance(m, str) and m else None) for w, s, m in rows}


def next_flag_id(session: Session) -> int:
    """An id above every stored flag's (new flags of a resumed state are numbered from here)."""
    return int(session.scalar(select(func.max(Flag.id))) or 0) + 1


def save_snapshot(session: Session, inp: Inputs, st: State, version: int) -> None:
    """Keep the engine state after the last week of `inp` (open ids: stored flag ids)."""
    blob = dumps(Snapshot(inp.student_ids, list(inp.sources), inp.weeks[-1], st, inp.carry()))
    now = datetime.now().replace(microsecond=0)
    drop_snapshot(session)
    values = {"key": SNAPSHOT_KEY, "version": version, "saved_at": now, "data": blob}
    session.execute(insert(EngineSnapshot).values(**values))


def drop_snapshot(session: Session) -> None:
    """Forget the snapshot (the next weekly load recomputes every week)."""
    session.execute(delete(EngineSnapshot))


def load_snapshot(session: Session, version: int) -> Snapshot | None:
    """The snapshot saved with this engine state version (None: none, or another version)."""
    query = select(EngineSnapshot.version, EngineSnapshot.data)
    row = session.execute(query.where(EngineSnapshot.key == SNAPSHOT_KEY)).first()
    if row is None or row.version != version:
        return None
    return loads(row.data)
