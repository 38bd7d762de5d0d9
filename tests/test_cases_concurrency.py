"""Concurrent writers on one case, on SQLite and PostgreSQL: every entry is kept; a doubled submit
racing itself records one entry; staff opening the same student's case at once get one case."""

from __future__ import annotations

import threading
from datetime import date, datetime

from sqlalchemy import func, select

from lib.access import User
from lib.cases import service
from lib.cases.service import Contact
from lib.store.db import session_factory, session_scope
from lib.store.models import Case, CaseEntry
from tests.factories import student

TUTOR = User("tut_a", "tutor")
WB = User("wb", "wellbeing")
WHEN = datetime(2025, 11, 17, 10, 0)


def _seed(url: str, *, open_case: bool = True) -> int:
    with session_scope(url) as s:
        s.add(student("S001", given_name="Ada", family_name="Lovelace", tutor_username="tut_a"))
        s.flush()
        return service.open_case(s, TUTOR, "S001", now=WHEN).id if open_case else 0


def _writers(url: str, case_id: int, keys: list[str]) -> list[BaseException]:
    barrier = threading.Barrier(len(keys))
    errors: list[BaseException] = []
    factory = session_factory(url)

    def write(i: int, key: str) -> None:
        user = TUTOR if i % 2 else WB
        contact = Contact(WHEN, "uni_email", "no_response", note=f"writer {i}")
        try:
            with factory() as s:
                barrier.wait()
                service.record_contact(s, user, case_id, contact, key=key, now=WHEN)
                s.commit()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(i, k)) for i, k in enumerate(keys)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_writers_keep_every_entry(store_url):
    case_id = _seed(store_url)
    keys = [f"writer-{i}" for i in range(6)]
    assert _writers(store_url, case_id, keys) == []
    with session_scope(store_url) as s:
        notes = set(
            s.scalars(
                select(CaseEntry.note).where(
                    CaseEntry.kind == "contact", CaseEntry.case_id == case_id
                )
            )
        )
        case = s.get(Case, case_id)
        assert notes == {f"writer {i}" for i in range(6)}
        assert case.revision == 6
        assert case.next_due == date(2025, 11, 24)


def test_racing_double_submit_records_one(store_url):
    case_id = _seed(store_url)
    assert _writers(store_url, case_id, ["same-key"] * 4) == []
    with session_scope(store_url) as s:
        count = s.scalar(
            select(func.count()).select_from(CaseEntry).where(CaseEntry.kind == "contact")
        )
        assert count == 1


def test_racing_opens_make_one_case(store_url):
    _seed(store_url, open_case=False)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []
    opened: list[int] = []
    factory = session_factory(store_url)

    def open_it(i: int) -> None:
        try:
            with factory() as s:
                barrier.wait()
                opened.append(service.open_case(s, TUTOR, "S001", note=f"opener {i}", now=WHEN).id)
                s.commit()
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=open_it, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(store_url) as s:
        cases = list(s.scalars(select(Case.id).where(Case.student_id == "S001")))
        opens = s.scalar(
            select(func.count()).select_from(CaseEntry).where(CaseEntry.kind == "open")
        )
    assert len(cases) == 1 and set(opened) == set(cases)
    assert opens == 1
