"""Alembic environment: runs migrations against the URL set by qingshan.store.db."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, Engine, create_engine, event

from qingshan.store.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Run migrations with a connection to the configured URL."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        _transactional_sqlite_ddl(engine)
    with engine.connect() as connection:
        # One transaction for the whole upgrade on every backend: a process killed half-way leaves
        # the previous schema, never half of a migration (tests/store/test_migration_kill.py).
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                          transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def _transactional_sqlite_ddl(engine: Engine) -> None:
    """Let SQLite roll back DDL: the sqlite3 driver commits before each CREATE/ALTER by itself,
    so take transaction control from it and emit BEGIN ourselves (SQLAlchemy's documented recipe
    for pysqlite, "Serializable isolation / Savepoints / Transactional DDL")."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


run_migrations_online()
