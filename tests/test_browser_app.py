"""Real-browser tests: the app served by `streamlit run`, driven by Playwright on Debian's chromium."""

from __future__ import annotations

import pytest

from lib.auth import COOKIE_NAME
from lib.store.db import get_engine, init_db, session_factory
from tests.app_fixtures import COOKIE_KEY, PASSWORD, seed
from tests.browser_support import (
    chromium_page,
    needs_chromium,
    streamlit_server,
    wait_for_login_cookie,
)

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run Home.py` on a seeded SQLite store; yields the base URL."""
    folder = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{folder / 'store.db'}"
    init_db(url)
    with session_factory(url)() as session:
        seed(session)
    get_engine(url).dispose()
    env = {"DATABASE_URL": url, "DASHBOARD_COOKIE_KEY": COOKIE_KEY}
    with streamlit_server(env, folder) as base:
        yield base


@pytest.fixture
def page(server):
    with chromium_page() as tab:
        yield tab


def _log_in(page, username: str) -> None:
    page.get_by_role("textbox", name="Username").wait_for()
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()


def _wait_until_idle(page) -> None:
    """Wait until no script run is in progress (a click during a rerun can be dropped)."""
    status = page.locator('[data-testid="stStatusWidget"]')
    quiet = 0
    for _ in range(300):
        quiet = 0 if status.count() and status.first.is_visible() else quiet + 1
        if quiet >= 5:
            return
        page.wait_for_timeout(200)
    pytest.fail("the app never finished running")


def test_deep_link_survives_the_login_round_trip(server, page):
    page.goto(f"{server}/cohort?school=Science")
    _log_in(page, "wb")
    page.get_by_role("heading", name="Cohort").first.wait_for()
    page.get_by_text("Engagement relative to each student's own baseline").wait_for()
    assert "/cohort?" in page.url and "school=Science" in page.url
    metric = page.locator('[data-testid="stMetricValue"]').first
    assert metric.inner_text() == "3"  # S001, S002, S003: the Science students (of 5)


def test_heatmap_renders_in_the_browser(server, page, tmp_path):
    page.goto(f"{server}/cohort")
    _log_in(page, "wb")
    heat = page.locator(".js-plotly-plot .heatmaplayer image")
    heat.first.wait_for(state="attached")
    assert heat.count() >= 1
    box = page.locator(".js-plotly-plot").filter(has=page.locator(".heatmaplayer")).first
    width = box.bounding_box()["width"]
    assert width > 300
    ticks = box.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert sorted(ticks) == ["S001", "S002", "S003", "S004", "S005"]
    page.screenshot(path=str(tmp_path / "cohort.png"), full_page=True)


def test_reload_keeps_the_session_through_the_cookie_and_keeps_scope(server, page):
    page.goto(f"{server}/student?id=S001")
    _log_in(page, "tut_a")
    page.get_by_role("heading", name="GivenS001 FamilyS001 · S001").first.wait_for()
    wait_for_login_cookie(page)
    page.goto(f"{server}/student?id=S003")  # a fresh page load: login comes from the cookie
    page.get_by_text("No student 'S003' in your scope.").wait_for()
    assert "/student?id=S003" in page.url
    assert page.get_by_text("GivenS003").count() == 0


def test_logout_deletes_the_login_cookie(server, page):
    page.goto(f"{server}/")
    _log_in(page, "wb")
    page.get_by_role("heading", name="Home").first.wait_for()
    wait_for_login_cookie(page)
    _wait_until_idle(page)
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("textbox", name="Username").wait_for()
    for _ in range(100):
        if not any(c["name"] == COOKIE_NAME for c in page.context.cookies()):
            break
        page.wait_for_timeout(200)
    else:
        pytest.fail("the login cookie survived the logout")
    page.goto(f"{server}/cohort")  # a fresh load: no cookie, so the login form again
    page.get_by_role("textbox", name="Username").wait_for()
    assert page.get_by_role("heading", name="Cohort").count() == 0


def test_the_cookie_of_a_logged_out_session_is_refused(server, page):
    """Logout revokes the session on the server: a copy of the old cookie no longer logs in."""
    page.goto(f"{server}/")
    _log_in(page, "wb")
    page.get_by_role("heading", name="Home").first.wait_for()
    wait_for_login_cookie(page)
    stolen = [c for c in page.context.cookies() if c["name"] == COOKIE_NAME]
    other = page.context.browser.new_context()
    try:
        copy = other.new_page()
        copy.set_default_timeout(45_000)
        other.add_cookies(stolen)
        copy.goto(f"{server}/cohort")  # while the session lives, the copy is logged in
        copy.get_by_role("heading", name="Cohort").first.wait_for()
        _wait_until_idle(page)
        page.get_by_role("button", name="Log out").click()
        page.get_by_role("textbox", name="Username").wait_for()
        copy.goto(f"{server}/cohort")  # after the logout, the same cookie is refused
        copy.get_by_role("textbox", name="Username").wait_for()
        assert copy.get_by_role("heading", name="Cohort").count() == 0
    finally:
        other.close()


def test_tables_offer_no_built_in_download(server, page):
    """client.disableDataExport: st.dataframe's toolbar has no CSV download (it bypasses the log)."""
    page.goto(f"{server}/cohort")
    _log_in(page, "wb")
    table = page.locator('[data-testid="stDataFrame"]:visible').first
    table.wait_for()
    _wait_until_idle(page)
    table.hover()
    page.wait_for_timeout(500)
    assert page.get_by_role("button", name="Download as CSV").count() == 0
    assert page.get_by_role("button", name="Search").count() >= 1  # the toolbar itself is there
