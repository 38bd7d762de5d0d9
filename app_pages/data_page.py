"""Data (admin): upload with preview and validation report, load history, coverage, calendar, thresholds, users."""

import json
import tempfile
from pathlib import Path

import streamlit as st

from lib import charts
from lib.access import ROLES, can
from lib.auth import add_user, set_active
from lib.compute.service import load_engine_config, save_engine_config
from lib.engagement.config import DESCRIPTIONS as CONFIG_DESCRIPTIONS
from lib.ingest.pipeline import preview_file
from lib.sources import INGEST_SOURCES
from lib.store.db import session_scope
from lib.ui import cache
from lib.ui.chart_text import chart_in_words
from lib.ui.state import Keys, StateKeys
from lib.ui.widgets import require_page
from lib.usecases import (
    CALENDAR_KINDS,
    add_calendar_period,
    file_head,
    load_and_recompute,
    recompute,
)
from lib.views.admin import loads_frame, quarantined_rows, users_frame

user = require_page("data")
version = cache.version()
st.title("Data")
upload_tab, history_tab, coverage_tab, calendar_tab, thresholds_tab, users_tab = st.tabs(
    ["Upload", "Load history", "Coverage", "Calendar", "Thresholds", "Users"]
)


def _saved_upload(uploaded) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="dashboard_upload_"))
    path = folder / Path(uploaded.name).name
    path.write_bytes(uploaded.getvalue())
    return path


def _show_report(report) -> None:
    box = st.error if report.status == "rejected" else st.success
    box(report.message or report.status)
    st.code(report.as_text(), language="text")
    if report.problems:
        st.dataframe(
            [{"row": p.row, "column": p.column, "problem": p.problem} for p in report.problems],
            hide_index=True,
            key=f"problems_{report.status}",
        )


with upload_tab:
    if can(user, "upload_data"):
        source = st.selectbox("Source", INGEST_SOURCES, key=Keys.UPLOAD_SOURCE)
        uploaded = st.file_uploader("Export file", key=Keys.UPLOAD_FILE)
        year = st.number_input(
            "Academic year for dates without one (first calendar year; 0 = none)",
            min_value=0,
            max_value=2100,
            value=0,
            key=Keys.UPLOAD_YEAR,
        )
        quarantine = st.checkbox(
            "Load the good rows and keep bad rows in the quarantine report (otherwise reject the file)",
            key=Keys.UPLOAD_QUARANTINE,
        )
        if uploaded is not None and st.button(
            "Preview and validate", key=Keys.UPLOAD_PREVIEW_BUTTON
        ):
            path = _saved_upload(uploaded)
            with session_scope() as session:
                report = preview_file(session, source, path, year=year or None)
            st.session_state[StateKeys.UPLOAD_PREVIEW] = (source, uploaded.name, str(path), report)
        preview = st.session_state.get(StateKeys.UPLOAD_PREVIEW)
        if preview and uploaded is not None and preview[:2] == (source, uploaded.name):
            st.markdown("**First lines of the file**")
            st.code(file_head(preview[2]), language="text")
            st.markdown("**Validation report (nothing stored yet)**")
            _show_report(preview[3])
            if st.button("Load this file", key=Keys.UPLOAD_LOAD_BUTTON, type="primary"):
                with session_scope() as session:
                    outcome = load_and_recompute(
                        session,
                        [(source, Path(preview[2]))],
                        year=year or None,
                        loaded_by=user.username,
                        quarantine=quarantine,
                    )
                cache.clear()
                st.session_state.pop(StateKeys.UPLOAD_PREVIEW, None)
                for report in outcome.reports:
                    _show_report(report)

with history_tab:
    with session_scope() as session:
        loads = loads_frame(session)
    if loads.empty:
        st.info("Nothing loaded yet. Use the Upload tab or `python -m lib ingest`.")
    else:
        st.dataframe(loads, hide_index=True, width="stretch", key="loads_table")
        quarantined = loads[loads["status"] == "loaded_with_quarantine"]["id"].tolist()
        if quarantined:
            load_id = st.selectbox("Quarantine report of load", quarantined, key="quarantine_load")
            with session_scope() as session:
                st.dataframe(
                    quarantined_rows(session, int(load_id)), hide_index=True, key="quarantine_table"
                )

with coverage_tab:
    coverage = cache.coverage(version)
    if coverage.empty:
        st.info("No activity loaded yet.")
    else:
        figure = charts.coverage_heatmap(coverage)
        st.plotly_chart(figure, key="coverage_chart")
        chart_in_words(figure)

