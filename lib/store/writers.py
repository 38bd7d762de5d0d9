"""SQLite's one writer: an app write announces itself as it begins, and a long series of short
write transactions (a compute's) leaves the lock free for a moment only when one has.

A writer that finds the store locked polls (every 100 ms once it has waited a while), so the
series must leave the lock free for longer than that, or a waiting write could keep missing the
gaps. Pausing after every spell whether or not anyone waits cost a full compute of 40,000
students 1.6 s of sleep; an app write now touches a file beside the store (`<store>-writers`)
before its first statement, and the series pauses at its next spell's end only if that file was
touched since its last pause began."""

from __future__ import annotations

import contextvars
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

PAUSE_SECONDS = 0.12  # longer than the busy handler's longest poll interval (100 ms)
SUFFIX = "-writers"
# a file's times come from the kernel's coarse clock, a few milliseconds behind time.time()
CLOCK_SLACK = 0.05
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_IN_SERIES: contextvars.ContextVar[bool] = contextvars.ContextVar("in_series", default=False)


@contextmanager
def writing_in_series() -> Iterator[None]:
    """The writes made inside are a long series that pauses for others (they announce nothing)."""
    token = _IN_SERIES.set(True)
    try:
        yield
    finally:
        _IN_SERIES.reset(token)


def announce_path(engine: Engine) -> Path | None:
    """The file app writes touch on this store (None: an in-memory store, nobody else writes)."""
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}{SUFFIX}")


def listen(engine: Engine) -> None:
    """Make every write transaction begun on this SQLite engine outside a series announce itself."""
    path = announce_path(engine)
    if path is None:
        return

    def announce(conn, cursor, statement, parameters, context, executemany) -> None:
        if _IN_SERIES.get() or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        raw = conn.connection.dbapi_connection
        if raw is None or raw.in_transaction:  # announced at its first write already
            return
        try:
            path.touch()
        except OSError:  # a read-only folder: the series then pauses on every spell
            pass

    event.listen(engine, "before_cursor_execute", announce)


def writer_waiting(session: Session, since: float) -> bool:
    """Whether an app write announced itself on this session's store at or after `since`
    (time.time()); True when the store cannot tell (no file to look at)."""
    path = announce_path(session.get_bind())  # type: ignore[arg-type]
    if path is None:
        return True
    try:
        return os.stat(path).st_mtime >= since - CLOCK_SLACK
    except FileNotFoundError:
        return False
    except OSError:
        return True


def now() -> float:
    """The clock `writer_waiting` compares with (the file system's: wall-clock seconds)."""
    return time.time()
