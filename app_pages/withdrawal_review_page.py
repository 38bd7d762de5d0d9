"""Withdrawal review (once a term): students without engagement, and a decision per student."""

from __future__ import annotations

from datetime import date

import streamlit as st

from lib.compliance.review import DECISION_LABELS, DECISIONS, MAX_NOTE
from lib.safe_markdown import escape_markdown
from lib.ui import compliance_actions as actions
from lib.ui.state import ReviewPageState
from lib.ui.widgets import log_view, require_page


def _decision_form(state: ReviewPageState) -> None:
    frame = state.frame
    with st.form("review_decision_form", clear_on_submit=True):
        st.markdown("**Record a decision**")
        student_id = st.selectbox("Student", frame["student_id"].tolist(), key="review_student")
        decision = st.radio(
            "Decision", DECISIONS, format_func=DECISION_LABELS.get, key="review_decision"
        )
        note = st.text_area("Note", max_chars=MAX_NOTE, key="review_note")
        if st.form_submit_button("Record decision"):
            last = frame.set_index("student_id")["last_engagement_on"].get(student_id)
            try:
                actions.record_review_decision(
                    state.user,
                    state.term,
                    student_id,
                    decision,
                    note,
                    last_engagement=last if isinstance(last, date) else None,
                )
            except (ValueError, PermissionError) as exc:
                st.error(escape_markdown(exc))
            else:
                st.success(f"Decision recorded for {escape_markdown(student_id)}.")
                st.rerun()


def _review_section(state: ReviewPageState) -> None:
    user, term, frame = state.user, state.term, state.frame
    st.caption(
        f"{term.label}: {term.start} to {term.end}. Decisions are kept per term; a later decision "
        "supersedes an earlier one and both stay on record."
    )
    if frame.empty:
        st.success("No student in your scope is without engagement for that long.")
        return
    st.dataframe(
        frame.assign(decision=frame["decision"].map(DECISION_LABELS)),
        hide_index=True,
        width="stretch",
        key="review_table",
    )
    log_view(user, f"withdrawal review {term.label}", frame["student_id"].tolist())
    st.download_button(
        "Download the review as CSV (logged)",
        data=lambda: actions.review_export(user, term, frame),
        file_name="withdrawal_review.csv",
        mime="text/csv",
        key="review_export",
        on_click="ignore",
    )
    _decision_form(state)


def main() -> None:
    user = require_page("withdrawal_review")
    st.title("Assumed-withdrawal review")
    term_list, default_span = actions.review_terms()
    if not term_list:
        st.info("The term calendar has no terms yet: an administrator loads it on the Data page.")
        return
    labels = [t.label for t in term_list]
    chosen = st.selectbox("Term", labels, key="review_term")
    term = term_list[labels.index(chosen)]
    span = st.number_input(
        "No attendance and no engagement for at least (days)",
        min_value=7,
        max_value=365,
        value=default_span,
        step=1,
        key="review_span",
    )
    frame = actions.review_list(user, term, int(span))
    _review_section(ReviewPageState(user, term, frame))


main()
