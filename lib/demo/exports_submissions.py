"""Moodle assignment grading worksheets (one per assignment) plus submissions/assignments.csv."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from lib.demo.canonical import write_csv
from lib.demo.export_common import ExportContext, csv_text, fmt, write_bytes

HEADER = [
    "Identifier",
    "Full name",
    "ID number",
    "Email address",
    "Status",
    "Grade",
    "Maximum Grade",
    "Grade can be changed",
    "Last modified (submission)",
    "Last modified (grade)",
    "Feedback comments",
]
MOODLE_DATE = "%A, %d %B %Y, %I:%M %p"
FEEDBACK = [
    "Good work, see the comments in the annotated PDF.",
    "Clear structure; the analysis needs more depth.",
    "Well argued. Watch your referencing style.",
    "A solid attempt - come to office hours to discuss section 2.",
    "Excellent, well done!",
]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9 ._()-]", "", name)


def write_submissions(x: ExportContext) -> list[Path]:
    """submissions/assignments.csv and submissions/Grades-<course>-<assignment>-<cmid>.csv files."""
    t, rng = x.truth, x.rng
    adf = t.assignments
    if adf.empty:
        x.notes["submissions"] = {"assignments": 0}
        return []
    cmid = 30000 + np.arange(len(adf)) * 7 + rng.integers(0, 7, len(adf))
    worksheet = [
        _safe(f"Grades-{c}-{n}-{k}.csv")
        for c, n, k in zip(adf["module_code"], adf["name"], cmid, strict=True)
    ]
    side = pd.DataFrame(
        {
            "assignment_id": adf["assignment_id"],
            "module_code": adf["module_code"],
            "assignment_name": adf["name"],
            "due_at": adf["due_at"].dt.strftime("%Y-%m-%d %H:%M"),
            "moodle_cmid": cmid,
            "worksheet": worksheet,
        }
    )
    files = [write_csv(side, x.path("submissions", "assignments.csv"))]
    until_s = np.datetime64(x.until, "s") + np.timedelta64(86399, "s")
    due_all = adf["due_at"].to_numpy().astype("datetime64[s]")
    order = np.lexsort((t.sub_stu, t.sub_asg))
    bounds = np.searchsorted(t.sub_asg[order], np.arange(len(adf) + 1))
    n_sub = 0
    for a in range(len(adf)):
        rows = order[bounds[a] : bounds[a + 1]]
        stu, at = t.sub_stu[rows], t.sub_at[rows]
        k = len(rows)
        submitted = ~np.isnat(at)
        n_sub += int(submitted.sum())
        due_day = due_all[a].astype("datetime64[D]").astype("datetime64[s]")
        mark_secs = rng.integers(7, 15, k) * 86400 + rng.integers(9 * 3600, 18 * 3600, k)
        mark_at = due_day + mark_secs.astype("m8[s]")  # a working-hours marking session
        graded = (mark_at <= until_s) & (rng.random(k) < 0.92)
        graded &= submitted | (rng.random(k) < 0.5)
        grade = np.where(submitted, np.round(np.clip(rng.normal(64, 11, k), 20, 95)), 0.0)
        status = np.where(
            submitted,
            np.where(
                graded, "Submitted for grading - Graded", "Submitted for grading - Not graded"
            ),
            np.where(graded, "No submission - Graded", "No submission"),
        )
        sub_txt = np.full(k, "-", dtype=object)
        if submitted.any():
            sub_txt[submitted] = fmt(at[submitted], MOODLE_DATE, ("day", "hour"))
        grade_txt = np.full(k, "-", dtype=object)
        if graded.any():
            grade_txt[graded] = fmt(mark_at[graded], MOODLE_DATE, ("day", "hour"))
        feedback = np.where(graded & submitted, np.array(FEEDBACK)[rng.integers(0, 5, k)], "")
        ident = 1_000_000 + rng.choice(9_000_000, k, replace=False)
        lines = [HEADER]
        for i in range(k):
            s = stu[i]
            lines.append(
                [
                    f"Participant {ident[i]}",
                    x.full_name[s],
                    x.sid[s],
                    x.email[s],
                    status[i],
                    f"{grade[i]:.2f}" if graded[i] else "",
                    "100.00",
                    "Yes",
                    sub_txt[i],
                    grade_txt[i],
                    feedback[i],
                ]
            )
        files.append(
            write_bytes(
                x.path("submissions", worksheet[a]), csv_text(lines, quote_all=True), "utf-8-sig"
            )
        )
    x.notes["submissions"] = {
        "files": "submissions/assignments.csv + one Moodle grading worksheet per assignment",
        "format": (
            "worksheets: UTF-8 with BOM, comma, every field quoted; Last modified (submission) like "
            "'Thursday, 29 October 2026, 9:25 AM' (local time, no leading zeros), '-' when none; "
            "assignments.csv: assignment_id, module_code, assignment_name, due_at (YYYY-MM-DD HH:MM), "
            "moodle_cmid, worksheet (the worksheet's file name)"
        ),
        "rule": (
            "find the worksheet's row in assignments.csv by file name (worksheet column) for its "
            "assignment_id, module and due date; one submission per row: student = ID number; "
            "submitted_at = Last modified (submission) when Status starts with 'Submitted', else "
            "none ('No submission', 'No submission - Graded'); submission activity: quantity 1 on "
            "the date of submitted_at. Grade and Feedback comments must be dropped"
        ),
        "assignments": int(len(adf)),
        "submissions_made": n_sub,
    }
    return files
