"""AppTest of the whole app: start from Home.py, log in, switch to every page under every role."""

from __future__ import annotations

import datetime as _dt
import json

import numpy as np
import pytest
from sqlalchemy import select

from lib.access import PAGES, ROLE_PAGES, ROLES
from lib.safe_markdown import escape_markdown
from lib.store.models import AccessLogEntry, Exemption, Flag, StaffUser
from lib.ui.chart_text import typed_array
from tests import app_fixtures
from tests.app_fixtures import COOKIE_KEY, FIRST_WEEK, ROOT, STAFF, login, new_app, open_page

seeded = app_fixtures.seeded  # fixtures shared with the other app tests
empty_store = app_fixtures.empty_store

ROLE_PAGE_CASES = [(role, page) for role in ROLES for page in ROLE_PAGES[role]]


def texts(at) -> str:
    """Every title, header, markdown, caption, info, warning, error and success text of a run."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [str(e.value) for e in at.error] + [str(e.value) for e in at.success]
    return "\n".join(parts)


def plotly_array(value) -> np.ndarray:
    """A Plotly JSON array, plain or typed ({"dtype", "bdata", "shape"}), as numpy."""
    if isinstance(value, dict) and "bdata" in value:
        return typed_array(value)
    return np.array(value, dtype=float)


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --- login and navigation -------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
def test_login_lands_on_home_with_the_role_navigation(seeded, role):
    at = login(role)
    no_exception(at)
    assert at.session_state["authentication_status"] is True
    assert at.session_state["roles"] == [role]
    assert at.title[0].value == ("My students" if role == "tutor" else "Home")
    assert escape_markdown(STAFF[role][0]) in at.sidebar.markdown[0].value
    entry = seeded.scalar(
        select(AccessLogEntry).where(
            AccessLogEntry.username == STAFF[role][0], AccessLogEntry.action == "login"
        )
    )
    assert entry is not None


def test_wrong_password_is_refused_and_counted(seeded):
    at = login("tutor", password="not-the-password")
    no_exception(at)
    assert at.session_state["authentication_status"] is False
    assert "incorrect" in texts(at)
    assert "dashboard_user" not in at.session_state
    seeded.expire_all()
    user = seeded.scalar(select(StaffUser).where(StaffUser.username == "tut_a"))
    assert user.failed_logins == 1


def test_repeated_failed_logins_start_a_backoff(seeded):
    """The fifth failure in a row makes the account wait before its next attempt (lib.login_guard);
    the waits themselves are tested in tests/test_login_guard.py."""
    for _ in range(5):
        login("tutor", password="not-the-password")
    seeded.expire_all()
    user = seeded.scalar(select(StaffUser).where(StaffUser.username == "tut_a"))
    assert user.failed_logins == 5
    assert user.locked_until is not None


def test_no_pages_folder_beside_home():
    """A pages/ folder would switch the first session after a restart to directory-based pages."""
    assert not (ROOT / "pages").exists()
    assert all((ROOT / spec.path).exists() for spec in PAGES.values())


@pytest.mark.parametrize("role", ROLES)
def test_pages_outside_the_role_are_not_registered(seeded, role):
    at = login(role)
    for key, spec in PAGES.items():
        if key in ROLE_PAGES[role]:
            continue
        with pytest.raises(ValueError):
            at.switch_page(spec.path)


@pytest.mark.parametrize(
    "role,page", [(r, p) for r in ROLES for p in PAGES if p not in ROLE_PAGES[r]]
)
def test_page_guard_refuses_a_role_without_the_page(seeded, role, page):
    """Even run directly (bypassing navigation), a page refuses a role that may not open it."""
    from streamlit.testing.v1 import AppTest

    from lib.access import User
    from lib.store.db import session_scope
    from lib.ui.state import StateKeys

    with session_scope() as session:
        staff = session.scalar(select(StaffUser).where(StaffUser.username == STAFF[role][0]))
        user = User.from_staff(staff)
    at = AppTest.from_file(str(ROOT / PAGES[page].path), default_timeout=60)
    at.session_state[StateKeys.USER] = user
    at.run()
    no_exception(at)
    assert [e.value for e in at.error] == ["Your role does not give access to this page."]
    assert not at.dataframe and not at.get("plotly_chart")


# --- every page under every role ------------------------------------------------------------------


@pytest.mark.parametrize("role,page", ROLE_PAGE_CASES)
def test_every_page_renders_for_every_role(seeded, role, page):
    at = open_page(role, page)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value in {PAGES[page].title, "My students"}


@pytest.mark.parametrize("role,page", ROLE_PAGE_CASES)
def test_every_page_survives_an_empty_store(empty_store, role, page):
    at = open_page(role, page)
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    if page == "home":
        empty = "No engagement results yet." if role == "admin" else "No students in your scope"
        assert empty in texts(at)
    if page == "cohort":
        assert "No students in your scope yet." in texts(at)


# --- home -----------------------------------------------------------------------------------------


def test_tutor_home_lists_own_tutees_flagged_first_with_sparklines(seeded):
    at = open_page("tutor", "home")
    frame = at.dataframe[0].value
    assert list(frame["student_id"]) == ["S001", "S002"]
    assert "index_drop" in frame.loc[0, "flag"]
    assert "fell from 100% to 10%" in frame.loc[0, "explanation"]
    assert len(frame.loc[0, "trend"]) == 9  # ten weeks, one of them non-teaching
    assert frame.loc[0, "trend"][-1] == pytest.approx(0.1)


def test_admin_home_shows_aggregate_data_quality_only(seeded):
    at = open_page("admin", "home")
    assert "S00" not in texts(at)
    for table in at.dataframe:
        assert "student_id" not in table.value.columns


# --- cohort ---------------------------------------------------------------------------------------


def test_cohort_heatmap_counts_trend_flagged_list_and_dq_banner(seeded):
    at = open_page("wellbeing", "cohort")
    assert at.metric[0].value == "5"
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    heat = next(f for f in charts.values() if f["data"][0]["type"] == "heatmap")
    assert heat["data"][0]["y"][:2] == ["S001", "S003"]  # flagged first
    assert len(heat["data"][0]["x"]) == 10
    reading_week = heat["data"][0]["x"].index("2025-11-03")
    z = plotly_array(heat["data"][0]["z"])
    assert z.shape == (5, 10)
    assert np.isnan(z[:, reading_week]).all()  # non-teaching week greyed
    assert z[0, -1] == pytest.approx(0.1) and z[2, 0] == pytest.approx(1.0)
    assert len(charts) == 3  # counts, trend, heatmap
    flagged = next(d.value for d in at.dataframe if "student_id" in d.value.columns)
    assert set(flagged["student_id"]) == {"S001", "S003"}
    assert any("1 data-quality event(s) in these weeks touch" in e.label for e in at.expander)
    dq = next(d.value for d in at.dataframe if "What happened" in d.value.columns)
    assert "QR scanner outage" in dq["What happened"].iloc[0]


def test_cohort_filters_come_from_and_go_to_the_url(seeded):
    at = open_page("wellbeing", "cohort", {"school": "Arts", "visa": "yes"})
    assert at.selectbox(key="cohort_filter_school").value == "Arts"
    assert at.metric[0].value == "1"  # S004
    assert at.query_params["school"] == "Arts"  # one occurrence: a str in AppTest
    at.selectbox(key="cohort_filter_flag").set_value("flagged").run()
    assert at.metric[0].value == "0"
    assert "flag" in at.query_params


def test_cohort_view_is_logged_with_the_students_shown(seeded):
    open_page("tutor", "cohort")
    seeded.expire_all()
    entry = seeded.scalar(
        select(AccessLogEntry)
        .where(AccessLogEntry.username == "tut_a", AccessLogEntry.what.like("cohort%"))
        .order_by(AccessLogEntry.id.desc())
    )
    assert set(entry.student_ids) == {"S001", "S002"}


def test_cohort_student_and_cli_agree_on_the_flags_in_force(seeded):
    """A flag that ended before the last week shown is in force nowhere; the open one everywhere."""
    from datetime import datetime, timedelta

    from lib.compute.flags import flags_frame
    from lib.views.common import default_weeks

    seeded.add(
        Flag(
            student_id="S001",
            kind="no_engagement",
            severity="medium",
            week_start=FIRST_WEEK + timedelta(weeks=2),
            ended_week=FIRST_WEEK + timedelta(weeks=4),
            explanation="S001 had no recorded engagement for 2 consecutive teaching weeks",
            recovery_explanation="Back to usual",
            computed_at=datetime.now(),
        )
    )
    seeded.commit()
    cohort = open_page("wellbeing", "cohort")
    flagged = next(d.value for d in cohort.dataframe if "student_id" in d.value.columns)
    on_cohort = sorted(flagged.loc[flagged["student_id"] == "S001", "kind"])
    student = open_page("wellbeing", "student", {"id": "S001"})
    on_student = sorted(e.value.split("**")[1].replace(" ", "_") for e in student.error)
    _, as_of = default_weeks(seeded)
    cli = flags_frame(seeded, as_of=as_of)
    on_cli = sorted(cli.loc[cli["student_id"] == "S001", "kind"])
    assert on_cohort == on_student == on_cli == ["index_drop"]


# --- student --------------------------------------------------------------------------------------


def test_student_page_profile_timelines_and_no_grades(seeded):
    at = open_page("senior_tutor", "student", {"id": "S001"})
    assert at.header[0].value == "GivenS001 FamilyS001 · S001"
    page_text = texts(at).lower()
    assert "grade" not in page_text and "mark" not in page_text
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert {f["layout"]["title"]["text"] for f in figures} == {
        "Engagement index (all sources)",
        "Moodle",
        "Attendance (QR scans)",
    }
    shapes = figures[0]["layout"]["shapes"]
    assert any("214, 39, 40" in s["fillcolor"] for s in shapes)  # flagged weeks
    assert any("127, 127, 127" in s["fillcolor"] for s in shapes)  # reading week


def test_student_median_overlay(seeded):
    at = open_page("wellbeing", "student", {"id": "S001"})
    at.toggle(key="student_show_median").set_value(True).run()
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert any(t.get("name") == "course median (context)" for t in figure["data"])


def test_exemption_added_by_allowed_role(seeded):
    at = open_page("wellbeing", "student", {"id": "S001"})
    at.selectbox(key="exemption_reason").set_value("placement")
    at.text_area(key="exemption_note").input("work placement")
    next(b for b in at.button if b.label == "Add exemption").click().run()
    no_exception(at)
    seeded.expire_all()
    rows = seeded.scalars(select(Exemption).where(Exemption.student_id == "S001")).all()
    assert [(r.reason, r.created_by) for r in rows] == [("placement", "wb")]


@pytest.mark.parametrize("role", ["tutor", "visa"])
def test_no_exemption_form_for_roles_without_the_action(seeded, role):
    sid = "S002"
    at = open_page(role, "student", {"id": sid})
    assert at.header[0].value.endswith(sid)
    assert not [b for b in at.button if b.label == "Add exemption"]


def test_visa_team_sees_no_welfare_or_non_sponsored_student(seeded):
    at = open_page("visa", "student", {"id": "S001"})
    assert at.warning[0].value == "No student 'S001' in your scope."
    assert not at.header


def test_search_results_are_logged(seeded):
    at = open_page("wellbeing", "student")
    at.text_input(key="student_search").input("GivenS00").run()
    assert len(at.selectbox(key="student_pick").options) == 5
    seeded.expire_all()
    entry = seeded.scalar(
        select(AccessLogEntry).where(AccessLogEntry.what == "student search results")
    )
    assert entry.username == "wb" and len(entry.student_ids) == 5


def test_student_view_is_logged(seeded):
    open_page("tutor", "student", {"id": "S002"})
    seeded.expire_all()
    entry = seeded.scalar(
        select(AccessLogEntry).where(AccessLogEntry.what == "student page").limit(1)
    )
    assert entry.username == "tut_a" and entry.student_ids == ["S002"]


# --- scope: every route to a student outside the user's scope ------------------------------------


OUTSIDE = {"tutor": "S003", "senior_tutor": "S004", "visa": "S001"}


@pytest.mark.parametrize("role,sid", OUTSIDE.items())
def test_out_of_scope_student_by_url_parameter(seeded, role, sid):
    at = open_page(role, "student", {"id": sid})
    assert at.warning[0].value == f"No student {sid!r} in your scope."
    assert not at.header and not at.get("plotly_chart") and not at.dataframe
    assert f"Given{sid}" not in texts(at)


@pytest.mark.parametrize("role,sid", OUTSIDE.items())
def test_out_of_scope_student_by_search_box(seeded, role, sid):
    at = open_page(role, "student")
    at.text_input(key="student_search").input(sid).run()
    assert "No student in your scope matches." in texts(at)
    at.text_input(key="student_search").input(f"Given{sid}").run()
    assert "No student in your scope matches." in texts(at)


@pytest.mark.parametrize("role,sid", OUTSIDE.items())
def test_out_of_scope_student_by_cohort_url_filters(seeded, role, sid):
    from tests.app_fixtures import STUDENTS

    _, school, year, _ = STUDENTS[sid]
    at = open_page(role, "cohort", {"school": school, "year": str(year)})
    shown = set()
    for table in at.dataframe:
        if "student_id" in table.value.columns:
            shown |= set(table.value["student_id"])
    for chart in at.get("plotly_chart"):
        figure = json.loads(chart.proto.spec)
        for trace in figure["data"]:
            if trace["type"] == "heatmap":
                shown |= set(trace["y"])
    assert sid not in shown


@pytest.mark.parametrize("role,sid", OUTSIDE.items())
def test_out_of_scope_student_by_export(seeded, role, sid):
    import io

    import pandas as pd

    from lib.access import User
    from lib.views.cohort import cohort_csv
    from lib.views.filters import from_params
    from tests.app_fixtures import STUDENTS

    staff = seeded.scalar(select(StaffUser).where(StaffUser.username == STAFF[role][0]))
    user = User.from_staff(staff)
    _, school, _, _ = STUDENTS[sid]
    data = cohort_csv(seeded, user, from_params({"school": school}))
    frame = pd.read_csv(io.BytesIO(data))
    assert sid not in set(frame.get("student_id", []))
    entry = seeded.scalar(
        select(AccessLogEntry)
        .where(AccessLogEntry.action == "export")
        .order_by(AccessLogEntry.id.desc())
    )
    assert entry.username == user.username
    assert set(entry.student_ids) == set(frame.get("student_id", []))


def test_cohort_export_button_is_there_for_student_roles(seeded):
    at = open_page("tutor", "cohort")
    assert at.get("download_button")


# --- data and access log (admin) ------------------------------------------------------------------


def test_data_page_tabs_and_users(seeded):
    at = open_page("admin", "data")
    no_exception(at)
    assert [t.label for t in at.tabs] == [
        "Upload",
        "Load history",
        "Coverage",
        "Calendar",
        "Thresholds",
        "Users",
    ]
    users = next(t.value for t in at.dataframe if "role" in t.value.columns)
    assert "password_hash" not in users.columns
    assert set(users["username"]) >= {"tut_a", "admin1"}


def test_admin_adds_a_user_from_the_data_page(seeded):
    at = open_page("admin", "data")
    at.text_input(key="user_form_username").input("new_tutor")
    at.selectbox(key="user_form_role").set_value("tutor")
    at.text_input(key="user_form_password").input("a-long-enough-password")
    next(b for b in at.button if b.label == "Save user").click().run()
    no_exception(at)
    seeded.expire_all()
    user = seeded.scalar(select(StaffUser).where(StaffUser.username == "new_tutor"))
    assert user.role == "tutor" and user.password_hash.startswith("$2")


def test_access_log_page_shows_views_to_admin(seeded):
    open_page("tutor", "student", {"id": "S001"})
    at = open_page("admin", "access_log")
    frame = at.dataframe[0].value
    views = frame[(frame["username"] == "tut_a") & (frame["what"] == "student page")]
    assert list(views["student_ids"]) == ["S001"]
    at.text_input(key="access_log_student").input("S001").run()
    assert set(at.dataframe[0].value["username"]) == {"tut_a"}


# --- the cookie key -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key,why",
    [
        (None, "no login-cookie key is set"),
        ("short-key-123", "too easy to guess"),
        ("changeme" * 5, "too easy to guess"),
        ("ab" * 20, "too easy to guess"),
    ],
)
def test_app_refuses_to_start_without_a_good_cookie_key(seeded, monkeypatch, tmp_path, key, why):
    import lib.auth

    monkeypatch.setattr(lib.auth, "SECRETS_PATH", tmp_path / "secrets.toml")
    if key is None:
        monkeypatch.delenv("DASHBOARD_COOKIE_KEY", raising=False)
    else:
        monkeypatch.setenv("DASHBOARD_COOKIE_KEY", key)
    at = new_app().run()
    no_exception(at)
    assert at.error[0].value == "The dashboard cannot start: its login-cookie key is not usable."
    message = at.code[0].value
    assert why in message
    assert "DASHBOARD_COOKIE_KEY" in message and "cookie_key" in message
    assert not at.text_input  # no login form


def test_cookie_key_from_the_secrets_file(seeded, monkeypatch, tmp_path):
    import lib.auth

    path = tmp_path / "secrets.toml"
    path.write_text(f'[dashboard]\ncookie_key = "{COOKIE_KEY}"\n')
    monkeypatch.setattr(lib.auth, "SECRETS_PATH", path)
    monkeypatch.delenv("DASHBOARD_COOKIE_KEY", raising=False)
    at = new_app().run()
    no_exception(at)
    assert not at.error
    assert [t.label for t in at.text_input] == ["Username", "Password"]


# --- single sign-on -------------------------------------------------------------------------------

SSO_SECRETS = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "sso-cookie-secret-0123456789abcdefghijkl",
    "client_id": "client",
    "client_secret": "secret",
    "server_metadata_url": "https://login.microsoftonline.com/tenant/v2.0/.well-known/openid-configuration",
}


class _FakeUser(dict):
    """Stands in for st.user after the identity provider vouched for an e-mail."""

    is_logged_in = True

    def __init__(self, **values):
        # the ID token's claims that name one sign-in at the provider (lib.sessions.SSO_CLAIMS)
        claims = {"iss": "https://idp.example", "sub": "subject-1", "nonce": "n-1"}
        claims["iat"] = int(_dt.datetime.now().timestamp())
        super().__init__(is_logged_in=True, **claims, **values)

    def to_dict(self) -> dict:
        return dict(self)


def test_sso_configured_shows_the_sign_on_button_not_the_password_form(seeded):
    at = new_app()
    at.secrets["auth"] = SSO_SECRETS
    at.run()
    no_exception(at)
    assert [b.label for b in at.button] == ["Sign in with single sign-on"]
    assert not at.text_input


@pytest.mark.parametrize(
    "email,role", [("WB@uni.example", "wellbeing"), ("nobody@x.example", None)]
)
def test_sso_maps_the_email_to_a_staff_user_with_roles_from_the_store(
    seeded, monkeypatch, email, role
):
    import streamlit

    staff = seeded.scalar(select(StaffUser).where(StaffUser.username == "wb"))
    staff.email = "wb@uni.example"
    seeded.commit()
    monkeypatch.setattr(streamlit, "user", _FakeUser(email=email))
    at = new_app()
    at.secrets["auth"] = SSO_SECRETS
    at.run()
    no_exception(at)
    if role is None:
        expected = f"No active staff account has the e-mail {escape_markdown('nobody@x.example')}"
        assert expected in at.error[0].value
        assert "dashboard_user" not in at.session_state
    else:
        assert at.session_state["dashboard_user"].role == role
        assert at.title[0].value == "Home"


@pytest.fixture
def sample_admin(sample_session, monkeypatch):
    """The demo store (loaded and computed) with the seeded admin's login."""
    from lib.auth import add_user

    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    add_user(sample_session, STAFF["admin"][0], role="admin", password=app_fixtures.PASSWORD)
    sample_session.commit()
    return sample_session


