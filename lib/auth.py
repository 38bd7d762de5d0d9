"""Staff users, password hashes, demo users, the login-cookie key, session lifetime and unlocking."""

from __future__ import annotations

import math
import os
import secrets
import tomllib
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

import bcrypt
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from lib import sessions
from lib.access import ROLES
from lib.store.db import ROOT
from lib.store.models import LoginSession, StaffUser, Student

SECRETS_PATH = ROOT / ".streamlit" / "secrets.toml"
COOKIE_ENV = "DASHBOARD_COOKIE_KEY"
SESSION_HOURS_ENV = "DASHBOARD_SESSION_HOURS"
DEFAULT_SESSION_HOURS = 9.0  # one working day
MAX_SESSION_HOURS = 24.0 * 7
# The cookie is an HS256 token signed with the key: whoever can guess the key can forge any user.
# zxcvbn estimates how many guesses the key takes (it finds sequences, keyboard rows, words, dates
# and repeats, and counts 10 guesses per unexplained character); a random key of 48 URL-safe
# characters or more passes, a key a person makes up does not.
MIN_KEY_BITS = 160
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_BYTES = 72
COOKIE_NAME = "engagement_dashboard_auth"


class CookieKeyError(RuntimeError):
    """The login-cookie key is missing or too weak; the message says how to set one."""


# --- passwords ------------------------------------------------------------------------------------


def check_password_rules(password: str) -> None:
    """Raise ValueError when a password is too short or too long for bcrypt."""
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password is longer than {MAX_PASSWORD_BYTES} bytes (bcrypt limit)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


BCRYPT_ROUNDS_ENV = "DASHBOARD_TEST_BCRYPT_ROUNDS"  # set by the tests only: cheap hashes


def _bcrypt_rounds() -> int:
    """bcrypt's cost: 12, unless the test suite asks for cheaper hashes (4 to 12)."""
    value = os.environ.get(BCRYPT_ROUNDS_ENV, "").strip()
    return min(max(int(value), 4), 12) if value.isdigit() else 12


def hash_password(password: str) -> str:
    """A bcrypt hash of a password that passes the rules."""
    check_password_rules(password)
    salt = bcrypt.gensalt(_bcrypt_rounds())
    return bcrypt.hashpw(password.encode("utf-8"), salt).decode("ascii")


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether the password matches the hash (False for over-long passwords or no hash)."""
    data = password.encode("utf-8")
    if not password_hash or len(data) > MAX_PASSWORD_BYTES:
        return False
    return bcrypt.checkpw(data, password_hash.encode("ascii"))


def new_password() -> str:
    """A fresh random password that passes the rules."""
    return secrets.token_urlsafe(15)


# --- users ----------------------------------------------------------------------------------------


def _normalise_years(years: str | list[int] | tuple[int, ...] | None) -> str | None:
    if years is None or years == "":
        return None
    items = years.split(",") if isinstance(years, str) else list(years)
    values = sorted({int(str(y).strip()) for y in items if str(y).strip()})
    if any(v < 1 or v > 10 for v in values):
        raise ValueError(f"years of study must be between 1 and 10: {years!r}")
    return ",".join(str(v) for v in values) or None


def add_user(
    session: Session,
    username: str,
    *,
    role: str,
    school: str | None = None,
    years: str | list[int] | None = None,
    display_name: str | None = None,
    email: str | None = None,
    password: str | None = None,
    digest: bool | None = None,
) -> StaffUser:
    """Create or update a staff user; a None password keeps the existing hash (or none: SSO only);
    `digest` opts in to (True) or out of (False) the weekly digest e-mail, None keeps it."""
    username = username.strip().lower()
    if not username:
        raise ValueError("username is empty")
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if role == "senior_tutor" and not school:
        raise ValueError("a senior tutor needs a school (--school)")
    password_hash = hash_password(password) if password is not None else None
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        user = StaffUser(username=username, created_at=datetime.now(), failed_logins=0)
        session.add(user)
    user.role = role
    user.school = school if role == "senior_tutor" else None
    user.years = _normalise_years(years) if role == "senior_tutor" else None
    user.display_name = display_name or user.display_name or username
    new_email = email or user.email
    user.email = new_email.strip().lower() if new_email else None
    user.active = True
    if digest is not None:
        if digest and not user.email:
            raise ValueError("the weekly digest needs an e-mail address (--email)")
        user.digest = digest
    if password_hash is not None:
        user.password_hash = password_hash
        user.failed_logins = 0
        user.locked_until = None
        sessions.revoke_all(session, username)
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    """All staff users by username."""
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def get_user(session: Session, username: str | None) -> StaffUser | None:
    """The active staff user with this username, if any."""
    if not username:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.lower()))
    return user if user is not None and user.active else None


def signed_in_user(
    session: Session, token: str | None, key: str, now: datetime | None = None
) -> StaffUser | None:
    """The active staff user of the live login session a token names (`sessions.check`, then
    `get_user`, in one query: it runs on every page run of every signed-in browser)."""
    claims = sessions.named(token, key)
    if claims is None:
        return None
    token_hash, username = claims
    live = sessions.live(token_hash, username, now or datetime.now())
    return session.scalar(
        select(StaffUser).where(
            StaffUser.username == username.lower(),
            StaffUser.active.is_(True),
            select(LoginSession.token_hash).where(live).exists(),
        )
    )


def active_staff(session: Session, username: str | None) -> StaffUser:
    """The active staff user with this username; LookupError naming the problem otherwise."""
    user = get_user(session, username)
    if user is None:
        raise LookupError(
            f"{username!r} is not an active staff user (see `python -m lib users list`)"
        )
    return user


def user_by_email(session: Session, email: str | None) -> StaffUser | None:
    """The active staff user with this e-mail (single sign-on mapping), if any."""
    if not email:
        return None
    user = session.scalar(
        select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
    )
    return user if user is not None and user.active else None


def set_active(session: Session, username: str, active: bool) -> None:
    """Enable or disable a staff user's login."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise LookupError(f"no staff user {username!r}")
    user.active = active
    if not active:
        sessions.revoke_all(session, user.username)
    session.flush()


