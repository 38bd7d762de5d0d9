"""Names shared by ingest, engine and pages: activity sources and the ingest SOURCE words of SPEC §8."""

# Activity source words stored in daily_activity.source (the canonical `events` vocabulary).
ATTENDANCE = "attendance"  # in-person sessions attended (QR scans matched to timetabled events)
ONLINE = "online"  # online sessions attended (Teams), minutes = attendee minutes
VLE = "vle"  # Moodle learning events (quantity = events)
SUBMISSION = "submission"  # assignment submissions (quantity = submissions made that day)
LECTURE_CAPTURE = "lecture_capture"  # Echo360 views, minutes = view time

CORE_ACTIVITY_SOURCES = (ATTENDANCE, ONLINE, VLE, SUBMISSION, LECTURE_CAPTURE)

# Which activity source each system adapter writes.
ADAPTER_ACTIVITY_SOURCE = {
    "qr": ATTENDANCE,
    "teams": ONLINE,
    "moodle-log": VLE,
    "moodle-logstore": VLE,
    "submissions": SUBMISSION,
    "echo360": LECTURE_CAPTURE,
}

# The SOURCE words accepted by `python -m lib ingest` (SPEC §8), plus `exemptions` (canonical extra).
INGEST_SOURCES = (
    "students",
    "enrolments",
    "calendar",
    "timetable",
    "qr",
    "moodle-log",
    "moodle-logstore",
    "moodle-users",
    "submissions",
    "teams",
    "echo360",
    "events",
    "exemptions",
    "contacts",  # contact logs of welfare cases (SPEC §8, lib.cases.contacts)
)
