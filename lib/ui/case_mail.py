"""The case page's message templates: preview, open in the mail client (mailto:), or send through
the configured SMTP server and record it as the contact attempt."""

from __future__ import annotations

import secrets
from datetime import date, datetime, time, timedelta

import streamlit as st

from lib.access import User, can
from lib.cases.mail import TEMPLATES, MailError, draft_message, send_to_student, smtp_server
from lib.cases.service import CaseDenied, CaseInputError
from lib.store.db import session_scope
from lib.store.models import Case, Student
from lib.ui import cache

PROPOSED_TIMES = 3


def _send_key(prefix: str) -> str:
    """A token per message to send: a double click (or a rerun) records and sends it once."""
    name = f"{prefix}_send_key"
    if name not in st.session_state:
        st.session_state[name] = secrets.token_hex(16)
    return st.session_state[name]


def _proposed_times(prefix: str) -> list[datetime]:
    st.markdown("**Proposed tutorial times** (up to three)")
    times = []
    tomorrow = date.today() + timedelta(days=1)
    for i, column in enumerate(st.columns(PROPOSED_TIMES)):
        day = column.date_input(
            f"Day {i + 1}", value=None, min_value=tomorrow, key=f"{prefix}_day_{i}"
        )
        at = column.time_input(f"Time {i + 1}", value=time(10, 0), key=f"{prefix}_time_{i}")
        if day is not None and at is not None:
            times.append(datetime.combine(day, at))
    return times


def message_templates(user: User, case_id: int, *, prefix: str = "case_mail") -> None:
    """Template picker, preview, a mailto: button and (when SMTP is configured) a send button."""
    with session_scope() as session:
        case = session.get(Case, case_id)
        student = session.get(Student, case.student_id) if case is not None else None
        if student is not None:
            session.expunge(student)
    if student is None:
        return
    with st.expander("Message templates (welfare check e-mail, tutorial invitation)"):
        key = st.radio(
            "Template",
            list(TEMPLATES),
            format_func=lambda k: TEMPLATES[k].title,
            horizontal=True,
            key=f"{prefix}_template",
        )
        times = _proposed_times(prefix) if key == "tutorial_invitation" else []
        try:
            draft = draft_message(key, student, user.display_name or user.username, times)
        except CaseInputError as error:
            st.info(" ".join(error.errors.values()))
            return
        st.text(f"To: {draft.to}\nSubject: {draft.subject}")
        st.text(draft.body)
        st.link_button(
            "Open in your mail client",
            draft.mailto,
            help="Opens a new message to the student's university e-mail; record the contact below "
            "once it is sent.",
        )
        server = smtp_server()
        if server is None or not can(user, "send_email"):
            return
        if st.button(
            "Send from the dashboard and record it as the contact attempt", key=f"{prefix}_send"
        ):
            try:
                with session_scope() as session:
                    send_to_student(
                        session, user, case_id, key, times, key=_send_key(prefix), server=server
                    )
            except (CaseInputError, CaseDenied, MailError) as error:
                st.error(f"Not sent, nothing recorded: {error}")
            else:
                st.session_state.pop(f"{prefix}_send_key", None)
                cache.clear()
                st.success(f"Sent to {draft.to} and recorded as a contact attempt.")
