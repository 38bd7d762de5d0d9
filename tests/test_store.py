"""The store: migrations create exactly the models' schema, on SQLite and PostgreSQL, and upgrade twice."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from lib.store.db import get_engine, init_db
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
