"""Compliance (visa team): sponsored students by urgency, each student's evidence, reports to UKVI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import streamlit as st

from lib.compliance.status import STATUSES
from lib.compliance.views import ListFilters
from lib.safe_markdown import escape_markdown
from lib.ui import compliance_actions as actions
from lib.ui.state import CompliancePageState
from lib.ui.widgets import FIRST_DAY, log_view, past_date_input, require_page


def _downloads(what: str, make: Callable[[str], bytes], file_stem: str, key: str) -> None:
    """CSV and printable-HTML download buttons; `make(kind)` builds and logs the export when the
    button is clicked."""
    for kind, label, mime in (("csv", "CSV", "text/csv"), ("html", "printable HTML", "text/html")):
        st.download_button(
            f"Download {what} as {label} (logged)",
            data=lambda kind=kind: make(kind),
            file_name=f"{file_stem}.{kind}",
            mime=mime,
            key=f"{key}_{kind}",
            on_click="ignore",
        )


def _filters(state: CompliancePageState) -> ListFilters:
    schools = actions.compliance_schools(state.user)
    cols = st.columns(4)
    chosen = cols[0].multiselect(
        "Status", STATUSES, format_func=lambda s: s.replace("_", " "), key="compliance_status"
    )
    school = cols[1].selectbox("School", ["All", *schools], key="compliance_school")
    search = cols[2].text_input("Student id or name", key="compliance_search", max_chars=100)
    overdue = cols[3].checkbox("Overdue reports only", key="compliance_overdue")
    return ListFilters(
        statuses=tuple(chosen),
        school=None if school == "All" else school,
        overdue_only=overdue,
        search=search,
    )


def _list_section(state: CompliancePageState) -> CompliancePageState:
    """The filtered list; the state it returns names the students listed."""
    user, as_of = state.user, state.as_of
    frame = actions.compliance_list(user, as_of, _filters(state))
    counts = frame["status"].value_counts()
    metrics = st.columns(len(STATUSES))
    for column, status in zip(metrics, STATUSES, strict=True):
        column.metric(status.replace("_", " ").capitalize(), int(counts.get(status, 0)))
    if frame.empty:
        st.info("No sponsored student matches these filters.")
        return state
    overdue_count = int(frame["overdue"].sum())
    if overdue_count:
        st.warning(f"{overdue_count} report(s) to UKVI overdue: listed first.")
    st.dataframe(frame, hide_index=True, width="stretch", key="compliance_table")
    ids = tuple(frame["student_id"].tolist())
    log_view(user, f"compliance list as of {as_of}", ids)
    _downloads(
        "this list",
        lambda kind: actions.compliance_list_export(user, frame, as_of, kind),
        f"compliance_{as_of}",
        "compliance_list_export",
    )
    return CompliancePageState(user, as_of, ids)


def _act(action: Callable[[], None], done: str) -> None:
    try:
        action()
    except (ValueError, PermissionError) as exc:
        st.error(escape_markdown(exc))
    else:
        st.success(done)


def _record_forms(state: CompliancePageState, student_id: str) -> None:
    user = state.user
    with st.form("compliance_report_form", clear_on_submit=True):
        st.markdown("**Record a report made to UKVI**")
        on = past_date_input("Reported on", "compliance_report_on")
        reference = st.text_input("Reference", max_chars=100, key="compliance_report_reference")
        if st.form_submit_button("Record report"):
            _act(
                lambda: actions.record_report(user, student_id, on, reference),
                "Report recorded.",
            )
    with st.form("compliance_withdrawn_form", clear_on_submit=True):
        st.markdown("**Record a withdrawal** (the status then stays withdrawn, with this date)")
        withdrawn = past_date_input("Withdrawn on", "compliance_withdrawn_on")
        if st.form_submit_button("Record withdrawal"):
            _act(
                lambda: actions.record_withdrawal(user, student_id, withdrawn),
                "Withdrawal recorded.",
            )


def _evidence_section(state: CompliancePageState) -> None:
    st.subheader("Evidence for one student")
    user, as_of, ids = state.user, state.as_of, list(state.student_ids)
    wanted = (st.query_params.get("id") or "").strip()[:20]
    options = ids if wanted in ids or not wanted else [wanted, *ids]
    if not options:
        return
    student_id = st.selectbox("Student", options, key="compliance_student")
    found = actions.student_evidence(user, student_id, as_of)
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
        lambda kind: actions.student_evidence_export(user, student_id, as_of, kind),
        f"compliance_{student_id}_{as_of}",
        "compliance_student_export",
    )
    _record_forms(state, student_id)


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
    state = _list_section(CompliancePageState(user, as_of))
    _evidence_section(state)


main()
