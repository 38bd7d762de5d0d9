"""What the pages' buttons do: each opens one transaction, runs one use case and clears the caches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from lib import usecases
from lib.access import User
from lib.store.db import session_scope
from lib.ui import cache
from lib.usecases import LoadOutcome, UploadPreview
from lib.views.cohort import cohort_csv
from lib.views.filters import CohortFilters


def preview_upload(
    user: User, source: str, name: str, data: bytes, year: int | None
) -> UploadPreview:
    with session_scope() as session:
        return usecases.preview_upload(session, user, source, name, data, year=year)


def discard_upload(preview: UploadPreview) -> None:
    usecases.discard_upload(preview.path)


def load_upload(
    user: User, preview: UploadPreview, year: int | None, quarantine: bool
) -> LoadOutcome:
    with session_scope() as session:
        outcome = usecases.load_upload(session, user, preview, year=year, quarantine=quarantine)
    cache.clear()
    return outcome


def add_calendar_period(user: User, kind: str, start: date, end: date, label: str) -> None:
    with session_scope() as session:
        usecases.add_calendar_period(session, user, kind=kind, start=start, end=end, label=label)
        usecases.recompute(session, full=True)
    cache.clear()


def save_thresholds(user: User, entered: Mapping) -> None:
    with session_scope() as session:
        usecases.save_thresholds(session, user, entered)
    cache.clear()


def save_staff_user(user: User, username: str, **fields) -> None:
    with session_scope() as session:
        usecases.save_staff_user(session, user, username, **fields)
    cache.clear()


def add_exemption(
    user: User, student_id: str, reason: str, start: date, end: date, note: str
) -> None:
    with session_scope() as session:
        usecases.add_exemption(
            session, user, student_id, reason=reason, start=start, end=end, note=note
        )
        usecases.recompute(session)
    cache.clear()


def export_cohort(user: User, filters: CohortFilters) -> bytes:
    """The filtered students as CSV (the export is written to the access log)."""
    with session_scope() as session:
        return cohort_csv(session, user, filters)
