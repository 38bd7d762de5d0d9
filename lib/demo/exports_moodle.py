"""Moodle exports: user list, logstore_standard_log table dump and course Logs report downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib.demo.canonical import write_csv
from lib.demo.export_common import (
    ExportContext,
    csv_text,
    fmt,
    hash_unit,
    ip_addresses,
    unix_time,
    write_bytes,
)
from lib.demo.exports_moodle_events import (
    LEARNING,
    course_id,
    expand_vle,
    noise_events,
    render_logstore,
)
from lib.ingest.parsers.moodle_logstore import COLUMNS as LOGSTORE_COLUMNS

LOG_HEADER = [
    "Time",
    "User full name",
    "Affected user",
    "Event context",
    "Component",
    "Event name",
    "Description",
    "Origin",
    "IP address",
]
# (file variant, time pattern, strip, column order, encoding, newline)
LOG_VARIANTS = [
    ("numeric_dates", "%d/%m/%y, %H:%M", (), LOG_HEADER, "utf-8-sig", "\r\n"),
    ("yearless_dates", "%d %B, %H:%M", ("day",), LOG_HEADER, "utf-8", "\n"),
    (
        "reordered_cr_only",
        "%A, %d %B %Y, %I:%M %p",
        ("day", "hour"),
        [LOG_HEADER[i] for i in (0, 3, 4, 5, 6, 1, 2, 8, 7)],
        "utf-8",
        "\r",
    ),
]
BYTES_PER_ROW_GUESS = 260


def write_moodle(x: ExportContext) -> list[Path]:
    """moodle_users.csv, moodle_logstore/{logstore_standard_log,courses}.csv and moodle_log/*.csv."""
    files = [_users(x)]
    ev = expand_vle(x)
    files += _logstore(x, ev)
    files += _log_downloads(x, ev)
    return files


def _users(x: ExportContext) -> Path:
    st = x.pop.students
    sf = x.pop.staff
    first = sf["display_name"].str.split(" ").str[0]
    last = sf["display_name"].str.split(" ", n=1).str[1]
    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": [1, 2],
                    "username": ["guest", "admin"],
                    "idnumber": ["", ""],
                    "email": ["root@localhost", f"moodle-admin@{x.email[0].split('@')[1]}"],
                    "firstname": ["Guest user", "Admin"],
                    "lastname": [" ", "User"],
                }
            ),
            pd.DataFrame(
                {
                    "id": [x.staff_moodle_id[u] for u in sf["username"]],
                    "username": sf["username"],
                    "idnumber": "",
                    "email": sf["email"],
                    "firstname": first,
                    "lastname": last,
                }
            ),
            pd.DataFrame(
                {
                    "id": x.moodle_id,
                    "username": [e.split("@")[0] for e in x.email],
                    "idnumber": x.sid,
                    "email": x.email,
                    "firstname": st["given_name"],
                    "lastname": st["family_name"],
                }
            ),
        ]
    ).sort_values("id", kind="stable")
    x.notes["moodle_users"] = {
        "file": "moodle_users.csv",
        "rule": "idnumber = student id for students; guest, admin and staff accounts have none",
        "rows": int(len(frame)),
    }
    return write_csv(frame, x.path("moodle_users.csv"))


def _window(
    x: ExportContext,
    ev: dict[str, np.ndarray],
    budget: int | None,
    keep: np.ndarray,
    bytes_per_event: float = BYTES_PER_ROW_GUESS * 1.25,
) -> int:
    """First day index of the latest whole-day window whose rows fit in `budget` bytes."""
    if budget is None or not len(ev["day"]):
        return 0
    per_day = np.bincount(ev["day"][keep], minlength=x.until_day + 1).astype(float)
    cum = np.cumsum(per_day[::-1]) * bytes_per_event
    fit = int(np.searchsorted(cum, budget * 0.92, side="right"))
    return max(0, x.until_day + 1 - max(fit, 1))


def _logstore(x: ExportContext, ev: dict[str, np.ndarray]) -> list[Path]:
    budget = x.max_file_bytes
    every = np.ones(len(ev["day"]), bool)
    start = _window(x, ev, budget, every)
    modules = None  # the whole site; a subset of courses when one day alone is too big
    rows = noise_events(x, ev, start, modules)
    text = render_logstore(x, rows)
    if budget and len(text) < budget * 0.8 and start > 0:  # measured bytes per event: widen
        per_event = len(text) / max(1, int(rows["counted"].sum()))
        wider = _window(x, ev, budget, every, per_event)
        if wider < start:
            start = wider
    while True:
        rows = noise_events(x, ev, start, modules)
        text = render_logstore(x, rows)
        if budget is None or len(text) <= budget:
            break
        if start < x.until_day:
            start += max(1, (x.until_day - start) // 10)
        else:
            n_mod = len(x.codes) if modules is None else len(modules)
            modules = np.arange(max(1, int(n_mod * budget / len(text) * 0.95) - 1))
    path = x.path("moodle_logstore", "logstore_standard_log.csv")
    path.write_text(text)
    courses = pd.DataFrame(
        {
            "id": [1] + [course_id(m) for m in range(len(x.codes))],
            "category": [0] + [1 + int(s) for s in x.pop.modules["school_idx"]],
            "fullname": ["University Moodle"]
            + [f"{c} {n} ({_session(x)})" for c, n in zip(x.codes, x.module_names, strict=True)],
            "shortname": ["UNI"] + [f"{c}-{_session(x, short=True)}" for c in x.codes],
            "idnumber": [""] + [f"{c}-{x.cal.year}" for c in x.codes],
        }
    )
    counted = int(rows["counted"].sum())
    x.notes["moodle_logstore"] = {
        "files": "moodle_logstore/logstore_standard_log.csv (+ courses.csv: id, shortname of mdl_course)",
        "covers": {
            "from": x.cal.day(start).isoformat(),
            "to": x.until.isoformat(),
            "modules": "all" if modules is None else x.codes[modules].tolist(),
        },
        "coverage_reason": (
            "whole days ending at `until`, as many as fit in max_file_bytes; when one day alone is "
            "too big, only the courses listed (a courseid-filtered dump, no site-level rows)"
        )
        if budget
        else "everything",
        "format": (
            "UTF-8, comma, header row; NULL literals unquoted; `other` PHP-serialised (quoted); "
            "timecreated Unix seconds (UTC)"
        ),
        "rule": (
            "count rows with edulevel = 2 (participating) whose userid is a student account "
            "(moodle_users idnumber), anonymous = 0, realuserid NULL (not 'logged in as') and "
            "relateduserid NULL or = userid; day = Europe/London date of timecreated; module = "
            "course shortname up to '-' (courses.csv); quantity = number of rows. Not counted: "
            "staff views (edulevel 2, staff userid), grading (edulevel 1, relateduserid = student), "
            "log-ins and enrolments (edulevel 0), admin 'logged in as' a student (realuserid set)"
        ),
        "rows": int(len(rows)),
        "counted_rows": counted,
        "learning_events": [e[0] for e in LEARNING],
    }
    return [path, write_csv(courses, x.path("moodle_logstore", "courses.csv"))]


def _session(x: ExportContext, short: bool = False) -> str:
    y = x.cal.year
    return f"{y % 100:02d}{(y + 1) % 100:02d}" if short else f"{y}/{(y + 1) % 100:02d}"


def _log_downloads(x: ExportContext, ev: dict[str, np.ndarray]) -> list[Path]:
    sizes = np.bincount(ev["mod"], minlength=len(x.codes)) if len(ev["mod"]) else np.zeros(1)
    picks = [int(m) for m in np.argsort(-sizes, kind="stable")[: len(LOG_VARIANTS)] if sizes[m]]
    files, notes = [], []
    for (variant, pattern, strip, columns, encoding, newline), m in zip(
        LOG_VARIANTS, picks, strict=False
    ):
        keep = ev["mod"] == m
        start = _window(x, ev, x.max_file_bytes, keep)
        while True:
            rows = noise_events(x, ev, start, np.array([m]))
            text = _render_log(x, rows, pattern, strip, columns)
            size = len(text.encode(encoding))
            if x.max_file_bytes is None or size <= x.max_file_bytes or start >= x.until_day:
                break
            start += max(1, (x.until_day - start) // 10)
        stamp = x.until.strftime("%Y%m%d") + "-1732"
        name = f"logs_{x.codes[m]}-{_session(x, short=True)}_{stamp}.csv"
        files.append(write_bytes(x.path("moodle_log", name), text, encoding, newline))
        notes.append(
            {
                "file": f"moodle_log/{name}",
                "module": x.codes[m],
                "variant": variant,
                "time_format": pattern,
                "covers": {"from": x.cal.day(start).isoformat(), "to": x.until.isoformat()},
                "rows": int(len(rows)),
                "counted_rows": int(rows["counted"].sum()),
            }
        )
    x.notes["moodle_log"] = {
        "files": notes,
        "format": (
            "course Logs report downloads, newest first; UTF-8 (one with BOM and CRLF, one LF with "
            "yearless times '4 October, 09:05' needing --year, one CR-only with a different column "
            "order and 'Sunday, 4 October 2026, 9:05 AM' times); local time, minute precision"
        ),
        "rule": (
            "count rows whose actor (User full name; the id in Description \"The user with id 'N'\" "
            "resolves it through moodle_users.csv) is a student and whose Event name is a learning "
            "event (not 'Submission graded', 'Role assigned', 'User enrolled in course'); day = "
            "date of Time; module = the file's course (Event context 'Course: <code> ...' or the "
            "code in the file name); quantity = number of rows. Same truth as the logstore: where "
            "both cover a student-day-module they give the same count"
        ),
    }
    return files


def _render_log(x, rows: pd.DataFrame, pattern, strip, columns) -> str:
    rows = rows[rows["in_course_log"]].iloc[::-1]
    actor = rows["userid"].to_numpy()
    related = rows["relateduserid"].to_numpy()
    names = _names_by_moodle_id(x)
    when = rows["local"].to_numpy()
    table = {
        "Time": fmt(when, pattern, strip),
        "User full name": [names.get(int(a), "-") for a in actor],
        "Affected user": [names.get(int(r), "-") if r >= 0 else "-" for r in related],
        "Event context": rows["context_text"].to_numpy(),
        "Component": rows["component_label"].to_numpy(),
        "Event name": rows["event_label"].to_numpy(),
        "Description": rows["description"].to_numpy(),
        "Origin": rows["origin"].to_numpy(),
        "IP address": ip_addresses(actor.astype(np.int64)),
    }
    lines = [columns] + [list(r) for r in zip(*[table[c] for c in columns], strict=True)]
    return csv_text(lines)


def _names_by_moodle_id(x: ExportContext) -> dict[int, str]:
    names = {int(i): n for i, n in zip(x.moodle_id, x.full_name, strict=True)}
    for u, i in x.staff_moodle_id.items():
        names[i] = x.staff_name[u]
    names[2] = "Admin User"
    return names


__all__ = ["write_moodle", "LOGSTORE_COLUMNS", "hash_unit", "unix_time"]
