"""Compliance (visa team): sponsored students by urgency, each student's evidence, reports to UKVI."""

from __future__ import annotations

from datetime import date, timedelta

import streamlit as st

from lib.compliance import views
from lib.compliance.status import STATUSES
from lib.store.db import session_scope
from lib.ui.widgets import log_view, require_page

FIRST_DAY = date(2020, 9, 1)


def _downloads(what: str, make, file_stem: str, key: str) -> None:
    """CSV and printable-HTML download buttons; `make(session, kind)` builds and logs the export
    when the button is clicked."""
    for kind, label, mime in (("csv", "CSV", "text/csv"), ("html", "printable HTML", "text/html")):

        def _export(kind=kind) -> bytes:
            with session_scope() as session:
                return make(session, kind)

        st.download_button(
            f"Download {what} as {label} (logged)",
            data=_export,
            file_name=f"{file_stem}.{kind}",
            mime=mime,
            key=f"{key}_{kind}",
            on_click="ignore",
        )


def _list_section(user, as_of: date) -> list[str]:
    with session_scope() as session:
        schools = views.schools(session, user)
    cols = st.columns(4)
    chosen = cols[0].multiselect(
        "Status", STATUSES, format_func=lambda s: s.replace("_", " "), key="compliance_status"
    )
    school = cols[1].selectbox("School", ["All", *schools], key="compliance_school")
    search = cols[2].text_input("Student id or name", key="compliance_search", max_chars=100)
    overdue = cols[3].checkbox("Overdue reports only", key="compliance_overdue")
    filters = views.ListFilters(
        statuses=tuple(chosen),
        school=None if school == "All" else school,
        overdue_only=overdue,
        search=search,
    )
    with session_scope() as session:
        frame = views.compliance_list(session, user, as_of, filters)
    counts = frame["status"].value_counts()
    metrics = st.columns(len(STATUSES))
    for column, status in zip(metrics, STATUSES, strict=True):
        column.metric(status.replace("_", " ").capitalize(), int(counts.get(status, 0)))
    if frame.empty:
        st.info("No sponsored student matches these filters.")
        return []
    overdue_count = int(frame["overdue"].sum())
    if overdue_count:
        st.warning(f"{overdue_count} report(s) to UKVI overdue: listed first.")
    st.dataframe(frame, hide_index=True, width="stretch", key="compliance_table")
    ids = frame["student_id"].tolist()
    log_view(user, f"compliance list as of {as_of}", ids)
    _downloads(
        "this list",
        lambda session, kind: views.list_export(session, user, frame, as_of, kind),
        f"compliance_{as_of}",
        "compliance_list_export",
    )
    return ids


def _record_forms(user, student_id: str) -> None:
    with st.form("compliance_report_form", clear_on_submit=True):
        st.markdown("**Record a report made to UKVI**")
        on = st.date_input(
            "Reported on",
            value=date.today(),
            min_value=FIRST_DAY,
            max_value=date.today(),
            key="compliance_report_on",
        )
        reference = st.text_input("Reference", max_chars=100, key="compliance_report_reference")
        if st.form_submit_button("Record report"):
            _act(
                lambda s: views.record_report(s, user, student_id, on, reference),
                "Report recorded.",
            )
    with st.form("compliance_withdrawn_form", clear_on_submit=True):
        st.markdown("**Record a withdrawal** (the status then stays withdrawn, with this date)")
        on = st.date_input(
            "Withdrawn on",
            value=date.today(),
            min_value=FIRST_DAY,
            max_value=date.today(),
            key="compliance_withdrawn_on",
        )
        if st.form_submit_button("Record withdrawal"):
            _act(lambda s: views.record_withdrawal(s, user, student_id, on), "Withdrawal recorded.")


def _act(action, done: str) -> None:
    try:
        with session_scope() as session:
            action(session)
    except (ValueError, PermissionError) as exc:
        st.error(str(exc))
    else:
        st.success(done)


def _evidence_section(user, as_of: date, ids: list[str]) -> None:
    st.subheader("Evidence for one student")
    wanted = (st.query_params.get("id") or "").strip()[:20]
    options = ids if wanted in ids or not wanted else [wanted, *ids]
    if not options:
        return
    student_id = st.selectbox("Student", options, key="compliance_student")
    with session_scope() as session:
        found = views.student_evidence(session, user, student_id, as_of)
    if found is None:
        st.warning("This student is not a sponsored student in your scope.")
        return
    row, points, records = found
    log_view(user, f"compliance evidence as of {as_of}", [student_id])
    cols = st.columns(5)
    cols[0].metric("Status", str(row["status"]).replace("_", " "))
    cols[1].metric("Missed in a row", int(row["missed_consecutive"]))
    cols[2].metric("Days without engagement", int(row["days_without_engagement"]))
    cols[3].metric("Crossed on", str(row["threshold_crossed_on"] or "—"))
    cols[4].metric("Report due by", str(row["report_due_by"] or "—"))
    st.text(
        f"Last engagement: {row['last_engagement_on'] or 'none recorded'} · "
        f"reported on: {row['reported_on'] or '—'} · withdrawn on: {row['withdrawn_on'] or '—'}"
    )
    st.dataframe(points, hide_index=True, width="stretch", key="compliance_points")
    if not records.empty:
        st.dataframe(records, hide_index=True, width="stretch", key="compliance_records")
    _downloads(
        "this evidence",
        lambda session, kind: views.student_export(session, user, student_id, as_of, kind),
        f"compliance_{student_id}_{as_of}",
        "compliance_student_export",
    )
    _record_forms(user, student_id)


def main() -> None:
    user = require_page("compliance")
    st.title("Visa compliance")
    st.caption(
        "Sponsored students: expected contact points met or missed, days without engagement, "
        "thresholds crossed and the date the report to UKVI is due (10 working days)."
    )
    as_of = st.date_input(
        "As of",
        value=date.today(),
        min_value=FIRST_DAY,
        max_value=date.today() + timedelta(days=1),
        key="compliance_as_of",
    )
    ids = _list_section(user, as_of)
    _evidence_section(user, as_of, ids)


main()
