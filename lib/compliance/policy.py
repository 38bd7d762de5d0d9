"""The institution's compliance thresholds (SPEC §6), stored as a setting with the SPEC's defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lib.store.models import Setting

SETTING_KEY = "compliance_thresholds"
LIMITS = {  # field -> (lowest, highest) accepted
    "at_risk_weeks": (1, 20),
    "missed_points": (1, 200),
    "days_without_engagement": (1, 365),
    "report_working_days": (1, 60),
    "scan_grace_minutes": (0, 120),
    "lookback_days": (60, 2000),
    "review_span_days": (7, 365),
}


@dataclass(frozen=True)
class Thresholds:
    """Compliance policy: when a student is at risk, when a threshold is crossed, how long to report."""

    at_risk_weeks: int = 2  # consecutive teaching weeks without engagement
    missed_points: int = 10  # consecutive missed expected contact points
    days_without_engagement: int = 60  # counted calendar days (vacations, exemptions left out)
    report_working_days: int = 10
    scan_grace_minutes: int = 15  # a scan this long before the start still counts as inside it
    lookback_days: int = 400  # how far back points and engagement are read
    review_span_days: int = 28  # assumed-withdrawal review: no engagement for this many days

    def checked(self) -> Thresholds:
        """Self, or ValueError naming the first value outside its range."""
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}")
        return self


def load_thresholds(session: Session) -> Thresholds:
    """The stored thresholds, defaults for anything not stored or out of range."""
    stored = session.scalar(select(Setting.value).where(Setting.key == SETTING_KEY))
    base = Thresholds()
    if not isinstance(stored, dict):
        return base
    names = {f.name for f in fields(Thresholds)}
    try:
        return replace(base, **{k: v for k, v in stored.items() if k in names}).checked()
    except ValueError:
        return base


def save_thresholds(session: Session, thresholds: Thresholds, by: str) -> None:
    """Store the thresholds (range-checked first)."""
    value = asdict(thresholds.checked())
    row = session.get(Setting, SETTING_KEY)
    if row is None:
        session.add(Setting(key=SETTING_KEY, value=value, updated_at=datetime.now(), updated_by=by))
    else:
        row.value, row.updated_at, row.updated_by = value, datetime.now(), by
    session.commit()
