"""Home / My students: role-aware start page (tutees flagged and changed first; admin: data quality)."""

import streamlit as st

from lib.access import can, scope_description
from lib.safe_markdown import escape_markdown
from lib.ui import cache
from lib.ui.cases import home_worklist
from lib.ui.state import Keys
from lib.ui.widgets import data_quality_banner, empty_store_notice, log_view, pager, require_page

PAGE_SIZE = 25


def main() -> None:
    user = require_page("home")
    version = cache.version()
    st.title("My students" if user.role == "tutor" else "Home")
    st.caption(
        f"Signed in as {escape_markdown(user.display_name)} ({user.role.replace('_', ' ')}): "
        f"you see {escape_markdown(scope_description(user))}."
    )

    if not can(user, "view_student"):
        first, last = cache.week_range(version)
        if last is None:
            empty_store_notice()
        else:
            st.subheader("Data quality")
            events = cache.dq_events(version, user, first, last)
            data_quality_banner(events)
            if events.empty:
                st.success("No data-quality events detected.")
        st.page_link("app_pages/data_page.py", label="Go to the Data page", icon="🗄️")
        st.stop()

    home_worklist(user, version)  # cases wing: who needs what this week

    frame, total = cache.my_students(version, user, 0, PAGE_SIZE)
    if total == 0:
        st.info(f"No students in your scope ({escape_markdown(scope_description(user))}) yet.")
        st.stop()
    page = pager(total, PAGE_SIZE, Keys.HOME_PAGE)
    if page:
        frame, total = cache.my_students(version, user, page, PAGE_SIZE)
    flagged = int((frame["flag"] != "").sum()) if not frame.empty else 0
    order = cache.risk_order(version)
    st.metric("Students", f"{total:,}")
    st.write(f"Flagged students on this page: **{flagged}** — flagged and most changed first.")
    st.caption(escape_markdown(order["text"]))
    st.caption("Select a row to open the student's page.")
    picked = st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        on_select="rerun",  # opens the student in place (a link column would start a new tab)
        selection_mode="single-row",
        column_order=[
            "student_id",
            "name",
            "course",
            "year",
            "flag",
            "latest",
            "trend",
            "explanation",
            *(["risk_reasons"] if order["in_use"] else []),
        ],
        column_config={
            "latest": st.column_config.NumberColumn("latest week", format="percent"),
            "trend": st.column_config.LineChartColumn(
                "last 10 weeks vs own baseline", y_min=0, y_max=2, width="medium"
            ),
            "explanation": st.column_config.TextColumn("why flagged", width="large"),
            "risk_reasons": st.column_config.TextColumn("top risk reasons (model)", width="large"),
        },
        key="home_students_table",
    )
    if picked and picked.selection.rows:
        chosen = str(frame.iloc[picked.selection.rows[0]]["student_id"])
        st.switch_page("app_pages/student_page.py", query_params={"id": chosen})
    log_view(user, f"home: my students page {page + 1}", frame["student_id"].tolist())
    st.page_link("app_pages/student_page.py", label="Open a student", icon="👤")


main()
