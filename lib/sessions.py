"""Server-side login sessions: the cookie carries a signed session id, the store decides if it is live."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from lib.store.models import LoginSession

ALGORITHM = "HS256"
MAX_TOKEN_LENGTH = 2_000
KEEP_ENDED = timedelta(days=30)  # revoked or expired records kept this long, then removed


@dataclass(frozen=True)
class Started:
    """A new session's token (the cookie value) and when it expires."""

    token: str
    expires_at: datetime


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start(
    session: Session, username: str, key: str, lifetime: timedelta, now: datetime | None = None
) -> Started:
    """Record a new session for the user and return its signed token."""
    now = now or datetime.now()
    session_id = secrets.token_urlsafe(32)
    expires_at = now + lifetime
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now - KEEP_ENDED))
    session.add(
        LoginSession(
            token_hash=_hash(session_id), username=username, created_at=now, expires_at=expires_at
        )
    )
    session.flush()
    claims = {"sid": session_id, "sub": username, "exp": int(expires_at.timestamp())}
    return Started(jwt.encode(claims, key, algorithm=ALGORITHM), expires_at)


def _record(session: Session, token: str | None, key: str) -> LoginSession | None:
    """The session record a token names, when its signature, claims and record agree."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        claims = jwt.decode(  # expiry is checked against the caller's clock below
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["sid", "sub", "exp"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    record = session.scalar(
        select(LoginSession).where(LoginSession.token_hash == _hash(str(claims["sid"])))
    )
    if record is None or record.username != claims["sub"]:
        return None
    return record


def check(session: Session, token: str | None, key: str, now: datetime | None = None) -> str | None:
    """The username of a live session (signed, recorded, not revoked, not expired), else None."""
    record = _record(session, token, key)
    now = now or datetime.now()
    if record is None or record.revoked_at is not None or record.expires_at <= now:
        return None
    return record.username  # the token's own exp equals expires_at (set together in start)


def revoke(session: Session, token: str | None, key: str, now: datetime | None = None) -> bool:
    """End the session a token names (logout); True when a live session was ended."""
    record = _record(session, token, key)
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now or datetime.now()
    session.flush()
    return True


def revoke_all(session: Session, username: str, now: datetime | None = None) -> int:
    """End every live session of a user (password changed, account disabled); how many."""
    result = session.execute(
        update(LoginSession)
        .where(LoginSession.username == username, LoginSession.revoked_at.is_(None))
        .values(revoked_at=now or datetime.now())
    )
    return result.rowcount or 0
