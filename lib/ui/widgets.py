"""Shared widgets: page guard, empty-store notice, data-quality banner, view logger, date fields."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

import pandas as pd
import streamlit as st

from lib.access import User, can_open
from lib.audit import log_access
from lib.safe_markdown import escape_markdown
from lib.store.db import session_scope
from lib.ui.state import StateKeys


def current_user() -> User | None:
    """The logged-in user of this session (set by the app shell)."""
    return st.session_state.get(StateKeys.USER)


def require_page(page: str) -> User:
    """The current user, stopping the page when they are not logged in or may not open it."""
    user = current_user()
    if user is None:
        st.warning("Please log in.")
        st.stop()
    if not can_open(user, page):
        log_view(user, f"page {page}", [], action="refused")
        st.error("Your role does not give access to this page.")
        st.stop()
    return user


def log_view(user: User, what: str, student_ids: Iterable[str], action: str = "view") -> None:
    """Write an access-log entry once per distinct view (page, filters and students) in a session;
    a refusal (action "refused") is written even when it names no student."""
    ids = sorted(set(student_ids))
    if not ids and action != "refused":
        return
    digest = hashlib.sha256(f"{action}|{what}|{','.join(ids)}".encode()).hexdigest()
    seen: set[str] = st.session_state.setdefault(StateKeys.LOGGED_VIEWS, set())
    if digest in seen:
        return
    with session_scope() as session:
        log_access(session, user, what, ids, action=action)
    seen.add(digest)


def empty_store_notice(what: str = "engagement results") -> None:
    """A helpful message for an empty store instead of an error."""
    st.info(
        f"No {what} yet. An administrator loads exports on the Data page (or run "
        "`python -m lib load-sample sample_data` for demo data); `python -m lib compute` "
        "brings the weekly measures and flags up to date."
    )


def data_quality_banner(events: pd.DataFrame) -> None:
    """A warning listing systemic drops in the selected weeks (not student problems)."""
    if events is None or events.empty:
        return
    lines = [
        f"- week of {row.week_start}: **{escape_markdown(row.source)}**"
        + (
            f" ({escape_markdown(row.module_code)})"
            if isinstance(row.module_code, str) and row.module_code
            else ""
        )
        + f": {escape_markdown(row.explanation)}"
        for row in events.head(8).itertuples()
    ]
    more = f"\n\n…and {len(events) - 8} more." if len(events) > 8 else ""
    st.warning(
        f"**{len(events)} data-quality event(s)** in these weeks: drops affecting most students "
        "of a module or source are treated as system problems, not flagged per student.\n\n"
        + "\n".join(lines)
        + more
    )


def pager(total: int, size: int, key: str, label: str = "Page") -> int:
    """A page-number input (0-based result) when there is more than one page."""
    pages = max(1, -(-total // size))
    if pages == 1:
        return 0
    number = st.number_input(
        f"{label} (of {pages})", min_value=1, max_value=pages, value=1, step=1, key=key
    )
    return int(number) - 1


FIRST_DAY = date(2020, 9, 1)  # the earliest date a form accepts


def past_date_input(label: str, key: str) -> date:
    """A date on or before today (today by default), as the record forms ask for."""
    return st.date_input(
        label, value=date.today(), min_value=FIRST_DAY, max_value=date.today(), key=key
    )
