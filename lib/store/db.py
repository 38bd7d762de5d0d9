"""The store: engine and sessions for DATABASE_URL (PostgreSQL) or the embedded SQLite file under var/."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

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


def get_engine(url: str | None = None) -> Engine:
    """One engine per URL for the process (DATABASE_URL is read on every call, not cached)."""
    return _engine_for(url or database_url())


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def forget_engines() -> None:
    """Drop the cached engines (tests that create and drop stores)."""
    _engine_for.cache_clear()


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


def init_db(url: str | None = None) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["url"] = url or database_url()
    command.upgrade(config, "head")


# SQLite has one writer; a writer that finds the store locked polls (every 100 ms once it has
# waited a while), so a long series of short write transactions must leave the lock free for
# longer than that now and then, or an app write could keep missing the gaps between them.
WRITE_SPELL_SECONDS = 0.3  # writing in short transactions this long at most before a pause
PAUSE_SECONDS = 0.12  # longer than the busy handler's longest poll interval (100 ms)
_SPELL = "store.write_spell_started"


def commit_and_yield(session: Session) -> None:
    """Commit one short transaction of a long series (a compute's or a load's writes); on SQLite,
    pause after each WRITE_SPELL_SECONDS of writing so that waiting app writes get the lock."""
    session.commit()
    if session.get_bind().dialect.name != "sqlite":
        return
    now = time.perf_counter()
    started = session.info.setdefault(_SPELL, now)
    if now - started >= WRITE_SPELL_SECONDS:
        time.sleep(PAUSE_SECONDS)
        session.info[_SPELL] = time.perf_counter()
