"""The app after PostgreSQL cut its connections (a restart): the next page run shows the page."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from lib.store import db
from lib.store.db import session_scope
from tests.app_fixtures import COOKIE_KEY, open_page, seed


def _cut_every_connection(url: str) -> int:
    """Terminate every other backend of the store's database; how many were cut."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        cut = conn.scalars(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).all()
    admin.dispose()
    return sum(bool(c) for c in cut)


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_page_run_after_the_store_cut_its_pooled_connections_shows_the_page(
    store_url, monkeypatch
):
    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)  # no ping: the run meets the cut
    with session_scope(store_url) as session:
        seed(session)
    at = open_page("tutor", "home")
    assert not at.exception and at.title[0].value == "My students"
    assert _cut_every_connection(store_url) >= 1
    at.run()
    assert not at.exception
    assert at.title[0].value == "My students"
    assert not [e.value for e in at.error]  # not "The store is not set up"
