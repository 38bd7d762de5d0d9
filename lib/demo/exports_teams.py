"""Microsoft Teams meeting attendance reports, one per online session, in the formats Teams really uses."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from lib.demo.export_common import ExportContext, duration_text, fmt, write_bytes

# variant: (weight, encoding, delimiter, language, date pattern, hour strip)
VARIANTS = {
    "utf16_tab_en": (0.62, "utf-16", "\t", "en", "%m/%d/%y, %I:%M:%S %p", True),
    "utf8_comma_en": (0.10, "utf-8-sig", ",", "en", "%d/%m/%Y, %H:%M:%S", False),
    "utf8_semicolon_en": (0.06, "utf-8", ";", "en", "%d/%m/%Y, %H:%M:%S", False),
    "utf16_tab_de": (0.08, "utf-16", "\t", "de", "%d.%m.%y, %H:%M:%S", False),
    "legacy_joined_left": (0.14, "utf-16", "\t", "legacy", "%m/%d/%Y, %I:%M:%S %p", True),
}
LABELS = {
    "en": {
        "summary": "1. Summary",
        "title": "Meeting title",
        "count": "Attended participants",
        "start": "Start time",
        "end": "End time",
        "duration": "Meeting duration",
        "average": "Average attendance time",
        "participants": "2. Participants",
        "p_head": [
            "Name",
            "First Join",
            "Last Leave",
            "In-Meeting Duration",
            "Email",
            "Participant ID (UPN)",
            "Role",
        ],
        "activities": "3. In-Meeting Activities",
        "a_head": ["Name", "Join Time", "Leave Time", "Duration", "Email", "Role"],
        "roles": ("Organizer", "Attendee", "Presenter"),
        "units": ("h", "m", "s"),
    },
    "de": {
        "summary": "1. Zusammenfassung",
        "title": "Besprechungstitel",
        "count": "Teilnehmende Personen",
        "start": "Startzeit",
        "end": "Endzeit",
        "duration": "Besprechungsdauer",
        "average": "Durchschnittliche Teilnahmedauer",
        "participants": "2. Teilnehmer",
        "p_head": [
            "Name",
            "Erster Beitritt",
            "Letztes Verlassen",
            "Dauer der Besprechung",
            "E-Mail-Adresse",
            "Teilnehmer-ID (UPN)",
            "Rolle",
        ],
        "activities": "3. Aktivitäten in der Besprechung",
        "a_head": ["Name", "Beitrittszeit", "Uhrzeit des Verlassens", "Dauer", "E-Mail", "Rolle"],
        "roles": ("Organisator", "Teilnehmer", "Referent"),
        "units": ("Std.", "Min.", "Sek."),
    },
}


def _segments(rng: np.random.Generator, total: int) -> list[int]:
    """Split a student's attendance seconds into 1-3 join/leave segments (each >= 30 s)."""
    n = 1 + int(rng.random() < 0.3) + int(rng.random() < 0.08)
    if n == 1 or total < 300:
        return [total]
    cuts = np.sort(rng.integers(30, total - 30, n - 1))
    parts = np.diff(np.concatenate([[0], cuts, [total]])).tolist()
    return parts if min(parts) >= 30 else [total]


def _file_name(title: str, when: str, used: dict[str, int]) -> str:
    base = re.sub(r"[^A-Za-z0-9 ._()-]", "", f"{title} - Attendance report {when}")
    used[base] = used.get(base, 0) + 1
    return f"{base}.csv" if used[base] == 1 else f"{base} ({used[base] - 1}).csv"


