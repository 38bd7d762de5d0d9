"""Moodle logstore_standard_log export: streamed with pyarrow, aggregated to daily VLE counts per course."""

from __future__ import annotations

import calendar
import mmap
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lib.ingest.base import ParseContext, ParsedFile
from lib.ingest.errors import IngestError, RowProblem
from lib.ingest.limits import MAX_PROBLEMS, clip_raw, default_window, quote
from lib.ingest.parsers.formats import header_key, module_code_in, unrecognised
from lib.ingest.readers import decode_bytes, sniff_delimiter
from lib.sources import VLE

COLUMNS = [
    "id", "eventname", "component", "action", "target", "objecttable", "objectid", "crud",
    "edulevel", "contextid", "contextlevel", "contextinstanceid", "userid", "courseid",
    "relateduserid", "anonymous", "other", "timecreated", "origin", "ip", "realuserid",
]  # fmt: skip
NUMBERS = [
    "edulevel",
    "userid",
    "courseid",
    "relateduserid",
    "anonymous",
    "timecreated",
    "realuserid",
]
SHORTNAME = ("shortname", "course shortname", "courseshortname", "course_shortname")
PARTICIPATING = 2  # Moodle's \core\event\base::LEVEL_PARTICIPATING
NULLS = ["NULL", "null", "", "\\N"]
BLOCK = 1 << 24
DAY_BITS, COURSE_BITS = 17, 22


def parse(path: Path, ctx: ParseContext) -> ParsedFile:
    path = Path(path)
    with open(path, "rb") as handle:
        head_bytes = handle.read(1 << 16)
    head, encoding = decode_bytes(head_bytes, ctx.file_name)
    header = re.split(r"\r\n|\r|\n", head.lstrip("\ufeff"), maxsplit=1)[0]
    delimiter = sniff_delimiter(header)
    names = [header_key(c) for c in header.split(delimiter)]
    missing = [c for c in NUMBERS if c not in names]
    if missing:
        raise unrecognised(
            ctx.file_name,
            "Moodle logstore_standard_log",
            [
                f"logstore_standard_log CSV export ({', '.join(COLUMNS)}); missing {', '.join(missing)}"
            ],
            head,
            encoding,
        )
    if encoding.startswith("utf-16"):
        raise IngestError(
            ctx.file_name,
            "is UTF-16: export the logstore table as UTF-8 CSV (it is read in streams)",
        )
    shortname = next((n for n in names if n in SHORTNAME), None)
    students = _student_index(ctx)
    counter = _Counter(students, ctx.file_name)
    try:
        _stream(path, header, delimiter, shortname, counter, newlines=False)
    except pa.ArrowInvalid as exc:
        if "conversion error" in str(exc):
            columns = [header_key(c) for c in header.split(delimiter)]
            raise _conversion_error(path, ctx.file_name, str(exc), columns) from None
        counter = _Counter(
            students, ctx.file_name
        )  # a quoted value spans lines: read again, slower but exact
        try:
            _stream(path, header, delimiter, shortname, counter, newlines=True)
        except pa.ArrowInvalid as exc2:
            raise IngestError(
                ctx.file_name, f"cannot be read as CSV: {quote(str(exc2).strip(), 200)}"
            ) from None
    if counter.rows == 0:
        raise IngestError(ctx.file_name, "has a header but no data rows")
    modules, module_note = _course_modules(path, counter.course_names, counter.course_ids())
    out = counter.frame(modules)
    if len(set(modules.values())) < len(modules):  # courses sharing a module code: sum them
        keys = ["student_id", "source", "day", "module_code"]
        out = out.groupby(keys, sort=False, as_index=False).agg(
            quantity=("quantity", "sum"), minutes=("minutes", "first")
        )
    out.attrs["daily"] = True  # one row per student, day and module already
    notes = counter.notes() + ([module_note] if module_note else [])
    return ParsedFile(counter.rows, {"activity": out}, counter.problems, notes)


