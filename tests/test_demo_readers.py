"""Independent readers of the demo system exports, following the rules written in planted.json."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["student_id", "date", "quantity", "minutes"]


def _daily(frame: pd.DataFrame) -> pd.DataFrame:
    out = (
        frame.groupby(["student_id", "date"], sort=True)
        .agg(quantity=("quantity", "sum"), minutes=("minutes", lambda s: s.sum(min_count=1)))
        .reset_index()
    )
    out["quantity"] = out["quantity"].astype(float)
    return out[COLUMNS]


def _expected_pairs(folder: Path) -> set[tuple[str, str]]:
    events = pd.read_csv(folder / "timetable" / "events.csv", dtype=str)
    events["module_code"] = events["MOD_INSTANCE_ID"].str.split("-").str[0]
    explicit = pd.read_csv(folder / "timetable" / "student_event.csv", dtype=str)
    enrol = pd.read_csv(folder / "enrolments.csv", dtype=str)
    listed = set(explicit["EVENT_ID"])
    by_module = events[~events["EVENT_ID"].isin(listed)].merge(enrol, on="module_code")
    pairs = set(zip(by_module["EVENT_ID"], by_module["student_id"], strict=True))
    return pairs | set(zip(explicit["EVENT_ID"], explicit["STUDENT_ID"], strict=True))


def qr_attendance(folder: Path) -> pd.DataFrame:
    scans = pd.read_csv(folder / "qr" / "scans.csv", dtype=str)
    events = pd.read_csv(folder / "timetable" / "events.csv", dtype=str).set_index("EVENT_ID")
    when = pd.to_datetime(scans["Scan Time"], format="%d/%m/%Y %H:%M:%S")
    start = pd.to_datetime(scans["Event ID"].map(events["EVENT_START"]))
    end = pd.to_datetime(scans["Event ID"].map(events["EVENT_END"]))
    ok = (when >= start - pd.Timedelta(minutes=15)) & (when <= end)
    pairs = _expected_pairs(folder)
    ok &= np.array(
        [(e, s) in pairs for e, s in zip(scans["Event ID"], scans["Student ID"], strict=True)]
    )
    hits = scans[ok].assign(when=when[ok]).sort_values("when")
    hits = hits.drop_duplicates(["Student ID", "Event ID"])
    return _daily(
        pd.DataFrame(
            {
                "student_id": hits["Student ID"],
                "date": hits["when"].dt.strftime("%Y-%m-%d"),
                "quantity": 1,
                "minutes": np.nan,
            }
        )
    )


def _seconds(text: pd.Series) -> pd.Series:
    parts = text.str.split(":", expand=True).astype(int)
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def echo360(folder: Path) -> pd.DataFrame:
    views = pd.read_csv(folder / "echo360" / "views.csv", dtype=str)
    emails = _emails(folder)
    return _daily(
        pd.DataFrame(
            {
                "student_id": views["Student Email"].str.lower().map(emails),
                "date": pd.to_datetime(
                    views["Last Viewed"], format="%d/%m/%Y %H:%M:%S"
                ).dt.strftime("%Y-%m-%d"),
                "quantity": views["Total Views"].astype(int),
                "minutes": (_seconds(views["Total View Time"]) + 30) // 60,
            }
        )
    )


def worksheets(folder: Path) -> pd.DataFrame:
    side = pd.read_csv(folder / "submissions" / "assignments.csv", dtype=str)
    rows = []
    for name in side["worksheet"]:
        sheet = pd.read_csv(folder / "submissions" / name, dtype=str, encoding="utf-8-sig")
        done = sheet[sheet["Status"].str.startswith("Submitted")]
        when = pd.to_datetime(done["Last modified (submission)"], format="%A, %d %B %Y, %I:%M %p")
        rows.append(
            pd.DataFrame({"student_id": done["ID number"], "date": when.dt.strftime("%Y-%m-%d")})
        )
    frame = pd.concat(rows).assign(quantity=1, minutes=np.nan)
    return _daily(frame)


def _emails(folder: Path) -> dict[str, str]:
    st = pd.read_csv(folder / "students.csv", dtype=str)
    return dict(zip(st["email"].str.lower(), st["student_id"], strict=True))


UNITS = {"h": 3600, "std": 3600, "m": 60, "min": 60, "s": 1, "sek": 1}


def _duration(text: str) -> int:
    return sum(int(n) * UNITS[u.lower()] for n, u in re.findall(r"(\d+)\s*([A-Za-z]+)\.?", text))


def _stamp(text: str) -> pd.Timestamp:
    for pattern in ("%m/%d/%y, %I:%M:%S %p", "%d/%m/%Y, %H:%M:%S", "%d.%m.%y, %H:%M:%S", "%m/%d/%Y, %I:%M:%S %p"):  # fmt: skip
        try:
            return pd.to_datetime(text, format=pattern)
        except ValueError:
            continue
    raise ValueError(text)


def teams(folder: Path) -> pd.DataFrame:
    emails = _emails(folder)
    st = pd.read_csv(folder / "students.csv", dtype=str)
    enrol = pd.read_csv(folder / "enrolments.csv", dtype=str).merge(st, on="student_id")
    enrol["name"] = enrol["given_name"] + " " + enrol["family_name"]
    rows = []
    for path in sorted((folder / "teams").glob("*.csv")):
        data = path.read_bytes()
        text = data.decode("utf-16") if data.startswith(b"\xff\xfe") else data.decode("utf-8-sig")
        lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
        if lines[0].startswith("Full Name"):
            code = path.name.split(" ")[0]
            names = enrol[enrol["module_code"] == code].set_index("name")["student_id"]
            joined: dict[str, pd.Timestamp] = {}
            total: dict[str, float] = {}
            first: dict[str, pd.Timestamp] = {}
            for line in lines[1:]:
                if not line:
                    continue
                name, action, stamp = line.split("\t")
                t = _stamp(stamp)
                if action == "Joined":
                    joined[name] = t
                    first.setdefault(name, t)
                else:
                    total[name] = total.get(name, 0) + (t - joined.pop(name)).total_seconds()
            for name, secs in total.items():
                if name in names.index:
                    rows.append((names[name], first[name], secs))
            continue
        delim = "\t" if "\t" in lines[1] else (";" if ";" in lines[1] else ",")
        start = lines.index(next(x for x in lines if x.startswith("2. "))) + 2
        for line in lines[start:]:
            if not line:
                break
            cells = next(csv.reader([line], delimiter=delim))
            sid = emails.get(cells[4].lower())
            if sid:
                rows.append((sid, _stamp(cells[1]), _duration(cells[3])))
    frame = pd.DataFrame(rows, columns=["student_id", "when", "secs"])
    return _daily(
        pd.DataFrame(
            {
                "student_id": frame["student_id"],
                "date": frame["when"].dt.strftime("%Y-%m-%d"),
                "quantity": 1,
                "minutes": (frame["secs"].astype(int) + 30) // 60,
            }
        )
    )


def logstore_vle(folder: Path) -> pd.DataFrame:
    log = pd.read_csv(folder / "moodle_logstore" / "logstore_standard_log.csv", na_values=["NULL"])
    users = pd.read_csv(folder / "moodle_users.csv", dtype=str, keep_default_na=False)
    students = users[users["idnumber"] != ""]
    students = pd.Series(students["idnumber"].to_numpy(), index=students["id"].astype(int))
    keep = (
        (log["edulevel"] == 2)
        & log["userid"].isin(students.index)
        & (log["anonymous"] == 0)
        & log["realuserid"].isna()
        & (log["relateduserid"].isna() | (log["relateduserid"] == log["userid"]))
    )
    hits = log[keep]
    local = pd.to_datetime(hits["timecreated"], unit="s", utc=True).dt.tz_convert("Europe/London")
    return _daily(
        pd.DataFrame(
            {
                "student_id": hits["userid"].map(students),
                "date": local.dt.strftime("%Y-%m-%d"),
                "quantity": 1,
                "minutes": np.nan,
            }
        )
    )


READERS = {
    "attendance": qr_attendance,
    "lecture_capture": echo360,
    "submission": worksheets,
    "online": teams,
}


NOT_LEARNING = {"Submission graded", "User enrolled in course", "Role assigned"}


def log_download_vle(folder: Path, entry: dict, year: int) -> pd.DataFrame:
    """Daily VLE counts of one course Logs download (entry from planted.json moodle_log files)."""
    data = (folder / entry["file"]).read_bytes().decode("utf-8-sig")
    text = data.replace("\r\n", "\n").replace("\r", "\n")
    rows = list(csv.reader(text.splitlines()))
    frame = pd.DataFrame(rows[1:], columns=rows[0])
    users = pd.read_csv(folder / "moodle_users.csv", dtype=str, keep_default_na=False)
    students = dict(zip(users["id"], users["idnumber"], strict=True))
    actor = frame["Description"].str.extract(r"user with id '(\d+)'")[0].map(students)
    keep = actor.fillna("").ne("") & ~frame["Event name"].isin(NOT_LEARNING)
    stamps = frame.loc[keep, "Time"]
    if "%Y" not in entry["time_format"] and "%y" not in entry["time_format"]:
        when = pd.to_datetime(stamps + f" {year}", format=entry["time_format"] + " %Y")
        when = when.where(when.dt.month >= 9, when + pd.DateOffset(years=1))
    else:
        when = pd.to_datetime(stamps, format=entry["time_format"])
    return _daily(
        pd.DataFrame(
            {
                "student_id": actor[keep],
                "date": when.dt.strftime("%Y-%m-%d"),
                "quantity": 1,
                "minutes": np.nan,
            }
        )
    )
