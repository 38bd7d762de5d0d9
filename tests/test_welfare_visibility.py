"""Welfare information (SPEC §2) never reaches a role without it: every page of every role is rendered
against a store with planted notes, reasons and referrals, and everything rendered is searched."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import inspect
from sqlalchemy.orm import Session

from lib.access import ROLE_PAGES, ROLES, User, can_see_welfare
from lib.store.models import Case, CaseEntry, ComplianceRecord, Exemption, WithdrawalReviewDecision
from tests import app_fixtures
from tests.app_fixtures import open_page
from tests.planting import filler

seeded = app_fixtures.seeded

MARK = "PLANTEDWELFARE"  # every planted welfare text contains it
STUDENT = "S002"  # sponsored, tutee of tut_a, Science year 2: in every student role's scope
PAGE_CASES = [(role, page) for role in ROLES for page in ROLE_PAGES[role]]


def _filler(column) -> object:
    """A value for a required column the test does not name (tables other wings may extend)."""
    return "welfare" if column.key == "track" else filler(column)


def plant(session: Session, model: type, **values) -> object:
    """Add a row of `model`, filling any required column not given with a plausible value."""
    for column in inspect(model).columns:
        required = not column.nullable and column.default is None and not column.primary_key
        if required and column.key not in values and column.server_default is None:
            values[column.key] = _filler(column)
    row = model(**values)
    session.add(row)
    session.flush()
    return row


def plant_welfare(session: Session) -> None:
    """Exemption reason and note, case referral and state, contact notes, compliance and review notes."""
    plant(
        session,
        Exemption,
        student_id=STUDENT,
        reason=f"{MARK}-REASON",
        start=date(2025, 10, 20),
        end=date(2025, 10, 24),
        note=f"{MARK}-EXEMPTION-NOTE GP fit note received",
        created_by="wb",
        created_at=datetime(2025, 10, 20, 9, 0),
    )
    case = plant(
        session,
        Case,
        student_id=STUDENT,
        opened_at=datetime(2025, 10, 27, 9, 0),
        opened_by="tut_a",
        owner_username="wb",
        state=f"{MARK}STATE",
        ladder_step=5,
        referral_team=f"{MARK}-REFERRAL",
    )
    for kind, outcome in (("contact", "tutorial_booked"), ("emergency_decision", None)):
        plant(
            session,
            CaseEntry,
            case_id=case.id,
            recorded_at=datetime(2025, 10, 28, 9, 0),
            recorded_by="wb",
            kind=kind,
            contacted_at=datetime(2025, 10, 28, 9, 0),
            channel="phone",
            outcome=outcome,
            note=f"{MARK}-CONTACT-NOTE {kind}",
            next_action=f"{MARK}-NEXT-ACTION",
            authorised_by=f"{MARK}-AUTHORISER",
        )
    plant(
        session,
        ComplianceRecord,
        student_id=STUDENT,
        kind="authorised_absence",
        recorded_at=datetime(2025, 10, 20, 9, 0),
        recorded_by="wb",
        note=f"{MARK}-COMPLIANCE-NOTE",
    )
    plant(
        session,
        WithdrawalReviewDecision,
        term_label="Autumn 2025",
        student_id=STUDENT,
        decision="contact",
        decided_by="senior_sci",
        decided_at=datetime(2025, 12, 1, 9, 0),
        note=f"{MARK}-REVIEW-NOTE",
    )
    session.commit()


def rendered(at) -> str:
    """Everything a run rendered: every element's protobuf (text, markdown, options, labels, chart
    JSON, dataframe bytes) plus each dataframe's values as text."""
    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            parts.append(str(proto))
            spec = getattr(proto, "spec", None)
            if isinstance(spec, str):
                parts.append(spec)
        if getattr(node, "type", "") in ("arrow_data_frame", "dataframe", "table"):
            parts.append(node.value.to_csv())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


@pytest.fixture
def planted(seeded):
    plant_welfare(seeded)
    return seeded


@pytest.mark.parametrize(("role", "page"), PAGE_CASES)
def test_no_welfare_information_reaches_a_role_without_it(planted, role, page):
    at = open_page(role, page, {"id": STUDENT})
    assert not at.exception, [e.value for e in at.exception]
    text = rendered(at)
    if can_see_welfare(User("u", role)):
        return
    assert MARK not in text, f"welfare information shown to {role} on {page}"


def test_the_search_finds_planted_text_where_it_may_be_shown(planted):
    at = open_page("wellbeing", "student", {"id": STUDENT})
    text = rendered(at)
    assert f"{MARK}-EXEMPTION-NOTE" in text and f"{MARK}-REASON" in text


def test_visa_sees_the_authorised_absence_dates_without_its_reason(planted):
    at = open_page("visa", "student", {"id": STUDENT})
    (table,) = [d.value for d in at.dataframe if {"start", "end"} <= set(d.value.columns)]
    assert "2025-10-20" in table.astype(str).to_csv()
    assert not {"reason", "note"} & set(table.columns)
