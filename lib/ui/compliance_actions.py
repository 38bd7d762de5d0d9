"""What the Compliance, Subject access and Withdrawal review pages do: one transaction per call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from lib import sar
from lib.access import User
from lib.compliance import review, views
from lib.compliance.policy import load_thresholds
from lib.compliance.review import Term
from lib.compliance.views import ListFilters
from lib.store.db import session_scope

# --- Compliance page -------------------------------------------------------------------------


def compliance_schools(user: User) -> list[str]:
    with session_scope() as session:
        return views.schools(session, user)


def compliance_list(user: User, as_of: date, filters: ListFilters) -> pd.DataFrame:
    with session_scope() as session:
        return views.compliance_list(session, user, as_of, filters)


def compliance_list_export(user: User, frame: pd.DataFrame, as_of: date, kind: str) -> bytes:
    with session_scope() as session:
        return views.list_export(session, user, frame, as_of, kind)


def student_evidence(user: User, student_id: str, as_of: date):
    """(status row, points, records) for one sponsored student in scope, or None."""
    with session_scope() as session:
        return views.student_evidence(session, user, student_id, as_of)


def student_evidence_export(user: User, student_id: str, as_of: date, kind: str) -> bytes:
    with session_scope() as session:
        return views.student_export(session, user, student_id, as_of, kind)


def record_report(user: User, student_id: str, on: date, reference: str) -> None:
    with session_scope() as session:
        views.record_report(session, user, student_id, on, reference)


def record_withdrawal(user: User, student_id: str, on: date) -> None:
    with session_scope() as session:
        views.record_withdrawal(session, user, student_id, on)


# --- Subject access page ---------------------------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    """What the page says about a request it logged."""

    student_id: str
    due_on: date


def log_subject_access_request(
    user: User, student_id: str, received: date, due: date | None
) -> LoggedRequest:
    with session_scope() as session:
        request = sar.log_request(session, user, student_id, received, due)
        return LoggedRequest(request.student_id, request.due_on)


def open_subject_access_requests(user: User) -> pd.DataFrame:
    with session_scope() as session:
        return sar.open_requests(session, user)


def fulfil_subject_access_request(user: User, student_id: str) -> bytes:
    with session_scope() as session:
        return sar.fulfil(session, user, student_id)


# --- Withdrawal review page ------------------------------------------------------------------


def review_terms() -> tuple[list[Term], int]:
    """The calendar's terms (newest first) and the default span without engagement, in days."""
    with session_scope() as session:
        return review.terms(session), load_thresholds(session).review_span_days


def review_list(user: User, term: Term, span_days: int) -> pd.DataFrame:
    with session_scope() as session:
        return review.review_list(session, user, term, span_days)


def review_export(user: User, term: Term, frame: pd.DataFrame) -> bytes:
    with session_scope() as session:
        return review.review_export(session, user, term, frame)


def record_review_decision(
    user: User,
    term: Term,
    student_id: str,
    decision: str,
    note: str,
    last_engagement: date | None,
) -> None:
    with session_scope() as session:
        review.record_decision(
            session, user, term, student_id, decision, note, last_engagement=last_engagement
        )
