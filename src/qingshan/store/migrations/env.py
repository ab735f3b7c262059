"""Alembic environment: runs migrations against the URL set by qingshan.store.db."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from qingshan.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations with a connection to the configured URL."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
