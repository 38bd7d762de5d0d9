"""Two app replicas behind Debian's nginx on one seeded PostgreSQL store, for the tests that need
them (the browser walk through the proxy, the load test's websocket client)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lib.ops.replicas import NGINX, serve
from lib.store.db import get_engine, init_db, session_factory
from tests.app_fixtures import COOKIE_KEY, seed
from tests.conftest import TEST_DATABASE_URL, _fresh_postgres_url

NEEDS_CLUSTER = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not NGINX.exists(), reason="needs Debian's nginx (apt-get install nginx-light)"
    ),
    pytest.mark.skipif(
        not TEST_DATABASE_URL, reason="replicas share PostgreSQL: TEST_DATABASE_URL"
    ),
]


def seeded_cluster(folder: Path, postgres_template: str) -> Iterator[tuple[object, str]]:
    """(the running replicas, the store's URL): a fresh store seeded with the app fixtures' users
    and students, served by two replicas behind nginx."""
    for url in _fresh_postgres_url(postgres_template):
        init_db(url)
        with session_factory(url)() as session:
            seed(session)
            session.commit()
        get_engine(url).dispose()
        env = {"DATABASE_URL": url, "DASHBOARD_COOKIE_KEY": COOKIE_KEY}
        with serve(env, folder, replicas=2) as running:
            yield running, url
