"""At app start: finish the compute of a load that never got one (a killed `ingest`)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import OperationalError, ProgrammingError

from lib.store.db import session_scope
from lib.usecases import finish_pending


@st.cache_resource(show_spinner="Bringing flags up to date after an unfinished load…")
def finish_pending_compute() -> bool:
    """Once per server process: recompute when a load's compute did not finish (not waiting for
    a load running elsewhere: that one computes when it is done). True when it recomputed."""
    try:
        with session_scope() as session:
            return finish_pending(session, wait=False) is not None
    except (OperationalError, ProgrammingError):  # no store yet: the app says so itself
        return False
