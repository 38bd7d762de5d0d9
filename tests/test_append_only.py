"""History is append-only in the database itself: UPDATE and DELETE of history rows fail on both stores."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from lib.store.append_only import HISTORY_TABLES, history_purge, protected_tables
from lib.store.db import get_engine
from lib.store.models import AccessLogEntry, Base, Case, CaseEntry, Student
from tests.app_fixtures import seed


@pytest.fixture
def history(any_session):
    """A seeded store with one access-log row and one case entry."""
    seed(any_session)
    any_session.add(
        AccessLogEntry(
            at=datetime(2025, 12, 1, 9),
            username="tut_a",
            role="tutor",
            action="view",
            what="student page",
            student_ids=["S001"],
            student_count=1,
        )
    )
    case = Case(
        student_id="S001",
        opened_at=datetime(2025, 12, 1, 9),
        opened_by="tut_a",
        owner_username="tut_a",
        state="open",
        ladder_step=1,
    )
    any_session.add(case)
    any_session.flush()
    any_session.add(
        CaseEntry(
            case_id=case.id,
            recorded_at=datetime(2025, 12, 1, 9, 5),
            recorded_by="tut_a",
            kind="contact",
            note="phoned, no answer",
        )
    )
    any_session.commit()
    return any_session


CHANGES = {
    "access_log update": update(AccessLogEntry).values(what="nothing to see"),
    "access_log delete": delete(AccessLogEntry),
    "case_entries update": update(CaseEntry).values(note="rewritten"),
    "case_entries delete": delete(CaseEntry),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_history_rows_cannot_be_changed_or_deleted(history, change):
    with pytest.raises(DBAPIError, match="append-only"):
        history.execute(CHANGES[change])
    history.rollback()
    assert history.scalar(select(AccessLogEntry.what)) == "student page"
    assert history.scalar(select(CaseEntry.note)) == "phoned, no answer"


def test_raw_sql_is_refused_too(history):
    with pytest.raises(DBAPIError, match="append-only"):
        history.execute(text("UPDATE access_log SET username = 'someone_else'"))
    history.rollback()
    if history.bind.dialect.name == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            history.execute(text("TRUNCATE access_log"))
        history.rollback()
    assert history.scalar(select(func.count()).select_from(AccessLogEntry)) == 1


def test_inserts_still_work_and_other_tables_stay_writable(history):
    history.add(
        AccessLogEntry(
            at=datetime(2025, 12, 2),
            username="wb",
            role="wellbeing",
            action="view",
            what="cohort",
            student_ids=[],
            student_count=0,
        )
    )
    history.execute(update(Case).values(state="closed"))
    history.execute(update(Student).where(Student.student_id == "S005").values(status="withdrawn"))
    history.commit()
    assert history.scalar(select(func.count()).select_from(AccessLogEntry)) == 2
    assert history.scalar(select(Case.state)) == "closed"


def test_purge_may_delete_but_never_update(history):
    with history_purge(history):
        history.execute(delete(CaseEntry))
        with pytest.raises(DBAPIError, match="append-only"):
            history.execute(update(AccessLogEntry).values(what="x"))
    history.rollback()
    with history_purge(history):
        history.execute(delete(AccessLogEntry))
    history.commit()
    assert history.scalar(select(func.count()).select_from(AccessLogEntry)) == 0
    with pytest.raises(DBAPIError, match="append-only"):  # the switch is off again
        history.execute(delete(CaseEntry))
    history.rollback()


def test_every_history_table_is_protected_at_head(store_url):
    """Each table named a history table, or whose model says it is append-only, has its triggers
    (a later SQLite batch migration that rebuilds such a table must protect it again)."""
    said = {
        mapper.class_.__tablename__
        for mapper in Base.registry.mappers
        if "append-only" in (mapper.class_.__doc__ or "").lower()
    }
    with get_engine(store_url).connect() as conn:
        protected = protected_tables(conn)
    assert said <= set(HISTORY_TABLES)
    assert protected == set(HISTORY_TABLES)


def test_a_plain_sqlite_connection_cannot_delete_history(session, sqlite_url):
    """Outside the app (the sqlite3 shell, a script) there is no purge switch: DELETE fails."""
    session.add(
        AccessLogEntry(
            at=datetime(2025, 12, 1), username="a", role="admin", action="login", what="login"
        )
    )
    session.commit()
    session.close()
    path = sqlite_url.removeprefix("sqlite:///")
    get_engine(sqlite_url).dispose()
    conn = sqlite3.connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError, match="dashboard_history_purge"):
            conn.execute("DELETE FROM access_log")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE access_log SET what = 'x'")
    finally:
        conn.close()