with calendar_tab:
    calendar = cache.calendar(version)
    if calendar.empty:
        st.info("No term calendar loaded yet: upload a `calendar` file (kind,start,end,label).")
    else:
        figure = charts.calendar_timeline(calendar)
        st.plotly_chart(figure, key="calendar_chart")
        chart_in_words(figure)
        st.dataframe(calendar, hide_index=True, key="calendar_table")
    st.caption("A whole calendar can also be loaded as a `calendar` file on the Upload tab.")
    with st.form(Keys.CALENDAR_FORM, clear_on_submit=True):
        st.markdown(
            "**Add a period** (non-teaching weeks never raise flags and stay out of baselines)"
        )
        c1, c2, c3 = st.columns(3)
        kind = c1.selectbox("Kind", CALENDAR_KINDS, key="calendar_form_kind")
        period = c2.date_input("From – to", value=(), key="calendar_form_period")
        label = c3.text_input("Label", key="calendar_form_label")
        if st.form_submit_button("Add period and recompute"):
            if not isinstance(period, tuple) or len(period) != 2:
                st.error("Pick the first and the last day of the period.")
            else:
                try:
                    with session_scope() as session:
                        add_calendar_period(
                            session, user, kind=kind, start=period[0], end=period[1], label=label
                        )
                        recompute(session)
                except (ValueError, PermissionError) as exc:
                    st.error(str(exc))
                else:
                    cache.clear()
                    st.success(f"{kind.replace('_', ' ')} {period[0]} to {period[1]} added.")

with thresholds_tab:
    with session_scope() as session:
        config = load_engine_config(session)
    st.caption(
        "Engine thresholds (defaults with any stored changes). Saving stores what differs "
        "from the defaults and recomputes every flag."
    )
    with st.form(Keys.THRESHOLDS_FORM):
        cols = st.columns(3)
        entered = {}
        for i, (name, value) in enumerate(config.items()):
            col, key = cols[i % 3], f"{Keys.THRESHOLDS}_{name}"
            if isinstance(value, bool):
                entered[name] = col.checkbox(name, value=value, key=key)
            elif isinstance(value, int):
                entered[name] = col.number_input(name, value=value, step=1, key=key)
            elif isinstance(value, float):
                entered[name] = col.number_input(name, value=value, format="%.4g", key=key)
            elif isinstance(value, str):
                entered[name] = col.text_input(name, value=value, key=key)
            else:  # lists and mappings, e.g. the index weights
                entered[name] = col.text_area(
                    f"{name} (JSON)", value=json.dumps(value, default=str), key=key
                )
            col.caption(CONFIG_DESCRIPTIONS.get(name, ""))  # what the engine name means
        if st.form_submit_button("Save thresholds and recompute"):
            try:
                values = {
                    k: json.loads(v) if not isinstance(config[k], str | int | float) else v
                    for k, v in entered.items()
                }
                with session_scope() as session:
                    save_engine_config(session, values, updated_by=user.username)
                    recompute(session)
            except (ValueError, TypeError, KeyError) as exc:
                st.error(f"Not saved: {exc}")
            else:
                cache.clear()
                st.success("Thresholds saved; flags recomputed.")

with users_tab:
    with session_scope() as session:
        users = users_frame(session)
    st.dataframe(users, hide_index=True, width="stretch", key="users_table")
    with st.form(Keys.USER_FORM, clear_on_submit=True):
        st.markdown(
            "**Add or update a user** (leave the password empty to keep it, or for SSO-only users)"
        )
        c1, c2, c3 = st.columns(3)
        username = c1.text_input("Username", key="user_form_username")
        role = c2.selectbox("Role", ROLES, key="user_form_role")
        school = c3.text_input("School (senior tutors)", key="user_form_school")
        years = c1.text_input("Years of study, e.g. 1,2 (senior tutors)", key="user_form_years")
        email = c2.text_input("E-mail (for SSO)", key="user_form_email")
        password = c3.text_input(
            "Password (10–72 bytes)", type="password", key="user_form_password"
        )
        active = st.checkbox("Active", value=True, key="user_form_active")
        if st.form_submit_button("Save user"):
            try:
                with session_scope() as session:
                    add_user(
                        session,
                        username,
                        role=role,
                        school=school or None,
                        years=years or None,
                        email=email or None,
                        password=password or None,
                    )
                    if not active:
                        set_active(session, username.strip().lower(), False)
            except (ValueError, LookupError) as exc:
                st.error(str(exc))
            else:
                cache.clear()
                st.success(f"User {username} saved.")