def write_teams(x: ExportContext) -> list[Path]:
    """teams/*.csv: one attendance report per online session up to `until` (mixed variants)."""
    t, tt, rng = x.truth, x.tt, x.rng
    online = np.flatnonzero(tt["online"].to_numpy() & (tt["day"].to_numpy() <= x.until_day))
    order = np.lexsort((t.onl_stu, t.onl_sess))
    lo = np.searchsorted(t.onl_sess[order], online, "left")
    hi = np.searchsorted(t.onl_sess[order], online, "right")
    names = list(VARIANTS)
    weights = np.array([VARIANTS[v][0] for v in names])
    modules = tt["module_idx"].to_numpy()
    leader = x.pop.modules["leader"].to_numpy()
    by_mod_names = _cohort_names(x)
    used: dict[str, int] = {}
    files: list[Path] = []
    index: dict[str, str] = {}
    counts = dict.fromkeys(names, 0)
    for j, e in enumerate(online.tolist()):
        rows = order[lo[j] : hi[j]]
        stu, secs = t.onl_stu[rows], t.onl_secs[rows]
        variant = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        m = int(modules[e])
        if variant == "legacy_joined_left" and not _names_unique(x, stu, by_mod_names[m]):
            variant = "utf16_tab_en"
        counts[variant] += 1
        start = np.datetime64(tt["start"].iat[e], "s")
        end = np.datetime64(tt["end"].iat[e], "s")
        people = _people(x, rng, stu, secs, start, end, leader[m])
        etype = str(tt["event_type"].iat[e]).capitalize()
        group = int(tt["group"].iat[e])
        title = f"{x.codes[m]} {etype}" + (f" (group {group})" if group else "")
        title += f" - {x.module_names[m]}"
        _, encoding, delim, lang, pattern, strip = VARIANTS[variant]
        when = str(fmt(np.array([start]), "%m-%d-%y")[0])
        name = _file_name(title, when, used)
        strip_t = ("hour",) if strip else ()
        if lang == "legacy":
            text = _legacy(people, pattern, strip_t, delim)
        else:
            text = _modern(people, title, LABELS[lang], pattern, strip_t, delim)
        files.append(write_bytes(x.path("teams", name), text, encoding, "\r\n"))
        index[name] = str(tt["event_id"].iat[e])
    x.notes["teams"] = {
        "files": len(files),
        "variants": counts,
        "format": (
            "UTF-16LE with BOM and tab separators (most), UTF-8 with BOM and ',' , UTF-8 with ';', "
            "German headers (UTF-16LE, tab, dd.mm.yy dates, '1 Std. 2 Min. 3 Sek.'), and the legacy "
            "'Full Name, User Action, Timestamp' (Joined/Left) list; CRLF line endings; sections "
            "'1. Summary', '2. Participants', '3. In-Meeting Activities' separated by blank lines; "
            "US dates M/D/YY, h:mm:ss AM/PM in the English UTF-16 files, day-first elsewhere"
        ),
        "rule": (
            "online attendance per student and report: student by Email / Participant ID (UPN) = "
            "university email (legacy files: Full Name, unique among the students of the module); "
            "staff (Organizer) and guests without a student email do not count; the report's "
            "event = the online timetable event of the module in Meeting title (legacy: the file "
            "name) whose EVENT_START is nearest to the report's Start time (legacy: earliest Joined), "
            "always within 10 minutes; minutes = whole minutes of the person's total in-meeting "
            "seconds (In-Meeting Duration, = sum of their Join/Leave rows) rounded half up "
            "((seconds + 30) // 60); day = date of First Join; quantity 1"
        ),
        "report_event_ids": index,
    }
    return files


def _cohort_names(x: ExportContext) -> list[np.ndarray]:
    mods = x.pop.student_modules
    s_idx, j = np.nonzero(mods >= 0)
    m = mods[s_idx, j]
    return [x.full_name[s_idx[m == k]] for k in range(len(x.codes))]


def _names_unique(x: ExportContext, stu: np.ndarray, cohort: np.ndarray) -> bool:
    values, counts = np.unique(cohort, return_counts=True)
    dup = set(values[counts > 1].tolist())
    return not any(x.full_name[s] in dup for s in stu.tolist())


