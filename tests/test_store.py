"""The store: migrations create exactly the models' schema, on SQLite and PostgreSQL, and upgrade twice."""

from __future__ import annotations

from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from lib.store.db import get_engine, init_db, session_scope
from lib.store.models import Base


def test_migrations_match_the_models(store_url):
    engine = get_engine(store_url)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_init_db_is_idempotent(store_url):
    init_db(store_url)  # already at head: nothing to do, no error
    tables = set(inspect(get_engine(store_url)).get_table_names())
    assert {"students", "daily_activity", "loads", "flags", "access_log", "cases"} <= tables


def test_default_store_is_sqlite_under_var(monkeypatch):
    from lib.store.db import DEFAULT_SQLITE_PATH, database_url

    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url() == f"sqlite:///{DEFAULT_SQLITE_PATH}"
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_postgresql_connections_run_without_jit_and_keep_the_urls_options(store_url):
    """JIT compilation took longer than the store's short reads (210 ms of it for 110 ms of
    work): every connection turns it off, and keeps what the URL asks for (search_path)."""
    schema_url = f"{store_url}?options=-csearch_path%3Dpg_catalog,public"
    for url in (store_url, schema_url):
        with session_scope(url) as session:
            assert session.scalar(text("SHOW jit")) == "off"
            session.execute(text("CREATE TEMP TABLE probe (n integer)"))  # a transaction works
    with session_scope(schema_url) as session:
        assert session.scalar(text("SHOW search_path")) == "pg_catalog,public"


def _backend(url: str) -> int:
    with session_scope(url) as session:
        return int(session.scalar(text("SELECT pg_backend_pid()")))


def _terminate(url: str, pid: int) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_an_idle_pooled_connection_cut_since_its_use_is_replaced_before_a_read(
    store_url, monkeypatch
):
    """A pooled connection idle past IDLE_PING_SECONDS is pinged and, dead, replaced unseen."""
    from lib.store import db

    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
    first = _backend(store_url)
    _terminate(store_url, first)  # a database restart, or a firewall cutting idle connections
    again = _backend(store_url)
    assert again != first
    assert _backend(store_url) == again  # alive: kept in the pool


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_connection_just_used_is_not_pinged_and_the_pool_recovers_after_one_error(
    store_url, monkeypatch
):
    """No ping within IDLE_PING_SECONDS of a use (a round trip per cached read saved): a
    connection cut in that window fails the one read that meets it, and the pool replaces it."""
    from sqlalchemy.exc import OperationalError

    from lib.store import db

    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)
    first = _backend(store_url)
    _terminate(store_url, first)
    with pytest.raises(OperationalError):
        _backend(store_url)
    assert _backend(store_url) != first


def test_a_read_scope_reads_and_refuses_writes(store_url):
    """A page's reads run in read_scope; a write there is refused, not committed bit by bit."""
    from sqlalchemy import func, insert, select

    from lib.store.db import ReadOnlyScopeError, read_scope
    from lib.store.models import CalendarPeriod

    with session_scope(store_url) as session:
        session.add(CalendarPeriod(kind="term", start=date(2025, 9, 22), end=date(2025, 12, 12)))
    with read_scope(store_url) as session:
        assert session.scalar(select(func.count()).select_from(CalendarPeriod)) == 1
    with pytest.raises(ReadOnlyScopeError), read_scope(store_url) as session:
        session.add(CalendarPeriod(kind="exam", start=date(2026, 1, 5), end=date(2026, 1, 9)))
        session.flush()
    with pytest.raises(ReadOnlyScopeError), read_scope(store_url) as session:
        session.execute(
            insert(CalendarPeriod).values(kind="exam", start=date(2026, 1, 5), end=date(2026, 1, 9))
        )
    with session_scope(store_url) as session:
        assert session.scalar(select(func.count()).select_from(CalendarPeriod)) == 1


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_read_scope_on_postgresql_opens_no_transaction(store_url):
    """No BEGIN before its reads and no COMMIT after them (two round trips each); the pooled
    connection goes back to transactions for the next session_scope."""
    from psycopg.pq import TransactionStatus

    from lib.store.db import read_scope

    with read_scope(store_url) as session:
        assert session.scalar(text("SELECT 1")) == 1
        raw = session.connection().connection.dbapi_connection
        assert raw.info.transaction_status == TransactionStatus.IDLE
    with session_scope(store_url) as session:
        assert session.scalar(text("SELECT 1")) == 1
        raw = session.connection().connection.dbapi_connection
        assert raw.info.transaction_status == TransactionStatus.INTRANS
