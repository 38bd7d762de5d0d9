"""The app shell: cookie-key check, login (password or SSO), role navigation and the current user."""

from __future__ import annotations

from datetime import datetime, timedelta

import streamlit as st
import streamlit_authenticator as stauth
from sqlalchemy.exc import OperationalError, ProgrammingError
from streamlit_authenticator.utilities import LoginError

from lib import auth
from lib.access import PAGES, User, pages_for, scope_description
from lib.audit import log_access
from lib.store.db import session_scope
from lib.ui.state import Keys, StateKeys

APP_TITLE = "Student Engagement Dashboard"


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


def _sync_failed_attempts(creds: dict, before: dict[str, int]) -> None:
    """Persist the library's failed-attempt counts so the limit survives restarts and sessions."""
    with session_scope() as session:
        for username, data in creds["usernames"].items():
            after = data.get("failed_login_attempts", 0)
            if after > before.get(username, 0):
                for _ in range(after - before.get(username, 0)):
                    auth.record_login(session, username, success=False)
            elif after == 0 and before.get(username, 0) > 0:
                auth.record_login(session, username, success=True)


def _set_login_cookie(authenticator: stauth.Authenticate) -> None:
    """Set the signed re-login cookie (in the first run after a password login)."""
    model = authenticator.cookie_controller.cookie_model
    model.exp_date = model._set_exp_date()
    token = model._token_encode()
    model.cookie_manager.set(
        model.cookie_name,
        token,
        expires_at=datetime.now() + timedelta(days=model.cookie_expiry_days),
        key="set_after_login",
    )


def _authenticator(creds: dict, key: str) -> stauth.Authenticate:
    return stauth.Authenticate(
        creds, auth.COOKIE_NAME, key, auth.COOKIE_EXPIRY_DAYS, auto_hash=False
    )


def _password_login(key: str) -> bool:
    """The login form (and the re-login cookie check); True when this run logged someone in."""
    with session_scope() as session:
        creds = auth.credentials(session)
    before = {u: d.get("failed_login_attempts", 0) for u, d in creds["usernames"].items()}
    authenticator = _authenticator(creds, key)
    if st.session_state.get("logout"):
        # Logged out in this session: delete the browser's re-login cookie. It is done here, on
        # the login page that stays on screen, because the logout run itself reruns at once.
        authenticator.cookie_controller.cookie_model.delete_cookie()
    st.title(APP_TITLE)
    st.caption("Staff sign-in. Students never log in here.")
    try:
        authenticator.login(
            location="main", max_login_attempts=auth.MAX_LOGIN_ATTEMPTS, key=Keys.LOGIN_FORM
        )
    except LoginError as exc:
        st.session_state["authentication_status"] = None
        st.error(f"{exc}. Try again in {int(auth.LOCKOUT.total_seconds() // 60)} minutes.")
    _sync_failed_attempts(creds, before)
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Username or password is incorrect (or the account is locked).")
    if status and st.session_state.get(StateKeys.COOKIE_PENDING) is None:
        st.session_state[StateKeys.COOKIE_PENDING] = True
    return bool(status)


def _logged_in_password_user(key: str) -> tuple[stauth.Authenticate, User | None]:
    """The authenticator (for the logout button) and the logged-in user, re-read from the store."""
    username = st.session_state.get("username")
    with session_scope() as session:
        staff = auth.get_user(session, username)
        user = User.from_staff(staff) if staff is not None else None
        creds = auth.credentials(session, only=username)
    authenticator = _authenticator(creds, key)
    if user is None or not creds["usernames"]:
        authenticator.logout(location="unrendered")
        return authenticator, None
    if st.session_state.pop(StateKeys.COOKIE_PENDING, None):
        _set_login_cookie(authenticator)
    return authenticator, user


def _sso_provider() -> str | None:
    """The provider name for st.login: None for a flat [auth] section, else the first [auth.X]."""
    section = st.secrets.get("auth", {})
    if "client_id" in section:
        return None
    named = [name for name, value in section.items() if hasattr(value, "get")]
    return named[0] if named else None


def _sso_user() -> User | None:
    """The staff user whose e-mail the identity provider vouched for (roles come from the store)."""
    if not st.user.get("is_logged_in", False):
        return None
    with session_scope() as session:
        staff = auth.user_by_email(session, st.user.get("email"))
        return User.from_staff(staff) if staff is not None else None


def _sso_login_prompt() -> bool:
    """The single sign-on button (or why a signed-in identity has no account); never logs in here."""
    st.title(APP_TITLE)
    if not st.user.get("is_logged_in", False):
        st.caption("Staff sign-in with the university account. Students never log in here.")
        if st.button("Sign in with single sign-on", key=Keys.SSO_LOGIN, type="primary"):
            st.login(_sso_provider())
        return False
    st.error(
        f"No active staff account has the e-mail {st.user.get('email')}. Ask an administrator."
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


def _sidebar(user: User, authenticator: stauth.Authenticate | None) -> None:
    with st.sidebar:
        st.markdown(f"**{user.display_name}**  \n{user.role.replace('_', ' ')}")
        st.caption(f"You see {scope_description(user)}.")
        if authenticator is not None:
            authenticator.logout("Log out", location="sidebar", key=Keys.LOGOUT)
            if not st.session_state.get("authentication_status"):
                for name in (StateKeys.USER, StateKeys.LOGIN_RECORDED, StateKeys.LOGGED_VIEWS):
                    st.session_state.pop(name, None)
                st.rerun()
        elif st.button("Log out", key=Keys.LOGOUT):
            st.logout()


def _current_user(key: str) -> tuple[stauth.Authenticate | None, User | None]:
    """The logged-in user of this session, or None (then the login is shown)."""
    if _sso_configured():
        return None, _sso_user()
    if not st.session_state.get("authentication_status"):
        return None, None
    return _logged_in_password_user(key)


def main() -> None:
    """Entry point run by Home.py on every rerun.

    Navigation is registered before anything that can be interrupted (the login form and the
    cookie component), so a deep link such as /cohort?school=X keeps its page while the browser's
    cookie answers and while the user logs in; a successful login reruns into the same page."""
    st.set_page_config(page_title=APP_TITLE, page_icon="📊", layout="wide")
    _stop_with_key_error()
    key = auth.cookie_key()
    _remember_requested_params()
    try:
        authenticator, user = _current_user(key)
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
    st.session_state[StateKeys.USER] = user
    if st.session_state.get(StateKeys.LOGIN_RECORDED) != user.username:
        with session_scope() as session:
            log_access(session, user, "login", action="login")
        st.session_state[StateKeys.LOGIN_RECORDED] = user.username
        _restore_requested_params()
    page = st.navigation(_page_objects(user))
    _sidebar(user, authenticator)
    page.run()
