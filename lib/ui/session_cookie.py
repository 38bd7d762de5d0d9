"""The login cookie in the browser: read from the request, written and deleted by a cookie component.

The cookie is set from JavaScript, so it can never be HttpOnly: it only names a server-side session
(lib.sessions), which every run checks and logout revokes."""

from __future__ import annotations

import ipaddress
from datetime import datetime

import extra_streamlit_components as stx
import streamlit as st

from lib.auth import COOKIE_NAME


def read() -> str | None:
    """The cookie the browser sent when this session's connection opened (None when absent)."""
    try:
        value = st.context.cookies.get(COOKIE_NAME)
    except (AttributeError, RuntimeError):  # no browser behind this run (bare scripts)
        return None
    return str(value) if value else None


def _secure() -> bool | None:
    url = getattr(st.context, "url", None) or ""
    return True if url.startswith("https://") else None


def write(token: str, expires_at: datetime) -> None:
    """Set the cookie (a hidden component; call in a run that stays on screen)."""
    stx.CookieManager(key="session_cookie_get_set").set(
        COOKIE_NAME,
        token,
        key="session_cookie_set",
        expires_at=expires_at,
        secure=_secure(),
        same_site="strict",
    )


def delete() -> None:
    """Delete the cookie in the browser (a hidden component; call in a run that stays on screen)."""
    manager = stx.CookieManager(key="session_cookie_get_delete")
    try:
        manager.delete(COOKIE_NAME, key="session_cookie_delete")
    except KeyError:  # the component sends the delete, then forgets a cookie it never listed
        pass


def client_address() -> str | None:
    """The client's address: the connection's, or behind a proxy on this machine the address the
    proxy appended last to X-Forwarded-For (earlier entries come from the client and can be forged);
    None when it is unknown (a local connection without that header), so that one stranger's
    failures never slow down everybody behind the same proxy."""
    try:
        address = st.context.ip_address
        forwarded = st.context.headers.get("X-Forwarded-For") or ""
    except (AttributeError, RuntimeError):
        return None
    if address is not None and not _is_loopback(address):
        return address
    last = forwarded.split(",")[-1].strip()
    return last if _is_address(last) else None


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _is_loopback(text: str) -> bool:
    return _is_address(text) and ipaddress.ip_address(text).is_loopback
