"""Cached read wrappers: keyed by the data version and the user's scope, cleared after writes.

The caches are the server's, shared by every session: a read keyed by a user is keyed by their
scope only (`scope_user`), so thirty wellbeing officers opening Cohort at 40,000 students compute
it once, and a new data version (a load, a compute, an exemption) makes every entry unreachable."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from lib import charts
from lib.access import User
from lib.compute.service import load_engine_config
from lib.store.db import read_scope
from lib.views import admin, cohort, common, filters, home, student
from lib.views.filters import CohortFilters

F = TypeVar("F", bound=Callable[..., Any])


def scope_user(user: User) -> User:
    """The user as the shared caches see them: only what decides which students, fields and
    actions their reads return (lib.access: the role; a tutor's username; a senior tutor's school
    and years), so that users with the same scope share one cached result."""
    return User(
        username=user.username if user.role == "tutor" else "",
        role=user.role,
        school=user.school if user.role == "senior_tutor" else None,
        years=user.years if user.role == "senior_tutor" else (),
    )


def by_scope(cached: F) -> F:
    """Call the cached read `cached` with every user among its arguments reduced to their scope."""

    def scoped(value: object) -> object:
        return scope_user(value) if isinstance(value, User) else value

    @functools.wraps(cached)
    def call(*args, **kwargs):
        return cached(*map(scoped, args), **{k: scoped(v) for k, v in kwargs.items()})

    return call  # type: ignore[return-value]


def version() -> str:
    """The current data version (cheap: a few max() lookups)."""
    with read_scope() as session:
        return common.data_version(session)


def clear() -> None:
    """Forget every cached result (after a load, a compute or an exemption)."""
    st.cache_data.clear()


@st.cache_data(show_spinner=False, max_entries=64)
def week_range(data_version: str) -> tuple:
    with read_scope() as session:
        return common.week_range(session)


@st.cache_data(show_spinner=False, max_entries=64)
def default_weeks(data_version: str) -> tuple:
    with read_scope() as session:
        return common.default_weeks(session)


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def filter_options(data_version: str, user: User) -> dict:
    with read_scope() as session:
        return filters.filter_options(session, user)


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def cohort_summary(data_version: str, user: User, f: CohortFilters) -> dict:
    with read_scope() as session:
        return {
            "size": cohort.cohort_size(session, user, f),
            "counts": cohort.flag_counts(session, user, f),
            "flagged": cohort.flagged_students(session, user, f),
            "trend": cohort.flag_trend(session, user, f),
        }


@by_scope
@st.cache_data(show_spinner=False, max_entries=512)
def heatmap_page(data_version: str, user: User, f: CohortFilters, page: int, size: int) -> dict:
    with read_scope() as session:
        ids, total = cohort.heatmap_students(session, user, f, limit=size, offset=page * size)
        rel = pd.DataFrame()
        if ids and f.week_from and f.week_to:
            rel = common.relative_engagement(session, ids, f.week_from, f.week_to)
        return {"ids": ids, "total": total, "rel": rel}


@by_scope
@st.cache_data(show_spinner=False, max_entries=512)
def flagged_page(data_version: str, user: User, f: CohortFilters, page: int, size: int) -> tuple:
    with read_scope() as session:
        return cohort.flagged_list(session, user, f, limit=size, offset=page * size)


@by_scope
@st.cache_data(show_spinner=False, max_entries=128)
def dq_events(data_version: str, user: User, week_from, week_to) -> pd.DataFrame:
    with read_scope() as session:
        return cohort.data_quality_events(session, user, week_from, week_to)


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def my_students(data_version: str, user: User, page: int, size: int) -> tuple:
    with read_scope() as session:
        return home.my_students(session, user, limit=size, offset=page * size)


@st.cache_data(show_spinner=False, max_entries=64)
def risk_order(data_version: str) -> dict:
    with read_scope() as session:
        return home.risk_order(session)


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def student_bundle(data_version: str, user: User, student_id: str) -> dict | None:
    _, as_of = default_weeks(data_version)
    with read_scope() as session:
        bundle = student.student_page(session, user, student_id, as_of)
    if bundle is None:
        return None
    return {**bundle, "calendar": calendar(data_version)}


@by_scope
@st.cache_data(show_spinner=False, max_entries=128)
def cohort_median(data_version: str, user: User, student_id: str) -> pd.DataFrame:
    with read_scope() as session:
        return student.cohort_median(session, user, student_id)


@st.cache_data(show_spinner=False, max_entries=32)
def coverage(data_version: str) -> pd.DataFrame:
    with read_scope() as session:
        return admin.coverage_frame(session)


@st.cache_data(show_spinner=False, max_entries=32)
def calendar(data_version: str) -> pd.DataFrame:
    with read_scope() as session:
        return common.calendar_periods(session)


# --- figures: built once per data version and view, returned as Plotly dicts (cheap to copy) -----


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def cohort_figures(data_version: str, user: User, f: CohortFilters) -> dict:
    summary = cohort_summary(data_version, user, f)
    out = {}
    if not summary["counts"].empty:
        out["counts"] = charts.flag_counts_bar_spec(summary["counts"])
    if not summary["trend"].empty:
        out["trend"] = charts.flag_trend_spec(summary["trend"])
    return out


@by_scope
@st.cache_data(show_spinner=False, max_entries=512)
def heatmap_figure(data_version: str, user: User, f: CohortFilters, page: int, size: int) -> dict:
    heat = heatmap_page(data_version, user, f, page, size)
    weeks = common.week_list(f.week_from, f.week_to) if f.week_from and f.week_to else []
    figure = charts.relative_heatmap_spec(heat["rel"], heat["ids"], weeks)
    return {"ids": heat["ids"], "total": heat["total"], "figure": figure}


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def student_figures(
    data_version: str,
    user: User,
    student_id: str,
    median: bool,
    marks: tuple[tuple[str, str], ...] = (),
) -> dict:
    """source -> {"figure", "summary"} (index first) for one student in the user's scope, on one
    shared week axis, with the student's case contacts and steps (`marks`: when, label) marked.

    The marks come as a tuple, not a frame: the cache hashes its arguments on every call."""
    markers = pd.DataFrame(list(marks), columns=["when", "label"]) if marks else None
    bundle = student_bundle(data_version, user, student_id)
    if bundle is None or bundle["measures"].empty:
        return {}
    measures = bundle["measures"]
    _, as_of = default_weeks(data_version)
    if as_of is not None:  # no timeline beyond the newest week with loaded activity
        measures = measures[measures["week_start"] <= as_of]
    flags = bundle["flags"]
    if as_of is not None and not flags.empty:
        flags = flags[flags["week_start"] <= as_of]
    overlay = cohort_median(data_version, user, student_id) if median else None
    parts = charts.by_source(measures)
    sources = sorted(parts, key=lambda s: (s != "index", s))
    x_range = charts.week_axis_range(measures)
    return {
        source: {
            "figure": charts.student_timeline_spec(
                parts[source],
                source,
                flags=flags,
                calendar=bundle["calendar"],
                exemptions=bundle["exemptions"],
                median=overlay,
                markers=markers,
                x_range=x_range,
            ),
            "summary": charts.source_summary(parts[source], source, flags=flags, markers=markers),
        }
        for source in sources
    }


@by_scope
@st.cache_data(show_spinner=False, max_entries=256)
def weekly_table(data_version: str, user: User, student_id: str) -> pd.DataFrame:
    """The Student page's weekly table: a row per week (newest first) up to the newest week with
    loaded activity, a column per source (empty when out of scope)."""
    bundle = student_bundle(data_version, user, student_id)
    if bundle is None:
        return pd.DataFrame()
    measures = bundle["measures"]
    _, as_of = default_weeks(data_version)
    shown = measures if as_of is None else measures[measures["week_start"] <= as_of]
    return student.weekly_values(shown)


# --- not cached: the Data and Access log pages' tables change without a new data version --------


def loads(data_version: str) -> pd.DataFrame:
    with read_scope() as session:
        return admin.loads_frame(session)


def quarantined_rows(data_version: str, load_id: int) -> pd.DataFrame:
    with read_scope() as session:
        return admin.quarantined_rows(session, load_id)


def users(data_version: str) -> pd.DataFrame:
    with read_scope() as session:
        return admin.users_frame(session)


def engine_config(data_version: str) -> dict:
    with read_scope() as session:
        return load_engine_config(session)


def search_students(data_version: str, user: User, text: str) -> pd.DataFrame:
    with read_scope() as session:
        return student.search_students(session, user, text)


def probed_students(user: User, text: str) -> list[str]:
    """Students outside the user's scope that a search names (to log the refusal); not cached."""
    with read_scope() as session:
        return student.probed_students(session, user, text)


def access_log(
    user: User, username: str | None, student_id: str | None
) -> tuple[int, pd.DataFrame]:
    with read_scope() as session:
        return admin.access_log(session, user, username=username, student_id=student_id)
