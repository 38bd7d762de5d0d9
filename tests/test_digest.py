"""The weekly digest: `python -m lib digest --out DIR | --send` for each opted-in user, scoped by the
access policy (a tutor's digest names only their tutees), never a welfare note, every message
access-logged; sent through a real SMTP server on localhost."""

from __future__ import annotations

from datetime import date, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from lib.access import User
from lib.cases.service import Contact, open_case, record_contact
from lib.cli import main
from lib.store.models import AccessLogEntry, Flag, StaffUser
from tests.app_fixtures import FIRST_WEEK, seed
from tests.smtp_server import smtp  # noqa: F401 (fixture)

AS_OF = "2025-11-20"
NOTE = "Disclosed a family bereavement"


def _overdue_case(session, student_id: str, username: str) -> None:
    user = User(username, "tutor")
    case = open_case(session, user, student_id, now=datetime(2025, 11, 18, 9))
    contact = Contact(
        contacted_at=datetime(2025, 11, 18, 9, 30),
        channel="uni_email",
        outcome="no_response",
        note=NOTE,
        next_action="Invite to a tutorial",
        next_due=date(2025, 11, 19),
    )
    record_contact(session, user, case.id, contact, now=datetime(2025, 11, 18, 10))


@pytest.fixture
def store(any_session):
    session = any_session  # SQLite, and PostgreSQL when TEST_DATABASE_URL is set
    seed(session)  # flags raised in the week of 17 Nov for S001 (tut_a) and S003 (tut_b)
    session.add(
        Flag(
            student_id="S002",
            kind="missed_submissions",
            severity="medium",
            week_start=FIRST_WEEK,
            explanation="Missed 2 submissions (usually 100% on time).",
            computed_at=datetime(2025, 10, 1),
        )
    )
    _overdue_case(session, "S001", "tut_a")
    _overdue_case(session, "S003", "tut_b")
    session.commit()
    assert (
        main(["users", "add", "tut_a", "--role", "tutor", "--email", "a@uni.example", "--digest"])
        == 0
    )
    assert (
        main(
            ["users", "add", "visa_team", "--role", "visa", "--email", "v@uni.example", "--digest"]
        )
        == 0
    )
    return session


def _read(path) -> tuple[object, str]:
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    return message, message.get_content()


def test_digest_files_hold_only_the_users_own_students_and_no_notes(store, tmp_path, capsys):
    assert main(["digest", "--as-of", AS_OF, "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tut_a.eml", "visa_team.eml"]
    message, body = _read(tmp_path / "out" / "tut_a.eml")
    assert message["To"] == "a@uni.example"
    assert message["Subject"] == "Engagement digest 20 Nov 2025: 1 new flags, 1 overdue"
    assert b"\r\n" in (tmp_path / "out" / "tut_a.eml").read_bytes()  # RFC 5322 line ends
    new, continuing = body.split("Continuing flags")
    assert "GivenS001 FamilyS001 (S001): index drop, high, since the week of 17 Nov 2025" in new
    assert "(S002): missed submissions, medium" in continuing.split("Overdue")[0]
    assert (
        "(S001), welfare case" in body
        and "Invite to a tutorial — due 19 Nov 2025 (1 day overdue)" in body
    )
    assert "S003" not in body and NOTE not in body
    visa, visa_body = _read(tmp_path / "out" / "visa_team.eml")
    assert "(S002)" in visa_body and "S001" not in visa_body
    assert "welfare case" not in visa_body and NOTE not in visa_body  # no welfare track
    assert "S003" not in visa_body


def test_every_digest_is_access_logged(store, tmp_path):
    main(["digest", "--as-of", AS_OF, "--out", str(tmp_path / "out")])
    rows = store.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "digest")).all()
    assert sorted((r.username, r.role, tuple(r.student_ids)) for r in rows) == [
        ("tut_a", "tutor", ("S001", "S002")),
        ("visa_team", "visa", ("S002",)),
    ]


def test_digest_round_trip_through_a_real_smtp_server(store, smtp):  # noqa: F811
    inbox, _ = smtp
    assert main(["digest", "--as-of", AS_OF, "--send"]) == 0
    received = {tuple(to): message for to, message in inbox.messages}
    assert set(received) == {("a@uni.example",), ("v@uni.example",)}
    body = received[("a@uni.example",)].get_content()
    assert "(S001)" in body and "(S002)" in body and "S003" not in body and NOTE not in body
    assert received[("a@uni.example",)]["From"].startswith("Student Engagement Dashboard <")
    logged = store.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "digest")).all()
    assert sorted(r.username for r in logged) == ["tut_a", "visa_team"]
    assert all(r.what == f"weekly digest e-mail as of {AS_OF} (sent)" for r in logged)


def test_send_without_a_server_and_opt_in_without_an_address_are_refused(store, monkeypatch):
    monkeypatch.delenv("DASHBOARD_SMTP_URL", raising=False)
    monkeypatch.setattr("lib.cases.mail.SECRETS_PATH", Path("/nonexistent/secrets.toml"))
    assert main(["digest", "--as-of", AS_OF, "--send"]) == 2
    assert main(["users", "add", "wb", "--role", "wellbeing", "--digest"]) == 2
    assert store.scalar(select(StaffUser.digest).where(StaffUser.username == "wb")) is False


def test_a_flag_is_new_in_the_first_digest_after_its_week_ends(store):
    from lib.cases.digest import flags_for

    tutor = User("tut_a", "tutor")
    # the S001 flag's week is 17-23 Nov: new in the digests of 24-30 Nov, continuing after
    for as_of, new in (("2025-11-20", True), ("2025-11-30", True), ("2025-12-01", False)):
        flags = flags_for(store, tutor, date.fromisoformat(as_of)).set_index("student_id")
        assert bool(flags.loc["S001", "new"]) is new, as_of


def test_the_digest_and_the_cohort_page_agree_on_the_flags_in_force(store):
    from lib.cases.digest import flags_for
    from lib.views.cohort import flagged_list
    from lib.views.filters import CohortFilters

    def flag(kind: str, week: str, ended: str) -> Flag:
        return Flag(
            student_id="S002",
            kind=kind,
            severity="low",
            week_start=date.fromisoformat(week),
            ended_week=date.fromisoformat(ended),
            explanation=kind,
            computed_at=datetime(2025, 11, 1),
        )

    # ended in the as-of week (no longer in force), and ending the week after (still in force)
    store.add_all(
        [
            flag("index_drop", "2025-11-03", "2025-11-17"),
            flag("no_engagement", "2025-11-03", "2025-11-24"),
        ]
    )
    store.commit()
    tutor = User("tut_a", "tutor")
    as_of = date.fromisoformat(AS_OF)
    digest = flags_for(store, tutor, as_of)
    cohort, total = flagged_list(store, tutor, CohortFilters(week_to=as_of), limit=1000)
    key = ["student_id", "kind", "week_start"]
    assert total == len(digest) == 3
    assert sorted(map(tuple, digest[key].values.tolist())) == sorted(
        map(tuple, cohort[key].values.tolist())
    )
    assert set(zip(digest["student_id"], digest["kind"], strict=True)) == {
        ("S001", "index_drop"),
        ("S002", "missed_submissions"),
        ("S002", "no_engagement"),
    }
