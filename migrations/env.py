"""Alembic environment: migrates the store named by lib.store.db (or the URL handed in by init_db)."""

from alembic import context
from sqlalchemy import create_engine

from lib.store.db import database_url
from lib.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or database_url()
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
