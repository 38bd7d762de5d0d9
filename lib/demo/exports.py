"""System-format exports of the demo truth: timetable, QR scans, Echo360 views, and the dispatcher."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from lib.demo.activity import Truth
from lib.demo.canonical import write_csv
from lib.demo.export_common import ExportContext, fmt, hms
from lib.demo.population import Population
from lib.demo.term_calendar import AcademicCalendar

QR_BEFORE_MIN, QR_AFTER_MIN = 15, 0  # the scan window an adapter should use (documented)


def write_exports(
    rng: np.random.Generator,
    pop: Population,
    cal: AcademicCalendar,
    tt: pd.DataFrame,
    truth: Truth,
    ev: dict[str, np.ndarray],
    until: date,
    out: Path,
    planted: dict,
    max_file_bytes: int | None,
) -> list[Path]:
    """Write every system export of SPEC §3 (timetable is written by generate() itself)."""
    from lib.demo.exports_moodle import write_moodle
    from lib.demo.exports_submissions import write_submissions
    from lib.demo.exports_teams import write_teams

    del ev  # the exports render the truth arrays directly; events.csv is their aggregate
    x = ExportContext(rng, pop, cal, tt, truth, until, out, max_file_bytes)
    files = write_qr(x)
    files += write_echo360(x)
    files += write_submissions(x)
    files += write_teams(x)
    files += write_moodle(x)
    planted["system_exports"] = x.notes
    return files


def write_timetable(pop: Population, tt: pd.DataFrame, year: int, out: Path) -> list[Path]:
    """Jisc UDD-like timetable/events.csv and timetable/student_event.csv (tutorial group lists)."""
    codes = pop.modules["module_code"].to_numpy().astype(str)
    names = pop.modules["module_name"].to_numpy().astype(str)
    m = tt["module_idx"].to_numpy()
    etype = tt["event_type"].str.capitalize()
    group = tt["group"].to_numpy()
    title = pd.Series(codes[m]) + " " + etype + ": " + pd.Series(names[m])
    title = title.where(group == 0, title + " (group " + pd.Series(group).astype(str) + ")")
    events = pd.DataFrame(
        {
            "EVENT_ID": tt["event_id"],
            "EVENT_TYPE": etype,
            "EVENT_START": tt["start"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "EVENT_END": tt["end"].dt.strftime("%Y-%m-%dT%H:%M:%S"),
            "MOD_INSTANCE_ID": pd.Series(codes[m]) + f"-{year}",
            "ROOM": tt["room"],
            "TITLE": title,
        }
    )
    rows_e, rows_s = [], []
    sid = pop.students["student_id"].to_numpy().astype(str)
    s_idx, j = np.nonzero(pop.student_modules >= 0)
    s_mod = pop.student_modules[s_idx, j]
    for e in np.flatnonzero(group > 0):
        studs = s_idx[s_mod == m[e]]
        studs = studs[(studs + m[e]) % 2 + 1 == group[e]]
        rows_e.append(np.full(len(studs), e))
        rows_s.append(studs)
    e_idx = np.concatenate(rows_e) if rows_e else np.zeros(0, np.int64)
    st_idx = np.concatenate(rows_s) if rows_s else np.zeros(0, np.int64)
    explicit = pd.DataFrame(
        {"EVENT_ID": tt["event_id"].to_numpy()[e_idx], "STUDENT_ID": sid[st_idx]}
    ).sort_values(["EVENT_ID", "STUDENT_ID"], kind="stable")
    return [
        write_csv(events, out / "timetable" / "events.csv"),
        write_csv(explicit, out / "timetable" / "student_event.csv"),
    ]


def write_qr(x: ExportContext) -> list[Path]:
    """qr/scans.csv: one row per scan, with repeats, out-of-window and unexpected-student noise."""
    t, tt, rng = x.truth, x.tt, x.rng
    n_true = len(t.att_stu)
    stu, sess = t.att_stu, t.att_sess
    when = x.start(sess) + t.att_offset.astype("timedelta64[s]")
    kind = np.zeros(n_true, np.int8)  # 0 counted, 1 repeat, 2 out of window, 3 unexpected
    dup = rng.random(n_true) < 0.02
    parts = [(stu, sess, when, kind)]
    parts.append(
        (
            stu[dup],
            sess[dup],
            when[dup] + rng.integers(15, 240, int(dup.sum())).astype("timedelta64[s]"),
            np.ones(int(dup.sum()), np.int8),
        )
    )
    outage: set[str] = set()
    for s in [e for e in _systemic(x) if e["kind"] == "systemic_qr_outage"]:
        outage.update(s["event_ids"])
    ok_sess = np.flatnonzero(
        (tt["day"].to_numpy() <= x.until_day)
        & ~tt["online"].to_numpy()
        & ~tt["event_id"].isin(outage).to_numpy()
    )
    attended = set((stu * len(tt) + sess).tolist())
    n_noise = max(3, n_true // 300)
    if len(ok_sess):
        by_mod = _students_by_module(x)
        mod_of = tt["module_idx"].to_numpy()
        for k in (2, 3):
            ns, nt = [], []
            for e in rng.choice(ok_sess, n_noise).tolist():
                m = int(mod_of[e])
                if k == 2:  # an enrolled student who did not attend
                    if len(by_mod[m]) == 0:
                        continue
                    s = int(by_mod[m][int(rng.integers(len(by_mod[m])))])
                else:  # a student of another module
                    s = int(rng.integers(len(x.sid)))
                    if m in x.pop.student_modules[s]:
                        continue
                if s * len(tt) + e in attended:
                    continue
                ns.append(s)
                nt.append(e)
            ns_a, nt_a = np.asarray(ns, np.int64), np.asarray(nt, np.int64)
            if k == 2:  # >= 45 min before the start or >= 30 min after the end
                before = rng.random(len(ns_a)) < 0.3
                w = np.where(
                    before,
                    x.start(nt_a) - rng.integers(45 * 60, 120 * 60, len(ns_a)).astype("m8[s]"),
                    x.end(nt_a) + rng.integers(30 * 60, 180 * 60, len(ns_a)).astype("m8[s]"),
                )
            else:
                w = x.start(nt_a) + rng.integers(-300, 600, len(ns_a)).astype("m8[s]")
            parts.append((ns_a, nt_a, w, np.full(len(ns_a), k, np.int8)))
    stu = np.concatenate([p[0] for p in parts])
    sess = np.concatenate([p[1] for p in parts])
    when = np.concatenate([p[2] for p in parts]).astype("datetime64[s]")
    kind = np.concatenate([p[3] for p in parts])
    order = np.lexsort((stu, when))
    stu, sess, when, kind = stu[order], sess[order], when[order], kind[order]
    device = np.where(rng.random(len(stu)) < 0.7, "iOS app", "Android app")
    device[rng.random(len(stu)) < 0.05] = "Web"
    frame = pd.DataFrame(
        {
            "Scan ID": np.arange(1, len(stu) + 1) + 5_000_000,
            "Student ID": x.sid[stu],
            "Event ID": tt["event_id"].to_numpy()[sess],
            "Module": x.codes[tt["module_idx"].to_numpy()[sess]],
            "Room": tt["room"].to_numpy()[sess],
            "Scan Time": fmt(when, "%d/%m/%Y %H:%M:%S"),
            "Device": device,
        }
    )
    x.notes["qr"] = {
        "file": "qr/scans.csv",
        "format": "UTF-8, comma; Scan Time day-first dd/mm/yyyy HH:MM:SS local (Europe/London)",
        "rule": (
            f"a scan counts as attendance at Event ID when start - {QR_BEFORE_MIN} min <= scan <= "
            f"end + {QR_AFTER_MIN} min and the student is expected there (module enrolment, or the "
            "explicit timetable/student_event.csv list for tutorial groups); repeated scans of one "
            "student and event count once; day = scan date; quantity 1; minutes empty. Counted "
            "scans lie in [start - 10 min, start + 15 min); out-of-window noise lies >= 45 min "
            "before the start or >= 30 min after the end, so any tolerance under 30 min works"
        ),
        "rows": int(len(stu)),
        "counted": int((kind == 0).sum()),
        "repeat_scans": int((kind == 1).sum()),
        "out_of_window_scans": int((kind == 2).sum()),
        "unexpected_student_scans": int((kind == 3).sum()),
        "no_scans_during": "the systemic_qr_outage building-week (see systemic)",
    }
    return [write_csv(frame, x.path("qr", "scans.csv"))]


def _systemic(x: ExportContext) -> list[dict]:
    return x.truth.planted.get("systemic", [])


def _students_by_module(x: ExportContext) -> list[np.ndarray]:
    mods = x.pop.student_modules
    s_idx, j = np.nonzero(mods >= 0)
    m = mods[s_idx, j]
    return [s_idx[m == k] for k in range(len(x.codes))]


def write_echo360(x: ExportContext) -> list[Path]:
    """echo360/views.csv: one row per student and recording viewed (totals as of the export)."""
    t, tt = x.truth, x.tt
    sess = t.lc_sess
    m = tt["module_idx"].to_numpy()[sess]
    start = x.start(sess)
    term = np.array(["Autumn", "Spring", "Summer"])[
        np.asarray(x.cal.term_of_week)[tt["week"].to_numpy()[sess]]
    ]
    yy = x.cal.year % 100
    frame = pd.DataFrame(
        {
            "Course": x.codes[m],
            "Section": [f"{x.cal.year}/{yy + 1:02d} {s}" for s in term],
            "Media Name": pd.Series(x.codes[m])
            + " "
            + pd.Series(x.module_names[m])
            + " - Lecture "
            + pd.Series(fmt(start, "%d/%m/%Y")),
            "Media Create Date": fmt(start, "%d/%m/%Y %H:%M"),
            "Student Name": x.full_name[t.lc_stu],
            "Student Email": x.email[t.lc_stu],
            "Total Views": t.lc_views,
            "Total View Time": hms(t.lc_secs),
            "Average View Time": hms(t.lc_secs // np.maximum(t.lc_views, 1)),
            "Last Viewed": fmt(t.lc_last, "%d/%m/%Y %H:%M:%S"),
        }
    )
    frame = frame.iloc[np.lexsort((t.lc_stu, sess))]
    x.notes["echo360"] = {
        "file": "echo360/views.csv",
        "format": "UTF-8, comma; dates dd/mm/yyyy HH:MM[:SS] local; view times HH:MM:SS",
        "rule": (
            "one lecture_capture activity per row: student by Student Email (university email), "
            "module = Course, day = date of Last Viewed, quantity = Total Views, minutes = whole "
            "minutes of Total View Time rounded half up ((seconds + 30) // 60), summed per day"
        ),
        "rows": int(len(frame)),
        "never_use_echo360_share": round(float(1 - t.traits.echo_user.mean()), 3),
    }
    return [write_csv(frame, x.path("echo360", "views.csv"))]
