"""Single sign-on end to end: the app's OIDC login against a real OpenID Connect provider on loopback.

The provider is the npm package oidc-provider (tests/oidc/server.mjs); the browser is Debian's
chromium. Identity is mapped by e-mail to a stored staff user, whose role comes from the store."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from sqlalchemy import select

from lib.auth import add_user
from lib.store.db import get_engine, init_db, session_factory
from lib.store.models import AccessLogEntry, LoginSession
from tests.app_fixtures import COOKIE_KEY, seed
from tests.browser_support import (
    chromium_page,
    free_port,
    needs_chromium,
    npm_folder,
    streamlit_server,
    wait_for_http,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, needs_chromium]

CLIENT_ID = "engagement-dashboard"
CLIENT_SECRET = "loopback-test-client-secret-4f1c9a2b"
ACCOUNTS = {
    "wb-login": {
        "email": "Wendy.Bell@Uni.Example",
        "name": "Wendy Bell",
    },  # case differs: still mapped
    "tutor-login": {"email": "tut_a@uni.example", "name": "Tom Tutor"},
    "stranger": {"email": "stranger@uni.example", "name": "Someone Else"},
}


@pytest.fixture(scope="module")
def sso_app(tmp_path_factory):
    """The app with [auth] pointing at a loopback OIDC provider; yields (base URL, store URL)."""
    folder = tmp_path_factory.mktemp("sso")
    store = f"sqlite:///{folder / 'store.db'}"
    init_db(store)
    with session_factory(store)() as session:
        seed(session)
        add_user(session, "wb", role="wellbeing", email="wendy.bell@uni.example")
        add_user(session, "tut_a", role="tutor", email="tut_a@uni.example")
        session.commit()
    get_engine(store).dispose()
    oidc_dir = npm_folder("oidc")
    app_port, oidc_port = free_port(), free_port()
    redirect = f"http://127.0.0.1:{app_port}/oauth2callback"
    oidc_log = folder / "oidc.log"
    with open(oidc_log, "w") as log:
        provider = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=oidc_dir,
            env={
                **os.environ,
                "OIDC_PORT": str(oidc_port),
                "OIDC_CLIENT_ID": CLIENT_ID,
                "OIDC_CLIENT_SECRET": CLIENT_SECRET,
                "OIDC_REDIRECT_URI": redirect,
                "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        metadata = f"http://127.0.0.1:{oidc_port}/.well-known/openid-configuration"
        wait_for_http(metadata, "the OIDC provider", oidc_log)
        secrets = folder / "secrets.toml"
        secrets.write_text(
            "[auth]\n"
            f'redirect_uri = "{redirect}"\n'
            'cookie_secret = "loopback-test-cookie-secret-9d8e7f6a5b4c3d2e"\n'
            f'client_id = "{CLIENT_ID}"\n'
            f'client_secret = "{CLIENT_SECRET}"\n'
            f'server_metadata_url = "{metadata}"\n'
            "[auth.client_kwargs]\n"
            'prompt = "login"\n',  # the test provider knows login/consent, not select_account
            encoding="utf-8",
        )
        env = {"DATABASE_URL": store, "DASHBOARD_COOKIE_KEY": COOKIE_KEY}
        extra = (f"--secrets.files={secrets}",)
        with streamlit_server(env, folder, port=app_port, extra=extra) as base:
            yield base, store
    finally:
        provider.terminate()
        provider.wait(timeout=20)


def _sign_in(page, base: str, login: str) -> None:
    page.goto(base)
    _sign_in_from(page, base, login)


def _sign_in_from(page, base: str, login: str) -> None:
    page.get_by_role("button", name="Sign in with single sign-on").click()
    page.locator('input[name="login"]').fill(login)  # the provider's own login page
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    # the provider's consent page; a provider that kept the grant of an earlier sign-in (its own
    # session outlived the app's logout) goes straight back to the app
    consent = page.get_by_role("button", name="Continue")
    consent.or_(page.locator('[data-testid="stApp"]')).first.wait_for()
    if consent.count():
        consent.click()
    page.wait_for_url(f"{base}/**")


def _sessions(store: str, username: str) -> tuple[int, int]:
    """How many server-side sessions the user has, and how many of them were revoked."""
    with session_factory(store)() as session:
        records = session.scalars(
            select(LoginSession).where(LoginSession.username == username)
        ).all()
    return len(records), sum(record.revoked_at is not None for record in records)


def _logins(store: str, username: str) -> int:
    with session_factory(store)() as session:
        rows = session.scalars(
            select(AccessLogEntry).where(
                AccessLogEntry.username == username, AccessLogEntry.action == "login"
            )
        ).all()
    return len(rows)


def test_sso_login_maps_the_email_to_the_stored_user_and_role_then_logs_out(sso_app):
    base, store = sso_app
    before = _logins(store, "wb")
    with chromium_page() as page:
        _sign_in(page, base, "wb-login")
        page.get_by_role("heading", name="Home").first.wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("wellbeing").wait_for()  # the role comes from the store
        assert "Demo" not in sidebar.inner_text()
        nav = sidebar.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Cohort" in nav and "Data" not in nav  # wellbeing's pages, not admin's
        assert _logins(store, "wb") == before + 1
        wait_until_idle(page)
        sidebar.get_by_role("button", name="Log out").click()
        signin = page.get_by_role("button", name="Sign in with single sign-on")
        confirm = page.get_by_role("button", name="Yes, sign me out")  # the provider's end session
        # the app's own logout may land on its sign-in page before the provider's page is reached
        confirm.or_(signin).first.wait_for()
        if confirm.count():
            confirm.click()
        signin.wait_for()
        assert page.get_by_role("heading", name="Home").count() == 0
        page.goto(f"{base}/cohort")  # a fresh load after logout: still signed out
        page.get_by_role("button", name="Sign in with single sign-on").wait_for()
        assert page.get_by_role("heading", name="Cohort").count() == 0
        _sign_in_from(page, base, "wb-login")  # a new sign-in at the provider: a new session
        page.get_by_role("heading", name="Home").first.wait_for()
        assert _logins(store, "wb") == before + 2
    assert _sessions(store, "wb") == (2, 1)  # both recorded server-side, the first revoked


def test_sso_tutor_gets_the_tutor_scope(sso_app):
    base, _ = sso_app
    with chromium_page() as page:
        _sign_in(page, base, "tutor-login")
        page.get_by_role("heading", name="My students").first.wait_for()
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("You see your personal tutees.").wait_for()  # the tutor's scope
        page.goto(f"{base}/student?id=S003")  # tut_b's student: outside tut_a's scope
        page.get_by_text("No student 'S003' in your scope.").wait_for()


def test_sso_identity_unknown_to_the_store_is_refused(sso_app):
    base, store = sso_app
    with chromium_page() as page:
        _sign_in(page, base, "stranger")
        page.get_by_text("No active staff account has the e-mail stranger@uni.example").wait_for()
        assert page.locator('[data-testid="stSidebarNav"]').count() == 0
        page.goto(f"{base}/cohort")
        page.get_by_text("No active staff account has the e-mail").wait_for()
        assert page.get_by_role("heading", name="Cohort").count() == 0
    with session_factory(store)() as session:
        assert not session.scalars(
            select(AccessLogEntry).where(AccessLogEntry.username == "stranger")
        ).all()
