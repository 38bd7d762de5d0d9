"""Shared fixtures: a fresh temporary store per test (SQLite always, PostgreSQL when TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from lib.store.db import forget_engines, get_engine, init_db, session_factory

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()


def _fresh_postgres_url() -> Iterator[str]:
    """A new schema in the test database, dropped afterwards; the URL pins search_path to it."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    url = f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        forget_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _store_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
        init_db(url)
        yield url
        get_engine(url).dispose()
        return
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL store tests need TEST_DATABASE_URL (set by .ci/run)")
    for url in _fresh_postgres_url():
        init_db(url)
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated empty store, once on SQLite and once on PostgreSQL; DATABASE_URL points at it."""
    for url in _store_url(request.param, tmp_path):
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated empty SQLite store; DATABASE_URL points at it."""
    for url in _store_url("sqlite", tmp_path):
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


@pytest.fixture
def session(sqlite_url) -> Iterator[Session]:
    """A session on a fresh SQLite store."""
    with session_factory(sqlite_url)() as s:
        yield s


@pytest.fixture
def any_session(store_url) -> Iterator[Session]:
    """A session on a fresh store of each kind (SQLite, PostgreSQL)."""
    with session_factory(store_url)() as s:
        yield s


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """A small deterministic demo-data folder (200 students, autumn term 2025), shared by the run."""
    from lib.demo import generate

    out = tmp_path_factory.mktemp("demo")
    generate(
        students=200,
        seed=7,
        out=out,
        academic_year=2025,
        until=date(2025, 12, 19),
        system_exports=True,
    )
    return out
