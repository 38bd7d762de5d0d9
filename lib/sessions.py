"""Server-side login sessions: the cookie carries a signed session id, the store decides if it is live.

Single sign-on sessions get the same record, named by the sign-in at the provider (its ID token's
issuer, subject, issue time and nonce): logout revokes it, and the provider's identity cookie left in
the browser is refused until the user signs in at the provider again (a new ID token)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
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
    _add(session, session_id, username, now, expires_at)
    claims = {"sid": session_id, "sub": username, "exp": int(expires_at.timestamp())}
    return Started(jwt.encode(claims, key, algorithm=ALGORITHM), expires_at)


def _add(
    session: Session, session_id: str, username: str, now: datetime, expires_at: datetime
) -> LoginSession:
    """Record a session (and drop records that ended long ago)."""
    session.execute(delete(LoginSession).where(LoginSession.expires_at < now - KEEP_ENDED))
    record = LoginSession(
        token_hash=_hash(session_id), username=username, created_at=now, expires_at=expires_at
    )
    session.add(record)
    session.flush()
    return record


def _by_id(session: Session, session_id: str) -> LoginSession | None:
    return session.scalar(select(LoginSession).where(LoginSession.token_hash == _hash(session_id)))


def named(token: str | None, key: str) -> tuple[str, str] | None:
    """(the stored hash of the session id, the username) a signed token names, None when its
    signature or claims do not hold; whether that session is live is the store's to say."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        claims = jwt.decode(  # expiry is checked against the caller's clock
            token,
            key,
            algorithms=[ALGORITHM],
            options={"require": ["sid", "sub", "exp"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        return None
    return _hash(str(claims["sid"])), str(claims["sub"])


def live(token_hash: str, username: str, now: datetime):
    """The WHERE clause of a live session record: this id and user, not revoked, not expired."""
    return (
        (LoginSession.token_hash == token_hash)
        & (LoginSession.username == username)
        & LoginSession.revoked_at.is_(None)
        & (LoginSession.expires_at > now)
    )


def _record(session: Session, token: str | None, key: str) -> LoginSession | None:
    """The session record a token names, when its signature, claims and record agree."""
    claims = named(token, key)
    if claims is None:
        return None
    record = session.scalar(select(LoginSession).where(LoginSession.token_hash == claims[0]))
    if record is None or record.username != claims[1]:
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
    return _end(session, _record(session, token, key), now)


def _end(session: Session, record: LoginSession | None, now: datetime | None) -> bool:
    if record is None or record.revoked_at is not None:
        return False
    record.revoked_at = now or datetime.now()
    session.flush()
    return True


def revoke_all(session: Session, username: str, now: datetime | None = None) -> int:
    """End every live session of a user (password changed, account disabled); how many."""
    live = list(
        session.scalars(
            select(LoginSession).where(
                LoginSession.username == username, LoginSession.revoked_at.is_(None)
            )
        )
    )
    for record in live:
        record.revoked_at = now or datetime.now()
    session.flush()
    return len(live)


# --- single sign-on -------------------------------------------------------------------------------

SSO_CLAIMS = ("iss", "sub", "iat", "nonce")  # together: one sign-in at the provider


def _sso_id(identity: Mapping[str, object]) -> str | None:
    """The id of the provider sign-in behind an identity (st.user), None without subject or iat."""
    if not identity.get("sub") or not str(identity.get("iat", "")).isdigit():
        return None
    return "sso\n" + "\n".join(str(identity.get(name) or "") for name in SSO_CLAIMS)


def check_sso(
    session: Session,
    identity: Mapping[str, object],
    username: str,
    lifetime: timedelta,
    now: datetime | None = None,
) -> bool:
    """Whether a provider sign-in is a live session of the user. Its first sight records it,
    expiring `lifetime` after the sign-in; once revoked or expired it stays refused."""
    sso_id = _sso_id(identity)
    if sso_id is None:
        return False
    now = now or datetime.now()
    record = _by_id(session, sso_id)
    if record is None:
        expires_at = datetime.fromtimestamp(int(str(identity["iat"]))) + lifetime
        if expires_at <= now:  # an old identity cookie whose record was removed: not revived
            return False
        try:
            with session.begin_nested():
                record = _add(session, sso_id, username, now, expires_at)
        except IntegrityError:  # another tab of the same browser recorded it first
            record = _by_id(session, sso_id)
    return (
        record is not None
        and record.username == username
        and record.revoked_at is None
        and record.expires_at > now
    )


def revoke_sso(
    session: Session, identity: Mapping[str, object], now: datetime | None = None
) -> bool:
    """End the session of a provider sign-in (logout); True when a live session was ended."""
    sso_id = _sso_id(identity)
    return _end(session, _by_id(session, sso_id) if sso_id is not None else None, now)
