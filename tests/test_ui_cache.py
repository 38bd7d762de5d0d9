"""The server's shared caches: users with one scope share a cached read, other scopes never see it."""

from __future__ import annotations

import streamlit as st

from lib.access import User
from lib.ui import cache
from lib.views import home
from tests import app_fixtures

seeded = app_fixtures.seeded

WELLBEING = User("wb", "wellbeing", display_name="One")
OTHER_WELLBEING = User("wb2", "wellbeing", display_name="Two", email="two@uni.example")
TUTOR_A = User("tut_a", "tutor")
TUTOR_B = User("tut_b", "tutor")
SCIENCE = User("senior_sci", "senior_tutor", school="Science", years=(1, 2))
SCIENCE_ALL_YEARS = User("senior_sci2", "senior_tutor", school="Science")
ARTS = User("senior_arts", "senior_tutor", school="Arts")


def _ids(user: User, version: str) -> list[str]:
    frame, _ = cache.my_students(version, user, 0, 25)
    return sorted(frame["student_id"])


def test_users_of_one_scope_share_a_cached_read_and_other_scopes_get_their_own(seeded, monkeypatch):
    reads: list[User] = []
    real = home.my_students

    def counted(session, user, **kwargs):
        reads.append(user)
        return real(session, user, **kwargs)

    monkeypatch.setattr(home, "my_students", counted)
    st.cache_data.clear()
    version = cache.version()

    assert _ids(WELLBEING, version) == ["S001", "S002", "S003", "S004", "S005"]
    assert _ids(OTHER_WELLBEING, version) == ["S001", "S002", "S003", "S004", "S005"]
    assert len(reads) == 1  # the second wellbeing officer was served the first one's read

    assert _ids(TUTOR_A, version) == ["S001", "S002"]
    assert _ids(TUTOR_B, version) == ["S003", "S004"]
    assert _ids(SCIENCE, version) == ["S001", "S002"]
    assert _ids(SCIENCE_ALL_YEARS, version) == ["S001", "S002", "S003"]
    assert _ids(ARTS, version) == ["S004", "S005"]
    assert len(reads) == 6  # each of those scopes read for itself
    assert _ids(TUTOR_A, version) == ["S001", "S002"]
    assert len(reads) == 6


def test_the_scope_user_keeps_only_what_decides_the_scope():
    assert cache.scope_user(WELLBEING) == cache.scope_user(OTHER_WELLBEING)
    assert cache.scope_user(TUTOR_A) != cache.scope_user(TUTOR_B)
    assert cache.scope_user(SCIENCE) != cache.scope_user(SCIENCE_ALL_YEARS)
    assert cache.scope_user(SCIENCE).school == "Science"
    assert cache.scope_user(SCIENCE).years == (1, 2)
    assert cache.scope_user(User("v1", "visa")) == cache.scope_user(User("v2", "visa"))


def test_the_data_version_starts_with_the_results_version_the_last_compute_recorded(
    any_sample_session,
):
    from lib.compute.service import data_version as results_version
    from lib.views.common import data_version

    recorded = results_version(any_sample_session)
    assert recorded > 0  # the demo store was computed
    assert data_version(any_sample_session).split(":")[0] == str(recorded)
