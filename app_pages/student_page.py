"""Student: profile header (never grades), per-source timelines with baseline band, weekly table, exemptions."""

from datetime import date, timedelta

import streamlit as st

from lib.access import can
from lib.store.db import session_scope
from lib.ui import cache
from lib.ui.state import Keys
from lib.ui.widgets import empty_store_notice, log_view, require_page
from lib.usecases import EXEMPTION_REASONS, add_exemption, recompute
from lib.views.student import search_students

user = require_page("student")
version = cache.version()
st.title("Student")

query = st.text_input("Find a student (id, name or e-mail)", key=Keys.STUDENT_SEARCH)
if query:
    with session_scope() as session:
        hits = search_students(session, user, query)
    if hits.empty:
        st.info("No student in your scope matches.")
    else:
        labels = {
            r.student_id: f"{r.student_id} — {r.name} ({r.course}, year {r.year})"
            for r in hits.itertuples()
        }
        log_view(user, "student search results", list(labels))
        choice = st.selectbox(
            "Matches", list(labels), format_func=labels.get, key=Keys.STUDENT_PICK
        )
        if choice and choice != st.query_params.get("id"):
            st.query_params["id"] = choice

student_id = (st.query_params.get("id") or "").strip()
if not student_id:
    st.info("Search for a student above, or open one from Home or Cohort.")
    st.stop()
bundle = cache.student_bundle(version, user, student_id)
if bundle is None:
    st.warning(f"No student {student_id!r} in your scope.")
    st.stop()

profile = bundle["profile"]
log_view(user, "student page", [student_id])
st.header(f"{profile['given_name']} {profile['family_name']} · {student_id}")
cols = st.columns(5)
cols[0].markdown(f"**Course**  \n{profile['course_code']} — {profile['course_name']}")
cols[1].markdown(
    f"**Year / level / mode**  \n{profile['year_of_study']} · {profile['level']} · {profile['mode']}"
)
cols[2].markdown(f"**Personal tutor**  \n{profile.get('tutor_username') or '—'}")
cols[3].markdown(f"**Sponsored visa**  \n{'yes' if profile['visa_sponsored'] else 'no'}")
cols[4].markdown(
    f"**Residence**  \n{(profile['residence'] or '').replace('_', ' ')} · {profile['status']}"
)
if "phone" in profile:
    st.markdown(  # not a caption: its faded links fail WCAG contrast
        f"E-mail {profile['email']} · personal e-mail {profile.get('personal_email') or '—'} · phone {profile.get('phone') or '—'}"
    )

flags = bundle["flags"]
_, as_of = cache.default_weeks(version)
in_force = flags[flags["ended_week"].isna()] if not flags.empty else flags
if as_of is not None and not in_force.empty:
    in_force = in_force[in_force["week_start"] <= as_of]
for row in in_force.itertuples():
    st.error(
        f"**{row.kind.replace('_', ' ')}** ({row.severity}) since week of {row.week_start}: {row.explanation}"
    )

measures = bundle["measures"]
if measures.empty:
    empty_store_notice(f"weekly measures for {student_id}")
else:
    show_median = st.toggle(
        "Show course median (context only; flags use the student's own pattern)",
        key=Keys.STUDENT_MEDIAN,
    )
    figures = cache.student_figures(version, user, student_id, show_median)
    for source, figure in figures.items():
        st.plotly_chart(figure, key=f"student_timeline_{source}")
    st.caption(
        "Green band: the student's usual range. Red: flagged weeks. Grey: vacations and non-teaching weeks. Blue: exemptions."
    )
    with st.expander("Weekly table"):
        shown = measures if as_of is None else measures[measures["week_start"] <= as_of]
        table = shown.pivot_table(
            index="week_start", columns="source", values="value", aggfunc="first"
        )
        st.dataframe(table.sort_index(ascending=False), width="stretch", key="student_weekly_table")

st.subheader("Flags")
if flags.empty:
    st.write("No flags raised.")
else:
    st.dataframe(flags, hide_index=True, width="stretch", key="student_flags_table")

st.subheader("Exemptions")
exemptions = bundle["exemptions"]
if exemptions.empty:
    st.write("No exemptions recorded.")
else:
    st.dataframe(exemptions, hide_index=True, width="stretch", key="student_exemptions_table")
if can(user, "add_exemption"):
    with st.form(Keys.EXEMPTION_FORM, clear_on_submit=True):
        st.markdown("**Add an exemption** (a documented reason; suppresses flags in the period)")
        reason = st.selectbox("Reason", EXEMPTION_REASONS, key="exemption_reason")
        today = date.today()
        period = st.date_input(
            "Period", value=(today, today + timedelta(days=14)), key="exemption_period"
        )
        note = st.text_area("Note", key="exemption_note")
        if st.form_submit_button("Add exemption"):
            if not isinstance(period, tuple) or len(period) != 2:
                st.error("Pick a start and an end date.")
            else:
                try:
                    with session_scope() as session:
                        add_exemption(
                            session,
                            user,
                            student_id,
                            reason=reason,
                            start=period[0],
                            end=period[1],
                            note=note,
                        )
                        recompute(session)
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
                else:
                    cache.clear()
                    st.success("Exemption recorded.")
                    st.rerun()
