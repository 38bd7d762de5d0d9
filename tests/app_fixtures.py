"""Fixtures for the app tests: a small seeded store with staff of every role, and AppTest helpers."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from lib.auth import add_user
from lib.store.measures import WIDE_SOURCES
from lib.store.models import (
    CalendarPeriod,
    DataQualityEvent,
    Exemption,
    Flag,
    Load,
    Student,
    WeeklyMeasure,
)

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"
COOKIE_KEY = secrets.token_urlsafe(48)  # a fresh strong key per test run, never a committed one
FIRST_WEEK = date(2025, 9, 29)
WEEKS = 10
STAFF = {
    "tutor": ("tut_a", {}),
    "senior_tutor": ("senior_sci", {"school": "Science", "years": "1,2"}),
    "wellbeing": ("wb", {}),
    "visa": ("visa_team", {}),
    "admin": ("admin1", {}),
}
# student id -> (tutor, school, year, visa)
STUDENTS = {
    "S001": ("tut_a", "Science", 1, False),
    "S002": ("tut_a", "Science", 2, True),
    "S003": ("tut_b", "Science", 3, False),
    "S004": ("tut_b", "Arts", 1, True),
    "S005": ("tut_c", "Arts", 2, False),
}


def seed(session: Session) -> None:
    """Students, staff of every role, ten weeks of measures, flags, an exemption and a DQ event."""
    load = Load(
        source="students",
        file_name="students.csv",
        content_hash="x" * 64,
        loaded_at=datetime(2025, 9, 1),
        loaded_by="test",
        status="loaded",
    )
    session.add(load)
    session.flush()
    for sid, (tutor, school, year, visa) in STUDENTS.items():
        session.add(
            Student(
                student_id=sid,
                given_name=f"Given{sid}",
                family_name=f"Family{sid}",
                email=f"{sid.lower()}@uni.example",
                personal_email=f"{sid.lower()}@home.example",
                phone="07000000000",
                course_code="SCI101" if school == "Science" else "ART101",
                course_name=f"{school} course",
                school=school,
                level="UG",
                year_of_study=year,
                mode="FT",
                tutor_username=tutor,
                visa_sponsored=visa,
                residence="on_campus",
                status="enrolled",
                start_date=date(2025, 9, 22),
                load_id=load.id,
            )
        )
    session.flush()
    for week in range(WEEKS):
        start = FIRST_WEEK + timedelta(weeks=week)
        teaching = week != 5
        for sid in STUDENTS:
            drop = sid in ("S001", "S003") and week >= 7
            # one wide row a student-week: the index, vle and attendance measured (a usual range
            # of 70% to 130% of the baseline)
            row = WeeklyMeasure(student_id=sid, week_start=start, teaching=teaching)
            row.measured = row.cold = 0
            for source, base in (("index", 1.0), ("vle", 20.0), ("attendance", 0.9)):
                bit = 1 << WIDE_SOURCES.index(source)
                row.measured |= bit
                row.cold |= bit if week < 3 else 0
                setattr(row, f"{source}_value", base * (0.1 if drop else 1.0) if teaching else None)
                setattr(row, f"{source}_baseline", base)
                setattr(row, f"{source}_spread", base * 0.15)
            session.add(row)
    for sid, kind in (("S001", "index_drop"), ("S003", "no_engagement")):
        session.add(
            Flag(
                student_id=sid,
                kind=kind,
                severity="high",
                week_start=FIRST_WEEK + timedelta(weeks=7),
                explanation=f"{sid} engagement fell from 100% to 10% of their usual level",
                computed_at=datetime.now(),
            )
        )
    session.add(
        Exemption(
            student_id="S002",
            reason="illness",
            start=FIRST_WEEK + timedelta(weeks=2),
            end=FIRST_WEEK + timedelta(weeks=3),
            created_by="wb",
            created_at=datetime.now(),
        )
    )
    session.add(
        DataQualityEvent(
            week_start=FIRST_WEEK + timedelta(weeks=8),
            source="attendance",
            module_code="SCI101",
            share_affected=0.9,
            students_affected=40,
            explanation="QR scanner outage: 90% of SCI101 students had no scans",
        )
    )
    session.add(
        CalendarPeriod(
            kind="reading_week",
            start=date(2025, 11, 3),
            end=date(2025, 11, 7),
            label="Reading week",
        )
    )
    for role, (username, extra) in STAFF.items():
        add_user(session, username, role=role, password=PASSWORD, display_name=username, **extra)
    session.commit()


@pytest.fixture
def seeded(session, monkeypatch) -> Session:
    """A seeded store with a good cookie key in the environment."""
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    seed(session)
    return session


@pytest.fixture
def empty_store(session, monkeypatch) -> Session:
    """An empty store with staff of every role (no students, no results)."""
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    for role, (username, extra) in STAFF.items():
        add_user(session, username, role=role, password=PASSWORD, **extra)
    session.commit()
    return session


def new_app():
    """A fresh AppTest of Home.py with caches cleared."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    st.cache_data.clear()
    return AppTest.from_file(str(ROOT / "Home.py"), default_timeout=60)


def login(role: str, password: str = PASSWORD):
    """AppTest of Home.py logged in as the seeded user of this role."""
    at = new_app().run()
    at.text_input[0].input(STAFF[role][0])
    at.text_input[1].input(password)
    at.button[0].click().run()
    return at


def signed_in(role: str):
    """AppTest (not yet run) of a browser session the role's seeded user has signed into: the
    server-side session record and session-state token the login form's sign-in leaves (lib.ui.app),
    without running the form (the form itself is tested in test_app.py and test_app_security.py)."""
    from lib import auth, sessions
    from lib.store.db import session_scope
    from lib.ui.state import StateKeys

    at = new_app()
    with session_scope() as session:
        started = sessions.start(
            session, STAFF[role][0], auth.cookie_key(), auth.session_lifetime()
        )
    at.session_state[StateKeys.SESSION_TOKEN] = started.token
    return at


def open_page(role: str, page: str, params: dict[str, str] | None = None):
    """AppTest signed in as the role's seeded user, on a page, with URL query parameters."""
    from lib.access import PAGES

    at = signed_in(role)
    if page != "home":
        at.run().switch_page(PAGES[page].path)  # st.navigation registers the pages in a run
    for name, value in (params or {}).items():
        at.query_params[name] = value
    return at.run()
