"""Shared fixtures: a fresh store per test (SQLite always, PostgreSQL when TEST_DATABASE_URL), each a
copy of one store migrated once per run; cheap bcrypt hashes."""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
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


@functools.cache
def _shares_module_fixture(test_file: str) -> bool:
    return bool(re.search(r"scope=[\"'](module|class)[\"']", (ROOT / test_file).read_text()))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist (`make test` runs `-n auto`): tests are handed out one by one, except that a
    file defining a module- or class-scoped fixture (a server, a generated demo) is one work unit,
    so that fixture is built once, not once per worker. (xdist's own `xdist_group` marker rewrites
    `item._nodeid`, which pytest 9 no longer reads.)"""
    from xdist.scheduler import LoadScopeScheduling

    class FileWhereFixturesAreShared(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            test_file = nodeid.split("::", 1)[0]
            return test_file if _shares_module_fixture(test_file) else nodeid

    return FileWhereFixturesAreShared(config, log)


def _run_root(tmp_path_factory) -> Path:
    """The run's temporary root, common to all pytest-xdist workers (each has a subfolder)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _once_per_run(tmp_path_factory, name: str, build: Callable[[Path], None]) -> Path:
    """A folder built once per run by whichever process needs it first (pytest-xdist workers wait
    on a lock, then share it); `build` fills the empty folder."""
    root = _run_root(tmp_path_factory)
    folder = root / name
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / f"{name}.built").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            (root / f"{name}.built").touch()
    return folder


@pytest.fixture(scope="session", autouse=True)
def _component_scan_once() -> Iterator[None]:
    """Every AppTest scans all installed distributions' metadata for Streamlit v2 components
    (about a second each); the installed packages do not change during a run, so scan once."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found = scan()
    manifest_scanner.scan_component_manifests = lambda max_workers=None: list(found)
    yield
    manifest_scanner.scan_component_manifests = scan


def _dispose(url: str) -> None:
    get_engine(url).dispose()
    forget_engines()


def _checkpoint(url: str) -> None:
    """Fold the SQLite write-ahead log into the file, which is then copied on its own."""
    with get_engine(url).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    _dispose(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """One SQLite store migrated once per run; each test gets a copy of the file."""

    def build(folder: Path) -> None:
        init_db(f"sqlite:///{folder / 'store.db'}")
        _checkpoint(f"sqlite:///{folder / 'store.db'}")

    return _once_per_run(tmp_path_factory, "sqlite_template", build) / "store.db"


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


TEMPLATE_DATABASE = "database"  # the file naming a template database, in its once-per-run folder


def _postgres_once_per_run(
    tmp_path_factory, name: str, fill: Callable[[str], None], template: str = "template1"
) -> str:
    """A template database made once per run (dropped by pytest_sessionfinish): created from
    `template`, then `fill`ed through its URL."""
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL store tests need TEST_DATABASE_URL (set by .ci/run)")

    def build(folder: Path) -> None:
        database = f"tpl_{uuid.uuid4().hex[:12]}"
        (folder / TEMPLATE_DATABASE).write_text(database)
        _admin(f'CREATE DATABASE "{database}" TEMPLATE "{template}"')
        fill(_database_url(database))
        _dispose(_database_url(database))

    return (_once_per_run(tmp_path_factory, name, build) / TEMPLATE_DATABASE).read_text()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Drop the run's template databases, once every test (on every worker) has finished."""
    if not TEST_DATABASE_URL or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    root = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    for named in root.glob(f"postgres_*/{TEMPLATE_DATABASE}"):
        _admin(f'DROP DATABASE IF EXISTS "{named.read_text()}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory) -> str:
    """One PostgreSQL database migrated once per run; each test gets a database cloned from it."""
    return _postgres_once_per_run(tmp_path_factory, "postgres_template", init_db)


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

    def build(folder: Path) -> None:
        shutil.copyfile(sqlite_template, folder / "store.db")
        _load_sample(f"sqlite:///{folder / 'store.db'}", demo_dir)
        _checkpoint(f"sqlite:///{folder / 'store.db'}")

    return _once_per_run(tmp_path_factory, "sqlite_sample_template", build) / "store.db"


@pytest.fixture(scope="session")
def postgres_sample_template(postgres_template, demo_dir, tmp_path_factory) -> str:
    """A PostgreSQL database with the demo folder loaded and computed, once per run."""

    def fill(url: str) -> None:
        _load_sample(url, demo_dir)

    return _postgres_once_per_run(
        tmp_path_factory, "postgres_sample_template", fill, template=postgres_template
    )


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

    def build(out: Path) -> None:
        generate(
            students=200,
            seed=7,
            out=out,
            academic_year=2025,
            until=date(2025, 12, 19),
            system_exports=True,
        )

    return _once_per_run(tmp_path_factory, "demo", build)
