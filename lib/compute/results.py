"""Write the engine's results to the store: weekly measures, flags, data-quality events, snapshot."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import Session

from lib.compute.frames import query_frame
from lib.compute.measure_rows import wide_measures
from lib.engagement.engine import INDEX_DROP, MISSED, NO_ENGAGEMENT, SOURCE_DROP, Results, State
from lib.engagement.explain import explain_end
from lib.engagement.measures import Inputs
from lib.engagement.snapshot import Enrolled, Snapshot, dump_parts, loads
from lib.store import writers
from lib.store.measures import OTHER_COLUMNS, WIDE_COLUMNS, copy_types
from lib.store.models import (
    DataQualityEvent,
    EngineSnapshot,
    Flag,
    ResultVersion,
    WeeklyMeasure,
    WeeklyMeasureOther,
)
from lib.store.packed import pack_parts, unpack_view
from lib.store.pgcopy import SIGNATURE, TRAILER, binary_rows
from lib.store.writers import PAUSE_SECONDS

MEASURE_CHUNK_ROWS = 100_000  # student-weeks of measures built at once (bounded memory)
WRITE_ROWS = 10_000  # measure rows per write transaction: SQLite has one writer, app writes wait
# SQLite: writing this long before leaving the lock free for PAUSE_SECONDS (longer than a waiting
# writer's poll interval) when an app write announced itself (lib.store.writers): one arriving at
# a spell's start waits about this plus one poll (bench/write_wait.py: <= 1 s). The work between
# two write transactions counts towards the pause, so it sleeps only for what is left of it.
SPELL_SECONDS = 0.5
SNAPSHOT_WEEKS = 6  # weekly engine states kept: a load changing up to 6 weeks back resumes
FLAG_KEYS = ["student_id", "kind", "week_start", "explanation"]
_UNPUBLISHED = "results.unpublished"  # session.info: (version written, whether it replaces all)
_SPELL = "results.spell_started"  # session.info: when the current spell of writes started
_PAUSE = "results.pause_owed"  # session.info: the end of the spell that owes a pause
_ASKED = "results.writers_asked"  # session.info: when the last pause began (writers.now())


def _commit(session: Session) -> None:
    """Commit one short write transaction of a series; on SQLite, after each SPELL_SECONDS of
    writing the next write owes a pause (`_before_write`)."""
    session.commit()
    if session.get_bind().dialect.name != "sqlite":
        return
    now = time.perf_counter()
    if now - session.info.setdefault(_SPELL, now) >= SPELL_SECONDS:
        session.info[_PAUSE] = now


def _before_write(session: Session) -> None:
    """Before a write transaction: when an app write announced itself since the last pause
    began (lib.store.writers), leave the lock free for what is left of an owed pause (the time
    since the last commit counts: no writer waits longer than a spell and one poll)."""
    owed = session.info.pop(_PAUSE, None)
    if _SPELL not in session.info:
        session.info[_SPELL] = time.perf_counter()
        session.info[_ASKED] = writers.now() - 1.0  # a write that announced as the series began
    if owed is None:
        return
    if writers.writer_waiting(session, session.info[_ASKED]):
        session.info[_ASKED] = writers.now()
        rest = PAUSE_SECONDS - (time.perf_counter() - owed)
        if rest > 0:
            time.sleep(rest)
    session.info[_SPELL] = time.perf_counter()


def _version_row(session: Session) -> ResultVersion:
    row = session.get(ResultVersion, 1)
    if row is None:  # none before the first compute (version 0)
        row = ResultVersion(id=1, current=0, base=0)
        session.add(row)
        session.flush()
    return row


def _rowcount(result) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


Measure = type[WeeklyMeasure] | type[WeeklyMeasureOther]
MEASURE_MODELS: tuple[Measure, ...] = (WeeklyMeasure, WeeklyMeasureOther)


def _rowid(model: Measure) -> ColumnElement[int]:
    return literal_column(f"{model.__tablename__}.rowid")


def _in_batches(session: Session, model: Measure, where, write) -> int:
    """Run write(model, condition) over the measure rows matching `where` (each write must take
    its rows out of `where`: a delete, or an update of the version columns `where` tests),
    WRITE_ROWS rows per short transaction on SQLite (its one write lock is held only that long);
    one statement on PostgreSQL."""
    if session.get_bind().dialect.name != "sqlite":
        count = _rowcount(session.execute(write(model, where)))
        session.commit()
        return count
    rowid = _rowid(model)
    count = 0
    while True:
        batch = select(rowid).select_from(model).where(where).limit(WRITE_ROWS).scalar_subquery()
        _before_write(session)
        done = _rowcount(session.execute(write(model, rowid.in_(batch))))
        _commit(session)
        count += done
        if done < WRITE_ROWS:
            return count


def _each(session: Session, where: Callable[[Measure], ColumnElement[bool]], write) -> int:
    """_in_batches over both measure tables (`where` names the rows of either)."""
    return sum(_in_batches(session, model, where(model), write) for model in MEASURE_MODELS)


# no ORM synchronisation of the session's objects (it would fetch every row changed)
_PLAIN = {"synchronize_session": False}


def _delete(model: Measure, condition):
    return delete(model).where(condition).execution_options(**_PLAIN)


def _set_v_to(value):
    """An update of the replacing version of the rows matching a condition."""
    return lambda model, condition: (
        update(model).where(condition).values(v_to=value).execution_options(**_PLAIN)
    )


def _drop_snapshots(session: Session, first_key: str | None) -> None:
    """Delete the kept engine states of the weeks from first_key on (None: all), one per short
    transaction (each is a large value): the weeks about to be recomputed make them stale, and
    a missing state only means a later compute passes over every week."""
    query = select(EngineSnapshot.key)
    if first_key is not None:
        query = query.where(EngineSnapshot.key >= first_key)
    for key in list(session.scalars(query)):
        _before_write(session)
        session.execute(delete(EngineSnapshot).where(EngineSnapshot.key == key))
        _commit(session)


def _begin_version(session: Session, replaces_all: bool, first_key: str | None = None) -> int:
    """The version this compute writes under (invisible until `publish`, marked as being written
    meanwhile), after clearing what a killed compute left (rows of a version it never published,
    its marks on rows it replaced) and the engine states this compute replaces (from first_key
    on; all when None)."""
    versions = _version_row(session)
    current, left = versions.current, versions.writing
    versions.writing = current + 1
    session.commit()
    _drop_snapshots(session, first_key)
    if left is not None and left > current:  # rare: the only read of the whole table
        _each(session, lambda m: m.v_from > current, _delete)
    _each(session, lambda m: m.v_to.is_not(None) & (m.v_to > current), _set_v_to(None))
    session.info[_UNPUBLISHED] = (current + 1, replaces_all)
    return current + 1


def _retire(
    session: Session, version: int, where: Callable[[Measure], ColumnElement[bool]]
) -> None:
    """Mark the visible rows matching `where` as replaced by `version` (seen until it is current)."""
    versions = _version_row(session)
    base, current = versions.base, versions.current

    def visible(m: Measure) -> ColumnElement[bool]:
        return and_(where(m), m.v_to.is_(None), m.v_from >= base, m.v_from <= current)

    _each(session, visible, _set_v_to(version))


def publish(session: Session) -> bool:
    """Make the measures written under the new version the current ones (in the caller's
    transaction, with the flags and engine state it writes); returns whether they replace every
    earlier row."""
    unpublished = session.info.pop(_UNPUBLISHED, None)
    if unpublished is None:
        return False
    version, replaces_all = unpublished
    versions = _version_row(session)
    versions.current = version
    versions.writing = None
    if replaces_all:
        versions.base = version
    session.flush()
    return bool(replaces_all)


def drop_replaced(session: Session, replaced_all: bool) -> int:
    """Delete the measure rows no version from the current one on sees (short transactions): the
    rows marked replaced (a partial index holds them), and after a compute that replaced every
    row, the rows from before its version (the oldest rows: each batch reads from the start)."""
    versions = _version_row(session)
    session.commit()
    current, base = versions.current, versions.base
    count = _each(session, lambda m: m.v_to.is_not(None) & (m.v_to <= current), _delete)
    if replaced_all:
        for model in MEASURE_MODELS:
            count += _delete_in_rowid_order(session, model, model.v_from < base)
    return count


def _delete_in_rowid_order(session: Session, model: Measure, where) -> int:
    """Delete the (many) rows matching `where` WRITE_ROWS at a time in rowid order, each batch
    read on from the last one (on SQLite a batch read from the start would pass again over the
    rows kept, through the primary key's index: quadratic)."""
    if session.get_bind().dialect.name != "sqlite":
        return _in_batches(session, model, where, _delete)
    rowid = _rowid(model)
    last, count = 0, 0
    while True:
        # the batch's last rowid alone (fetching every rowid of it cost as much as the delete)
        batch = (
            select(rowid.label("id"))
            .select_from(model)
            .where(rowid > last, where)
            .order_by(rowid)
            .limit(WRITE_ROWS)
            .subquery()
        )
        high = session.scalar(select(func.max(batch.c.id)))
        if high is None:
            return count
        _before_write(session)
        where_batch = and_(rowid > last, rowid <= high, where)
        count += _rowcount(session.execute(_delete(model, where_batch)))
        _commit(session)
        last = high


def _cells(values: np.ndarray, dialect: str) -> list:
    """One column as the driver takes it: floats with NaN as NULL (SQLite stores a NaN bound as
    NULL: the floats go as they are), dates as ISO text on SQLite (each week's text made once),
    flags as 0/1 there."""
    kind = values.dtype.kind
    if kind == "f":
        if dialect == "sqlite":
            return values.tolist()
        cells = values.astype(object)
        cells[np.isnan(values)] = None
        return cells.tolist()
    if kind == "M":
        weeks, at = np.unique(values.astype("datetime64[D]"), return_inverse=True)
        text = weeks.astype(str) if dialect == "sqlite" else weeks.astype(object)
        return np.asarray(text, dtype=object)[at].tolist()
    if kind == "b" and dialect == "sqlite":
        return values.astype(int).tolist()
    return values.tolist()


def _driver_rows(columns: dict[str, np.ndarray], names: list[str], dialect: str) -> list[tuple]:
    """Rows of these columns (in `names` order) as the driver takes them, built column by column."""
    return list(zip(*(_cells(columns[name], dialect) for name in names), strict=True))


def _executemany(session: Session, table: str, names: list[str], part: dict) -> int:
    """Insert these columns' rows bare on SQLite (executemany), uncommitted; returns the count."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None  # a connection checked out of the pool
    marks = ", ".join("?" for _ in names)
    cursor = raw.cursor()
    try:
        rows = _driver_rows(part, names, "sqlite")
        cursor.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)
    finally:
        cursor.close()
    return len(part[names[0]])


def _copy(session: Session, table: str, names: list[str], columns: dict) -> int:
    """Insert these columns' rows on PostgreSQL in one binary COPY, uncommitted: the stream is
    built WRITE_ROWS rows at a time and sent as built, so the server stores each part while the
    next is built (one part per COPY left the server idle while Python built the next)."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None  # a connection checked out of the pool
    kinds = copy_types(table, names)
    n = len(columns[names[0]])
    cursor = raw.cursor()
    try:
        sql = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT BINARY)"
        with cursor.copy(sql) as copy:
            copy.write(SIGNATURE)
            for i in range(0, n, WRITE_ROWS):
                copy.write(binary_rows([columns[c][i : i + WRITE_ROWS] for c in names], kinds))
            copy.write(TRAILER)
    finally:
        cursor.close()
    return n