def create_demo_users(session: Session, staff_csv: Path | None = None) -> dict[str, str]:
    """One demo user per role for the loaded sample data; returns username -> fresh password."""
    tutor = session.execute(
        select(Student.tutor_username, func.count())
        .where(Student.tutor_username.is_not(None), Student.tutor_username != "")
        .group_by(Student.tutor_username)
        .order_by(func.count().desc(), Student.tutor_username)
        .limit(1)
    ).first()
    school = session.execute(
        select(Student.school, func.count())
        .group_by(Student.school)
        .order_by(func.count().desc(), Student.school)
        .limit(1)
    ).first()
    names = _staff_names(staff_csv)
    plan: list[tuple[str, dict]] = []
    if tutor is not None:
        plan.append((tutor[0], {"role": "tutor"}))
    if school is not None:
        plan.append(("demo_senior_tutor", {"role": "senior_tutor", "school": school[0]}))
    plan += [
        ("demo_wellbeing", {"role": "wellbeing"}),
        ("demo_visa", {"role": "visa"}),
        ("demo_admin", {"role": "admin"}),
    ]
    passwords: dict[str, str] = {}
    for username, fields in plan:
        password = new_password()
        name, email = names.get(username.lower(), (None, None))
        add_user(
            session,
            username,
            display_name=name or f"Demo {fields['role'].replace('_', ' ')}",
            email=email,
            password=password,
            **fields,
        )
        passwords[username.lower()] = password
    return passwords


def _staff_names(staff_csv: Path | None) -> dict[str, tuple[str | None, str | None]]:
    """username -> (display name, email) from an optional staff CSV of the demo data."""
    if staff_csv is None or not Path(staff_csv).exists():
        return {}
    import csv

    out: dict[str, tuple[str | None, str | None]] = {}
    with open(staff_csv, newline="", encoding="utf-8-sig") as handle:
        for row in csv.DictReader(handle):
            username = (row.get("username") or row.get("staff_username") or "").strip().lower()
            if not username:
                continue
            name = row.get("display_name") or row.get("name")
            if not name and (row.get("given_name") or row.get("family_name")):
                name = f"{row.get('given_name', '')} {row.get('family_name', '')}".strip()
            out[username] = (name or None, (row.get("email") or "").strip() or None)
    return out


