"""Shared fixtures: a fresh store per test (SQLite always, PostgreSQL when TEST_DATABASE_URL), each a
copy of one store migrated once per run; cheap bcrypt hashes."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from lib.auth import BCRYPT_ROUNDS_ENV
from lib.store.db import forget_engines, get_engine, init_db, session_factory

ROOT = Path(__file__).resolve().parent.parent
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
# Cheap bcrypt hashes for the whole run (subprocesses and AppTest included); production never sets it.
os.environ[BCRYPT_ROUNDS_ENV] = "4"


def _dispose(url: str) -> None:
    get_engine(url).dispose()
    forget_engines()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One SQLite store migrated once per run; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "store.db"
    url = f"sqlite:///{path}"
    init_db(url)
    with get_engine(url).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _dispose(url)
    return path


def _database_url(name: str) -> str:
    return make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)


def _admin(sql: str) -> None:
    """One statement outside a transaction on a fresh connection (a pooled one may have been
    ended by the server during a long run)."""
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """One PostgreSQL database migrated once per run; each test gets a database cloned from it."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL store tests need TEST_DATABASE_URL (set by .ci/run)")
    name = f"tpl_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        init_db(_database_url(name))
        _dispose(_database_url(name))
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _fresh_postgres_url(template: str) -> Iterator[str]:
    """A new database cloned from the migrated template, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = _database_url(name)
    try:
        yield url
    finally:
        _dispose(url)
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _store_url(kind: str, request, tmp_path: Path, template: str = "template") -> Iterator[str]:
    """A copy of a session-wide store ("template": migrated, "sample_template": demo loaded)."""
    if kind == "sqlite":
        path = tmp_path / "store.db"
        shutil.copyfile(request.getfixturevalue(f"sqlite_{template}"), path)
        url = f"sqlite:///{path}"
        yield url
        get_engine(url).dispose()
        return
    yield from _fresh_postgres_url(request.getfixturevalue(f"postgres_{template}"))


def _load_sample(url: str, demo_dir: Path) -> None:
    from lib.usecases import load_sample_folder

    with session_factory(url)() as session:
        load_sample_folder(session, demo_dir, force=True)
        session.commit()


@pytest.fixture(scope="session")
def sqlite_sample_template(sqlite_template, demo_dir, tmp_path_factory) -> Path:
    """The migrated SQLite store with the demo folder loaded and computed, once per run."""
    path = tmp_path_factory.mktemp("sample") / "store.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    _load_sample(url, demo_dir)
    with get_engine(url).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _dispose(url)
    return path


@pytest.fixture(scope="session")
def postgres_sample_template(postgres_template, demo_dir) -> Iterator[str]:
    """A PostgreSQL database with the demo folder loaded and computed, once per run."""
    for url in _fresh_postgres_url(postgres_template):
        _load_sample(url, demo_dir)
        _dispose(url)
        yield make_url(url).database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated empty store, once on SQLite and once on PostgreSQL; DATABASE_URL points at it."""
    for url in _store_url(request.param, request, tmp_path):
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


@pytest.fixture
def sample_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A SQLite store holding the demo folder (`demo_dir`) loaded and computed; DATABASE_URL set."""
    for url in _store_url("sqlite", request, tmp_path, "sample_template"):
        monkeypatch.setenv("DATABASE_URL", url)
        yield url


@pytest.fixture
def sample_session(sample_url) -> Iterator[Session]:
    """A session on a SQLite store holding the demo folder loaded and computed."""
    with session_factory(sample_url)() as s:
        yield s


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_sample_session(request, tmp_path, monkeypatch) -> Iterator[Session]:
    """A session on a store of each kind holding the demo folder loaded and computed."""
    for url in _store_url(request.param, request, tmp_path, "sample_template"):
        monkeypatch.setenv("DATABASE_URL", url)
        with session_factory(url)() as s:
            yield s


@pytest.fixture
def sqlite_url(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A migrated empty SQLite store; DATABASE_URL points at it."""
    for url in _store_url("sqlite", request, tmp_path):
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
