"""The Cohort page's data-quality banner: one line about the events touching the user's students,
expandable to the list (a table: no stored text is rendered as Markdown)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.access import User
from lib.charts import source_label
from lib.store.db import read_scope
from lib.ui.cache import by_scope
from lib.views.data_quality import events_for_user


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def _events(data_version: str, user: User, week_from, week_to) -> pd.DataFrame:
    with read_scope() as session:
        return events_for_user(session, user, week_from, week_to)


def data_quality_line(data_version: str, user: User, week_from, week_to) -> None:
    """Nothing when no event touches the user's students; else one collapsed line to expand."""
    events = _events(data_version, user, week_from, week_to)
    if events.empty:
        return
    modules = events["module_code"].replace("", None).dropna().nunique()
    label = (
        f"⚠️ {len(events)} data-quality event(s) in these weeks touch your students"
        f" ({modules} module(s)): system problems, not flagged per student"
    )
    with st.expander(label, expanded=False):
        table = pd.DataFrame(
            {
                "Week starting": events["week_start"],
                "Source": [source_label(s).title for s in events["source"]],
                "Module": events["module_code"].fillna("all modules"),
                "Students affected": events["students_affected"],
                "What happened": events["explanation"],
            }
        )
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            key="cohort_dq_events",
            column_config={"What happened": st.column_config.TextColumn(width="large")},
        )
