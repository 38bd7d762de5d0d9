"""Visa compliance (SPEC §6), the termly assumed-withdrawal review and subject access requests."""
