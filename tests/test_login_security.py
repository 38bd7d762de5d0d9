"""Sign-in security: weak cookie keys refused, server-side sessions, backoff per account and client."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import jwt
import pytest
from sqlalchemy import func, select

from lib import auth, login_guard, sessions
from lib.cli import main as cli
from lib.store.models import LoginSession, LoginThrottle, StaffUser
from tests.app_fixtures import COOKIE_KEY, PASSWORD, STAFF

T0 = datetime(2026, 3, 2, 9, 0)

# --- cookie keys ------------------------------------------------------------------------------------

WEAK_KEYS = {
    "committed in tests/app_fixtures.py": "k3Y-9fQ2_xZ7mN4pL8wR1tV6bH0cJ5dG-aE3sU",
    "0123...XYZ": "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123...xyzABC...XYZ": "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "keyboard row": "qwertyuiopasdfghjklzxcvbnm1234567890",
    "keyboard columns": "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "passphrase": "correct-horse-battery-staple-purple-monkey-dishwasher",
    "passphrase with spaces": "correct horse battery staple and a purple monkey",
    "super secret": "ThisIsMySuperSecretCookieKeyThatNobodyWillEverGuess",
    "super secret 2": "ThisIsMySuperSecretCookieKey1234567890",
    "repeated": "ab" * 40,
    "placeholder": "changeme" * 8,
}


@pytest.mark.parametrize("name", list(WEAK_KEYS))
def test_weak_cookie_keys_are_refused(name):
    problem = auth.cookie_key_problem(WEAK_KEYS[name])
    assert problem is not None and "too easy to guess" in problem


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(48), lambda: secrets.token_hex(32)])
def test_random_keys_are_accepted(make):
    for _ in range(20):
        assert auth.cookie_key_problem(make()) is None


def test_generated_secrets_file_key_is_accepted(tmp_path):
    path = tmp_path / "secrets.toml"
    assert auth.ensure_secrets_file(path) is True
    assert auth.cookie_key(path) and auth.ensure_secrets_file(path) is False


def test_the_test_fixture_key_is_strong():
    assert auth.cookie_key_problem(COOKIE_KEY) is None


# --- session lifetime -------------------------------------------------------------------------------


def test_session_lifetime_defaults_to_a_working_day(monkeypatch, tmp_path):
    monkeypatch.delenv(auth.SESSION_HOURS_ENV, raising=False)
    assert auth.session_lifetime(tmp_path / "none.toml") == timedelta(hours=9)
    secrets_file = tmp_path / "secrets.toml"
    secrets_file.write_text("[dashboard]\nsession_hours = 4\n")
    assert auth.session_lifetime(secrets_file) == timedelta(hours=4)
    monkeypatch.setenv(auth.SESSION_HOURS_ENV, "1.5")
    assert auth.session_lifetime(secrets_file) == timedelta(hours=1.5)


@pytest.mark.parametrize("value", ["0", "-3", "1000", "nine"])
def test_session_lifetime_out_of_range_is_refused(monkeypatch, value):
    monkeypatch.setenv(auth.SESSION_HOURS_ENV, value)
    with pytest.raises(ValueError, match="session hours"):
        auth.session_lifetime()


# --- server-side sessions ---------------------------------------------------------------------------


@pytest.fixture
def staff(any_session):
    for role, (username, extra) in STAFF.items():
        auth.add_user(any_session, username, role=role, password=PASSWORD, **extra)
    any_session.commit()
    return any_session


def test_a_session_lives_until_it_expires(staff):
    started = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    assert started.expires_at == T0 + timedelta(hours=9)
    assert sessions.check(staff, started.token, COOKIE_KEY, now=T0 + timedelta(hours=8)) == "tut_a"
    assert sessions.check(staff, started.token, COOKIE_KEY, now=T0 + timedelta(hours=9)) is None


def test_logout_revokes_the_token_server_side(staff):
    started = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    other = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    assert sessions.revoke(staff, started.token, COOKIE_KEY, now=T0 + timedelta(minutes=5))
    staff.commit()
    assert sessions.check(staff, started.token, COOKIE_KEY, now=T0 + timedelta(minutes=6)) is None
    assert sessions.check(staff, other.token, COOKIE_KEY, now=T0 + timedelta(minutes=6)) == "tut_a"
    record = staff.scalar(select(LoginSession).where(LoginSession.revoked_at.is_not(None)))
    assert record.username == "tut_a" and record.token_hash not in started.token


def test_forged_tokens_are_refused(staff):
    started = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    claims = jwt.decode(
        started.token, COOKIE_KEY, algorithms=["HS256"], options={"verify_exp": False}
    )
    later = T0 + timedelta(minutes=1)
    as_admin = jwt.encode({**claims, "sub": "admin1"}, COOKIE_KEY, algorithm="HS256")
    other_key = jwt.encode(claims, secrets.token_urlsafe(48), algorithm="HS256")
    unsigned = jwt.encode(claims, None, algorithm="none")
    made_up = jwt.encode({**claims, "sid": "x" * 43}, COOKIE_KEY, algorithm="HS256")
    for token in (as_admin, other_key, unsigned, made_up, "", "x" * 5000, started.token + "x"):
        assert sessions.check(staff, token, COOKIE_KEY, now=later) is None


def test_a_new_password_or_a_disabled_account_ends_its_sessions(staff):
    first = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9))
    auth.add_user(staff, "tut_a", role="tutor", password="another-long-password")
    assert sessions.check(staff, first.token, COOKIE_KEY) is None
    second = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9))
    auth.set_active(staff, "tut_a", False)
    assert sessions.check(staff, second.token, COOKIE_KEY) is None


def test_the_per_run_login_check_gives_the_user_of_a_live_session_only(staff):
    """auth.signed_in_user (one query) allows exactly what sessions.check then get_user allow."""
    live = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    revoked = sessions.start(staff, "tut_a", COOKIE_KEY, timedelta(hours=9), now=T0)
    sessions.revoke(staff, revoked.token, COOKIE_KEY, now=T0)
    disabled = sessions.start(staff, "wb", COOKIE_KEY, timedelta(hours=9), now=T0)
    staff.commit()
    claims = jwt.decode(live.token, COOKIE_KEY, algorithms=["HS256"], options={"verify_exp": False})
    as_admin = jwt.encode({**claims, "sub": "admin1"}, COOKIE_KEY, algorithm="HS256")
    other_key = jwt.encode(claims, secrets.token_urlsafe(48), algorithm="HS256")
    later = T0 + timedelta(hours=1)
    cases = [
        (live.token, later, "tut_a"),
        (live.token, T0 + timedelta(hours=9), None),  # expired
        (revoked.token, later, None),
        (as_admin, later, None),  # another user's name on this session
        (other_key, later, None),
        ("", later, None),
        ("x" * 5000, later, None),
        (disabled.token, later, "wb"),
    ]
    for token, now, expected in cases:
        user = auth.signed_in_user(staff, token, COOKIE_KEY, now=now)
        assert (user.username if user else None) == expected, (token[:20], now)
        assert sessions.check(staff, token, COOKIE_KEY, now=now) == expected
    auth.set_active(staff, "wb", False)
    staff.commit()
    assert auth.signed_in_user(staff, disabled.token, COOKIE_KEY, now=later) is None


def _identity(nonce: str, signed_in: datetime = T0) -> dict[str, object]:
    """What st.user holds after a sign-in at the provider (the ID token's claims)."""
    return {
        "is_logged_in": True,
        "iss": "https://login.example/tenant",
        "sub": "provider-subject-1",
        "iat": int(signed_in.timestamp()),
        "nonce": nonce,
        "email": "tut_a@uni.example",
    }


def test_sso_logout_refuses_the_identity_until_a_new_sign_in(staff):
    lifetime = timedelta(hours=9)
    first = _identity("nonce-1")
    assert sessions.check_sso(staff, first, "tut_a", lifetime, now=T0 + timedelta(minutes=1))
    assert sessions.check_sso(staff, first, "tut_a", lifetime, now=T0 + timedelta(minutes=2))
    assert sessions.revoke_sso(staff, first, now=T0 + timedelta(minutes=3))
    staff.commit()
    # the provider's identity cookie left in the browser (a fresh load after logout): refused
    assert not sessions.check_sso(staff, first, "tut_a", lifetime, now=T0 + timedelta(minutes=4))
    assert not sessions.revoke_sso(staff, first)
    again = _identity("nonce-2", signed_in=T0 + timedelta(minutes=5))  # a new sign-in
    assert sessions.check_sso(staff, again, "tut_a", lifetime, now=T0 + timedelta(minutes=6))
    records = staff.scalars(select(LoginSession).where(LoginSession.username == "tut_a")).all()
    assert sorted(r.revoked_at is None for r in records) == [False, True]


def test_sso_sessions_expire_and_are_not_revived(staff):
    lifetime = timedelta(hours=9)
    identity = _identity("nonce-1")
    assert sessions.check_sso(staff, identity, "tut_a", lifetime, now=T0)
    assert not sessions.check_sso(staff, identity, "tut_a", lifetime, now=T0 + lifetime)
    old = _identity("nonce-old", signed_in=T0 - lifetime)  # first seen after its lifetime
    assert not sessions.check_sso(staff, old, "tut_a", lifetime, now=T0)
    assert staff.scalar(select(func.count()).select_from(LoginSession)) == 1
    assert not sessions.check_sso(staff, identity, "admin1", lifetime, now=T0)  # another user
    for claims in ({**identity, "iat": None}, {**identity, "sub": ""}, {}):
        assert not sessions.check_sso(staff, claims, "tut_a", lifetime, now=T0)


def test_a_disabled_account_ends_its_sso_sessions(staff):
    identity = _identity("nonce-1", signed_in=datetime.now())
    assert sessions.check_sso(staff, identity, "tut_a", timedelta(hours=9))
    auth.set_active(staff, "tut_a", False)
    assert not sessions.check_sso(staff, identity, "tut_a", timedelta(hours=9))


# --- backoff ----------------------------------------------------------------------------------------


def test_backoff_schedules():
    account, client = login_guard.ACCOUNT_BACKOFF, login_guard.CLIENT_BACKOFF
    assert [account.delay(n).total_seconds() for n in (4, 5, 6, 7, 11, 50)] == [0, 1, 2, 4, 60, 60]
    assert [client.delay(n).total_seconds() for n in (9, 10, 11, 15, 22, 99)] == [
        0,
        1,
        2,
        32,
        3600,
        3600,
    ]


def _try(session, username, password, client, at):
    attempt = login_guard.sign_in(session, username, password, client, now=at)
    session.commit()
    return attempt


def test_an_account_waits_after_five_failures_but_not_for_ever(staff):
    for i in range(4):
        assert _try(staff, "admin1", "wrong-password", f"10.0.0.{i}", T0).wait_seconds == 0
    assert _try(staff, "admin1", "wrong-password", "10.0.0.9", T0).ok is False  # fifth: 1 s wait
    refused = _try(staff, "admin1", PASSWORD, "10.0.0.10", T0)  # right password, but too soon
    assert (
        not refused.ok
        and refused.wait_seconds == 1
        and "try again in 1 second" in refused.message()
    )
    assert _try(staff, "admin1", PASSWORD, "10.0.0.10", T0 + timedelta(seconds=1)).ok


def test_a_stranger_can_delay_the_admin_by_a_minute_at_most(staff):
    at = T0
    for n in range(40):  # a stranger on many machines, always trying as soon as allowed
        attempt = _try(staff, "admin1", f"guess-number-{n}", f"192.0.2.{n}", at)
        at += timedelta(seconds=attempt.wait_seconds)
        _try(staff, "admin1", f"guess-again-{n}", f"192.0.2.{n}", at)
    user = staff.scalar(select(StaffUser).where(StaffUser.username == "admin1"))
    assert user.locked_until - at <= timedelta(seconds=60)
    assert _try(staff, "admin1", PASSWORD, "10.1.1.1", user.locked_until).ok


def test_one_client_guessing_many_accounts_is_slowed_to_an_hour(staff):
    at = T0
    for n in range(30):
        attempt = _try(staff, f"user{n}", "wrong-password", "203.0.113.7", at)
        at += timedelta(seconds=attempt.wait_seconds)
        _try(staff, f"user{n}", "wrong-password", "203.0.113.7", at)
    row = staff.get(LoginThrottle, login_guard.client_key("203.0.113.7"))
    assert row.blocked_until - at == timedelta(hours=1)
    assert _try(staff, "tut_a", PASSWORD, "203.0.113.7", at).wait_seconds == 3600  # even right
    assert _try(staff, "tut_a", PASSWORD, "198.51.100.1", at).ok  # another machine is not slowed
    assert _try(staff, "tut_a", PASSWORD, "203.0.113.7", at + timedelta(days=1, seconds=1)).ok


def test_waiting_attempts_are_not_counted(staff):
    for _ in range(5):
        _try(staff, "wb", "wrong-password", "10.0.0.1", T0)
    for _ in range(20):
        assert _try(staff, "wb", "wrong-password", "10.0.0.1", T0).wait_seconds == 1
    user = staff.scalar(select(StaffUser).where(StaffUser.username == "wb"))
    assert user.failed_logins == 5


def test_unknown_and_disabled_accounts_fail_like_wrong_passwords(staff):
    assert _try(staff, "nobody", PASSWORD, "10.0.0.1", T0).message() == (
        "Username or password is incorrect."
    )
    auth.set_active(staff, "visa_team", False)
    assert not _try(staff, "visa_team", PASSWORD, "10.0.0.1", T0).ok


def test_admin_unlock_command(staff, capsys):
    for _ in range(8):
        _try(staff, "senior_sci", "wrong-password", "10.0.0.1", T0)
    assert cli(["users", "unlock", "senior_sci"]) == 0
    assert "senior_sci unlocked" in capsys.readouterr().out
    staff.expire_all()
    user = staff.scalar(select(StaffUser).where(StaffUser.username == "senior_sci"))
    assert user.failed_logins == 0 and user.locked_until is None
    assert cli(["users", "unlock", "nobody"]) == 2
    assert "no staff user 'nobody'" in capsys.readouterr().err


def test_an_unknown_client_is_not_throttled_but_its_account_is(staff):
    for _ in range(12):
        _try(staff, "nobody", "wrong-password", None, T0)
    assert staff.scalars(select(LoginThrottle)).all() == []
    for _ in range(5):
        _try(staff, "wb", "wrong-password", None, T0)
    assert _try(staff, "wb", PASSWORD, None, T0).wait_seconds == 1
