"""SQLite's one writer: app writes announce themselves beside the store; a compute's series of
writes pauses for the lock only when one has (lib.store.writers)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import lib.compute.results as results
from lib.compute.service import compute
from lib.store import writers
from lib.store.db import get_engine
from lib.store.models import AccessLogEntry, Student


def _announced(session: Session) -> Path:
    path = writers.announce_path(session.get_bind())  # type: ignore[arg-type]
    assert path is not None
    return path


def _entry() -> AccessLogEntry:
    return AccessLogEntry(
        at=datetime(2026, 12, 1, 9), username="tutor", role="tutor", action="view", what="Home"
    )


def test_an_app_write_announces_itself_and_a_read_does_not(session: Session):
    path = _announced(session)
    path.unlink(missing_ok=True)
    session.scalar(select(func.count()).select_from(Student))
    session.commit()
    assert not path.exists()
    session.add(_entry())
    session.commit()
    assert path.exists()


def test_writes_in_a_series_announce_nothing(session: Session):
    path = _announced(session)
    path.unlink(missing_ok=True)
    with writers.writing_in_series():
        session.add(_entry())
        session.commit()
    assert not path.exists()


def test_writer_waiting_compares_the_announcement_with_the_last_pause(session: Session):
    path = _announced(session)
    path.unlink(missing_ok=True)
    assert writers.writer_waiting(session, since=0) is False  # nobody ever announced
    path.touch()
    os.utime(path, (1_000, 1_000))
    assert writers.writer_waiting(session, since=999) is True
    assert writers.writer_waiting(session, since=1_001) is False


def test_an_in_memory_store_has_nothing_to_announce_on():
    assert writers.announce_path(get_engine("sqlite://")) is None


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The compute's pauses, recorded instead of slept; every commit ends a spell."""
    slept: list[float] = []
    monkeypatch.setattr(results, "SPELL_SECONDS", 0.0)
    monkeypatch.setattr(results.time, "sleep", slept.append)
    return slept


def test_a_compute_with_no_app_write_waiting_never_pauses(sample_session: Session, sleeps):
    _announced(sample_session).unlink(missing_ok=True)
    summary = compute(sample_session, full=True)
    assert summary.measures_written
    assert sleeps == []


def test_a_compute_pauses_when_an_app_write_announced_itself(sample_session: Session, sleeps):
    path = _announced(sample_session)
    path.touch()  # as an app write that began just now and waits for the lock
    summary = compute(sample_session, full=True)
    assert summary.measures_written
    assert len(sleeps) == 1  # the one announcement: one pause, then none
    assert 0 < sleeps[0] <= writers.PAUSE_SECONDS
