"""The Student page's engagement charts: one per source on a shared week axis, case contacts
marked, each with a short text alternative."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.access import User
from lib.cases.markers import case_markers
from lib.store.db import read_scope
from lib.ui import cache
from lib.ui.figure import prepared


def student_charts(version: str, user: User, student_id: str, show_median: bool) -> None:
    """Render the student's charts (index first), each followed by its caption summary."""
    with read_scope() as session:
        markers = case_markers(session, user, student_id)
    marks = tuple(
        (pd.Timestamp(when).isoformat(), str(label))
        for when, label in zip(markers["when"], markers["label"], strict=True)
    )
    figures = cache.student_figures(version, user, student_id, show_median, marks)
    for source, item in figures.items():
        st.plotly_chart(prepared(item["figure"]), key=f"student_timeline_{source}")
        st.caption(item["summary"])
