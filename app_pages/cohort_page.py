"""Cohort: URL-kept filters, students × weeks heatmap vs own baseline, flag counts, trend, flagged list."""

from datetime import date, timedelta
from functools import partial

import streamlit as st

from lib.access import User, can
from lib.ui import actions, cache
from lib.ui.chart_text import chart_in_words, chart_with_words
from lib.ui.contact_impact import contact_impact_section
from lib.ui.dq_banner import data_quality_line
from lib.ui.figure import prepared
from lib.ui.state import Keys
from lib.ui.widgets import empty_store_notice, log_view, pager, require_page
from lib.views.filters import FLAG_STATES, YES_NO, CohortFilters, describe, from_params

HEATMAP_SIZE = 50
LIST_SIZE = 25
ALL = "All"
CHOICES = ("school", "course", "year", "module", "level", "mode", "residence")


def init_widget(name: str, value) -> None:
    """A filter widget's first value (from the URL); later runs keep what the user picked."""
    if Keys.filter(name) not in st.session_state:
        st.session_state[Keys.filter(name)] = value


def pick_filters(version: str, options: dict, first, last) -> CohortFilters:
    """The filters from the URL and the widgets; the URL is updated to match."""
    requested = from_params(
        st.query_params.to_dict(), first, last
    )  # a date_input raises out of range
    default_from, default_to = cache.default_weeks(version)
    for name in CHOICES:
        value = getattr(requested, name)
        init_widget(name, value if value in options[name] else ALL)
    init_widget("visa", requested.visa)
    init_widget("flag", requested.flag)
    week_from: date | None = requested.week_from or default_from
    week_to: date | None = requested.week_to or default_to
    if week_from and week_to:
        init_widget("weeks", (week_from, week_to))
    with st.expander(
        "Filters (kept in the address bar, so this view can be shared)", expanded=True
    ):
        cols = st.columns(4)
        picked = {}
        for i, name in enumerate(CHOICES):
            picked[name] = cols[i % 4].selectbox(
                name.capitalize(), [ALL, *options[name]], key=Keys.filter(name)
            )
        picked["visa"] = cols[3].selectbox("Sponsored visa", YES_NO, key=Keys.filter("visa"))
        picked["flag"] = cols[0].selectbox("Flag state", FLAG_STATES, key=Keys.filter("flag"))
        if first and last:
            weeks = cols[1].date_input(
                "Weeks",
                min_value=first,
                max_value=last + timedelta(days=6),
                key=Keys.filter("weeks"),
            )
            if isinstance(weeks, tuple) and len(weeks) == 2:
                week_from, week_to = (d - timedelta(days=d.weekday()) for d in weeks)
    params = {k: str(v) for k, v in picked.items() if v != ALL and v != "any"}
    if week_from and week_to:
        params.update({"from": week_from.isoformat(), "to": week_to.isoformat()})
    filters = from_params(params)
    if st.query_params.to_dict() != filters.to_params():
        st.query_params.from_dict(filters.to_params())
    return filters


def summary_and_charts(user: User, version: str, filters: CohortFilters) -> int:
    """The metrics, the data-quality banner and the charts; returns the cohort size."""
    summary = cache.cohort_summary(version, user, filters)
    size = summary["size"]
    week_from, week_to = filters.week_from, filters.week_to
    c1, c2, c3 = st.columns(3)
    c1.metric("Students", f"{size:,}")
    c2.metric("Students flagged", f"{summary['flagged']:,}")
    c3.metric(
        "Weeks",
        f"{(week_to - week_from).days // 7 + 1}" if week_from and week_to else "—",
        help=f"{week_from} to {week_to}" if week_from else "no results yet",
    )
    data_quality_line(version, user, week_from, week_to)
    return size


def heatmap(user: User, version: str, filters: CohortFilters, size: int) -> list[str]:
    st.subheader("Engagement relative to each student's own baseline")
    page = pager(size, HEATMAP_SIZE, Keys.COHORT_PAGE, "Heatmap page")
    heat = cache.heatmap_figure(version, user, filters, page, HEATMAP_SIZE)
    st.caption(
        f"Students {page * HEATMAP_SIZE + 1}–{page * HEATMAP_SIZE + len(heat['ids'])} of {size:,}, "
        "flagged (most severe) first. 100% = the student's own usual level."
    )
    chart_with_words(heat["figure"], "cohort_heatmap")
    return heat["ids"]


def flagged_list(user: User, version: str, filters: CohortFilters) -> list[str]:
    st.subheader("Flagged students")
    flagged, flagged_total = cache.flagged_page(version, user, filters, 0, LIST_SIZE)
    flag_page = pager(flagged_total, LIST_SIZE, Keys.COHORT_FLAGGED_PAGE, "Flagged list page")
    if flag_page:
        flagged, flagged_total = cache.flagged_page(version, user, filters, flag_page, LIST_SIZE)
    if flagged.empty:
        st.success("No flags in force for these students in the last of these weeks.")
        return []
    st.caption(
        f"{flagged_total:,} flags in force in the week of {filters.week_to}, most severe first."
    )
    st.dataframe(
        flagged,
        hide_index=True,
        width="stretch",
        column_config={"explanation": st.column_config.TextColumn(width="large")},
        key="cohort_flagged_table",
    )
    return flagged["student_id"].tolist()


def main() -> None:
    user = require_page("cohort")
    version = cache.version()
    st.title("Cohort")
    first, last = cache.week_range(version)
    options = cache.filter_options(version, user)
    if not options["course"]:
        st.info("No students in your scope yet.")
        empty_store_notice("students")
        st.stop()
    filters = pick_filters(version, options, first, last)
    size = summary_and_charts(user, version, filters)
    if size == 0:
        st.info("No students match these filters.")
        st.stop()
    if last is None:
        empty_store_notice()
    left, right = st.columns(2)
    figures = cache.cohort_figures(version, user, filters)
    if "counts" in figures:
        left.plotly_chart(prepared(figures["counts"]), key="cohort_counts_chart")
        chart_in_words(figures["counts"], left)
    if "trend" in figures:
        right.plotly_chart(prepared(figures["trend"]), key="cohort_trend_chart")
        chart_in_words(figures["trend"], right)
    shown: list[str] = []
    if filters.week_from and filters.week_to:
        shown += heatmap(user, version, filters, size)
    shown += flagged_list(user, version, filters)
    log_view(user, f"cohort ({describe(filters)})", shown)
    if can(user, "export_csv"):
        st.download_button(
            "Download these students as CSV (logged)",
            data=partial(actions.export_cohort, user, filters),
            file_name="cohort.csv",
            mime="text/csv",
            key=Keys.COHORT_EXPORT,
            on_click="ignore",
        )
    contact_impact_section(user, version)


main()
