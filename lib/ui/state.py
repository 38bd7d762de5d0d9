"""Session-state keys, widget keys and the typed state pages keep between reruns (in one place)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import streamlit as st

from lib.access import User
from lib.compliance.review import Term
from lib.usecases import UploadPreview


class StateKeys:
    """Names under st.session_state."""

    USER = "dashboard_user"
    REQUESTED_PARAMS = "dashboard_requested_params"
    LOGGED_VIEWS = "dashboard_logged_views"
    LOGIN_RECORDED = "dashboard_login_recorded"
    COOKIE_PENDING = "dashboard_cookie_pending"
    DATA_PAGE = "data_page_state"
    SESSION_TOKEN = "dashboard_session_token"
    LOGGED_OUT = "dashboard_logged_out"
    UPLOAD_PREVIEW = "data_upload_preview"


class Keys:
    """Widget keys (stable so that state survives reruns and tests can find widgets)."""

    LOGIN_FORM = "login_form"
    LOGOUT = "logout_button"
    SSO_LOGIN = "sso_login_button"
    HOME_PAGE = "home_page_number"
    COHORT_PAGE = "cohort_page_number"
    COHORT_FLAGGED_PAGE = "cohort_flagged_page_number"
    COHORT_EXPORT = "cohort_export_button"
    STUDENT_SEARCH = "student_search"
    STUDENT_PICK = "student_pick"
    STUDENT_MEDIAN = "student_show_median"
    EXEMPTION_FORM = "exemption_form"
    UPLOAD_SOURCE = "upload_source"
    UPLOAD_FILE = "upload_file"
    UPLOAD_YEAR = "upload_year"
    UPLOAD_QUARANTINE = "upload_quarantine"
    UPLOAD_PREVIEW_BUTTON = "upload_preview_button"
    UPLOAD_LOAD_BUTTON = "upload_load_button"
    THRESHOLDS = "thresholds_json"
    THRESHOLDS_FORM = "thresholds_form"
    USER_FORM = "user_form"
    CALENDAR_FORM = "calendar_form"
    LOG_USER = "access_log_user"
    LOG_STUDENT = "access_log_student"

    @staticmethod
    def filter(name: str) -> str:
        return f"cohort_filter_{name}"


@dataclass
class DataPageState:
    """What the Data page keeps between reruns: the upload waiting to be loaded."""

    preview: UploadPreview | None = None


def data_page_state() -> DataPageState:
    """This session's Data page state (created on first use)."""
    return st.session_state.setdefault(StateKeys.DATA_PAGE, DataPageState())


@dataclass(frozen=True)
class CompliancePageState:
    """What the Compliance page works on in this run: the user, the day and the students listed."""

    user: User
    as_of: date
    student_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewPageState:
    """What the Withdrawal review page works on in this run: the user, the term and its list."""

    user: User
    term: Term
    frame: pd.DataFrame
