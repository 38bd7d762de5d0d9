"""Hand-made engine scenarios: a small cohort, one module, a term with a reading week and a vacation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pandas as pd

from lib.engagement.config import merge_config
from lib.engagement.engine import run
from lib.engagement.explain import dq_frame, flags_frame, measures_frame
from lib.engagement.measures import build_inputs

TERM_START = date(2025, 9, 22)
CALENDAR = pd.DataFrame(
    [
        ("term", date(2025, 9, 22), date(2025, 12, 12)),
        ("reading_week", date(2025, 10, 27), date(2025, 10, 31)),
        ("vacation", date(2025, 12, 13), date(2026, 1, 4)),
    ],
    columns=["kind", "start", "end"],
)
WEEKS = [
    TERM_START + timedelta(weeks=i) for i in range(15)
]  # 12 term weeks (one reading) + 3 vacation
TEACHING = [w for w in WEEKS if date(2025, 10, 27) != w and w <= date(2025, 12, 8)]
READING = date(2025, 10, 27)


def usual_attendance(student: int, week: date) -> int:
    """Everyone usually attends 4 of 4 sessions (3 every fourth week, so baselines have a spread)."""
    return 3 if (WEEKS.index(week) + student) % 4 == 0 else 4


def usual_vle(student: int, week: date) -> int:
    return 4 if (WEEKS.index(week) + student) % 2 else 5


def scenario(**options):
    """Run the engine over the scenario (options: those of `scenario_frames`); returns (inputs,
    results, flags, dq events, measures)."""
    ids, frames, cfg = scenario_frames(**options)
    inp = build_inputs(pd.Index(ids), *frames, cfg)
    res = run(inp, cfg)
    return inp, res, flags_frame(inp, res, cfg), dq_frame(inp, res), measures_frame(inp, res)


def scenario_frames(
    students: int = 12,
    attendance: Callable[[int, date], int] = usual_attendance,
    vle: Callable[[int, date], int] = usual_vle,
    missing: dict[int, list[date]] | None = None,
    exemptions: list[tuple[int, date, date]] | None = None,
    config: dict | None = None,
    timetable: bool = True,
):
    """(student ids, (activity, expected, submissions, calendar, exemptions), configuration)."""
    ids = [f"S{i:02d}" for i in range(students)]
    activity, expected, subs = [], [], []
    for s, sid in enumerate(ids):
        for week in WEEKS:
            teach = week in TEACHING
            for d in range(4 if teach and timetable else 0):
                expected.append((sid, "M1", week + timedelta(days=d), False))
            for d in range(attendance(s, week) if teach else 0):
                activity.append((sid, "attendance", week + timedelta(days=d), "M1", 1.0, None))
            for d in range(vle(s, week) if teach else 0):
                activity.append((sid, "vle", week + timedelta(days=d), "M1", 3.0, None))
            if not teach and s == 1:  # a little vacation activity: the data runs to the end
                activity.append((sid, "vle", week + timedelta(days=4), "M1", 1.0, None))
            if teach and WEEKS.index(week) % 2 == 0:
                status = "missing" if week in (missing or {}).get(s, []) else "on_time"
                subs.append((sid, pd.Timestamp(week + timedelta(days=4, hours=12)), status))
    act = pd.DataFrame(
        activity, columns=["student_id", "source", "day", "module_code", "quantity", "minutes"]
    )
    exp = pd.DataFrame(expected, columns=["student_id", "module_code", "day", "online"])
    sub = pd.DataFrame(subs, columns=["student_id", "due_at", "status"])
    ex = pd.DataFrame(
        [(ids[s], a, b) for s, a, b in exemptions or []], columns=["student_id", "start", "end"]
    )
    return ids, (act, exp, sub, CALENDAR, ex), merge_config(config or {})
