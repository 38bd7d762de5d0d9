"""Student: profile header (never grades), per-source timelines with baseline band, weekly table, exemptions."""

from datetime import date, timedelta

import streamlit as st

from lib.access import User, can
from lib.safe_markdown import escape_markdown
from lib.ui import actions, cache
from lib.ui.cases import student_case_section
from lib.ui.compliance import withdrawal_review_section
from lib.ui.state import Keys
from lib.ui.student_charts import student_charts
from lib.ui.widgets import empty_store_notice, log_view, require_page
from lib.usecases import EXEMPTION_REASONS


def search(user: User, version: str) -> None:
    query = st.text_input("Find a student (id, name or e-mail)", key=Keys.STUDENT_SEARCH)
    if not query:
        return
    hits = cache.search_students(version, user, query)
    probed = cache.probed_students(user, query)
    if probed:
        log_view(user, "student search outside scope", probed, action="refused")
    if hits.empty:
        st.info("No student in your scope matches.")
        return
    labels = {
        r.student_id: f"{r.student_id} — {r.name} ({r.course}, year {r.year})"
        for r in hits.itertuples()
    }
    log_view(user, "student search results", list(labels))
    choice = st.selectbox("Matches", list(labels), format_func=labels.get, key=Keys.STUDENT_PICK)
    if choice and choice != st.query_params.get("id"):
        st.query_params["id"] = choice


def header(student_id: str, profile: dict) -> None:
    shown = {name: escape_markdown(value) for name, value in profile.items()}  # untrusted text
    st.header(f"{shown['given_name']} {shown['family_name']} · {escape_markdown(student_id)}")
    cols = st.columns(5)
    cols[0].markdown(f"**Course**  \n{shown['course_code']} — {shown['course_name']}")
    cols[1].markdown(
        f"**Year / level / mode**  \n{shown['year_of_study']} · {shown['level']} · {shown['mode']}"
    )
    cols[2].markdown(f"**Personal tutor**  \n{shown.get('tutor_username') or '—'}")
    cols[3].markdown(f"**Sponsored visa**  \n{'yes' if profile['visa_sponsored'] else 'no'}")
    cols[4].markdown(
        f"**Residence**  \n{escape_markdown((profile['residence'] or '').replace('_', ' '))} · {shown['status']}"
    )
    if "phone" in profile:
        st.markdown(  # not a caption: its faded links fail WCAG contrast
            f"E-mail {shown['email']} · personal e-mail {shown.get('personal_email') or '—'} · phone {shown.get('phone') or '—'}"
        )


def timelines(user: User, version: str, student_id: str, bundle: dict) -> None:
    measures = bundle["measures"]
    if measures.empty:
        empty_store_notice(f"weekly measures for {escape_markdown(student_id)}")
        return
    show_median = st.toggle(
        "Show course median (context only; flags use the student's own pattern)",
        key=Keys.STUDENT_MEDIAN,
    )
    student_charts(version, user, student_id, show_median)
    st.caption(
        "Green band: the student's usual range. Red: flagged weeks. Grey: vacations and non-teaching weeks. Blue: exemptions. Purple triangles: case contacts and ladder steps."
    )
    with st.expander("Weekly table"):
        table = cache.weekly_table(version, user, student_id)
        st.dataframe(table, width="stretch", key="student_weekly_table")


def exemptions(user: User, student_id: str, bundle: dict) -> None:
    st.subheader("Exemptions")
    recorded = bundle["exemptions"]
    if recorded.empty:
        st.write("No exemptions recorded.")
    else:
        st.dataframe(recorded, hide_index=True, width="stretch", key="student_exemptions_table")
    if not can(user, "add_exemption"):
        return
    with st.form(Keys.EXEMPTION_FORM, clear_on_submit=True):
        st.markdown("**Add an exemption** (a documented reason; suppresses flags in the period)")
        reason = st.selectbox("Reason", EXEMPTION_REASONS, key="exemption_reason")
        today = date.today()
        period = st.date_input(
            "Period", value=(today, today + timedelta(days=14)), key="exemption_period"
        )
        note = st.text_area("Note", key="exemption_note")
        if not st.form_submit_button("Add exemption"):
            return
    if not isinstance(period, tuple) or len(period) != 2:
        st.error("Pick a start and an end date.")
        return
    try:
        actions.add_exemption(user, student_id, reason, period[0], period[1], note)
    except (ValueError, PermissionError) as exc:
        st.error(escape_markdown(exc))
    else:
        st.success("Exemption recorded.")
        st.rerun()


def main() -> None:
    user = require_page("student")
    version = cache.version()
    st.title("Student")
    search(user, version)
    student_id = (st.query_params.get("id") or "").strip()
    if not student_id:
        st.info("Search for a student above, or open one from Home or Cohort.")
        st.stop()
    bundle = cache.student_bundle(version, user, student_id)
    if bundle is None:
        log_view(user, "student page outside scope", [student_id[:40]], action="refused")
        st.warning(f"No student '{escape_markdown(student_id, 40)}' in your scope.")
        st.stop()
    log_view(user, "student page", [student_id])
    header(student_id, bundle["profile"])
    for row in bundle["in_force"].itertuples():
        st.error(
            f"**{escape_markdown(row.kind.replace('_', ' '))}** ({escape_markdown(row.severity)}) "
            f"since week of {row.week_start}: {escape_markdown(row.explanation)}"
        )
    timelines(user, version, student_id, bundle)
    student_case_section(user, student_id)  # cases wing
    st.subheader("Flags")
    if bundle["flags"].empty:
        st.write("No flags raised.")
    else:
        st.dataframe(bundle["flags"], hide_index=True, width="stretch", key="student_flags_table")
    exemptions(user, student_id, bundle)
    withdrawal_review_section(student_id)


main()