def _write_measures(
    session: Session, inp: Inputs, res: Results, sel: np.ndarray, first: int, version: int
) -> int:
    """Insert the measure rows of these students from week `first` on under `version` (one wide
    row per student-week, other sources beside): on SQLite committed per WRITE_ROWS rows (it has
    one writer: app writes wait), on PostgreSQL one COPY per table."""
    wide, other = wide_measures(inp, res, sel, first)
    sqlite = session.get_bind().dialect.name == "sqlite"
    rows = 0
    for table, columns, names in (
        (WeeklyMeasure.__tablename__, wide, WIDE_COLUMNS),
        (WeeklyMeasureOther.__tablename__, other, OTHER_COLUMNS),
    ):
        n = len(columns["student_id"])
        columns["v_from"] = np.full(n, version, np.int64)
        if not sqlite:
            rows += _copy(session, table, names, columns) if n else 0
            _commit(session)
            continue
        for i in range(0, n, WRITE_ROWS):
            part = {c: columns[c][i : i + WRITE_ROWS] for c in names}
            _before_write(session)
            rows += _executemany(session, table, names, part)
            _commit(session)
    return rows


def _of_students(students: list[str]) -> Callable[[Measure], ColumnElement[bool]]:
    return lambda m: m.student_id.in_(students)


