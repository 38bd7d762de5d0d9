"""One parser per export format, looked up by the SOURCE word of `python -m lib ingest`."""

from __future__ import annotations

from importlib import import_module

from lib.ingest.base import Parser

# SOURCE word -> "module:function"; imported lazily so one broken format never blocks the others.
PARSERS: dict[str, str] = {
    "students": "lib.ingest.parsers.canonical:parse_students",
    "enrolments": "lib.ingest.parsers.canonical:parse_enrolments",
    "calendar": "lib.ingest.parsers.canonical:parse_calendar",
    "events": "lib.ingest.parsers.canonical:parse_events",
    "exemptions": "lib.ingest.parsers.canonical:parse_exemptions",
    "submissions": "lib.ingest.parsers.submissions:parse",
    "timetable": "lib.ingest.parsers.timetable:parse",
    "qr": "lib.ingest.parsers.qr:parse",
    "moodle-users": "lib.ingest.parsers.moodle_users:parse",
    "moodle-log": "lib.ingest.parsers.moodle_log:parse",
    "moodle-logstore": "lib.ingest.parsers.moodle_logstore:parse",
    "teams": "lib.ingest.parsers.teams:parse",
    "echo360": "lib.ingest.parsers.echo360:parse",
    "contacts": "lib.cases.contacts:parse",  # cases wing: contact logs become case entries
}


def parser_for(source: str) -> Parser:
    if source not in PARSERS:
        raise LookupError(f"unknown source {source!r}; known: {', '.join(PARSERS)}")
    module_name, function = PARSERS[source].split(":")
    return getattr(import_module(module_name), function)
