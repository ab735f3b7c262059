"""Opening a store: engine from a URL, schema brought to the latest Alembic revision."""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qingshan.core.errors import ConfigError

if TYPE_CHECKING:  # SQLAlchemy is imported when an engine is made: head_revision() needs none of it
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DEFAULT_URL", "check_store_url", "migrate", "one_writer_at_a_time", "open_engine", "open_store", "sqlite_url"]

DEFAULT_URL = "sqlite:///qingshan.sqlite"


def sqlite_url(path: str | Path) -> str:
    """SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{Path(path).resolve()}"


def _alembic_config(url: str) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("qingshan.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Upgrade the database at ``url`` to the latest schema (idempotent).

    A store already at the head revision (every command on an existing store) is recognised by reading its
    ``alembic_version`` row and comparing it with the head of the migration scripts (:func:`head_revision`),
    without importing Alembic (about a third of a small command's start-up); anything else — a new store, an
    older schema, a store of a newer Qingshan — goes through Alembic's ``upgrade head``."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if stored_revisions(url) == {head_revision()}:
        return
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


_REVISION = re.compile(r"""^(down_revision|revision)\s*(?::[^=]*)?=\s*["']?([\w]+|None)["']?\s*(?:#.*)?$""", re.MULTILINE)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The revision no migration script revises (the scripts' ``revision`` / ``down_revision`` lines).

    One head is expected (a test checks it equals Alembic's ``ScriptDirectory.get_current_head()``); several
    heads or none give ``""``, which never matches a store, so Alembic decides."""
    revisions: set[str] = set()
    revised: set[str] = set()
    for script in (resources.files("qingshan.store") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        found = dict(_REVISION.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            if found.get("down_revision", "None") != "None":
                revised.add(found["down_revision"])
    heads = revisions - revised
    return heads.pop() if len(heads) == 1 else ""


def stored_revisions(url: str) -> set[str]:
    """The revisions recorded in the store's ``alembic_version`` table (empty: no table, a new store)."""
    from sqlalchemy import inspect, text

    with _engine(url).connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return set()
        return {str(r[0]) for r in conn.execute(text("SELECT version_num FROM alembic_version"))}


@lru_cache(maxsize=16)
def _engine(url: str) -> Engine:
    from sqlalchemy import create_engine, event

    eng = create_engine(url, future=True)
    if url.startswith("sqlite"):

        @event.listens_for(eng, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.close()

    return eng


_URL_FIX = ("Give an SQLAlchemy URL: sqlite:///relative/path.sqlite, sqlite:////absolute/path.sqlite or "
            "postgresql://user:password@host:5432/database.")
_URL_FIX_ZH = ("请填写 SQLAlchemy 地址：sqlite:///相对路径.sqlite、sqlite:////绝对路径.sqlite 或 "
               "postgresql://用户:密码@主机:5432/数据库。")


def check_store_url(url: str) -> str:
    """``url`` checked and normalised: ``postgres://`` (Heroku style) is accepted as ``postgresql://``;
    a bare file path, an unknown dialect or an unparsable URL is a bilingual :class:`ConfigError`."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    text = str(url).strip()
    if text.startswith("postgres://"):
        text = "postgresql://" + text.removeprefix("postgres://")
    if "://" not in text:
        hint = f" (for a file: sqlite:///{text})" if text else ""
        raise ConfigError(f"The store URL '{text}' is not a database URL{hint}",
                          f"结果库地址“{text}”不是数据库地址", field="store", fix=_URL_FIX, fix_zh=_URL_FIX_ZH)
    try:
        parsed = make_url(text)
        parsed.get_dialect()
    except (ArgumentError, NoSuchModuleError, ValueError) as exc:
        raise ConfigError(f"The store URL '{_hide_password(text)}' cannot be used: {exc}",
                          f"无法使用结果库地址“{_hide_password(text)}”", field="store",
                          fix=_URL_FIX, fix_zh=_URL_FIX_ZH) from None
    except ImportError as exc:  # the dialect's driver (e.g. psycopg) is not installed
        raise ConfigError(f"The database driver for '{parsed.drivername}' is not installed ({exc})",
                          f"未安装“{parsed.drivername}”数据库驱动", field="store",
                          fix="Install the driver (PostgreSQL: pip install 'qingshan[postgres]') or use SQLite.",
                          fix_zh="请安装数据库驱动（PostgreSQL：pip install 'qingshan[postgres]'），或使用 SQLite。") from None
    return text


def _hide_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # unparsable: show the scheme only
        return url.split("://", 1)[0] + "://…"


def open_engine(url: str = DEFAULT_URL) -> Engine:
    """Migrate the store at ``url`` and return its engine (``url`` checked by :func:`check_store_url`): for
    SQLAlchemy Core (``qingshan.store.repo``'s run writers and readers), without importing the ORM."""
    from sqlalchemy.exc import OperationalError

    url = check_store_url(url)
    try:
        migrate(url)
    except (OperationalError, OSError) as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip()[:300]
        raise ConfigError(f"Cannot open the store {_hide_password(url)}: {reason}",
                          f"无法打开结果库 {_hide_password(url)}", field="store",
                          fix="Check that the database server runs and the URL, user and password are right "
                              "(for SQLite: that the folder is writable).",
                          fix_zh="请检查数据库服务是否运行、地址、用户名和密码是否正确（SQLite：目录是否可写）。") from None
    return _engine(url)


def open_store(url: str = DEFAULT_URL) -> sessionmaker[Session]:
    """Migrate the store at ``url`` and return a session factory (``url`` checked by :func:`check_store_url`)."""
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(bind=open_engine(url), expire_on_commit=False)


_WRITE_LOCKABLE = {"form_submissions": "id", "catalog_entries": "id", "upload_chunks": "sha256"}
"""Tables :func:`one_writer_at_a_time` locks, and a column it may set to itself."""


def one_writer_at_a_time(session: Session, table: str) -> None:
    """Make this transaction, from now on, the only one writing ``table`` until it ends: call it first in a
    transaction that reads and then inserts on what it read ("the next version number", "no entry with this key
    yet"), so that two requests at the same moment cannot both read the same state.

    SQLite: a statement that writes nothing (``UPDATE … WHERE 0``) takes the database's write lock now instead of at
    the first insert (others wait up to the busy timeout). PostgreSQL: ``LOCK TABLE … IN SHARE ROW EXCLUSIVE MODE``
    (readers go on; writers of ``table`` wait). Found: four uploads of one form at once made four submissions, and
    two versions uploaded at once both took number n + 1 (a 500).
    """
    from sqlalchemy import text

    if table not in _WRITE_LOCKABLE:  # the name goes into SQL text: only known tables
        raise ValueError(f"{table!r} is not a table one_writer_at_a_time locks")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
    elif dialect == "sqlite":
        column = _WRITE_LOCKABLE[table]
        session.execute(text(f"UPDATE {table} SET {column} = {column} WHERE 0"))
