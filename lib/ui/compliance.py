"""Compliance-wing sections on pages other wings own (the Student page's review decisions)."""

from __future__ import annotations

import streamlit as st

from lib.compliance.review import DECISION_LABELS, student_decisions
from lib.store.db import read_scope
from lib.ui.widgets import current_user


def withdrawal_review_section(student_id: str) -> None:
    """The student's assumed-withdrawal review decisions, per term (notes only for welfare roles)."""
    user = current_user()
    if user is None:
        return
    with read_scope() as session:
        decisions = student_decisions(session, user, student_id)
    st.subheader("Assumed-withdrawal review")
    if decisions.empty:
        st.write("No review decision recorded.")
        return
    shown = decisions.assign(decision=decisions["decision"].map(DECISION_LABELS))
    st.dataframe(shown, hide_index=True, width="stretch", key="student_review_decisions")
