"""The load test's websocket client (bench/st_client.py) through nginx and two replicas: signed in by
the login cookie alone, it gets each page's heading, stays on its replica, and is refused a student
outside its scope, as a browser would be."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bench.load import route
from bench.st_client import StreamlitSession
from lib import sessions
from lib.auth import COOKIE_NAME
from lib.store.db import session_scope
from tests.app_fixtures import COOKIE_KEY
from tests.replica_cluster import NEEDS_CLUSTER, seeded_cluster

pytestmark = NEEDS_CLUSTER


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_template):
    yield from seeded_cluster(tmp_path_factory.mktemp("load_client"), postgres_template)


def _cookie(url: str, username: str) -> str:
    with session_scope(url) as session:
        return sessions.start(session, username, COOKIE_KEY, timedelta(hours=1)).token


async def _walk(front: str, token: str, student: str) -> list:
    cookies, upstream = route(front)
    client = await StreamlitSession.open(front, {COOKIE_NAME: token, **cookies})
    try:
        views = [
            await client.view("", ""),
            await client.view("cohort", ""),
            await client.view("student", f"id={student}"),
            await client.view("", ""),
        ]
    finally:
        await client.close()
    return [upstream, client.pages, views]


def test_a_signed_in_client_gets_every_page_through_nginx(cluster):
    running, url = cluster
    upstream, pages, views = asyncio.run(_walk(running.front, _cookie(url, "wb"), "S003"))
    home, cohort, student, home_again = views
    assert upstream in {base.removeprefix("http://") for _, base in running.replicas}
    assert "Home" in home.headings and "Cohort" in cohort.headings
    assert any(h.endswith("· S003") for h in student.headings)
    assert "Home" in home_again.headings  # asked for by the page hash the app sent
    assert {"cohort", "student"} <= set(pages)
    assert not any(v.errors for v in views)
    assert all(v.seconds > 0 and v.messages > 0 for v in views)


def test_a_tutor_client_is_refused_a_student_outside_their_scope(cluster):
    running, url = cluster
    _, _, views = asyncio.run(_walk(running.front, _cookie(url, "tut_a"), "S005"))
    home, _, student, _ = views
    assert "My students" in home.headings
    assert not any("S005" in h for h in student.headings)
    assert "Student" in student.headings


def test_without_the_login_cookie_the_client_gets_the_login_page(cluster):
    running, _ = cluster

    async def anonymous():
        client = await StreamlitSession.open(running.front, {})
        try:
            return await client.view("cohort", "")
        finally:
            await client.close()

    view = asyncio.run(anonymous())
    assert view.headings == ["Student Engagement Dashboard"]  # the sign-in form's title only
    assert not view.errors