def persist_measures(
    session: Session, inp: Inputs, res: Results, students: list[str] | None, first_week: int
) -> int:
    """Replace the weekly measures of these students (None: everyone) and, for everyone else, of
    the weeks from first_week on; rows built per chunk of students (bounded memory), written
    under a new version that `publish` makes current."""
    W = len(inp.weeks)
    version = _begin_version(session, replaces_all=students is None)
    if students is None:
        groups = [(np.arange(len(inp.student_ids)), 0)]
    else:
        for i in range(0, len(students), 500):
            _retire(session, version, _of_students(students[i : i + 500]))
        groups = [(inp.student_ids.get_indexer(students), 0)]
        if first_week < W:
            since = inp.weeks[first_week].item()
            _retire(session, version, lambda m: m.week_start >= since)
            rest = np.setdiff1d(np.arange(len(inp.student_ids)), groups[0][0])
            groups.append((rest, first_week))
    return _write_groups(session, inp, res, groups, version)


def replace_measures_from(session: Session, inp: Inputs, res: Results) -> int:
    """Replace every student's measures of these weeks and later (the weeks of `inp`)."""
    version = _begin_version(session, replaces_all=False, first_key=str(inp.weeks[0]))
    since = inp.weeks[0].item()
    _retire(session, version, lambda m: m.week_start >= since)
    return _write_groups(session, inp, res, [(np.arange(len(inp.student_ids)), 0)], version)


