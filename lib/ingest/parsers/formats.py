"""Shared helpers for system exports: header aliases, localised date-times, durations, module codes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext
from lib.ingest.errors import IngestError
from lib.ingest.readers import first_line, normalise_newlines, read_text

MODULE_CODE = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2,6}[0-9]{3,5}[A-Z]?)(?![A-Za-z0-9])")

MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    [
        "january jan januar jänner janv",
        "february feb februar févr",
        "march mar märz mär mrz mars",
        "april apr avril",
        "may mai",
        "june jun juni juin",
        "july jul juli juil",
        "august aug août",
        "september sep sept",
        "october oct oktober okt",
        "november nov",
        "december dec dezember dez déc",
    ],
    start=1,
):
    for _name in _names.split():
        MONTHS[_name] = _number

_TIME = r"(?:,?\s+(?:um\s+|at\s+)?(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?\s*([ap]\.?\s?m\.?)?)?"
_NUMERIC = re.compile(r"^(\d{1,2})([/.\-])(\d{1,2})\2(\d{4}|\d{2})\.?" + _TIME + "$", re.I)
_TEXT_DAY_FIRST = re.compile(
    r"^(?:[^\d,]+,\s*)?(\d{1,2})\.?\s+([^\W\d_]+)\.?,?(?:\s+(\d{4}))?" + _TIME + "$", re.I
)
_TEXT_MONTH_FIRST = re.compile(
    r"^(?:[^\d,]+,\s*)?([^\W\d_]+)\.?\s+(\d{1,2}),?(?:\s+(\d{4}))?" + _TIME + "$", re.I
)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")


def aliases(spec: dict[str, list[str]]) -> dict[str, str]:
    """Header alias table for read_csv_frame: every spelling (spaces or underscores) -> our name."""
    table: dict[str, str] = {}
    for name, others in spec.items():
        for spelling in [name, *others]:
            key = " ".join(spelling.lower().replace("_", " ").split())
            table[key] = name
            table[key.replace(" ", "_")] = name
    return table


def header_key(text: str) -> str:
    """A header cell as a comparable key: lower case, single spaces, no BOM or quotes."""
    return " ".join(text.replace("\ufeff", "").strip().strip('"').lower().replace("_", " ").split())


def unrecognised(
    file_name: str, what: str, tried: list[str], text: str, encoding: str
) -> IngestError:
    """The error for a file whose format is not one we know: what was tried, what the file looked like."""
    return IngestError(
        file_name,
        f"is not a recognised {what} file; formats tried: {'; '.join(tried)}. "
        f"First line: {first_line(text)!r}; encoding guess: {encoding}",
    )


def read_export(path: Path, ctx: ParseContext) -> tuple[str, str]:
    """Decoded text of an export (UTF-8/UTF-16, BOM dropped, any line endings -> LF) and its encoding."""
    text, encoding = read_text(path, ctx.file_name)
    text = normalise_newlines(text)
    return (text[1:] if text.startswith("\ufeff") else text), encoding


def module_code_in(text: str | None) -> str | None:
    """The first module-code-looking token (e.g. COMP1001) of a text, or None."""
    if not text:
        return None
    match = MODULE_CODE.search(str(text))
    return match.group(1) if match else None


def academic_year_month(month: pd.Series, year: int) -> pd.Series:
    """Calendar year of a yearless date in academic year `year`: Sept-Dec -> year, Jan-Aug -> year+1."""
    return pd.Series(np.where(month >= 9, year, year + 1), index=month.index)


def _numbers(frame: pd.DataFrame, column: int) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce")


def _assemble(
    year: pd.Series,
    month: pd.Series,
    day: pd.Series,
    parts: pd.DataFrame,
    first_time_group: int,
) -> pd.Series:
    hour = _numbers(parts, first_time_group).fillna(0)
    minute = _numbers(parts, first_time_group + 1).fillna(0)
    second = _numbers(parts, first_time_group + 2).fillna(0)
    meridiem = (
        parts[first_time_group + 3]
        .fillna("")
        .astype(str)
        .str.lower()
        .str.replace(r"\W", "", regex=True)
    )
    pm = meridiem.str.startswith("p")
    am = meridiem.str.startswith("a")
    bad_clock = (meridiem != "") & ((hour > 12) | (hour < 1))
    hour = hour.where(~(pm | am), (hour % 12) + np.where(pm, 12, 0))
    frame = pd.DataFrame(
        {
            "year": year,
            "month": month,
            "day": day,
            "hour": hour,
            "minute": minute,
            "second": second,
        }
    )
    ok = frame.notna().all(axis=1) & ~bad_clock & (hour < 24) & (minute < 60) & (second < 61)
    out = pd.Series(pd.NaT, index=year.index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(frame[ok].astype(int), errors="coerce")
    return out


def parse_datetimes(
    raw: pd.Series,
    *,
    year: int | None = None,
    file_name: str = "",
    column: str = "",
) -> pd.Series:
    """Date-times as systems write them, vectorised; NaT where unreadable (blank stays NaT).

    Accepted: ISO (with or without zone, converted to UK time), numeric `11/05/24, 09:44`,
    `10/14/24, 10:02:31 AM`, `14.10.2024, 10:02:31`, textual `11 May 2024, 9:44 AM`,
    `Monday, 14 October 2024, 10:05 AM`, `May 11, 2024`, and yearless `11 May, 09:44` (the year is
    taken from the academic year `year`: Sept-Dec in `year`, Jan-Aug in the next; without `year` an
    IngestError asks for --year). Numeric dates are day-first unless the file shows otherwise: a
    first field over 12 means day-first, a second field over 12 means month-first, and with no
    such evidence a 12-hour clock (AM/PM, US style) means month-first.
    """
    text = raw.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    todo = text != ""
    iso = todo & text.str.match(_ISO.pattern)
    if iso.any():
        parsed = pd.to_datetime(text[iso], format="ISO8601", errors="coerce", utc=True)
        has_zone = text[iso].str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
        local = parsed.dt.tz_convert("Europe/London").dt.tz_localize(None)
        naive = parsed.dt.tz_localize(None)
        out[iso] = local.where(has_zone, naive).astype("datetime64[ns]")
        todo &= ~iso
    if todo.any():
        parts = text[todo].str.extract(_NUMERIC.pattern, flags=re.I)
        hit = parts[0].notna()
        if hit.any():
            p = parts[hit]
            first, second = _numbers(p, 0), _numbers(p, 2)
            slash = p[1] == "/"
            # votes: a first field over 12 says day-first; a second over 12, or a 12-hour clock
            # (US style), month-first. Mixed votes: the majority decides and the rows that
            # disagree are blamed one by one (one odd row never spoils the whole file).
            day_votes = int((first[slash] > 12).sum())
            twelve_hour = p.loc[slash, 7].notna() & (first[slash] <= 12)
            month_votes = int(((second[slash] > 12) | twelve_hour).sum())
            month_first = month_votes > day_votes if day_votes else month_votes > 0
            month_first_rows = slash & month_first
            day = first.where(~month_first_rows, second)
            month = second.where(~month_first_rows, first)
            yr = _numbers(p, 3)
            yr = yr.where(yr >= 100, yr + 2000)
            out[p.index] = _assemble(yr, month, day, p, 4)
            todo[p.index] = False
    for pattern, day_group, month_group in (
        (_TEXT_DAY_FIRST, 0, 1),
        (_TEXT_MONTH_FIRST, 1, 0),
    ):
        if not todo.any():
            break
        parts = text[todo].str.extract(pattern.pattern, flags=re.I)
        month = parts[month_group].str.lower().str.rstrip(".").map(MONTHS)
        hit = parts[0].notna() & month.notna()
        if not hit.any():
            continue
        p, month = parts[hit], month[hit].astype(float)
        yr = _numbers(p, 2)
        if yr.isna().any():
            if year is None:
                sample = text[p.index[yr.isna()][0]]
                raise IngestError(
                    file_name,
                    f"dates in column '{column}' have no year (e.g. {sample!r}): give the academic "
                    "year with --year YYYY (its first calendar year, e.g. 2024 for 2024/25)",
                )
            yr = yr.fillna(academic_year_month(month, year))
        out[p.index] = _assemble(yr, month, _numbers(p, day_group), p, 3)
        todo[p.index] = False
    return out


_UNITS = {
    "h": r"(?:h|hr|hrs|hour|hours|std|stunde|stunden)",
    "m": r"(?:m|min|mins|minute|minutes|minuten)",
    "s": r"(?:s|sec|secs|second|seconds|sek|sekunde|sekunden)",
}
_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{2})(?:\.\d+)?$")


def parse_minutes(raw: pd.Series, *, bare_unit: str = "s") -> pd.Series:
    """Durations in minutes: `1h 27m 51s`, `45m 3s`, `10s`, `1 Std. 2 Min.`, `01:27:51`, `27:51`, or a
    bare number in `bare_unit` (s or m). NaN where blank or unreadable."""
    text = raw.fillna("").astype(str).str.strip().str.lower()
    out = pd.Series(np.nan, index=text.index, dtype=float)
    number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
    bare = number.notna()
    out[bare] = number[bare] / (60.0 if bare_unit == "s" else 1.0)
    clock = text.str.extract(_CLOCK.pattern)
    is_clock = clock[1].notna() & ~bare
    if is_clock.any():
        c = clock[is_clock].apply(pd.to_numeric, errors="coerce").fillna(0)
        out[is_clock] = c[0] * 60 + c[1] + c[2] / 60
    rest = (text != "") & ~bare & ~is_clock
    if rest.any():
        t = text[rest]
        total = pd.Series(0.0, index=t.index)
        left = t
        found = pd.Series(False, index=t.index)
        for unit, factor in (("h", 60.0), ("m", 1.0), ("s", 1 / 60)):
            pattern = r"(\d+(?:[.,]\d+)?)\s*" + _UNITS[unit] + r"\b\.?"
            value = pd.to_numeric(t.str.extract(pattern)[0].str.replace(",", "."), errors="coerce")
            found |= value.notna()
            total += value.fillna(0) * factor
            left = left.str.replace(pattern, " ", regex=True)
        clean = found & (left.str.replace(r"[\s,.]", "", regex=True) == "")
        out[t.index[clean]] = total[clean]
    return out
