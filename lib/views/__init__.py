"""The read side: one module per page, plus the cohort filters they share."""
