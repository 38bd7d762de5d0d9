"""The app as an attacker meets it: no built-in table download, no tracebacks, escaped text, sessions."""

from __future__ import annotations

import tomllib

import pytest
from streamlit import config

from lib.access import ROLE_PAGES, ROLES
from lib.ui.app import CLIENT_OPTIONS
from tests import app_fixtures
from tests.app_fixtures import ROOT, login

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
