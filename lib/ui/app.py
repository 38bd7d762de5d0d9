"""The app shell: cookie-key check, login (password or SSO), role navigation and the current user."""

from __future__ import annotations

from functools import partial

import streamlit as st
from sqlalchemy.exc import OperationalError, ProgrammingError

from lib import auth, login_guard, sessions
from lib.access import PAGES, User, pages_for, scope_description
from lib.audit import log_access
from lib.safe_markdown import escape_markdown
from lib.store.db import read_scope, session_scope
from lib.ui import session_cookie
from lib.ui.recovery import finish_pending_compute
from lib.ui.state import Keys, StateKeys

APP_TITLE = "Student Engagement Dashboard"
# Set by the app as well as in .streamlit/config.toml, so that they hold wherever it is started from:
# no tracebacks for users; no built-in table download (it bypasses the access log and the CSV
# neutralising), only the app's own logged download.
CLIENT_OPTIONS = {"client.showErrorDetails": "none", "client.disableDataExport": True}


def _page_objects(user: User | None) -> list[st.Page]:
    """The role's pages; before login, placeholders on every URL path so deep links survive."""
    if user is None:
        return [
            st.Page(_blank, title=spec.title, url_path=spec.url_path, default=spec.key == "home")
            for spec in PAGES.values()
        ]
    return [
        st.Page(
            spec.path,
            title=spec.title,
            url_path=spec.url_path,
            icon=spec.icon,
            default=spec.key == "home",
        )
        for key, spec in PAGES.items()
        if key in pages_for(user)
    ]


def _blank() -> None:
    """Placeholder page body while the login form is shown."""


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _stop_with_key_error() -> None:
    try:
        auth.cookie_key()
    except auth.CookieKeyError as exc:
        st.title(APP_TITLE)
        st.error("The dashboard cannot start: its login-cookie key is not usable.")
        st.code(str(exc), language="text")
        st.stop()


def _password_login(key: str) -> bool:
    """The sign-in form; True when this run signed someone in (their session and cookie started)."""
    if st.session_state.get(StateKeys.LOGGED_OUT):
        session_cookie.delete()  # here, on the login page that stays on screen after logout
    st.title(APP_TITLE)
    st.caption("Staff sign-in. Students never log in here.")
    with st.form(Keys.LOGIN_FORM):
        username = st.text_input("Username", max_chars=100, autocomplete="username")
        password = st.text_input(
            "Password", type="password", max_chars=200, autocomplete="current-password"
        )
        submitted = st.form_submit_button("Login")
    if not submitted:
        return False
    with session_scope() as session:
        attempt = login_guard.sign_in(session, username, password, session_cookie.client_address())
        started = (
            sessions.start(session, attempt.username, key, auth.session_lifetime())
            if attempt.username
            else None
        )
    if started is None:
        st.session_state["authentication_status"] = False
        st.error(attempt.message())
        return False
    st.session_state[StateKeys.SESSION_TOKEN] = started.token
    st.session_state[StateKeys.COOKIE_PENDING] = started
    st.session_state.pop(StateKeys.LOGGED_OUT, None)
    return True


def _password_user(key: str) -> User | None:
    """The user of this browser's live server-side session (checked on every run), or None."""
    token = st.session_state.get(StateKeys.SESSION_TOKEN)
    if token is None and not st.session_state.get(StateKeys.LOGGED_OUT):
        token = session_cookie.read()
    if token is None:
        return None
    with read_scope() as session:
        staff = auth.signed_in_user(session, token, key)
        user = User.from_staff(staff) if staff is not None else None
    if user is None:
        st.session_state.pop(StateKeys.SESSION_TOKEN, None)
        return None
    st.session_state[StateKeys.SESSION_TOKEN] = token
    pending = st.session_state.get(StateKeys.COOKIE_PENDING)
    if pending is not None:  # on every run: a run cut short by a rerun may never reach the browser
        session_cookie.write(pending.token, pending.expires_at)
    return user


def _log_out(key: str) -> None:
    """Revoke the server-side session, forget this browser session's user; the cookie goes next run."""
    with session_scope() as session:
        sessions.revoke(session, st.session_state.get(StateKeys.SESSION_TOKEN), key)
    for name in (
        StateKeys.SESSION_TOKEN,
        StateKeys.USER,
        StateKeys.LOGIN_RECORDED,
        StateKeys.LOGGED_VIEWS,
        StateKeys.COOKIE_PENDING,
    ):
        st.session_state.pop(name, None)
    st.session_state[StateKeys.LOGGED_OUT] = True
    for name in ("authentication_status", "username", "name", "roles"):
        st.session_state.pop(name, None)


def _sso_provider() -> str | None:
    """The provider name for st.login: None for a flat [auth] section, else the first [auth.X]."""
    section = st.secrets.get("auth", {})
    if "client_id" in section:
        return None
    named = [name for name, value in section.items() if hasattr(value, "get")]
    return named[0] if named else None


