"""The store wing: models, engine and sessions, bulk writes, shared lookups."""