def _conversion_error(path: Path, file_name: str, text: str, columns: list[str]) -> IngestError:
    """pyarrow's conversion complaint as a row problem: the column (by its index in the header)
    and the first line holding the bad value."""
    match = re.search(r"column #?(\d+).*?invalid value '([^']*)'", text, re.S)
    index = int(match.group(1)) if match else -1
    column = columns[index] if 0 <= index < len(columns) else None
    value = match.group(2) if match else ""
    row = 0
    if value:
        with (
            open(path, "rb") as handle,
            mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            at = data.find(value.encode())
            row = data[:at].count(b"\n") + 1 if at >= 0 else 0
    problem = RowProblem(row, column, f"holds {quote(value)} where a number or NULL is expected")
    where = f"column '{column}'" if column else "a column"
    return IngestError(file_name, f"{where} holds {quote(value)}: not a number", [problem])


def _student_index(ctx: ParseContext) -> tuple[pd.Index, np.ndarray, int]:
    """Moodle ids of student accounts (as an index), their student ids, and the count of all users."""
    users = ctx.moodle_users()
    if users.empty:
        raise IngestError(
            ctx.file_name, "no Moodle users in the store: load the moodle-users export first"
        )
    known = ctx.student_ids()
    ids = pd.to_numeric(users["moodle_id"], errors="coerce")
    is_student = users["student_id"].notna() & users["student_id"].isin(known) & ids.notna()
    studs = users[is_student]
    index = pd.Index(ids[is_student].astype("int64").to_numpy())
    return index, studs["student_id"].astype(str).to_numpy(), len(users)


class _Counter:
    """Accumulates daily counts per (student, course, day) across streamed record batches."""

    def __init__(self, students: tuple[pd.Index, np.ndarray, int], file_name: str = ""):
        self.index, self.student_ids, self.all_users = students
        self.file_name = file_name
        self.rows = 0
        self.parts: list[pd.Series] = []
        self.problems: list[RowProblem] = []
        self.skipped = {"not participating": 0, "anonymous": 0, "done to another user": 0,
                        "logged in as": 0, "not a student": 0}  # fmt: skip
        self.course_names: dict[int, str] = {}
        self.bad = 0
        window = default_window()  # Unix seconds of the plausible days (UTC, a day's slack)
        self.seconds = (
            int(
                datetime(
                    window.first.year, window.first.month, window.first.day, tzinfo=UTC
                ).timestamp()
            )
            - 86400,
            int(
                datetime(
                    window.last.year, window.last.month, window.last.day, tzinfo=UTC
                ).timestamp()
            )
            + 2 * 86400,
        )

    def add(self, batch: pa.RecordBatch, shortname: str | None) -> None:
        col = {n: batch.column(n) for n in NUMBERS}
        n = batch.num_rows
        broken = pc.or_(pc.is_null(col["timecreated"]), pc.is_null(col["userid"]))
        if pc.any(broken).as_py():
            self._report(broken, col)
        first, last = self.seconds
        implausible = pc.fill_null(
            pc.or_(pc.less(col["timecreated"], first), pc.greater(col["timecreated"], last)), False
        )
        if pc.any(implausible).as_py():  # refused before a day number can overflow its key bits
            self._report_times(implausible, col["timecreated"])
            broken = pc.or_(broken, implausible)
        level = pc.fill_null(col["edulevel"], -1)
        participating = pc.equal(level, PARTICIPATING)
        anonymous = pc.not_equal(pc.fill_null(col["anonymous"], 0), 0)
        login_as = pc.is_valid(col["realuserid"])
        related = col["relateduserid"]
        to_other = pc.and_(pc.is_valid(related), pc.not_equal(related, col["userid"]))
        to_other = pc.fill_null(to_other, False)
        keep = pc.and_(participating, pc.invert(anonymous))
        keep = pc.and_(keep, pc.invert(login_as))
        keep = pc.and_(keep, pc.invert(to_other))
        keep = pc.and_(keep, pc.invert(broken))
        self.skipped["not participating"] += n - pc.sum(participating).as_py() or 0
        self.skipped["anonymous"] += pc.sum(pc.and_(participating, anonymous)).as_py() or 0
        self.skipped["logged in as"] += pc.sum(pc.and_(participating, login_as)).as_py() or 0
        self.skipped["done to another user"] += (
            pc.sum(pc.and_(participating, to_other)).as_py() or 0
        )
        self.rows += n
        user = pc.filter(col["userid"], keep).to_numpy(zero_copy_only=False)
        course = pc.fill_null(pc.filter(col["courseid"], keep), 0).to_numpy(zero_copy_only=False)
        when = pc.filter(col["timecreated"], keep).to_numpy(zero_copy_only=False)
        who = self.index.get_indexer(user)
        student = who >= 0
        self.skipped["not a student"] += int((~student).sum())
        if shortname:
            names = pc.filter(batch.column(shortname), keep).to_numpy(zero_copy_only=False)
            for cid, name in zip(course[student], names[student], strict=True):
                if name and cid not in self.course_names:
                    self.course_names[int(cid)] = str(name)
        day = _london_days(when[student])
        course = course[student]
        if course.size and (course.max() >= 1 << COURSE_BITS or course.min() < 0):
            raise IngestError(
                self.file_name, f"course id {int(course.max())} is out of the supported range"
            )
        key = (
            (who[student].astype(np.int64) << (COURSE_BITS + DAY_BITS)) | (course << DAY_BITS) | day
        )
        if key.size:
            self.parts.append(pd.Series(key).value_counts(sort=False))

    def _report_times(self, implausible: pa.Array, times: pa.Array) -> None:
        positions = np.flatnonzero(implausible.to_numpy(zero_copy_only=False))
        self.bad += len(positions)
        window = default_window()
        for i in positions[: max(MAX_PROBLEMS - len(self.problems), 0)]:
            value = str(times[int(i)].as_py())
            self.problems.append(
                RowProblem(
                    self.rows + int(i) + 2,
                    "timecreated",
                    f"is outside the store's window ({window.first} to {window.last}) "
                    f"(value {quote(value)})",
                    clip_raw(value),
                )
            )

    def _report(self, broken: pa.Array, col: dict[str, pa.Array]) -> None:
        positions = np.flatnonzero(broken.to_numpy(zero_copy_only=False))
        self.bad += len(positions)
        for i in positions[: max(MAX_PROBLEMS - len(self.problems), 0)]:
            column = "timecreated" if col["timecreated"][int(i)].as_py() is None else "userid"
            self.problems.append(
                RowProblem(
                    self.rows + int(i) + 2, column, "is empty or NULL (needed to count the event)"
                )
            )

    def course_ids(self) -> np.ndarray:
        keys = self._totals().index.to_numpy()
        return np.unique((keys >> DAY_BITS) & ((1 << COURSE_BITS) - 1))

    def _totals(self) -> pd.Series:
        if not self.parts:
            return pd.Series([], dtype="int64")
        if len(self.parts) > 1:
            self.parts = [pd.concat(self.parts).groupby(level=0).sum()]
        return self.parts[0]

    def frame(self, modules: dict[int, str]) -> pd.DataFrame:
        totals = self._totals()
        keys = totals.index.to_numpy().astype(np.int64)
        who = keys >> (COURSE_BITS + DAY_BITS)
        course = (keys >> DAY_BITS) & ((1 << COURSE_BITS) - 1)
        day = keys & ((1 << DAY_BITS) - 1)
        return pd.DataFrame(
            {
                "student_id": self.student_ids[who] if len(keys) else np.array([], dtype=object),
                "source": VLE,
                "day": pd.to_datetime(day, unit="D"),
                "module_code": pd.Series(course).map(modules).fillna("").to_numpy(),
                "quantity": totals.to_numpy().astype(float),
                "minutes": np.nan,
            }
        )

    def notes(self) -> list[str]:
        counted = int(self._totals().sum()) if self.parts else 0
        skipped = ", ".join(f"{v} {k}" for k, v in self.skipped.items() if v)
        return [
            f"{counted} participating student event(s) counted of {self.rows} log row(s)"
            + (f"; not counted: {skipped}" if skipped else "")
        ]


def _stream(
    path: Path,
    header: str,
    delimiter: str,
    shortname: str | None,
    counter: _Counter,
    *,
    newlines: bool,
) -> None:
    include = [c for c in header.split(delimiter)]
    keys = [header_key(c) for c in include]
    wanted = {
        k: raw.strip().strip('"').lstrip("\ufeff") for k, raw in zip(keys, include, strict=True)
    }
    rename = {wanted[k]: k for k in [*NUMBERS, *([shortname] if shortname else [])]}
    columns = list(rename)
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=BLOCK, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=newlines),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns,
            column_types={wanted[k]: pa.int64() for k in NUMBERS}
            | ({wanted[shortname]: pa.string()} if shortname else {}),
            null_values=NULLS,
            strings_can_be_null=True,
        ),
    )
    for batch in reader:
        if batch.num_rows:
            counter.add(batch.rename_columns([rename[n] for n in batch.schema.names]), shortname)


