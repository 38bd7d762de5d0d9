"""Student record statuses that mean the student has left (SPEC §3 `status`, compared lower-case)."""

LEFT_STATUSES = ("withdrawn", "completed", "graduated", "interrupted", "left")
