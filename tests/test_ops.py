"""Backup, restore and purge (lib.ops) on SQLite and PostgreSQL: round trips compare every table."""

from __future__ import annotations

import uuid
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from lib.ops.backup import BackupError, backup, read_manifest, restore, table_rows, tables
from lib.ops.retention import cutoff_for, purge, set_retention
from lib.store.db import forget_engines, get_engine, session_factory
from lib.store.models import AccessLogEntry, DailyActivity, Flag, WeeklyMeasure
from lib.usecases import load_sample_folder
from tests.conftest import TEST_DATABASE_URL

# Tables the demo data plus the filler rows must populate (new tables are compared too).
MUST_HOLD_ROWS = {
    "loads",
    "students",
    "staff_users",
    "daily_activity",
    "weekly_measures",
    "flags",
    "engine_snapshots",
    "settings",
    "cases",
    "case_entries",
    "compliance_records",
    "access_log",
    "subject_access_requests",
}


def _value(column, parent_values: dict) -> object:
    """A plausible value for a filler row (foreign keys take an existing parent's value)."""
    for fk in column.foreign_keys:
        key = (fk.column.table.name, fk.column.name)
        if key in parent_values:
            return parent_values[key]
    kind = column.type
    if isinstance(kind, JSON):
        return {"filled": ["by", "test"], "n": 1}
    if isinstance(kind, Boolean):
        return True
    if isinstance(kind, Integer):
        return 1
    if isinstance(kind, Float):
        return 0.25
    if isinstance(kind, DateTime):
        return datetime(2025, 10, 1, 9, 30, 15, 123456)
    if isinstance(kind, Date):
        return date(2025, 10, 1)
    if isinstance(kind, LargeBinary):
        return b"\x00\x01binary"
    length = getattr(kind, "length", None) or 20
    return "f" * min(length, 8)


def _fill_empty_tables(url: str) -> None:
    """One synthetic row in every table the demo data leaves empty (cases, compliance, ...)."""
    engine = get_engine(url)
    for table in tables():
        with engine.begin() as conn:
            if conn.scalar(select(func.count()).select_from(table)):
                continue
            parents = {}
            for column in table.columns:
                for fk in column.foreign_keys:
                    parent = fk.column
                    parents[(parent.table.name, parent.name)] = conn.scalar(select(parent).limit(1))
            serial = table.autoincrement_column
            row = {c.name: _value(c, parents) for c in table.columns if c is not serial}
            try:
                with conn.begin_nested():
                    conn.execute(table.insert(), [row])
            except IntegrityError:  # a CHECK the filler cannot guess: the table stays empty
                continue


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory) -> Path:
    from lib.demo import generate

    out = tmp_path_factory.mktemp("ops_demo")
    generate(students=60, seed=11, out=out, academic_year=2025, until=date(2025, 12, 5))
    return out


@pytest.fixture
def loaded_store(store_url, demo_folder) -> str:
    """A store with demo data loaded and computed, and a row in every other table."""
    with session_factory(store_url)() as session:
        load_sample_folder(session, demo_folder)
    _fill_empty_tables(store_url)
    return store_url


