"""Welfare cases: the contact-and-escalation ladder of SPEC §5."""