def _people(x, rng, stu, secs, start, end, leader) -> list[dict]:
    """Organizer, attending students (with join/leave segments) and sometimes a guest."""
    org_join = start - np.timedelta64(int(rng.integers(60, 300)), "s")
    org_leave = end + np.timedelta64(int(rng.integers(0, 240)), "s")
    people = [
        {
            "name": x.staff_name[leader],
            "email": x.staff_email[leader],
            "role": 0,
            "segs": [(org_join, org_leave)],
        }
    ]
    for s, total in zip(stu.tolist(), secs.tolist(), strict=True):
        join = start + np.timedelta64(int(rng.integers(-180, 600)), "s")
        segs = []
        for k, part in enumerate(_segments(rng, int(total))):
            if k:
                join = join + np.timedelta64(int(rng.integers(30, 600)), "s")
            leave = join + np.timedelta64(part, "s")
            segs.append((join, leave))
            join = leave
        people.append(
            {
                "name": x.full_name[s],
                "email": x.email[s],
                "role": 1 + (rng.random() < 0.03),
                "segs": segs,
            }
        )
    if rng.random() < 0.1:
        join = start + np.timedelta64(int(rng.integers(0, 900)), "s")
        people.append(
            {
                "name": "Guest Speaker (External)",
                "email": "",
                "role": 1,
                "segs": [(join, join + np.timedelta64(int(rng.integers(600, 2400)), "s"))],
            }
        )
    return people


def _stamp(values: list, pattern: str, strip: tuple[str, ...]) -> list[str]:
    return fmt(np.array(values, dtype="datetime64[s]"), pattern, strip).tolist()


def _line(cells: list[str], delim: str) -> str:
    if delim == "\t":
        return "\t".join(cells)
    return delim.join(f'"{c}"' if delim in c or '"' in c else c for c in cells)


def _modern(people, title, lab, pattern, strip, delim) -> str:
    first = min(p["segs"][0][0] for p in people)
    last = max(p["segs"][-1][1] for p in people)
    totals = [sum(int((b - a).astype(int)) for a, b in p["segs"]) for p in people]
    units = lab["units"]
    dur = lambda s: duration_text(int(s), units)  # noqa: E731
    stamps = _stamp([first, last], pattern, strip)
    lines = [
        lab["summary"],
        _line([lab["title"], title], delim),
        _line([lab["count"], str(len(people))], delim),
        _line([lab["start"], stamps[0]], delim),
        _line([lab["end"], stamps[1]], delim),
        _line([lab["duration"], dur(int((last - first).astype(int)))], delim),
        _line([lab["average"], dur(int(np.mean(totals)))], delim),
        "",
        lab["participants"],
        _line(lab["p_head"], delim),
    ]
    joins = _stamp([p["segs"][0][0] for p in people], pattern, strip)
    leaves = _stamp([p["segs"][-1][1] for p in people], pattern, strip)
    for p, j, lv, tot in zip(people, joins, leaves, totals, strict=True):
        upn = p["email"]
        role = lab["roles"][p["role"]]
        lines.append(_line([p["name"], j, lv, dur(tot), p["email"], upn, role], delim))
    lines += ["", lab["activities"], _line(lab["a_head"], delim)]
    segs = [(p, a, b) for p in people for a, b in p["segs"]]
    a_txt = _stamp([a for _, a, _ in segs], pattern, strip)
    b_txt = _stamp([b for _, _, b in segs], pattern, strip)
    for (p, a, b), at, bt in zip(segs, a_txt, b_txt, strict=True):
        role = lab["roles"][p["role"]]
        secs = int((b - a).astype(int))
        lines.append(_line([p["name"], at, bt, dur(secs), p["email"], role], delim))
    return "\n".join(lines) + "\n"


def _legacy(people, pattern, strip, delim) -> str:
    events = []
    for p in people:
        for a, b in p["segs"]:
            events += [(a, p["name"], "Joined"), (b, p["name"], "Left")]
    events.sort(key=lambda e: (e[0], e[2] != "Joined"))
    stamps = _stamp([e[0] for e in events], pattern, strip)
    lines = [_line(["Full Name", "User Action", "Timestamp"], delim)]
    lines += [_line([n, act, s], delim) for (_, n, act), s in zip(events, stamps, strict=True)]
    return "\n".join(lines) + "\n"