def _blank_url(kind: str, tmp_path: Path) -> Iterator[str]:
    """A never-migrated store of this kind (restore migrates it)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / f'blank_{uuid.uuid4().hex[:6]}.db'}"
        return
    if not TEST_DATABASE_URL:
        pytest.skip("PostgreSQL store tests need TEST_DATABASE_URL (set by .ci/run)")
    schema = f"r_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in TEST_DATABASE_URL else "?"
    try:
        yield f"{TEST_DATABASE_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        forget_engines()
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _kind(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgres"


def _assert_same_tables(source_url: str, target_url: str) -> None:
    with get_engine(source_url).connect() as a, get_engine(target_url).connect() as b:
        for table in tables():
            assert table_rows(b, table) == table_rows(a, table), table.name


def test_round_trip_restores_every_table(loaded_store, tmp_path):
    out = tmp_path / "backup.zip"
    manifest = backup(out, loaded_store)
    held = {name for name, rows in manifest["tables"].items() if rows}
    assert MUST_HOLD_ROWS <= held
    assert set(manifest["tables"]) == {t.name for t in tables()}
    for target in _blank_url(_kind(loaded_store), tmp_path):
        restore(out, target)
        _assert_same_tables(loaded_store, target)
        get_engine(target).dispose()


@pytest.mark.postgres
def test_a_sqlite_backup_restores_into_postgresql(sqlite_url, demo_folder, tmp_path):
    with session_factory(sqlite_url)() as session:
        load_sample_folder(session, demo_folder)
    _fill_empty_tables(sqlite_url)
    out = tmp_path / "from_sqlite.zip"
    backup(out, sqlite_url)
    for target in _blank_url("postgres", tmp_path):
        restore(out, target)
        _assert_same_tables(sqlite_url, target)
        with session_factory(target)() as session:  # serial ids continue after the restored ones
            flag = Flag(
                student_id="S1",
                kind="k",
                severity="low",
                week_start=date(2026, 1, 5),
                explanation="e",
                computed_at=datetime(2026, 1, 5),
            )
            session.add(flag)
            session.commit()
            assert flag.id == session.scalar(select(func.max(Flag.id)))
            assert flag.id > read_manifest(out)["tables"]["flags"]
        get_engine(target).dispose()


def test_restore_refuses_a_store_holding_data(loaded_store, tmp_path):
    out = tmp_path / "backup.zip"
    backup(out, loaded_store)
    with pytest.raises(BackupError, match="restore needs an empty store"):
        restore(out, loaded_store)


def test_restore_refuses_a_file_that_is_not_a_backup(store_url, tmp_path):
    bogus = tmp_path / "bogus.zip"
    with zipfile.ZipFile(bogus, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(BackupError, match="not a dashboard backup"):
        restore(bogus, store_url)


def test_purge_removes_whole_weeks_before_the_cutoff_and_logs_counts(loaded_store):
    as_of = date(2026, 11, 18)
    cutoff = cutoff_for(as_of, 1)
    assert cutoff == date(2025, 11, 17) and cutoff.weekday() == 0
    with session_factory(loaded_store)() as session:
        set_retention(session, 1, "admin1")
        session.commit()
        before = {
            "old_days": session.scalar(select(func.count()).where(DailyActivity.day < cutoff)),
            "kept_days": session.scalar(select(func.count()).where(DailyActivity.day >= cutoff)),
            "old_measures": session.scalar(
                select(func.count()).where(WeeklyMeasure.week_start < cutoff)
            ),
            "kept_measures": session.scalar(
                select(func.count()).where(WeeklyMeasure.week_start >= cutoff)
            ),
            "log": session.scalar(select(func.count()).select_from(AccessLogEntry)),
        }
        assert before["old_days"] > 0 and before["kept_days"] > 0
        result = purge(session, as_of=as_of, by="admin1")
    assert result["cutoff"] == "2025-11-17"
    assert result["removed"]["daily_activity"] == before["old_days"]
    assert result["removed"]["weekly_measures"] == before["old_measures"]
    with session_factory(loaded_store)() as session:
        assert session.scalar(select(func.min(DailyActivity.day))) >= cutoff
        assert (
            session.scalar(select(func.count()).select_from(DailyActivity)) == before["kept_days"]
        )
        assert (
            session.scalar(select(func.count()).where(WeeklyMeasure.week_start >= cutoff))
            == before["kept_measures"]
        )
        entries = session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == "purge")
        ).all()
        assert session.scalar(select(func.count()).select_from(AccessLogEntry)) == before[
            "log"
        ] + len(entries)
    assert entries, "purge left no access-log entry"
    for entry in entries:  # counts only, split over entries within the log's text limit
        assert entry.username == "admin1" and entry.student_ids == []
        assert entry.what.startswith("purge before 2025-11-17:") and len(entry.what) <= 200
    logged = " ".join(e.what for e in entries)
    for table, count in result["removed"].items():
        assert (f"{table}={count}" in logged) == (count > 0), table


def test_purge_dry_run_counts_and_removes_nothing(loaded_store):
    with session_factory(loaded_store)() as session:
        set_retention(session, 1, "admin1")
        session.commit()
        rows = session.scalar(select(func.count()).select_from(DailyActivity))
        result = purge(session, as_of=date(2026, 11, 18), dry_run=True)
        assert result["removed"]["daily_activity"] > 0
        assert session.scalar(select(func.count()).select_from(DailyActivity)) == rows
        assert not session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == "purge")
        ).all()


def test_retention_is_range_checked(session):
    with pytest.raises(ValueError, match="retention must be 1 to 30 years"):
        set_retention(session, 0, "admin1")
    with pytest.raises(ValueError, match="retention must be 1 to 30 years"):
        set_retention(session, 31, "admin1")


def test_cli_backup_restore_purge_and_retention(sqlite_url, tmp_path, monkeypatch, capsys):
    from lib.cli import main

    out = tmp_path / "cli.zip"
    assert main(["retention", "--years", "2"]) == 0
    assert main(["backup", "--out", str(out)]) == 0
    assert out.exists() and read_manifest(out)["tables"]["settings"] == 1
    assert main(["restore", str(out)]) == 2  # the store is not empty
    assert "restore needs an empty store" in capsys.readouterr().err
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    assert main(["restore", str(out)]) == 0
    assert main(["retention"]) == 0
    assert '"retention_years": 2' in capsys.readouterr().out
    assert main(["purge", "--as-of", "2026-01-01"]) == 0
    assert '"cutoff": "2024-01-01"' in capsys.readouterr().out
    assert main(["retention", "--years", "0"]) == 2
