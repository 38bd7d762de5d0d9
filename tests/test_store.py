"""The store: migrations create exactly the models' schema, on SQLite and PostgreSQL, and upgrade twice."""

from __future__ import annotations

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
