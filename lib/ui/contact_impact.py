"""The "Did contact help?" section for senior tutors and the wellbeing team (descriptive only)."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import func, select

from lib.access import User, can
from lib.cases import ladder
from lib.cases.impact import CAVEAT, MIN_WEEKS, WINDOW_WEEKS, contact_impact
from lib.store.db import read_scope
from lib.store.models import CaseEntry
from lib.ui import cache

COLUMN_NAMES = {
    "cases": "Cases",
    "index_before": f"Index, {WINDOW_WEEKS} weeks before",
    "index_after": f"Index, {WINDOW_WEEKS} weeks after",
    "change": "Change (points of usual level)",
    "improved_share": "Cases whose index rose",
}


@cache.by_scope  # users of one scope share the cached read
@st.cache_data(show_spinner=False, max_entries=64)
def _impact(data_version: str, entries_version: int, user: User) -> dict[str, pd.DataFrame]:
    with read_scope() as session:
        return contact_impact(session, user)


def _table(frame: pd.DataFrame, first: str, names: dict) -> pd.DataFrame:
    out = frame.rename(columns={first: first.capitalize(), **COLUMN_NAMES})
    out[first.capitalize()] = [names.get(v, str(v)) for v in frame[first]]
    for column in list(COLUMN_NAMES.values())[1:]:
        out[column] = [
            f"{v:.0%}" if column != COLUMN_NAMES["change"] else f"{v:+.0%}" for v in out[column]
        ]
    return out


def contact_impact_section(user: User, data_version: str | None = None) -> None:
    """Engagement index before and after the first contact of each case, by channel and step
    (`data_version`: the page's, when it has read it already)."""
    if not can(user, "view_contact_impact"):
        return
    st.subheader("Did contact help?")
    st.caption(
        f"The engagement index (100% = the student's own usual level) over the {WINDOW_WEEKS} "
        f"teaching weeks before each welfare case's first contact and the {WINDOW_WEEKS} after it "
        f"(the contact's own week in neither; cases need {MIN_WEEKS} measured weeks on each side). "
        + CAVEAT
    )
    with read_scope() as session:
        entries_version = session.scalar(select(func.max(CaseEntry.id))) or 0
    result = _impact(data_version or cache.version(), entries_version, user)
    overall = result["overall"]
    pending = int(result["pending"]["cases"].iloc[0])
    if overall.empty:
        st.info(
            f"No first contact has enough teaching weeks on both sides yet ({pending} waiting)."
        )
        return
    row = overall.iloc[0]
    cols = st.columns(4)
    cols[0].metric("Cases compared", f"{int(row['cases'])}", help=f"{pending} more still waiting")
    cols[1].metric("Index before", f"{row['index_before']:.0%}")
    cols[2].metric("Index after", f"{row['index_after']:.0%}", f"{row['change']:+.0%}")
    cols[3].metric("Cases whose index rose", f"{row['improved_share']:.0%}")
    left, right = st.columns(2)
    left.markdown("**By channel** (each case's first contact by that channel)")
    left.dataframe(
        _table(result["by_channel"], "channel", ladder.CHANNEL_LABELS),
        hide_index=True,
        key="impact_by_channel",
    )
    right.markdown("**By ladder step** (each case's first contact at that step)")
    steps = {n: ladder.step_title(n) for n in ladder.LADDER}
    right.dataframe(_table(result["by_step"], "step", steps), hide_index=True, key="impact_by_step")
