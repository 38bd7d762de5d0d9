"""What a newcomer meets: demo logins printed with their roles, how to get them again, short hashes."""

from __future__ import annotations

from sqlalchemy import select

from lib.auth import verify_password
from lib.store.models import StaffUser
from lib.usecases import load_sample_folder, reset_demo_logins
from lib.views.admin import HASH_SHOWN, loads_frame


def test_demo_logins_come_with_roles_and_can_be_reset(session, demo_dir):
    first = load_sample_folder(session, demo_dir)
    assert "role" in first and "senior tutor" in first and "wellbeing" in first
    again = load_sample_folder(session, demo_dir)
    assert "python -m lib users reset-demo" in again
    text = reset_demo_logins(session, demo_dir)
    rows = [line.split() for line in text.splitlines()[2:]]
    roles = {row[1] for row in rows}
    assert {"tutor", "senior", "wellbeing", "visa", "admin"} <= roles
    for row in rows:
        user = session.scalar(select(StaffUser).where(StaffUser.username == row[0]))
        assert verify_password(row[-1], user.password_hash)  # the printed password works


def test_load_history_shows_short_hashes_last(session, demo_dir):
    load_sample_folder(session, demo_dir)
    frame = loads_frame(session)
    assert list(frame.columns)[-1] == "content_hash"
    assert frame["content_hash"].str.len().eq(HASH_SHOWN).all()
