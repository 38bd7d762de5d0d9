"""Splits a Microsoft Teams attendance report into its summary and tables, in any language/separator."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

from lib.ingest.parsers.formats import header_key

# Header spellings (lower case, single spaces) across report versions and languages -> our name.
COLUMN_NAMES: dict[str, str] = {}
for _name, _spellings in {
    "name": "name|full name|participant|vollständiger name|nom|nombre",
    "join": "first join|first join time|join time|joined|erster beitritt|beitrittszeit|"
    "heure d'arrivée|première arrivée",
    "leave": "last leave|last leave time|leave time|left|letztes verlassen|"
    "uhrzeit des verlassens|heure de départ|dernier départ",
    "duration": "in-meeting duration|in meeting duration|duration|attendance duration|"
    "dauer der besprechung|dauer|durée|durée de la réunion",
    "email": "email|e-mail|email address|e-mail-adresse|adresse e-mail|courrier",
    "upn": "participant id (upn)|upn|teilnehmer-id (upn)|id du participant (upn)",
    "role": "role|rolle|rôle",
    "action": "user action|aktion|benutzeraktion|action de l'utilisateur",
    "timestamp": "timestamp|zeitstempel|horodatage",
}.items():
    for _spelling in _spellings.split("|"):
        COLUMN_NAMES[_spelling] = _name

SUMMARY_KEYS: dict[str, str] = {}
for _name, _spellings in {
    "title": "meeting title|title|besprechungstitel|titre de la réunion",
    "start": "start time|meeting start time|startzeit|heure de début",
    "end": "end time|meeting end time|endzeit|heure de fin",
}.items():
    for _spelling in _spellings.split("|"):
        SUMMARY_KEYS[_spelling] = _name

SECTION = re.compile(r"^\s*\d\.\s+\S")


@dataclass
class Report:
    """One report: summary values, the participants table and the join/leave activity table."""

    delimiter: str
    summary: dict[str, str] = field(default_factory=dict)
    participants: list[dict[str, str]] = field(default_factory=list)
    activities: list[dict[str, str]] = field(default_factory=list)
    legacy: list[dict[str, str]] = field(default_factory=list)
    first_line: str = ""
    times: dict[str, object] = field(default_factory=dict)  # every date-time text -> Timestamp

    def texts(self) -> list[str]:
        """Every date-time text of the report, to be parsed in one go (one day/month order)."""
        out = [self.summary.get("start", "")]
        for table in (self.participants, self.activities, self.legacy):
            for row in table:
                out += [row.get("join", ""), row.get("leave", ""), row.get("timestamp", "")]
        return sorted({t for t in out if t})


def _delimiter(lines: list[str]) -> str:
    counts = {d: sum(line.count(d) for line in lines[:40]) for d in ("\t", ";", ",")}
    return max(counts, key=lambda d: counts[d])


def _rows(lines: list[str], delimiter: str) -> list[list[str]]:
    return [r for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter) if r]


def _table(rows: list[list[str]], first_line: int = 0) -> list[dict[str, str]]:
    """Records of a table; `_n` is the record's number in the table, `_line` its line in the file
    (first_line: the header's line; one line per row, as Teams writes them)."""
    header = [COLUMN_NAMES.get(header_key(c), header_key(c)) for c in rows[0]]
    out = []
    for number, row in enumerate(rows[1:], start=1):
        if not any(cell.strip() for cell in row):
            continue
        record = {name: (row[i].strip() if i < len(row) else "") for i, name in enumerate(header)}
        record["_n"] = str(number)
        record["_line"] = str(first_line + number if first_line else 0)
        out.append(record)
    return out


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Blocks of non-blank lines between section titles, each with its first line's number."""
    blocks: list[tuple[int, list[str]]] = [(0, [])]
    for number, line in enumerate(lines, start=1):
        if not line.strip() or SECTION.match(line):
            if blocks[-1][1]:
                blocks.append((0, []))
            continue
        if not blocks[-1][1]:
            blocks[-1] = (number, blocks[-1][1])
        blocks[-1][1].append(line)
    return [b for b in blocks if b[1]]


def split_report(text: str) -> Report | None:
    """The report's parts, or None when the text is no Teams attendance report we know."""
    lines = text.split("\n")
    first = next((line for line in lines if line.strip()), "")
    delimiter = _delimiter(lines)
    report = Report(delimiter=delimiter, first_line=first)
    for first_line, block in _blocks(lines):
        rows = _rows(block, delimiter)
        if not rows:
            continue
        names = {COLUMN_NAMES.get(header_key(c)) for c in rows[0]}
        lines_match = len(rows) == len(block)  # no quoted line breaks: row i is line first+i
        start = first_line if lines_match else 0
        if {"name", "action", "timestamp"} <= names:
            report.legacy = _table(rows, start)
        elif {"name", "join"} <= names and names & {"email", "upn", "duration", "leave"}:
            table = _table(rows, start)
            is_activity = "upn" not in names and not report.participants and _has_repeats(table)
            if report.participants or is_activity:
                report.activities = table
            else:
                report.participants = table
        else:
            for row in rows:
                key = SUMMARY_KEYS.get(header_key(row[0])) if row else None
                if key and len(row) > 1 and key not in report.summary:
                    report.summary[key] = row[1].strip()
    if not (report.legacy or report.participants or report.activities):
        return None
    return report


def _has_repeats(table: list[dict[str, str]]) -> bool:
    keys = [(r.get("email") or r.get("name", "")).lower() for r in table]
    return len(set(keys)) < len(keys)
