"""Ingest: one load pipeline (pipeline.py) and one parser per export format (parsers/)."""
