"""Real browser: a tutor opens a case from Home's worklist (in the same tab) and records a contact."""

from __future__ import annotations

import pytest

from tests import test_browser_app as browser
from tests.browser_support import choose_option
from tests.test_browser_app import _log_in, _wait_until_idle

server = browser.server  # fixtures shared with the other browser tests
page = browser.page

pytestmark = pytest.mark.browser


def test_tutor_opens_a_case_from_home_and_records_a_contact(server, page):
    page.goto(f"{server}/")
    _log_in(page, "tut_a")
    page.get_by_text("New flags with no case (1)").wait_for()
    _wait_until_idle(page)
    page.get_by_role("button", name="Open a case from the flag").click()
    page.get_by_text("Record a contact attempt").wait_for()
    assert "/case" in page.url and "case=" in page.url
    assert len(page.context.pages) == 1  # navigated in place, no new tab
    page.get_by_text("due in 2 working days").first.wait_for()
    _wait_until_idle(page)
    choose_option(page, "Channel", "University e-mail")
    choose_option(page, "Outcome", "No response")
    _wait_until_idle(page)
    page.get_by_role("button", name="Record contact").click()
    page.get_by_text("Contact attempt recorded.").wait_for()
    page.get_by_text("Step 2 — Tutorial invitation:").first.wait_for()  # the ladder's next action
    page.get_by_text("History (2 entries").wait_for()
    _wait_until_idle(page)
    # the same submission again (a double click): still two entries
    page.get_by_role("button", name="Record contact").dblclick()
    _wait_until_idle(page)
    page.get_by_text("History (2 entries").wait_for()
    assert page.get_by_text("History (3 entries").count() == 0
