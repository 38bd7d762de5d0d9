"""Student Engagement Dashboard: all logic (store, ingest, engine, access) lives under this package."""
