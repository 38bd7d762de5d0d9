"""Shared context and helpers for the system-format exports: ids, names, time formats, UK time zone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lib.demo.activity import Truth
from lib.demo.population import Population
from lib.demo.term_calendar import AcademicCalendar

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class ExportContext:
    """Everything an export writer needs, plus `notes` it fills in for planted.json."""

    rng: np.random.Generator
    pop: Population
    cal: AcademicCalendar
    tt: pd.DataFrame
    truth: Truth
    until: date
    out: Path
    max_file_bytes: int | None
    notes: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        st = self.pop.students
        self.sid = st["student_id"].to_numpy().astype(str)
        self.email = st["email"].to_numpy().astype(str)
        self.full_name = (st["given_name"] + " " + st["family_name"]).to_numpy().astype(str)
        self.codes = self.pop.modules["module_code"].to_numpy().astype(str)
        self.module_names = self.pop.modules["module_name"].to_numpy().astype(str)
        self.first = np.datetime64(self.cal.first_day, "s")
        self.until_day = self.truth.until_day
        n = len(st)
        # Moodle user ids: 1 guest, 2 admin, staff from 3, students from 1000 in a shuffled order.
        self.moodle_id = 1000 + self.rng.permutation(n).astype(np.int64)
        staff = self.pop.staff["username"].tolist()
        self.staff_moodle_id = {u: 3 + i for i, u in enumerate(staff)}
        self.staff_name = dict(zip(staff, self.pop.staff["display_name"], strict=True))
        self.staff_email = dict(zip(staff, self.pop.staff["email"], strict=True))

    def path(self, *parts: str) -> Path:
        p = self.out.joinpath(*parts)
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def start(self, sess: np.ndarray) -> np.ndarray:
        return self.tt["start"].to_numpy().astype("datetime64[s]")[sess]

    def end(self, sess: np.ndarray) -> np.ndarray:
        return self.tt["end"].to_numpy().astype("datetime64[s]")[sess]


def fmt(ts: np.ndarray, pattern: str, strip: tuple[str, ...] = ()) -> np.ndarray:
    """Format naive datetime64 values with strftime `pattern`; `strip` = ('day', 'hour') drops the
    leading zero of %d (after ', ' or at the start) and of %I/%H (before ':'), as Moodle does."""
    arr = pa.array(np.asarray(ts, dtype="datetime64[s]"), pa.timestamp("s"))
    out = pc.strftime(arr, format=pattern)
    if "day" in strip:
        out = pc.replace_substring_regex(out, r"(^|, )0(\d) ", r"\1\2 ")
    if "hour" in strip:
        out = pc.replace_substring_regex(out, r"(^| )0(\d):", r"\1\2:")
    return np.asarray(out.to_pylist(), dtype=object)


def hms(secs: np.ndarray) -> np.ndarray:
    """Seconds as HH:MM:SS."""
    s = np.asarray(secs, dtype=np.int64)
    return np.array(
        [
            f"{h:02d}:{m:02d}:{x:02d}"
            for h, m, x in zip(s // 3600, s // 60 % 60, s % 60, strict=True)
        ],
        dtype=object,
    )


def teams_duration(secs: np.ndarray, units: tuple[str, str, str] = ("h", "m", "s")) -> np.ndarray:
    """Teams-style durations: `1h 27m 51s`, `45m 3s`, `10s` (German: `1 Std. 27 Min. 51 Sek.`)."""
    return np.array([duration_text(s, units) for s in np.asarray(secs).tolist()], dtype=object)


def duration_text(s: int, units: tuple[str, str, str] = ("h", "m", "s")) -> str:
    """One Teams-style duration from whole seconds."""
    h_u, m_u, s_u = units
    h, m, x = s // 3600, s // 60 % 60, s % 60
    sep = " " if len(h_u) > 1 else ""
    parts = ([f"{h}{sep}{h_u}"] if h else []) + ([f"{m}{sep}{m_u}"] if h or m else [])
    return " ".join(parts + [f"{x}{sep}{s_u}"])


def uk_offset_seconds(days: np.ndarray, first_day: date) -> np.ndarray:
    """UTC offset (3600 in British Summer Time, else 0) of each local day index from `first_day`,
    valid for local times after 02:00 (summer time changes at 01:00 UTC on the last Sundays of March
    and October)."""
    d = np.datetime64(first_day, "D") + np.asarray(days).astype("timedelta64[D]")
    years = np.unique(d.astype("datetime64[Y]").astype(int) + 1970)
    off = np.zeros(len(d), dtype=np.int64)
    for y in years.tolist():
        mar = _last_sunday(y, 3)
        octo = _last_sunday(y, 10)
        off[(d >= mar) & (d < octo)] = 3600
    return off


def _last_sunday(year: int, month: int) -> np.datetime64:
    last = np.datetime64(f"{year}-{month + 1:02d}-01") - np.timedelta64(1, "D")
    weekday = (last.astype("datetime64[D]").astype(int) - 4) % 7  # 1970-01-01 was a Thursday
    return last - np.timedelta64((weekday - 6) % 7, "D")


def unix_time(local: np.ndarray, first_day: date) -> np.ndarray:
    """Unix seconds of naive Europe/London datetime64 values (times after 02:00 local)."""
    local = np.asarray(local, dtype="datetime64[s]")
    days = (local - np.datetime64(first_day, "s")).astype(np.int64) // 86400
    return local.astype(np.int64) - uk_offset_seconds(days, first_day)


def hash_unit(*keys: np.ndarray) -> np.ndarray:
    """Deterministic uniform [0, 1) numbers from integer keys (splitmix64): the same key always gives
    the same number, so two exports of one event agree on its time without sharing state."""
    x = np.zeros(np.broadcast(*keys).shape, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in keys:
            x = (x * np.uint64(0x9E3779B97F4A7C15) + np.asarray(k).astype(np.uint64)) & _MASK
            x ^= x >> np.uint64(30)
            x = (x * np.uint64(0xBF58476D1CE4E5B9)) & _MASK
            x ^= x >> np.uint64(27)
            x = (x * np.uint64(0x94D049BB133111EB)) & _MASK
            x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def csv_text(rows: list[list[str]], delimiter: str = ",", quote_all: bool = False) -> str:
    """Rows as delimited text with LF line endings (callers convert endings/encoding)."""
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        lineterminator="\n",
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
    )
    writer.writerows(rows)
    return buf.getvalue()


def write_bytes(path: Path, text: str, encoding: str = "utf-8", newline: str = "\n") -> Path:
    """Write `text` (LF endings) with the given encoding and line ending; 'utf-16' adds the LE BOM."""
    if newline != "\n":
        text = text.replace("\n", newline)
    if encoding == "utf-16":
        data = b"\xff\xfe" + text.encode("utf-16-le")
    else:
        data = text.encode(encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def ip_addresses(keys: np.ndarray) -> np.ndarray:
    """Stable campus (10.x) or home (81.x / 86.x) IPv4 addresses for integer keys."""
    u = hash_unit(keys, np.full(len(keys), 77))
    a = (u * 1e6).astype(np.int64)
    first = np.where(a % 3 == 0, 10, np.where(a % 3 == 1, 81, 86))
    return np.array(
        [
            f"{f}.{b % 256}.{c % 256}.{d % 254 + 1}"
            for f, b, c, d in zip(first, a, a // 7, a // 13, strict=True)
        ],
        dtype=object,
    )
