"""Password sign-in behind an exponential backoff per account and per client (no hard lockout)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import bcrypt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lib.auth import verify_password
from lib.store.models import LoginThrottle, StaffUser

MAX_USERNAME = 100
MAX_CLIENT = 180
FORGET_AFTER = timedelta(days=1)  # failures this old no longer count


@dataclass(frozen=True)
class Backoff:
    """Free failures, then a wait doubling from base_seconds with each failure, up to cap_seconds."""

    free: int
    base_seconds: float
    cap_seconds: float

    def delay(self, failures: int) -> timedelta:
        """The wait after this many failures in a row."""
        if failures < self.free:
            return timedelta(0)
        exponent = min(failures - self.free, 40)
        return timedelta(seconds=min(self.cap_seconds, self.base_seconds * 2**exponent))


# An account's wait stays short (a stranger can slow the admin by a minute at most); a client's
# grows to an hour, so one machine guessing passwords is slowed to a trickle.
ACCOUNT_BACKOFF = Backoff(free=5, base_seconds=1, cap_seconds=60)
CLIENT_BACKOFF = Backoff(free=10, base_seconds=1, cap_seconds=3600)


@dataclass(frozen=True)
class Attempt:
    """The outcome of one sign-in: the username when it succeeded, else how long to wait (0: none)."""

    username: str | None = None
    wait_seconds: int = 0

    @property
    def ok(self) -> bool:
        return self.username is not None

    def message(self) -> str:
        """What the login form says about a refused attempt."""
        if self.wait_seconds:
            return (
                "Too many failed sign-ins from this computer or for this account: "
                f"try again in {self.wait_seconds} second(s)."
            )
        return "Username or password is incorrect."


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return bcrypt.hashpw(b"no such user", bcrypt.gensalt()).decode("ascii")


def client_key(client: str) -> str:
    """The throttle key of a client address."""
    return f"client:{client[:MAX_CLIENT]}"


def sign_in(
    session: Session,
    username: str | None,
    password: str | None,
    client: str | None,
    now: datetime | None = None,
) -> Attempt:
    """Check a password unless the account or the client must still wait; count the failures."""
    now = now or datetime.now()
    name = (username or "").strip().lower()[:MAX_USERNAME]
    user = session.scalar(select(StaffUser).where(StaffUser.username == name)) if name else None
    throttle = session.get(LoginThrottle, client_key(client)) if client else None
    if throttle is not None and throttle.last_failure_at < now - FORGET_AFTER:
        throttle.failures, throttle.blocked_until = 0, None
    if (
        user is not None
        and user.locked_until is not None
        and user.locked_until < now - FORGET_AFTER
    ):
        user.failed_logins, user.locked_until = 0, None
    until = max(
        (t for t in (user and user.locked_until, throttle and throttle.blocked_until) if t),
        default=None,
    )
    if until is not None and until > now:
        return Attempt(wait_seconds=max(1, math.ceil((until - now).total_seconds())))
    stored_hash = user.password_hash if user is not None and user.active else None
    if stored_hash is None:
        verify_password(password or "", _dummy_hash())  # the same time as for a real account
    elif verify_password(password or "", stored_hash):
        user.failed_logins, user.locked_until = 0, None
        session.flush()
        return Attempt(username=user.username)
    _count_failure(session, user, throttle, client, now)
    return Attempt()


def _count_failure(
    session: Session,
    user: StaffUser | None,
    throttle: LoginThrottle | None,
    client: str | None,
    now: datetime,
) -> None:
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        wait = ACCOUNT_BACKOFF.delay(user.failed_logins)
        user.locked_until = now + wait if wait else None
    if not client:  # an unknown client is not throttled: it may be everybody behind one proxy
        session.flush()
        return
    if throttle is None:
        session.execute(
            delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER)
        )
        throttle = LoginThrottle(key=client_key(client), failures=0, last_failure_at=now)
        try:
            with session.begin_nested():
                session.add(throttle)
        except IntegrityError:  # another sign-in from the same client created it meanwhile
            throttle = session.get(LoginThrottle, client_key(client), populate_existing=True)
    throttle.failures = (throttle.failures or 0) + 1
    throttle.last_failure_at = now
    wait = CLIENT_BACKOFF.delay(throttle.failures)
    throttle.blocked_until = now + wait if wait else None
    session.flush()


def clear_client(session: Session, client: str) -> bool:
    """Forget a client's failed sign-ins (an admin's command); True when there were any."""
    result = session.execute(delete(LoginThrottle).where(LoginThrottle.key == client_key(client)))
    return bool(result.rowcount)