def _engine_version(session) -> int:
    from lib.compute.service import data_version

    session.expire_all()
    return data_version(session)


def test_admin_adds_a_calendar_period_and_flags_are_recomputed(sample_admin):
    from datetime import timedelta

    from sqlalchemy import func

    from lib.store.models import CalendarPeriod, WeeklyMeasure

    session = sample_admin
    week, raised = session.execute(  # the teaching week that raised the most flags
        select(Flag.week_start, func.count())
        .group_by(Flag.week_start)
        .order_by(func.count().desc())
    ).first()
    assert raised > 0
    version = _engine_version(session)
    at = open_page("admin", "data")
    at.selectbox(key="calendar_form_kind").set_value("vacation")
    at.date_input(key="calendar_form_period").set_value((week, week + timedelta(days=4)))
    at.text_input(key="calendar_form_label").input("Winter")
    next(b for b in at.button if b.label == "Add period and recompute").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert _engine_version(session) == version + 1
    row = session.scalar(select(CalendarPeriod).where(CalendarPeriod.label == "Winter"))
    assert (row.kind, row.start, row.end) == ("vacation", week, week + timedelta(days=4))
    # the week is no longer a teaching week: no flag is raised in it, and it is marked so
    assert session.scalar(select(func.count(Flag.id)).where(Flag.week_start == week)) == 0
    teaching = session.scalars(
        select(WeeklyMeasure.teaching).where(WeeklyMeasure.week_start == week).distinct()
    ).all()
    assert teaching == [False]