def _sso_identity() -> dict[str, object] | None:
    """The identity the provider vouched for in this browser (st.user), None when signed out."""
    if not st.user.get("is_logged_in", False):
        return None
    return dict(st.user.to_dict())


def _sso_user() -> User | None:
    """The staff user whose e-mail the identity provider vouched for (roles come from the store),
    while that sign-in's server-side session is live (checked on every run, revoked at logout)."""
    identity = _sso_identity()
    if identity is None:
        return None
    with session_scope() as session:
        staff = auth.user_by_email(session, str(identity.get("email") or ""))
        if staff is None or not sessions.check_sso(
            session, identity, staff.username, auth.session_lifetime()
        ):
            return None
        return User.from_staff(staff)


def _sso_account_exists(identity: dict[str, object]) -> bool:
    with session_scope() as session:
        return auth.user_by_email(session, str(identity.get("email") or "")) is not None


def _sso_login_prompt() -> bool:
    """The single sign-on button (or why a signed-in identity has no account); never logs in here.

    An identity whose session ended (logout, expiry) needs a new sign-in at the provider."""
    st.title(APP_TITLE)
    identity = _sso_identity()
    if identity is None or _sso_account_exists(identity):
        if identity is not None:
            st.info("Your session has ended. Sign in again to continue.")
        st.caption("Staff sign-in with the university account. Students never log in here.")
        if st.button("Sign in with single sign-on", key=Keys.SSO_LOGIN, type="primary"):
            st.login(_sso_provider())
        return False
    st.error(
        f"No active staff account has the e-mail {escape_markdown(st.user.get('email'))}. "
        "Ask an administrator."
    )
    if st.button("Sign out", key=Keys.LOGOUT):
        st.logout()
    return False


def _remember_requested_params() -> None:
    """Keep the query parameters of the first request (a shared link) across the login."""
    if StateKeys.REQUESTED_PARAMS not in st.session_state:
        st.session_state[StateKeys.REQUESTED_PARAMS] = st.query_params.to_dict()


def _restore_requested_params() -> None:
    wanted = st.session_state.pop(StateKeys.REQUESTED_PARAMS, None) or {}
    if wanted and not st.query_params.to_dict():
        st.query_params.from_dict(wanted)


def _sidebar(user: User, key: str, sso: bool) -> None:
    with st.sidebar:
        st.markdown(f"**{escape_markdown(user.display_name)}**  \n{user.role.replace('_', ' ')}")
        st.caption(f"You see {escape_markdown(scope_description(user))}.")
        if not st.button("Log out", key=Keys.LOGOUT):
            return
    if sso:
        identity = _sso_identity()
        if identity is not None:
            with session_scope() as session:
                sessions.revoke_sso(session, identity)
        st.logout()
    _log_out(key)
    st.rerun()


def _current_user(key: str) -> User | None:
    """The logged-in user of this session, or None (then the login is shown). The first read of
    a run: a pooled connection cut since its last use fails it once, and the pool replaces its
    connections (lib.store.db pings only those idle a while), so it is read again once."""
    read = _sso_user if _sso_configured() else partial(_password_user, key)
    try:
        return read()
    except OperationalError as error:
        if not error.connection_invalidated:
            raise
    return read()


def _remember_login(user: User) -> None:
    """The user of this session in session state (read by the pages), the login in the access log."""
    st.session_state[StateKeys.USER] = user
    st.session_state["authentication_status"] = True
    st.session_state["username"] = user.username
    st.session_state["roles"] = [user.role]
    if st.session_state.get(StateKeys.LOGIN_RECORDED) != user.username:
        with session_scope() as session:
            log_access(session, user, "login", action="login")
        st.session_state[StateKeys.LOGIN_RECORDED] = user.username
        _restore_requested_params()


def main() -> None:
    """Entry point run by Home.py on every rerun.

    Navigation is registered before anything that can be interrupted (the login form and the
    cookie component), so a deep link such as /cohort?school=X keeps its page while the browser's
    cookie answers and while the user logs in; a successful login reruns into the same page."""
    st.set_page_config(page_title=APP_TITLE, page_icon="📊", layout="wide")
    for option, value in CLIENT_OPTIONS.items():
        st.set_option(option, value)
    _stop_with_key_error()
    key = auth.cookie_key()
    _remember_requested_params()
    try:
        user = _current_user(key)
        if user is None:
            st.session_state.pop(StateKeys.USER, None)
            st.navigation(_page_objects(None), position="hidden")
            logged_in = _sso_login_prompt() if _sso_configured() else _password_login(key)
            if logged_in:
                st.rerun()
            st.stop()
    except (OperationalError, ProgrammingError):
        st.error("The store is not set up. Run `python -m lib init-db` (and load data) first.")
        st.stop()
    finish_pending_compute()  # a load killed before its compute is recomputed at app start
    _remember_login(user)
    page = st.navigation(_page_objects(user))
    _sidebar(user, key, _sso_configured())
    page.run()