_TRANSITIONS: dict[tuple[int, int], np.ndarray] = {}


def _bst_transitions(first: int, last: int) -> np.ndarray:
    """UTC instants (s) where UK summer time starts/ends: last Sundays of March/October at 01:00 UTC."""
    if (first, last) not in _TRANSITIONS:
        out = []
        for year in range(first, last + 1):
            for month in (3, 10):
                day = max(week[6] for week in calendar.monthcalendar(year, month))
                out.append(datetime(year, month, day, 1, tzinfo=UTC).timestamp())
        _TRANSITIONS[(first, last)] = np.asarray(out, dtype=np.int64)
    return _TRANSITIONS[(first, last)]


def _london_days(seconds: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of each Unix time, as a date in Europe/London."""
    if not seconds.size:
        return seconds.astype(np.int64)
    seconds = seconds.astype(np.int64)
    first = datetime.fromtimestamp(int(seconds.min()), UTC).year - 1
    last = datetime.fromtimestamp(int(seconds.max()), UTC).year + 1
    transitions = _bst_transitions(max(first, 1972), max(last, 1973))
    summer = np.searchsorted(transitions, seconds, side="right") % 2 == 1
    return (seconds + np.where(summer, 3600, 0)) // 86400


def _course_modules(
    path: Path, from_file: dict[int, str], course_ids: np.ndarray
) -> tuple[dict[int, str], str | None]:
    """Module code per Moodle course id: the export's shortname column, a courses.csv beside it, or
    `moodle-course-<id>`."""
    names = dict(from_file)
    side = path.parent / "courses.csv"
    if side.is_file():
        table = pd.read_csv(side, dtype=str, keep_default_na=False)
        table.columns = [header_key(c) for c in table.columns]
        if {"id", "shortname"} <= set(table.columns):
            for cid, name in zip(table["id"], table["shortname"], strict=True):
                if cid.strip().isdigit():
                    names.setdefault(int(cid), name.strip())
    modules: dict[int, str] = {}
    unnamed = []
    for cid in course_ids.tolist():
        if cid in names and names[cid]:
            modules[cid] = module_code_in(names[cid]) or names[cid]
        elif cid <= 1:
            modules[cid] = ""  # the site itself (front page, dashboard, messaging)
        else:
            modules[cid] = f"moodle-course-{cid}"
            unnamed.append(cid)
    note = None
    if unnamed:
        note = (
            f"{len(unnamed)} Moodle course(s) without a shortname (no shortname column, no "
            f"courses.csv with id,shortname beside the export): stored as moodle-course-<id> "
            f"(e.g. moodle-course-{unnamed[0]})"
        )
    return modules, note
