"""Values for columns a test does not name (tables other wings may extend): one filler per type."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, Integer, LargeBinary


def filler(column, text: str = "x", day: date = date(2025, 10, 6)) -> object:
    """A plausible value of the column's type (dates on `day`, text `text`)."""
    kind = type(column.type)
    if issubclass(kind, DateTime):
        return datetime.combine(day, datetime.min.time()).replace(hour=10)
    if issubclass(kind, Date):
        return day
    if issubclass(kind, Boolean):
        return False
    if issubclass(kind, Integer | Float):
        return 1
    if issubclass(kind, JSON):
        return [text]
    if issubclass(kind, LargeBinary):
        return text.encode()
    return text
