"""Subject access requests: log one, see the open ones by due date, fulfil one as a zip download."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from lib.access import User
from lib.safe_markdown import escape_markdown
from lib.sar import DEFAULT_DUE_DAYS, UnknownStudent
from lib.ui import compliance_actions as actions
from lib.ui.widgets import FIRST_DAY, past_date_input, require_page


def _log_form(user: User) -> None:
    with st.form("sar_log_form", clear_on_submit=True):
        st.markdown(
            f"**Log a request** (due by default {DEFAULT_DUE_DAYS} days after receipt, never later "
            "than the statutory one month)"
        )
        student_id = st.text_input("Student id", max_chars=20, key="sar_student")
        received = past_date_input("Received on", "sar_received")
        set_due = st.checkbox("Set another due date", key="sar_set_due")
        due = st.date_input(
            "Due on",
            value=date.today() + timedelta(days=DEFAULT_DUE_DAYS),
            min_value=FIRST_DAY,
            key="sar_due",
        )
        if st.form_submit_button("Log request"):
            try:
                logged = actions.log_subject_access_request(
                    user, student_id, received, due if set_due else None
                )
            except (ValueError, PermissionError, UnknownStudent) as exc:
                st.error(escape_markdown(exc))
            else:
                st.success(
                    f"Request logged for {escape_markdown(logged.student_id)}, due {logged.due_on}."
                )


def main() -> None:
    user = require_page("subject_access")
    st.title("Subject access requests")
    _log_form(user)
    requests = actions.open_subject_access_requests(user)
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
    st.download_button(
        "Download the subject access export (records the request fulfilled, tutor copied; logged)",
        data=lambda: actions.fulfil_subject_access_request(user, choice),
        file_name=f"subject_access_{choice}.zip",
        mime="application/zip",
        key="sar_fulfil",
        on_click="ignore",
    )


main()
