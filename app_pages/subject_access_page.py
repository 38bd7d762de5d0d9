"""Subject access requests: log one, see the open ones by due date, fulfil one as a zip download."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from lib.sar import DEFAULT_DUE_DAYS, UnknownStudent, fulfil, log_request, open_requests
from lib.store.db import session_scope
from lib.ui.widgets import require_page

FIRST_DAY = date(2020, 9, 1)


def _log_form(user) -> None:
    with st.form("sar_log_form", clear_on_submit=True):
        st.markdown(
            f"**Log a request** (due by default {DEFAULT_DUE_DAYS} days after receipt, never later "
            "than the statutory one month)"
        )
        student_id = st.text_input("Student id", max_chars=20, key="sar_student")
        received = st.date_input(
            "Received on",
            value=date.today(),
            min_value=FIRST_DAY,
            max_value=date.today(),
            key="sar_received",
        )
        set_due = st.checkbox("Set another due date", key="sar_set_due")
        due = st.date_input(
            "Due on",
            value=date.today() + timedelta(days=DEFAULT_DUE_DAYS),
            min_value=FIRST_DAY,
            key="sar_due",
        )
        if st.form_submit_button("Log request"):
            try:
                with session_scope() as session:
                    request = log_request(
                        session, user, student_id, received, due if set_due else None
                    )
                    st.success(f"Request logged for {request.student_id}, due {request.due_on}.")
            except (ValueError, PermissionError, UnknownStudent) as exc:
                st.error(str(exc))


def main() -> None:
    user = require_page("subject_access")
    st.title("Subject access requests")
    _log_form(user)
    with session_scope() as session:
        requests = open_requests(session, user)
    st.subheader("Open requests, soonest due first")
    if requests.empty:
        st.success("No open request.")
        return
    overdue = int((requests["due_on"] < date.today()).sum())
    if overdue:
        st.warning(f"{overdue} request(s) past their due date.")
    st.dataframe(requests, hide_index=True, width="stretch", key="sar_table")
    choice = st.selectbox(
        "Fulfil the request of", requests["student_id"].drop_duplicates().tolist(), key="sar_pick"
    )

    def _zip() -> bytes:
        with session_scope() as session:
            return fulfil(session, user, choice)

    st.download_button(
        "Download the subject access export (records the request fulfilled, tutor copied; logged)",
        data=_zip,
        file_name=f"subject_access_{choice}.zip",
        mime="application/zip",
        key="sar_fulfil",
        on_click="ignore",
    )


main()