def _write_groups(session: Session, inp: Inputs, res: Results, groups, version: int) -> int:
    rows = 0
    for sel, first in groups:
        W = len(inp.weeks)
        per_chunk = max(1, MEASURE_CHUNK_ROWS // max(W - first, 1))
        for i in range(0, len(sel), per_chunk):
            rows += _write_measures(session, inp, res, sel[i : i + per_chunk], first, version)
    return rows


def _text(value) -> str | None:
    return value if isinstance(value, str) else None


def _day(value) -> date | None:
    return value if isinstance(value, date) else None


def _insert_flags(session: Session, rows: pd.DataFrame, now: datetime) -> None:
    """Insert these flags (one batch)."""
    values = [
        {
            "student_id": r.student_id,
            "kind": r.kind,
            "severity": r.severity,
            "week_start": r.week_start,
            "ended_week": _day(r.ended_week),
            "explanation": r.explanation,
            "recovery_explanation": _text(r.recovery_explanation),
            "computed_at": now,
        }
        for r in rows.itertuples(index=False)
    ]
    if values:
        session.execute(insert(Flag), values)


def _stored_flags(
    session: Session, students: list[str] | None, since: date | None = None, extra: bool = False
) -> pd.DataFrame:
    """Stored flags (of these students; raised in the week `since` or later) with their keys
    (and, with extra, their end, recovery text and severity as stored_*)."""
    columns = ["id", *FLAG_KEYS]
    fields = [Flag.id, Flag.student_id, Flag.kind, Flag.week_start, Flag.explanation]
    if extra:
        columns += ["stored_ended", "stored_recovery", "stored_severity"]
        fields += [Flag.ended_week, Flag.recovery_explanation, Flag.severity]
    query = select(*fields)
    if since is not None:
        query = query.where(Flag.week_start >= since)
    if students is None:
        return query_frame(session, query, columns)
    parts = [
        query_frame(session, query.where(Flag.student_id.in_(students[i : i + 500])), columns)
        for i in range(0, max(len(students), 1), 500)
    ]
    return pd.concat(parts, ignore_index=True)


def _ends_differ(kept: pd.DataFrame) -> np.ndarray:
    """Rows whose computed end, recovery text or severity differs from the stored flag's."""

    def norm(values) -> np.ndarray:
        return np.array([str(v) if isinstance(v, (str, date)) else "" for v in values], object)

    return (
        (norm(kept["ended_week"]) != norm(kept["stored_ended"]))
        | (norm(kept["recovery_explanation"]) != norm(kept["stored_recovery"]))
        | (norm(kept["severity"]) != norm(kept["stored_severity"]))
    )


def write_flags(
    session: Session, flags: pd.DataFrame, students: list[str] | None, since: date | None = None
) -> dict:
    """Replace flags (of these students; raised in the week `since` or later), keeping the ids
    of unchanged flags (cases point at them). Everything is worked out before the first write:
    the writes (a few statements) hold SQLite's write lock briefly."""
    stored = _stored_flags(session, students, since, extra=True)
    merged = flags.merge(stored, on=FLAG_KEYS, how="outer", indicator=True)
    gone = merged.loc[merged["_merge"] == "right_only", "id"].astype(int).tolist()
    now = datetime.now().replace(microsecond=0)
    kept = merged[merged["_merge"] == "both"]
    changed = kept[_ends_differ(kept)] if len(kept) else kept
    updates = [
        {
            "id": int(r.id),
            "ended_week": _day(r.ended_week),
            "recovery_explanation": _text(r.recovery_explanation),
            "severity": r.severity,
            "computed_at": now,
        }
        for r in changed.itertuples(index=False)
    ]
    new = merged[merged["_merge"] == "left_only"]
    for i in range(0, len(gone), 500):
        session.execute(delete(Flag).where(Flag.id.in_(gone[i : i + 500])))
    if updates:  # an UPDATE by primary key per row, sent as one batch
        session.execute(update(Flag), updates)
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


def rewrite_flags_from(
    session: Session,
    inp: Inputs,
    res: Results,
    flags: pd.DataFrame,
    ends: pd.DataFrame,
    before: State,
    since: date,
) -> dict:
    """Record the flags of these weeks (`since` on; unchanged ones keep their ids) and the ends,
    in them, of flags raised earlier (open in `before`, named by stored ids; reopened first)."""
    now = datetime.now().replace(microsecond=0)
    s_open, col_open = np.nonzero(before.open_id >= 0)
    held = before.open_id[s_open, col_open].tolist()
    where = dict(zip(held, zip(s_open, col_open, strict=True), strict=True))
    updates = {
        flag_id: {"id": flag_id, "ended_week": None, "recovery_explanation": None}
        for flag_id in held
    }
    for flag_id, week in ends[["id", "ended_w"]].itertuples(index=False):
        s, column = where[int(flag_id)]
        kind, k = _column_flag(int(column))
        updates[int(flag_id)] = {
            "id": int(flag_id),
            "ended_week": inp.weeks[week].item(),
            "recovery_explanation": explain_end(inp, res, int(s), int(week), kind, k),
        }
    changed = _changed_ends(session, list(updates.values()))
    if changed:  # an UPDATE by primary key per row, sent as one batch
        session.execute(update(Flag), [{**row, "computed_at": now} for row in changed])
    counts = write_flags(session, flags, None, since=since)
    return {**counts, "flags_ended_earlier": len(ends)}


def _changed_ends(session: Session, rows: list[dict]) -> list[dict]:
    """The rows whose end differs from the stored flag's."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    stored = {}
    for i in range(0, len(ids), 500):
        query = select(Flag.id, Flag.ended_week, Flag.recovery_explanation)
        for flag_id, ended, text in session.execute(query.where(Flag.id.in_(ids[i : i + 500]))):
            stored[flag_id] = (ended, text)
    return [r for r in rows if stored.get(r["id"]) != (r["ended_week"], r["recovery_explanation"])]


def snapshot_open_ids(
    session: Session, flags: pd.DataFrame, first_id: int, states: list[tuple[int, State]]
) -> bool:
    """Name the open flags of these states by stored ids (ids from first_id on are this run's
    flags, rows of `flags`); False when one is not stored."""
    ids = flag_ids(session, flags)
    for _, st in states:
        mine = st.open_id >= first_id
        if mine.any():
            st.open_id[mine] = ids[st.open_id[mine] - first_id]
        if (st.open_id[mine] < 0).any():
            return False
    return True


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


def stored_dq(session: Session) -> list:
    """(week, source, module) of the stored data-quality events."""
    return list(
        session.execute(
            select(
                DataQualityEvent.week_start, DataQualityEvent.source, DataQualityEvent.module_code
            )
        ).all()
    )


def next_flag_id(session: Session) -> int:
    """An id above every stored flag's (new flags of a resumed state are numbered from here)."""
    return int(session.scalar(select(func.max(Flag.id))) or 0) + 1


def save_snapshots(
    session: Session,
    inp: Inputs,
    states: list[tuple[int, State]],
    version: int,
    every: bool,
    enrolled: Enrolled | None = None,
) -> None:
    """Publish this compute's results, then keep the engine state after each of these weeks,
    replacing the snapshots of those weeks and later (`every`: all snapshots), and only the last
    SNAPSHOT_WEEKS weeks' in all.

    The last step of a compute: the snapshots replaced are deleted and the new measures made
    current (`publish`) in the transaction of the flags and engine state written before, then
    committed; each snapshot is written in a transaction of its own, and the replaced measure
    rows deleted in short ones. A compute killed after the commit leaves some snapshots missing
    (a later compute then passes over every week), never stale ones."""
    if every or not states:
        session.execute(delete(EngineSnapshot))
    elif states:
        first = str(inp.weeks[states[0][0]])
        session.execute(delete(EngineSnapshot).where(EngineSnapshot.key >= first))
    replaced_all = publish(session)
    session.commit()
    now = datetime.now().replace(microsecond=0)
    sources = list(inp.sources)
    for t, st in states:
        snapshot = Snapshot(inp.student_ids, sources, inp.weeks[t], st, inp.carry(t), enrolled)
        blob = pack_parts(dump_parts(snapshot))
        values = {"key": str(inp.weeks[t]), "version": version, "saved_at": now, "data": blob}
        _before_write(session)
        session.execute(insert(EngineSnapshot).values(**values))
        _commit(session)
    keys = sorted(session.scalars(select(EngineSnapshot.key)))
    if len(keys) > SNAPSHOT_WEEKS:
        old = keys[: len(keys) - SNAPSHOT_WEEKS]
        session.execute(delete(EngineSnapshot).where(EngineSnapshot.key.in_(old)))
        session.commit()
    drop_replaced(session, replaced_all)


def load_snapshot(session: Session, week: date) -> Snapshot | None:
    """The engine state after this week (None when not kept)."""
    return snapshot_of(stored_snapshot(session, week))


def stored_snapshot(session: Session, week: date) -> bytes | None:
    """The stored bytes of the engine state after this week (None when not kept)."""
    return session.scalar(select(EngineSnapshot.data).where(EngineSnapshot.key == str(week)))


def snapshot_of(blob: bytes | None) -> Snapshot | None:
    """The snapshot stored as these bytes (None for none, another format or damage); no store
    access (decompressing releases the GIL: a caller may read the store meanwhile)."""
    return loads(unpack_view(blob)) if blob is not None else None
