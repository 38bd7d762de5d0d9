"""The app as an attacker meets it: no built-in table download, no tracebacks, escaped text, sessions."""

from __future__ import annotations

import tomllib

import pytest
from markdown_it import MarkdownIt
from sqlalchemy import select, update
from streamlit import config

from lib.access import ROLE_PAGES, ROLES
from lib.store.models import AccessLogEntry, DataQualityEvent, Flag, StaffUser, Student
from lib.ui.app import CLIENT_OPTIONS
from tests import app_fixtures
from tests.app_fixtures import ROOT, login, open_page

seeded = app_fixtures.seeded


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def test_config_file_hides_tracebacks_and_the_table_download():
    client = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["client"]
    assert client["showErrorDetails"] == "none"
    assert client["disableDataExport"] is True
    assert client["toolbarMode"] == "viewer"


@pytest.mark.parametrize("role", ROLES)
def test_every_page_renders_with_the_table_download_switched_off(seeded, role):
    """The app applies the options itself on every run, whatever config file the server read."""
    from lib.access import PAGES

    config.set_option("client.disableDataExport", False)
    config.set_option("client.showErrorDetails", "full")
    at = login(role)
    tables = 0
    for page in ROLE_PAGES[role]:
        at.switch_page(PAGES[page].path)
        config.set_option("client.disableDataExport", False)
        at.run()
        no_exception(at)
        tables += len(at.dataframe)
        for option, value in CLIENT_OPTIONS.items():
            assert config.get_option(option) == value, (page, option)
    assert tables > 0


# --- Markdown injection -----------------------------------------------------------------------------

BEACON = "![x](http://host/beacon.png)"
LINK = "[click me](http://evil)"
PARSER = MarkdownIt("gfm-like")  # CommonMark, GFM tables and autolinked URLs


def _markdown_bodies(at) -> list[str]:
    """Every body and label of the run that Streamlit renders as Markdown."""
    bodies = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning"):
        bodies += [str(e.value) for e in getattr(at, kind)]
    bodies += [str(e.value) for e in at.error] + [str(e.value) for e in at.success]
    for kind in ("text_input", "selectbox", "button", "checkbox", "toggle", "date_input"):
        bodies += [str(e.label) for e in getattr(at, kind)]
    bodies += [str(e.label) for e in at.get("expander")]
    return bodies


def _links_and_images(bodies: list[str]) -> list[str]:
    found = []
    for body in bodies:
        for token in PARSER.parse(body):
            for child in [token, *(token.children or [])]:
                if child.type in ("link_open", "image", "html_inline", "html_block"):
                    found.append(f"{child.type} in {body!r}")
    return found


@pytest.fixture
def hostile_names(seeded):
    """S001 (tut_a's tutee) named with an image beacon and a link; a data-quality event likewise."""
    seeded.execute(
        update(Student)
        .where(Student.student_id == "S001")
        .values(given_name=BEACON, family_name=LINK)
    )
    seeded.execute(update(Flag).values(explanation=f"dropped {LINK} {BEACON}"))
    seeded.execute(update(DataQualityEvent).values(module_code=LINK, explanation=BEACON))
    seeded.execute(update(StaffUser).where(StaffUser.username == "tut_a").values(display_name=LINK))
    seeded.commit()
    return seeded


def test_the_parser_would_see_the_raw_names():
    """The check below can fail: unescaped, these names are an image and a link."""
    assert len(_links_and_images([f"{BEACON} {LINK}", "see http://evil.example"])) == 3


@pytest.mark.parametrize(
    "role,page,params",
    [
        ("tutor", "student", {"id": "S001"}),
        ("tutor", "home", {}),
        ("tutor", "cohort", {}),
        ("wellbeing", "student", {"id": "S001"}),
        ("admin", "home", {}),
        ("tutor", "student", {"id": LINK}),  # echoed from the URL: "not in your scope"
        ("tutor", "student", {"id": BEACON}),
    ],
)
def test_stored_and_url_text_renders_no_link_or_image(hostile_names, role, page, params):
    at = open_page(role, page, params)
    no_exception(at)
    bodies = _markdown_bodies(at)
    assert bodies
    assert _links_and_images(bodies) == []
    shown = "\n".join(bodies)
    if params.get("id") == "S001":
        assert "x\\]\\(http\\:\\/\\/host\\/beacon\\.png\\)" in shown  # the name is there, escaped
    if params.get("id") == LINK:
        assert at.warning[0].value.startswith("No student '\\[click me\\]")