# --- lockout --------------------------------------------------------------------------------------


def unlock(session: Session, username: str) -> StaffUser:
    """Clear a staff user's failed sign-ins and any wait before the next one (an admin's command)."""
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip().lower()))
    if user is None:
        raise LookupError(f"no staff user {username!r}")
    user.failed_logins = 0
    user.locked_until = None
    session.flush()
    return user


# --- cookie key -----------------------------------------------------------------------------------


@lru_cache(maxsize=16)
def key_strength_bits(key: str) -> float:
    """log2 of the guesses zxcvbn estimates an attacker needs for this key (first 128 characters)."""
    return math.log2(max(float(zxcvbn(key[:128], max_length=128)["guesses"]), 1.0))


def cookie_key_problem(key: str | None) -> str | None:
    """Why a cookie key is unacceptable, or None when it is fine."""
    if not key:
        return "no login-cookie key is set"
    bits = key_strength_bits(key)
    if bits < MIN_KEY_BITS:
        return (
            f"the login-cookie key is too easy to guess (about {bits:.0f} bits; "
            f"at least {MIN_KEY_BITS} are needed)"
        )
    return None


def how_to_set_cookie_key() -> str:
    """Instructions for setting a good cookie key (SPEC §8)."""
    try:
        where = SECRETS_PATH.relative_to(ROOT)
    except ValueError:
        where = SECRETS_PATH
    return (
        f"Set the environment variable {COOKIE_ENV} to a long random secret, or put\n"
        f'[dashboard]\ncookie_key = "..."\ninto {where} '
        "(at least 48 random characters). For example run\n"
        'python -c "from lib.auth import ensure_secrets_file; ensure_secrets_file()"\n'
        "which writes a random key into the secrets file when none is there."
    )


def _secrets_section(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    section = data.get("dashboard", {})
    return section if isinstance(section, dict) else {}


def _key_from_secrets(path: Path) -> str | None:
    value = _secrets_section(path).get("cookie_key")
    return str(value) if value else None


def cookie_key(secrets_path: Path | None = None) -> str:
    """The login-cookie key from the environment or the secrets file; CookieKeyError when unusable."""
    key = os.environ.get(COOKIE_ENV)
    if key is None:
        key = _key_from_secrets(Path(secrets_path) if secrets_path else SECRETS_PATH)
    problem = cookie_key_problem(key)
    if problem:
        raise CookieKeyError(f"{problem}.\n\n{how_to_set_cookie_key()}")
    return key  # type: ignore[return-value]


def session_lifetime(secrets_path: Path | None = None) -> timedelta:
    """How long a login lasts: DASHBOARD_SESSION_HOURS or [dashboard] session_hours, default 9 h."""
    value: object = os.environ.get(SESSION_HOURS_ENV)
    if value is None:
        path = Path(secrets_path) if secrets_path else SECRETS_PATH
        value = _secrets_section(path).get("session_hours", DEFAULT_SESSION_HOURS)
    try:
        hours = float(str(value))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"session hours must be a number, not {value!r}") from exc
    if not 0.1 <= hours <= MAX_SESSION_HOURS:
        raise ValueError(f"session hours must be between 0.1 and {MAX_SESSION_HOURS:g}: {hours:g}")
    return timedelta(hours=hours)


def ensure_secrets_file(path: Path | None = None) -> bool:
    """Write a random cookie key into the secrets file when it has none; True when it wrote one."""
    path = Path(path) if path else SECRETS_PATH
    if cookie_key_problem(_key_from_secrets(path)) is None:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    key = secrets.token_urlsafe(48)
    if "[dashboard]" in text:
        lines = [ln for ln in text.splitlines() if not ln.strip().startswith("cookie_key")]
        at = next(i for i, ln in enumerate(lines) if ln.strip() == "[dashboard]")
        lines.insert(at + 1, f'cookie_key = "{key}"')
        text = "\n".join(lines) + "\n"
    else:
        text = (
            text.rstrip() + "\n\n" if text.strip() else ""
        ) + f'[dashboard]\ncookie_key = "{key}"\n'
    path.write_text(text, encoding="utf-8")
    try:
        path.chmod(0o600)
    except OSError:
        pass
    return True
