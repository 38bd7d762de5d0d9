"""One writer of loads and computes at a time, on both stores, and the marker of an unfinished compute.

PostgreSQL: a session-level advisory lock held on its own connection (it outlives the commits of the
work it guards). SQLite: an exclusive lock on a file beside the database (processes and threads).
The lock is re-entrant within a thread, so a use case may hold it around a load and its compute.
The marker (a settings row written in the load's own transaction, cleared when a compute covering
that load commits) lets the next `ingest`, `compute` or app start finish a compute that was killed.
"""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from lib.store.models import Load, Setting

ADVISORY_KEY = 0x5E_D1_13  # any constant: the one lock of loads and computes
PENDING_KEY = "ingest.compute_pending"
_held = threading.local()


def _engine(bind: Session | Engine) -> Engine:
    if isinstance(bind, Engine):
        return bind
    engine = bind.get_bind()
    return engine if isinstance(engine, Engine) else engine.engine


@contextmanager
def store_lock(bind: Session | Engine, *, wait: bool = True) -> Iterator[bool]:
    """Hold the store's writer lock for the duration of the block. Yields whether it is held:
    with wait=False a lock held elsewhere is not waited for (the block runs with False)."""
    engine = _engine(bind)
    key = str(engine.url)
    depth = getattr(_held, "depth", {})
    _held.depth = depth
    if depth.get(key):
        depth[key] += 1
        try:
            yield True
        finally:
            depth[key] -= 1
        return
    with _acquire(engine, wait) as held:
        depth[key] = 1 if held else 0
        try:
            yield held
        finally:
            depth[key] = 0


@contextmanager
def _acquire(engine: Engine, wait: bool) -> Iterator[bool]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            how = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
            held = conn.execute(text(f"SELECT {how}(:k)"), {"k": ADVISORY_KEY}).scalar()
            held = True if wait else bool(held)
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield True  # a private in-memory store has one writer by construction
        return
    with open(Path(database).with_name(Path(database).name + ".lock"), "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def mark_pending(session: Session, load_id: int) -> None:
    """Record, in the load's transaction, that a compute must follow this load."""
    row = session.get(Setting, PENDING_KEY)
    now = datetime.now().replace(microsecond=0)
    value = {"load_id": int(load_id)}
    if row is None:
        session.add(Setting(key=PENDING_KEY, value=value, updated_at=now, updated_by="ingest"))
    else:
        row.value, row.updated_at = value, now


def _load_id(row: Setting | None) -> int | None:
    value = row.value if row is not None else None
    return int(value["load_id"]) if isinstance(value, dict) and "load_id" in value else None


def pending(session: Session) -> int | None:
    """The newest load whose compute has not finished, or None."""
    return _load_id(session.get(Setting, PENDING_KEY))


def clear_pending(session: Session, through_load_id: int) -> None:
    """After a compute that saw every load up to `through_load_id` committed: clear the marker
    unless a later load set it again."""
    row = session.get(Setting, PENDING_KEY)
    load_id = _load_id(row)
    if row is not None and (load_id is None or load_id <= through_load_id):
        session.delete(row)


def newest_load(session: Session) -> int:
    return int(session.scalar(select(func.max(Load.id))) or 0)