def test_no_page_icon_loads_an_outside_font():
    """:material/...: icons fetch a web font from an outside host; the app ships emoji instead."""
    from lib.access import PAGES

    sources = [ROOT / "Home.py", *(ROOT / "app_pages").glob("*.py"), *(ROOT / "lib").rglob("*.py")]
    assert not [p for p in sources if ":material/" in p.read_text(encoding="utf-8")]
    assert all(spec.icon and not spec.icon.startswith(":") for spec in PAGES.values())


# --- refusals in the access log ---------------------------------------------------------------------


def _refusals(session) -> list[tuple[str, str, list[str]]]:
    session.expire_all()
    rows = session.scalars(
        select(AccessLogEntry).where(AccessLogEntry.action == "refused").order_by(AccessLogEntry.id)
    )
    return [(r.username, r.what, r.student_ids) for r in rows]


def test_a_tutor_probing_another_student_by_url_is_logged(seeded):
    at = open_page("tutor", "student", {"id": "S003"})
    at.run()  # a rerun of the same view is not logged twice
    assert _refusals(seeded) == [("tut_a", "student page outside scope", ["S003"])]


def test_a_tutor_probing_by_search_is_logged(seeded):
    at = open_page("tutor", "student")
    at.text_input(key="student_search").input("s003").run()
    at.text_input(key="student_search").input("GivenS004 FamilyS004").run()
    at.text_input(key="student_search").input("Given").run()  # a partial word probes nobody
    assert _refusals(seeded) == [
        ("tut_a", "student search outside scope", ["S003"]),
        ("tut_a", "student search outside scope", ["S004"]),
    ]


def test_a_page_outside_the_role_is_logged(seeded):
    from streamlit.testing.v1 import AppTest

    from lib.access import PAGES, User
    from lib.ui.state import StateKeys

    staff = seeded.scalar(select(StaffUser).where(StaffUser.username == "tut_a"))
    at = AppTest.from_file(str(ROOT / PAGES["access_log"].path), default_timeout=60)
    at.session_state[StateKeys.USER] = User.from_staff(staff)
    at.run()
    assert _refusals(seeded) == [("tut_a", "page access_log", [])]


# --- URL dates out of range -------------------------------------------------------------------------


def test_filter_dates_are_clamped_to_the_weeks_with_results():
    from datetime import date

    from lib.views.filters import from_params

    first, last = date(2025, 9, 29), date(2025, 12, 1)
    params = {"from": "2000-01-03", "to": "2100-01-01", "year": "99999999999999999999"}
    filters = from_params(params, first, last)
    assert (filters.week_from, filters.week_to, filters.year) == (first, last, None)
    swapped = from_params({"from": "2025-11-03", "to": "2025-10-06"}, first, last)
    assert (swapped.week_from, swapped.week_to) == (date(2025, 10, 6), date(2025, 11, 3))
    assert from_params({"from": "9999-12-31", "to": "0001-01-01"}, first, last).week_to == last


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2000-01-03"},
        {"to": "2100-01-01"},
        {"from": "9999-12-31", "to": "0001-01-01"},
        {"from": "2025-11-03", "to": "2025-10-06"},
        {"from": "not-a-date", "year": "99999999999999999999", "school": "x" * 5000},
    ],
)
def test_cohort_url_out_of_range_shows_the_page_not_an_error(seeded, params):
    at = open_page("wellbeing", "cohort", params)
    no_exception(at)
    assert not at.error
    weeks = at.date_input(key="cohort_filter_weeks").value
    assert weeks[0] >= app_fixtures.FIRST_WEEK and weeks[0] <= weeks[1]
    assert at.get("plotly_chart")
