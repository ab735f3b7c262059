"""Opening a store: engine from a URL, schema brought to the latest Alembic revision."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DEFAULT_URL", "migrate", "open_store", "sqlite_url"]

DEFAULT_URL = "sqlite:///qingshan.sqlite"


def sqlite_url(path: str | Path) -> str:
    """SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


def _alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("qingshan.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the latest schema (idempotent)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(url), "head")


@lru_cache(maxsize=16)
def _engine(url: str) -> Engine:
    eng = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return eng


def open_store(url: str = DEFAULT_URL) -> sessionmaker[Session]:
    """Migrate the store at ``url`` and return a session factory."""
    migrate(url)
    return sessionmaker(bind=_engine(url), expire_on_commit=False)
