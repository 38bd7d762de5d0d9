"""Two app replicas behind Debian's nginx on loopback, on one PostgreSQL store: sticky sessions,
websockets through the proxy, and a returning user served by either replica (stateless replicas)."""

from __future__ import annotations

import urllib.request

import pytest

from lib.ops.replicas import ROUTE_COOKIE
from tests.app_fixtures import PASSWORD
from tests.browser_support import (
    chromium_page,
    console_errors,
    needs_chromium,
    wait_for_login_cookie,
    wait_until_idle,
)
from tests.replica_cluster import NEEDS_CLUSTER, seeded_cluster

pytestmark = [pytest.mark.browser, needs_chromium, *NEEDS_CLUSTER]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, postgres_template):
    for running, _ in seeded_cluster(tmp_path_factory.mktemp("replicas"), postgres_template):
        yield running


def _upstream(front: str, route: str | None) -> tuple[str, str]:
    """(replica address, route cookie set) for one request with this route cookie."""
    request = urllib.request.Request(f"{front}/_stcore/health")
    if route:
        request.add_header("Cookie", f"{ROUTE_COOKIE}={route}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        cookies = [c.split(";")[0].split("=", 1) for c in resp.headers.get_all("Set-Cookie")]
        return resp.headers["X-Upstream"], dict(cookies)[ROUTE_COOKIE]


def _routes_per_replica(front: str) -> dict[str, str]:
    """The route cookie nginx names each replica by (found by asking it as new browsers)."""
    found: dict[str, str] = {}
    for _ in range(10):
        upstream, route = _upstream(front, None)
        found[upstream] = route
        if len(found) == 2:
            break
    return found


def test_nginx_hands_out_replicas_in_turn_and_keeps_each_browser_on_its_own(cluster):
    replicas = {base.removeprefix("http://") for _, base in cluster.replicas}
    first = [_upstream(cluster.front, None) for _ in range(4)]  # four new browsers
    upstreams = [upstream for upstream, _ in first]
    assert set(upstreams) == replicas
    assert upstreams[0] != upstreams[1] and upstreams[:2] == upstreams[2:]  # in turn: 2 and 2
    routes = dict(first)
    assert sorted(routes.values()) == ["r0", "r1"]
    for upstream, route in routes.items():
        assert {_upstream(cluster.front, route)[0] for _ in range(10)} == {upstream}
        assert {_upstream(cluster.front, route)[1] for _ in range(3)} == {route}
    # a cookie naming no replica (an old or forged one) is served, and renamed
    upstream, route = _upstream(cluster.front, "x" * 40)
    assert routes[upstream] == route
    assert set(_routes_per_replica(cluster.front)) == replicas


def _log_in_through(page, front: str, route: str, username: str) -> None:
    page.context.add_cookies([{"name": ROUTE_COOKIE, "value": route, "url": front}])
    page.goto(f"{front}/cohort")
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.get_by_role("heading", name="Cohort").first.wait_for()


def test_sessions_on_both_replicas_and_a_returning_user_on_the_other(cluster):
    routes = _routes_per_replica(cluster.front)
    (first, route_a), (second, route_b) = sorted(routes.items())
    with chromium_page() as page:
        served = []
        page.on(
            "websocket",
            lambda ws: served.append(ws.url),
        )
        _log_in_through(page, cluster.front, route_a, "wb")
        assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "5"
        assert served and all(u.startswith(cluster.front.replace("http", "ws")) for u in served)
        wait_for_login_cookie(page)
        wait_until_idle(page)
        # the same browser, now routed to the other replica: the login cookie signs it in there
        page.context.add_cookies([{"name": ROUTE_COOKIE, "value": route_b, "url": cluster.front}])
        with page.expect_response(lambda r: r.url.startswith(cluster.front)) as first_response:
            page.goto(f"{cluster.front}/student?id=S001")
        assert first_response.value.headers["x-upstream"] == second
        page.get_by_role("heading", name="GivenS001 FamilyS001 · S001").first.wait_for()
        assert page.get_by_role("textbox", name="Username").count() == 0
        assert "frame-ancestors 'self'" in first_response.value.headers["content-security-policy"]
        wait_until_idle(page)
        csp = [e for e in console_errors(page) if "Content Security Policy" in e]
        assert not csp, "\n".join(csp)  # the app runs under the README's security headers
    with chromium_page() as page:
        _log_in_through(page, cluster.front, route_b, "tut_a")
        page.get_by_text("You see your personal tutees.").first.wait_for()
    assert first != second
