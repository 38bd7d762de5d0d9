"""Engagement engine: weekly measures, robust own baselines, flags and systemic drops (pure arrays)."""