def test_admin_changes_a_threshold_and_flags_are_recomputed(sample_admin):
    import re

    from lib.compute.service import load_engine_config

    session = sample_admin
    zero = select(Flag.explanation).where(Flag.kind == "no_engagement")
    before = session.scalars(zero).all()
    assert before
    version = _engine_version(session)
    at = open_page("admin", "data")
    widget = at.number_input(key="thresholds_json_zero_weeks")
    assert widget.value == 2
    widget.set_value(6)
    next(b for b in at.button if b.label == "Save thresholds and recompute").click().run()
    no_exception(at)
    assert not at.error, [e.value for e in at.error]
    assert _engine_version(session) == version + 1
    assert load_engine_config(session)["zero_weeks"] == 6
    after = session.scalars(zero).all()
    runs = [int(re.search(r"for (\d+) consecutive teaching weeks", t).group(1)) for t in after]
    assert len(after) < len(before) and all(run >= 6 for run in runs)


# --- both stores ----------------------------------------------------------------------------------


@pytest.fixture
def seeded_any(any_session, monkeypatch):
    """The seeded store on SQLite and on PostgreSQL (when TEST_DATABASE_URL is set)."""
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    app_fixtures.seed(any_session)
    return any_session


@pytest.mark.parametrize("role", ["tutor", "wellbeing"])
def test_pages_on_both_stores(seeded_any, role):
    at = open_page(role, "cohort", {"flag": "flagged"})
    no_exception(at)
    assert at.metric[1].value == ("1" if role == "tutor" else "2")
    at.switch_page(PAGES["student"].path)
    at.query_params["id"] = "S001"
    at.run()
    no_exception(at)
    assert at.header[0].value.endswith("S001")
    at.text_input(key="student_search").input("family").run()
    no_exception(at)
    expected = {"tutor": 2, "wellbeing": 5}[role]
    assert len(at.selectbox(key="student_pick").options) == expected
    at.switch_page(PAGES["home"].path).run()
    no_exception(at)
    assert at.dataframe[0].value["student_id"].iloc[0] == "S001"
