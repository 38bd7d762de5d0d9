"""The access policy: role × page and role × action tables, and student scope per role."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lib import usecases
from lib.access import (
    ACTIONS,
    PAGES,
    ROLES,
    NotAllowed,
    User,
    can,
    can_open,
    can_view_student,
    fields_for,
    pages_for,
    require,
    scoped_student_ids,
)
from lib.views import cohort, filters, home, student
from tests.app_fixtures import ROOT, seeded  # noqa: F401

USERS = {
    "tutor": User("tut_a", "tutor"),
    "senior_tutor": User("senior_sci", "senior_tutor", school="Science", years=(1, 2)),
    "wellbeing": User("wb", "wellbeing"),
    "visa": User("visa_team", "visa"),
    "admin": User("admin1", "admin"),
}

PAGE_TABLE = {
    "tutor": {"home", "cohort", "student", "case"},
    "senior_tutor": {"home", "cohort", "student", "case", "withdrawal_review"},
    "wellbeing": {"home", "cohort", "student", "case", "withdrawal_review", "subject_access"},
    "visa": {"home", "cohort", "student", "case", "compliance"},
    "admin": {"home", "data", "access_log"},
}

ACTION_TABLE = {
    "view_student": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "search_students": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "export_csv": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "add_exemption": {"senior_tutor", "wellbeing"},
    "view_welfare_notes": {"tutor", "senior_tutor", "wellbeing"},
    "view_contact_details": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "view_data_quality": set(ROLES),
    "upload_data": {"admin"},
    "edit_thresholds": {"admin"},
    "edit_calendar": {"admin"},
    "manage_users": {"admin"},
    "view_access_log": {"admin"},
    # cases wing
    "view_case": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "open_case": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "record_contact": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "correct_entry": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "handover": {"tutor", "senior_tutor", "wellbeing"},
    "refer": {"wellbeing"},
    "emergency_decision": {"wellbeing"},
    "close_case": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "reopen_case": {"tutor", "senior_tutor", "wellbeing", "visa"},
    # mail wing
    "send_email": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "receive_digest": {"tutor", "senior_tutor", "wellbeing", "visa"},
    "view_contact_impact": {"senior_tutor", "wellbeing"},
    "view_compliance": {"visa"},
    "record_compliance_report": {"visa"},
    "export_compliance": {"visa"},
    "review_withdrawal": {"senior_tutor", "wellbeing"},
    "handle_sar": {"wellbeing"},
}

SCOPE = {
    "tutor": {"S001", "S002"},
    "senior_tutor": {"S001", "S002"},
    "wellbeing": {"S001", "S002", "S003", "S004", "S005"},
    "visa": {"S002", "S004"},
    "admin": set(),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_role_page_table(role, page):
    assert can_open(USERS[role], page) == (page in PAGE_TABLE[role])


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTION_TABLE))
def test_role_action_table(role, action):
    assert can(USERS[role], action) == (role in ACTION_TABLE[action])


def test_tables_cover_every_action_and_unknown_is_denied():
    assert set(ACTION_TABLE) == set(ACTIONS)
    assert not can(USERS["admin"], "delete_everything")
    assert pages_for(None) == ()
    assert not can(None, "view_student")
    assert pages_for(User("x", "nobody")) == ()


def test_fields():
    assert fields_for(USERS["admin"]) == ()
    assert "welfare_notes" not in fields_for(USERS["visa"])
    assert "welfare_notes" in fields_for(USERS["wellbeing"])
    for role in ROLES:
        assert not any("grade" in f for f in fields_for(USERS[role]))


@pytest.mark.parametrize("role", ROLES)
def test_scope_per_role(seeded, role):  # noqa: F811
    ids = set(seeded.scalars(scoped_student_ids(USERS[role])))
    assert ids == SCOPE[role]
    for sid in ("S001", "S002", "S003", "S004", "S005"):
        assert can_view_student(seeded, USERS[role], sid) == (sid in SCOPE[role])


def test_senior_tutor_without_school_sees_nobody(seeded):  # noqa: F811
    assert not list(seeded.scalars(scoped_student_ids(User("x", "senior_tutor"))))


@pytest.mark.parametrize("role", ROLES)
def test_every_query_route_stays_in_scope(seeded, role):  # noqa: F811
    user = USERS[role]
    allowed = SCOPE[role]
    f = filters.CohortFilters()
    assert set(student.search_students(seeded, user, "Given")["student_id"]) <= allowed
    assert set(student.search_students(seeded, user, "S003")["student_id"]) <= allowed
    ids, total = cohort.heatmap_students(seeded, user, f)
    assert set(ids) == allowed and total == len(allowed)
    flagged, _ = cohort.flagged_list(seeded, user, f)
    assert set(flagged["student_id"]) <= allowed
    export = cohort.cohort_export(seeded, user, f)
    assert set(export.get("student_id", [])) == allowed
    mine, _ = home.my_students(seeded, user)
    assert set(mine.get("student_id", [])) <= allowed
    for sid in {"S001", "S002", "S003", "S004", "S005"} - allowed:
        assert student.student_profile(seeded, user, sid) is None
        assert student.student_measures(seeded, user, sid).empty
        assert student.student_flags(seeded, user, sid).empty
        assert student.student_exemptions(seeded, user, sid).empty
        assert student.cohort_median(seeded, user, sid).empty


def test_filters_cannot_widen_scope(seeded):  # noqa: F811
    tutor = USERS["tutor"]
    f = filters.from_params({"school": "Arts"})
    assert cohort.cohort_size(seeded, tutor, f) == 0
    assert cohort.cohort_export(seeded, tutor, f).empty


def test_export_is_logged_with_every_student(seeded):  # noqa: F811
    from lib.store.models import AccessLogEntry

    data = cohort.cohort_csv(seeded, USERS["visa"], filters.CohortFilters())
    assert b"S002" in data and b"S001" not in data
    entry = seeded.scalars(select(AccessLogEntry)).one()
    assert entry.action == "export" and entry.student_ids == ["S002", "S004"]
    with pytest.raises(PermissionError):
        cohort.cohort_csv(seeded, USERS["admin"], filters.CohortFilters())


def test_add_exemption_is_checked(seeded):  # noqa: F811
    from datetime import date

    with pytest.raises(PermissionError):
        usecases.add_exemption(
            seeded,
            USERS["tutor"],
            "S001",
            reason="illness",
            start=date(2025, 10, 1),
            end=date(2025, 10, 5),
        )
    with pytest.raises(PermissionError):  # senior tutor of Science years 1-2; S004 is Arts
        usecases.add_exemption(
            seeded,
            USERS["senior_tutor"],
            "S004",
            reason="illness",
            start=date(2025, 10, 1),
            end=date(2025, 10, 5),
        )
    usecases.add_exemption(
        seeded,
        USERS["senior_tutor"],
        "S001",
        reason="illness",
        start=date(2025, 10, 1),
        end=date(2025, 10, 5),
    )


def test_query_params_round_trip():
    f = filters.from_params(
        {
            "school": "Science",
            "year": "2",
            "visa": "yes",
            "flag": "index_drop",
            "from": "2025-09-29",
            "to": "bad",
        }
    )
    assert f.school == "Science" and f.year == 2 and f.visa == "yes" and f.flag == "index_drop"
    assert f.week_to is None
    assert filters.from_params(f.to_params()) == f
    assert filters.from_params({"visa": "maybe", "flag": "DROP TABLE"}).to_params() == {}


# --- every declared action is checked where it happens ---------------------------------------------

CHECK_CALL = re.compile(r"\b(?:require|can)\(\s*[\w.]+,\s*\"(\w+)\"\s*\)")


def _checked_actions() -> dict[str, set[str]]:
    """action -> the files of lib/ and app_pages/ that check it with require() or can()."""
    found: dict[str, set[str]] = {}
    for folder in ("lib", "app_pages"):
        for path in (ROOT / folder).rglob("*.py"):
            for action in CHECK_CALL.findall(path.read_text(encoding="utf-8")):
                found.setdefault(action, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_declared_action_is_checked_somewhere():
    checked = _checked_actions()
    assert set(ACTIONS) - set(checked) == set(), "declared actions that no code checks"
    assert set(checked) - set(ACTIONS) == set(), "checked actions the policy does not declare"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(ACTION_TABLE))
def test_require_allows_and_denies_per_role(role, action):
    if role in ACTION_TABLE[action]:
        require(USERS[role], action)
    else:
        with pytest.raises(NotAllowed):
            require(USERS[role], action)


def test_require_refuses_unknown_actions_and_nobody():
    with pytest.raises(NotAllowed):
        require(USERS["admin"], "delete_everything")
    with pytest.raises(NotAllowed):
        require(None, "view_data_quality")


@pytest.mark.parametrize("role", [r for r in ROLES if r != "admin"])
def test_admin_use_cases_refuse_other_roles(seeded, role):  # noqa: F811
    from datetime import date

    from lib.views.admin import access_log

    user = USERS[role]
    refused = [
        lambda: usecases.save_thresholds(seeded, user, {"zero_weeks": 3}),
        lambda: usecases.save_staff_user(seeded, user, "someone", role="tutor"),
        lambda: usecases.add_calendar_period(
            seeded, user, kind="exam", start=date(2026, 1, 5), end=date(2026, 1, 9)
        ),
        lambda: usecases.preview_upload(seeded, user, "students", "s.csv", b"x", year=None),
        lambda: access_log(seeded, user),
    ]
    for call in refused:
        with pytest.raises(NotAllowed):
            call()
