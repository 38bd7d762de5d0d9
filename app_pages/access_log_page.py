"""Access log (admin): who viewed or exported which students' data, newest first."""

import streamlit as st

from lib.ui import cache
from lib.ui.state import Keys
from lib.ui.widgets import require_page


def main() -> None:
    user = require_page("access_log")
    st.title("Access log")
    st.caption(
        "Append-only: every page view or export showing identifiable students, and every login."
    )
    left, right = st.columns(2)
    who = left.text_input("Member of staff (username)", key=Keys.LOG_USER)
    student = right.text_input("Student id", key=Keys.LOG_STUDENT)
    total, frame = cache.access_log(user, who or None, student or None)
    st.write(f"{total:,} entries in all; showing the newest {len(frame):,} that match.")
    if frame.empty:
        st.info("No access-log entries match.")
    else:
        st.dataframe(frame, hide_index=True, width="stretch", key="access_log_table")


main()
