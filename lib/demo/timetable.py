"""Weekly timetabled sessions per module (lectures, seminars, labs, tutorials, workshops) for the demo data."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from lib.demo.population import Population
from lib.demo.term_calendar import AcademicCalendar

EVENT_TYPES = ["lecture", "seminar", "lab", "tutorial", "workshop"]
_LAB_SCHOOLS = {0, 1, 4}


def _free_slot(
    rng: np.random.Generator, taken: set[tuple[int, int]], hours: int
) -> tuple[int, int]:
    """A weekday and start hour whose hours (and the tutorial repeat an hour later) are still free."""
    while True:
        weekday, hour = int(rng.integers(0, 5)), int(rng.integers(9, 18 - hours))
        need = {(weekday, h) for h in range(hour, min(hour + hours + 1, 18))}
        if not need & taken:
            taken.update(need)
            return weekday, hour


def make_timetable(
    rng: np.random.Generator, pop: Population, cal: AcademicCalendar
) -> pd.DataFrame:
    """One row per session: event_id, module_idx, event_type, start, end, room, online, group, week, day."""
    slots = []
    for m, row in enumerate(pop.modules.itertuples(index=False)):
        n_slots = int(rng.integers(2, 5))
        lab_school = row.school_idx in _LAB_SCHOOLS
        taken: set[tuple[int, int]] = set()
        for j in range(n_slots):
            if j == 0:
                etype = "lecture"
            else:
                weights = (
                    [0.25, 0.15, 0.3, 0.08, 0.22] if lab_school else [0.25, 0.45, 0.0, 0.08, 0.22]
                )
                etype = EVENT_TYPES[int(rng.choice(5, p=weights))]
            hours = 2 if etype in ("lab", "workshop") else 1
            online = rng.random() < (0.2 if etype == "lecture" else 0.1)
            room = (
                "Teams"
                if online
                else f"{row.building}-{'ABCDE'[int(rng.integers(5))]}{int(rng.integers(1, 40)):02d}"
            )
            weekday, hour = _free_slot(rng, taken, hours)
            groups = (1, 2) if etype == "tutorial" else (0,)
            for g in groups:
                h = hour if g < 2 else min(hour + 1, 17 - hours)
                slots.append((m, etype, weekday, h, hours, room, online, g))
    slot_df = pd.DataFrame(
        slots,
        columns=["module_idx", "event_type", "weekday", "hour", "hours", "room", "online", "group"],
    )
    rows = []
    for w, monday in enumerate(cal.teaching_mondays):
        for s in slot_df.itertuples(index=False):
            d = monday + timedelta(days=s.weekday)
            if cal.bank_holiday[cal.day_index(d)]:
                continue
            start = datetime(d.year, d.month, d.day, s.hour)
            rows.append(
                (
                    s.module_idx,
                    s.event_type,
                    start,
                    start + timedelta(hours=s.hours),
                    s.room,
                    s.online,
                    s.group,
                    w,
                    cal.day_index(d),
                )
            )
    tt = pd.DataFrame(
        rows,
        columns=[
            "module_idx",
            "event_type",
            "start",
            "end",
            "room",
            "online",
            "group",
            "week",
            "day",
        ],
    )
    tt = tt.sort_values(["start", "module_idx", "group", "event_type"], kind="stable").reset_index(
        drop=True
    )
    tt.insert(0, "event_id", [f"EV{i + 1:06d}" for i in range(len(tt))])
    tt["building"] = tt["room"].str.split("-").str[0]
    return tt
