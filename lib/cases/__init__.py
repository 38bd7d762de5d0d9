"""Welfare cases (SPEC §5): the ladder, working days, the store of cases and entries, worklists.

For other modules: `service` (open_case, record_contact, hand_over, refer, emergency_decision,
close_case, reopen_case, correct_entry; each checks the access policy), `queries` (cases_frame at
an as-of date, entries_frame), `worklists` (per-role Home sections, case_rows), `views` (what a
page shows), `ladder` (steps, channels, outcomes, referral team), `workdays` (working days)."""
