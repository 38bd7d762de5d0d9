"""Access log (admin): who viewed or exported which students' data, newest first."""

import streamlit as st

from lib.audit import entry_count, log_frame
from lib.store.db import session_scope
from lib.ui.state import Keys
from lib.ui.widgets import require_page

user = require_page("access_log")
st.title("Access log")
st.caption("Append-only: every page view or export showing identifiable students, and every login.")
left, right = st.columns(2)
who = left.text_input("Member of staff (username)", key=Keys.LOG_USER)
student = right.text_input("Student id", key=Keys.LOG_STUDENT)
with session_scope() as session:
    total = entry_count(session)
    frame = log_frame(session, username=who or None, student_id=(student or "").strip() or None)
st.write(f"{total:,} entries in all; showing the newest {len(frame):,} that match.")
if frame.empty:
    st.info("No access-log entries match.")
else:
    st.dataframe(frame, hide_index=True, width="stretch", key="access_log_table")
