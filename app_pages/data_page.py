"""Data (admin): upload with preview and validation report, load history, coverage, calendar, thresholds, users."""

import json

import streamlit as st

from lib import charts
from lib.access import ROLES, User, can
from lib.engagement.config import HELP as CONFIG_DESCRIPTIONS
from lib.ingest.pipeline import LoadReport
from lib.safe_markdown import escape_markdown
from lib.sources import INGEST_SOURCES
from lib.ui import actions, cache
from lib.ui.chart_text import chart_with_words
from lib.ui.state import Keys, data_page_state
from lib.ui.widgets import require_page
from lib.usecases import CALENDAR_KINDS


def show_report(report: LoadReport) -> None:
    box = st.error if report.status == "rejected" else st.success
    box(escape_markdown(report.message or report.status))  # it quotes the file's name and cells
    st.code(report.as_text(), language="text")
    if report.problems:
        st.dataframe(
            [{"row": p.row, "column": p.column, "problem": p.problem} for p in report.problems],
            hide_index=True,
            key=f"problems_{report.status}",
        )


def upload_tab(user: User) -> None:
    if not can(user, "upload_data"):
        return
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
    state = data_page_state()
    if uploaded is not None and st.button("Preview and validate", key=Keys.UPLOAD_PREVIEW_BUTTON):
        if state.preview is not None:
            actions.discard_upload(state.preview)
        state.preview = actions.preview_upload(
            user, source, uploaded.name, uploaded.getvalue(), year or None
        )
    preview = state.preview
    if (
        preview is None
        or uploaded is None
        or (preview.source, preview.name)
        != (
            source,
            uploaded.name,
        )
    ):
        return
    st.markdown("**First lines of the file**")
    st.code(preview.head, language="text")
    st.markdown("**Validation report (nothing stored yet)**")
    show_report(preview.report)
    if st.button("Load this file", key=Keys.UPLOAD_LOAD_BUTTON, type="primary"):
        state.preview = None
        outcome = actions.load_upload(user, preview, year or None, quarantine)
        for report in outcome.reports:
            show_report(report)


def history_tab(version: str) -> None:
    loads = cache.loads(version)
    if loads.empty:
        st.info("Nothing loaded yet. Use the Upload tab or `python -m lib ingest`.")
        return
    st.dataframe(loads, hide_index=True, width="stretch", key="loads_table")
    quarantined = loads[loads["status"] == "loaded_with_quarantine"]["id"].tolist()
    if quarantined:
        load_id = st.selectbox("Quarantine report of load", quarantined, key="quarantine_load")
        rows = cache.quarantined_rows(version, int(load_id))
        st.dataframe(rows, hide_index=True, key="quarantine_table")


def coverage_tab(version: str) -> None:
    coverage = cache.coverage(version)
    if coverage.empty:
        st.info("No activity loaded yet.")
    else:
        chart_with_words(charts.coverage_heatmap(coverage), "coverage_chart")


def calendar_tab(user: User, version: str) -> None:
    calendar = cache.calendar(version)
    if calendar.empty:
        st.info("No term calendar loaded yet: upload a `calendar` file (kind,start,end,label).")
    else:
        chart_with_words(charts.calendar_timeline(calendar), "calendar_chart")
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
        if not st.form_submit_button("Add period and recompute"):
            return
    if not isinstance(period, tuple) or len(period) != 2:
        st.error("Pick the first and the last day of the period.")
        return
    try:
        actions.add_calendar_period(user, kind, period[0], period[1], label)
    except (ValueError, PermissionError) as exc:
        st.error(escape_markdown(exc))
    else:
        st.success(f"{kind.replace('_', ' ')} {period[0]} to {period[1]} added.")


def thresholds_tab(user: User, version: str) -> None:
    config = cache.engine_config(version)
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
        if not st.form_submit_button("Save thresholds and recompute"):
            return
    try:
        actions.save_thresholds(user, entered)
    except (ValueError, TypeError, KeyError, PermissionError) as exc:
        st.error(f"Not saved: {escape_markdown(exc)}")
    else:
        st.success("Thresholds saved; flags recomputed.")


def users_tab(user: User, version: str) -> None:
    st.dataframe(cache.users(version), hide_index=True, width="stretch", key="users_table")
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
        if not st.form_submit_button("Save user"):
            return
    try:
        actions.save_staff_user(
            user,
            username,
            role=role,
            school=school,
            years=years,
            email=email,
            password=password,
            active=active,
        )
    except (ValueError, LookupError, PermissionError) as exc:
        st.error(escape_markdown(exc))
    else:
        st.success(f"User {escape_markdown(username)} saved.")


def main() -> None:
    user = require_page("data")
    version = cache.version()
    st.title("Data")
    tabs = st.tabs(["Upload", "Load history", "Coverage", "Calendar", "Thresholds", "Users"])
    with tabs[0]:
        upload_tab(user)
    with tabs[1]:
        history_tab(version)
    with tabs[2]:
        coverage_tab(version)
    with tabs[3]:
        calendar_tab(user, version)
    with tabs[4]:
        thresholds_tab(user, version)
    with tabs[5]:
        users_tab(user, version)


main()
