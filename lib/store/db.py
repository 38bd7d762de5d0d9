"""The store: engine and sessions for DATABASE_URL (PostgreSQL) or the embedded SQLite file under var/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from lib.store import writers
from lib.store.append_only import register_sqlite

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SQLITE_PATH = ROOT / "var" / "dashboard.db"


def database_url() -> str:
    """The store's URL: DATABASE_URL when set, else the embedded SQLite file."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        if url.startswith("postgresql://"):  # plain URLs get the psycopg 3 driver we install
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def _sqlite_pragmas(dbapi_connection, record) -> None:
    register_sqlite(dbapi_connection, record)  # the purge switch of the append-only triggers
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-262144")  # 256 MB: bulk loads insert into large indexes
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _postgres_session(dbapi_connection, record) -> None:
    """No JIT compilation on the store's connections: PostgreSQL compiles a query whose estimated
    cost passes jit_above_cost, and for the short reads of a compute or a page that took longer
    than the query (the computed students' EXISTS probes: 210 ms of JIT for 110 ms of work)."""
    _outside_transaction(dbapi_connection, "SET jit = off")  # a session setting


def _outside_transaction(dbapi_connection, statement: str) -> None:
    """Run one statement on a raw psycopg connection without leaving a transaction open."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    with dbapi_connection.cursor() as cursor:
        cursor.execute(statement)
    dbapi_connection.autocommit = autocommit


IDLE_PING_SECONDS = 5.0  # a pooled PostgreSQL connection idle this long is pinged before use
_CHECKED_IN = "checked_in_at"  # connection record info: when it went back to the pool


def _returned(dbapi_connection, record) -> None:
    record.info[_CHECKED_IN] = time.monotonic()


def _ping_after_idle(dbapi_connection, record, proxy) -> None:
    """Ping a pooled connection that has been idle (a database restarted or a connection cut
    since it was used) and have the pool replace it when dead; one just used is not pinged: a
    ping on every checkout cost a round trip per cached read of a page (6% of the replicas' CPU
    under bench/load.py), and a connection that died since shows as an error the page catches."""
    returned = record.info.get(_CHECKED_IN)
    if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
        return
    try:
        _outside_transaction(dbapi_connection, "SELECT 1")
    except Exception as error:
        raise exc.DisconnectionError(f"a pooled connection no longer answers: {error}") from error


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the process (DATABASE_URL is read on every call, not cached)."""
    return _engine_for(url or database_url())


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        writers.listen(engine)
    else:
        engine = create_engine(url)
        event.listen(engine, "connect", _postgres_session)
        event.listen(engine, "checkin", _returned)
        event.listen(engine, "checkout", _ping_after_idle)
    return engine


def forget_engines() -> None:
    """Drop the cached engines (tests that create and drop stores)."""
    _engine_for.cache_clear()
    _autocommit.cache_clear()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return sessionmaker(get_engine(url), expire_on_commit=False)


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    session = session_factory(url)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class ReadOnlyScopeError(RuntimeError):
    """A write attempted in a read_scope session."""


@contextmanager
def read_scope(url: str | None = None) -> Iterator[Session]:
    """A session for reads alone (a page's cached reads, the per-run login check). On PostgreSQL
    without a transaction around them: psycopg sends BEGIN before a transaction's first query
    and the scope's end sent COMMIT, two round trips more per read; each statement still sees
    what was committed when it started, as in the store's READ COMMITTED transactions. A write
    in it raises ReadOnlyScopeError, on either store."""
    engine = get_engine(url)
    if engine.dialect.name == "postgresql":
        engine = _autocommit(engine)
    session = Session(engine, expire_on_commit=False)
    event.listen(session, "before_flush", _refuse_flush)
    event.listen(session, "do_orm_execute", _refuse_writes)
    try:
        yield session
    finally:
        session.close()


@lru_cache(maxsize=8)
def _autocommit(engine: Engine) -> Engine:
    """The engine's autocommit twin (the same pool of connections)."""
    return engine.execution_options(isolation_level="AUTOCOMMIT")


_READ_ONLY = "a read_scope session does not write: use session_scope"


def _refuse_flush(session: Session, context, instances) -> None:
    raise ReadOnlyScopeError(_READ_ONLY)


def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadOnlyScopeError(_READ_ONLY)


def init_db(url: str | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url or database_url()
    command.upgrade(config, "head")
