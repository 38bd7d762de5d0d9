"""Whether a student was expected at an event, without building every (event, student) pair."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext


def expected_mask(event_id: pd.Series, student_id: pd.Series, ctx: ParseContext) -> np.ndarray:
    """True where the student is on the event's explicit list, or (events without a list) enrolled
    on the event's module in the event's academic year."""
    events = ctx.timetable_events()
    probe = pd.DataFrame(
        {
            "event_id": event_id.astype(str).to_numpy(),
            "student_id": student_id.astype(str).to_numpy(),
        }
    )
    probe["_i"] = np.arange(len(probe))
    info = events[["event_id", "module_code", "start_at", "explicit_list"]].astype(
        {"event_id": str}
    )
    probe = probe.merge(info, on="event_id", how="left")
    out = np.zeros(len(event_id), dtype=bool)
    listed = probe["explicit_list"].fillna(False).astype(bool)
    if listed.any():
        explicit = ctx.explicit_students().astype(str).assign(_hit=True)
        hits = probe[listed].merge(explicit, on=["event_id", "student_id"], how="inner")
        out[hits["_i"].to_numpy()] = True
    cohort = probe[~listed & probe["module_code"].notna()]
    if not cohort.empty:
        start = pd.to_datetime(cohort["start_at"])
        cohort = cohort.assign(academic_year=start.dt.year - (start.dt.month < 9).astype(int))
        enrolled = ctx.enrolments()[["student_id", "module_code", "academic_year"]].astype(
            {"student_id": str, "module_code": str, "academic_year": int}
        )
        hits = cohort.merge(enrolled, on=["student_id", "module_code", "academic_year"])
        out[hits["_i"].to_numpy()] = True
    return out
