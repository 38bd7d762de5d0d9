"""Welfare cases (SPEC §5): the ladder, working days, the store of cases and entries, worklists."""
