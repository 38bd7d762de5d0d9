"""QR-code attendance scans, matched to timetabled events inside the event window (with a tolerance)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError
from lib.ingest.limits import name_columns
from lib.ingest.parsers.expected import expected_mask
from lib.ingest.parsers.formats import (
    aliases,
    header_key,
    parse_datetimes,
    read_export,
    unrecognised,
)
from lib.ingest.readers import ROW, Validator, read_csv_frame, sniff_delimiter
from lib.sources import ATTENDANCE

ALIASES = aliases(
    {
        "student_id": ["studentid", "student id", "student_number", "student number", "id_number"],
        "event_id": ["eventid", "event id", "session_id", "session id"],
        "scan_time": ["scanned_at", "scan time", "timestamp", "time", "scanned", "scan_datetime"],
        "module_code": ["module", "module code", "course_code"],
        "room": ["location", "venue"],
    }
)
TRIED = ["student_id,event_id,scan_time", "student_id,module_code,room,scan_time"]
BEFORE_MINUTES = 15  # a scan counts from this many minutes before the start ...
AFTER_MINUTES = 0  # ... to this many minutes after the end (ctx.extra qr_before / qr_after)


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    text, encoding = read_export(path, ctx)
    header = text.split("\n", 1)[0]
    names = {ALIASES.get(header_key(c), "") for c in header.split(sniff_delimiter(header))}
    if {"student_id", "event_id", "scan_time"} <= names:
        by_event = True
    elif {"student_id", "module_code", "room", "scan_time"} <= names:
        by_event = False
    else:
        raise unrecognised(ctx.file_name, "QR attendance", TRIED, text, encoding)
    required = ["student_id", "scan_time"] + (["event_id"] if by_event else ["module_code", "room"])
    frame = read_csv_frame(text, ctx.file_name, required, aliases=ALIASES)
    check = Validator(frame, ctx.file_name)
    check.required(*required)
    scan = parse_datetimes(
        frame["scan_time"], year=ctx.year, file_name=ctx.file_name, column="scan_time"
    )
    check.flag(
        scan.isna() & (check.text("scan_time") != ""), "scan_time", "is not a readable date-time"
    )
    scans = pd.DataFrame(
        {"student_id": check.text("student_id"), "scan": scan, ROW: frame[ROW].to_numpy()}
    )
    events = ctx.timetable_events()
    if events.empty:
        raise IngestError(
            ctx.file_name, "no timetabled events in the store: load the timetable first"
        )
    before = pd.Timedelta(minutes=float(ctx.extra.get("qr_before", BEFORE_MINUTES)))
    after = pd.Timedelta(minutes=float(ctx.extra.get("qr_after", AFTER_MINUTES)))
    events = events.assign(
        open_at=pd.to_datetime(events["start_at"]) - before,
        close_at=pd.to_datetime(events["end_at"]) + after,
    )
    if by_event:
        event_id = _match_by_id(frame, check, scans, events)
    else:
        event_id = _match_by_room(frame, check, scans, events)
    scans["event_id"] = event_id
    if "outside" not in scans.columns:
        scans["outside"] = False
    outside = scans[~check.bad & scans["outside"].to_numpy()]
    good = scans[~check.bad & ~scans["outside"].to_numpy()].sort_values(["scan", ROW])
    dup = good.duplicated(["student_id", "event_id"], keep="first")
    first = good[~dup]
    is_expected = expected_mask(first["event_id"], first["student_id"], ctx)
    out = pd.DataFrame(
        {
            "student_id": first["student_id"].to_numpy(),
            "event_id": first["event_id"].to_numpy(),
            "source": ATTENDANCE,
            "first_seen": first["scan"].to_numpy(),
            "minutes": np.nan,
            "expected": is_expected,
            ROW: first[ROW].to_numpy(),
        }
    )
    name_columns(out, first_seen="scan_time")
    notes = [f"{len(out)} attendance(s) from {len(frame)} scan(s)"]
    if len(outside):
        examples = ", ".join(
            f"row {r}: {e} at {t:%Y-%m-%d %H:%M}"
            for r, e, t in zip(
                outside[ROW][:5], outside["event_id"][:5], outside["scan"][:5], strict=True
            )
        )
        notes.append(
            f"{len(outside)} scan(s) outside their event's window ({before.seconds // 60} min before the start to "
            f"{after.seconds // 60} min after the end): not counted as attendance ({examples})"
        )
    if dup.any():
        notes.append(
            f"{int(dup.sum())} repeated scan(s) of the same student and event collapsed into one"
        )
    if (~is_expected).any():
        examples = ", ".join(
            f"{s} at {e}"
            for s, e in zip(
                out["student_id"][~is_expected][:5], out["event_id"][~is_expected][:5], strict=True
            )
        )
        notes.append(
            f"{int((~is_expected).sum())} scan(s) by students not expected at that event: kept as "
            f"unexpected ({examples})"
        )
    return ParsedFile(len(frame), {"attendance": out}, check.problems, notes)


def _match_by_id(
    frame: pd.DataFrame, check: Validator, scans: pd.DataFrame, events: pd.DataFrame
) -> pd.Series:
    event_id = check.text("event_id")
    found = events.set_index(events["event_id"].astype(str))
    known = event_id.isin(found.index)
    check.flag((event_id != "") & ~known, "event_id", "names no timetabled event")
    open_at = event_id.map(found["open_at"])
    close_at = event_id.map(found["close_at"])
    outside = (
        known & scans["scan"].notna() & ((scans["scan"] < open_at) | (scans["scan"] > close_at))
    )
    scans["outside"] = outside.to_numpy()
    return event_id


def _match_by_room(
    frame: pd.DataFrame, check: Validator, scans: pd.DataFrame, events: pd.DataFrame
) -> pd.Series:
    """Scans naming module and room: the event of that module and room whose window holds the scan."""
    keyed = scans.assign(
        _i=np.arange(len(scans)),
        _m=check.text("module_code").str.upper(),
        _r=check.text("room").str.lower(),
    )
    candidates = events.assign(
        _m=events["module_code"].astype(str).str.upper(),
        _r=events["location"].fillna("").astype(str).str.lower().str.strip(),
    )
    merged = keyed.merge(
        candidates[["_m", "_r", "event_id", "start_at", "open_at", "close_at"]], on=["_m", "_r"]
    )
    merged = merged[(merged["scan"] >= merged["open_at"]) & (merged["scan"] <= merged["close_at"])]
    merged = merged.assign(_gap=(merged["scan"] - merged["start_at"]).abs()).sort_values(
        ["_i", "_gap"]
    )
    best = merged.drop_duplicates("_i").set_index("_i")["event_id"]
    event_id = pd.Series(keyed["_i"].map(best).to_numpy(), index=scans.index)
    check.flag(
        event_id.isna() & scans["scan"].notna(),
        "scan_time",
        "matches no timetabled event of that module and room at that time",
    )
    return event_id.fillna("").astype(str)
