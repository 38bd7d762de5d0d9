"""Message templates as mailto: links, and sending through a real SMTP server on localhost
recorded as the case's contact attempt and access-logged (nothing recorded when it fails)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from sqlalchemy import select

from lib.access import User
from lib.cases.mail import (
    MailError,
    SmtpServer,
    draft_message,
    mailto_link,
    parse_smtp_url,
    send_to_student,
    smtp_server,
)
from lib.cases.service import CaseDenied, CaseInputError, open_case
from lib.store.models import AccessLogEntry, CaseEntry, StaffUser, Student
from tests.app_fixtures import seed
from tests.smtp_server import free_port, smtp  # noqa: F401 (fixture)

NOW = datetime(2025, 11, 18, 10, 0)
TUTOR = User("tut_a", "tutor", display_name="Dr Ada Tutor", email="ada.tutor@uni.example")


@pytest.fixture
def store(session):
    seed(session)
    session.scalar(select(StaffUser).where(StaffUser.username == "tut_a")).email = TUTOR.email
    session.commit()
    return session


def _case(session, student_id="S001", user=TUTOR) -> int:
    case = open_case(session, user, student_id, now=NOW - timedelta(days=1))
    session.commit()
    return case.id


def test_mailto_link_encodes_subject_and_body():
    body = "Dear Zoë,\nfish & chips? 100% sure\n\nBest"
    link = mailto_link("s001@uni.example", "Check-in: how are things?", body)
    assert link.startswith(
        "mailto:s001@uni.example?subject=Check-in%3A%20how%20are%20things%3F&body="
    )
    assert "+" not in link and " " not in link and "\n" not in link
    assert "%0D%0A%0D%0ABest" in link and "fish%20%26%20chips%3F%20100%25" in link
    query = parse_qs(urlsplit(link).query)
    assert query["subject"] == ["Check-in: how are things?"]
    assert query["body"] == [body.replace("\n", "\r\n")]
    assert unquote(link).count("Zoë") == 1


@pytest.mark.parametrize("to", ["a@b.example?cc=x@evil.example", "a b@uni.example", "", "x"])
def test_mailto_refuses_an_address_with_url_or_header_syntax(to):
    with pytest.raises(ValueError):
        mailto_link(to, "s", "b")


def test_templates_fill_in_the_student_and_the_proposed_times(store):
    student = store.get(Student, "S001")
    check = draft_message("welfare_check", student, "Dr Ada Tutor")
    assert check.to == "s001@uni.example"
    assert check.body.startswith("Dear GivenS001,") and check.body.endswith("Dr Ada Tutor")
    assert "Support and Wellbeing team" in check.body
    times = [datetime(2025, 11, 25, 10), datetime(2025, 11, 24, 14, 30)]
    invite = draft_message("tutorial_invitation", student, "Dr Ada Tutor", times, now=NOW)
    assert "- Monday 24 November 2025, 14:30\n- Tuesday 25 November 2025, 10:00" in invite.body
    with pytest.raises(CaseInputError) as error:
        draft_message("tutorial_invitation", student, "x", [NOW - timedelta(hours=1)], now=NOW)
    assert "future" in error.value.errors["times"]
    with pytest.raises(CaseInputError):
        draft_message("tutorial_invitation", student, "x", [], now=NOW)


def test_smtp_url_from_the_environment_or_the_secrets_file(monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[dashboard]\nsmtp_url = "smtp://mail.uni.example:2525"\n')
    monkeypatch.delenv("DASHBOARD_SMTP_URL", raising=False)
    assert smtp_server(secrets) == SmtpServer("mail.uni.example", 2525)
    monkeypatch.setenv("DASHBOARD_SMTP_URL", "smtp://127.0.0.1:1025")
    assert smtp_server(secrets) == SmtpServer("127.0.0.1", 1025)
    monkeypatch.delenv("DASHBOARD_SMTP_URL")
    assert smtp_server(tmp_path / "none.toml") is None
    with pytest.raises(ValueError):
        parse_smtp_url("http://host:25")


def test_sending_is_the_recorded_contact_attempt_and_is_logged(store, smtp):  # noqa: F811
    inbox, _ = smtp
    case_id = _case(store)
    times = [datetime(2025, 11, 20, 11)]
    entry = send_to_student(store, TUTOR, case_id, "tutorial_invitation", times, now=NOW)
    assert len(inbox.messages) == 1
    recipients, message = inbox.messages[0]
    assert recipients == ["s001@uni.example"]
    assert message["From"] == "Dr Ada Tutor <ada.tutor@uni.example>"
    assert message["Subject"] == "Invitation to a personal tutorial"
    assert "- Thursday 20 November 2025, 11:00" in message.get_content()
    stored = store.get(CaseEntry, entry.id)
    assert (stored.kind, stored.channel, stored.outcome, stored.step) == (
        "contact",
        "uni_email",
        "no_response",
        2,
    )
    assert stored.contacted_at == NOW and "Tutorial invitation" in stored.note
    log = store.scalars(select(AccessLogEntry).where(AccessLogEntry.action == "email")).all()
    assert [(r.username, r.student_ids) for r in log] == [("tut_a", ["S001"])]


def test_a_double_submit_sends_and_records_once(store, smtp):  # noqa: F811
    inbox, _ = smtp
    case_id = _case(store)
    first = send_to_student(store, TUTOR, case_id, "welfare_check", key="k1", now=NOW)
    again = send_to_student(store, TUTOR, case_id, "welfare_check", key="k1", now=NOW)
    assert first.id == again.id and len(inbox.messages) == 1
    contacts = store.scalars(select(CaseEntry).where(CaseEntry.kind == "contact")).all()
    assert len(contacts) == 1 and contacts[0].step == 1


def test_a_refusing_server_records_nothing(store, monkeypatch):
    case_id = _case(store)
    monkeypatch.setenv("DASHBOARD_SMTP_URL", f"smtp://127.0.0.1:{free_port()}")  # nobody listens
    with pytest.raises(MailError):
        send_to_student(store, TUTOR, case_id, "welfare_check", now=NOW)
    assert store.scalars(select(CaseEntry).where(CaseEntry.kind == "contact")).all() == []
    assert store.scalars(select(AccessLogEntry)).all() == []


def test_no_sending_outside_scope_or_policy(store, smtp):  # noqa: F811
    inbox, _ = smtp
    other_tutor_case = _case(store, "S003", User("tut_b", "tutor"))
    with pytest.raises(CaseInputError):
        send_to_student(store, TUTOR, other_tutor_case, "welfare_check", now=NOW)
    with pytest.raises(CaseDenied):
        send_to_student(store, User("admin1", "admin"), other_tutor_case, "welfare_check", now=NOW)
    assert inbox.messages == []


def _templates_script(case_id: int) -> None:
    from lib.access import User
    from lib.ui.case_mail import message_templates

    user = User("tut_a", "tutor", display_name="Dr Ada Tutor", email="ada.tutor@uni.example")
    message_templates(user, case_id)


def test_case_page_templates_open_in_the_mail_client_and_send(store, smtp):  # noqa: F811
    from streamlit.testing.v1 import AppTest

    inbox, _ = smtp
    case_id = _case(store)
    at = AppTest.from_function(_templates_script, args=(case_id,), default_timeout=60).run()
    assert not at.exception
    link = at.get("link_button")[0].proto.url
    assert link.startswith("mailto:s001@uni.example?subject=Checking%20in%3A%20how%20are")
    assert "Dear GivenS001" in at.text[1].value
    at.radio(key="case_mail_template").set_value("tutorial_invitation").run()
    assert "Propose at least one time" in at.info[0].value
    at.date_input(key="case_mail_day_0").set_value(datetime.now().date() + timedelta(days=3))
    at.run()
    assert "Invitation%20to%20a%20personal%20tutorial" in at.get("link_button")[0].proto.url
    at.button(key="case_mail_send").click().run()
    assert not at.exception and "recorded as a contact attempt" in at.success[0].value
    assert len(inbox.messages) == 1
    assert inbox.messages[0][1]["Subject"] == "Invitation to a personal tutorial"


def test_case_page_offers_the_templates_beside_the_contact_form(store, monkeypatch):
    from tests.app_fixtures import COOKIE_KEY, open_page

    monkeypatch.setenv("DASHBOARD_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.delenv("DASHBOARD_SMTP_URL", raising=False)
    monkeypatch.setattr("lib.cases.mail.SECRETS_PATH", Path("/nonexistent/secrets.toml"))
    case_id = _case(store)
    at = open_page("tutor", "case", {"case": str(case_id)})
    assert not at.exception
    (link,) = at.get("link_button")
    assert link.proto.url.startswith("mailto:s001@uni.example?subject=Checking%20in")
    assert not [b for b in at.button if b.key == "case_mail_send"]  # no SMTP server configured
