"""The case actions per role and track: allow/deny table (the visa team never works the welfare track)."""

from __future__ import annotations

import pytest

from lib.access import ROLES, User, can_on_track, visible_tracks

USERS = {role: User(f"u_{role}", role) for role in ROLES}
W, V = "welfare", "visa"
# action -> track -> roles allowed
TABLE = {
    "view_case": {
        W: {"tutor", "senior_tutor", "wellbeing"},
        V: {"tutor", "senior_tutor", "wellbeing", "visa"},
    },
    "open_case": {W: {"tutor", "senior_tutor", "wellbeing"}, V: {"visa"}},
    "record_contact": {W: {"tutor", "senior_tutor", "wellbeing"}, V: {"visa"}},
    "correct_entry": {W: {"tutor", "senior_tutor", "wellbeing"}, V: {"visa"}},
    "handover": {W: {"tutor", "senior_tutor", "wellbeing"}, V: set()},
    "refer": {W: {"wellbeing"}, V: set()},
    "emergency_decision": {W: {"wellbeing"}, V: set()},
    "close_case": {W: {"tutor", "senior_tutor", "wellbeing"}, V: {"visa"}},
    "reopen_case": {W: {"tutor", "senior_tutor", "wellbeing"}, V: {"visa"}},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(TABLE))
@pytest.mark.parametrize("track", [W, V])
def test_case_action_table(role, action, track):
    assert can_on_track(USERS[role], action, track) == (role in TABLE[action][track])


def test_visible_tracks():
    assert visible_tracks(USERS["visa"]) == (V,)
    assert visible_tracks(USERS["wellbeing"]) == (W, V)
    assert visible_tracks(USERS["senior_tutor"]) == (W, V)
    assert visible_tracks(USERS["admin"]) == ()
    assert visible_tracks(None) == ()
    assert not can_on_track(USERS["wellbeing"], "refer", "unknown")
