"""Fixtures of the store contract suite: every test runs once per backend (SQLite, PostgreSQL).

``store_url`` is the SQLAlchemy URL of an *empty* database of the backend in ``backend``: a new
SQLite file under ``tmp_path``, or a new database on the session's PostgreSQL test server
(:mod:`pg_harness`), dropped after the test. The PostgreSQL cases carry the ``postgres`` marker
(``-m "not postgres"`` runs SQLite only); without the server they skip, or fail under ``CI=true``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pg_harness import BACKENDS, pg_database_url, pg_server  # noqa: F401  (fixtures used below)
from qingshan.store.db import sqlite_url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``."""
    return str(request.param)


@pytest.fixture
def store_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database of ``backend`` (not migrated: tests decide when to migrate)."""
    if backend == "sqlite":
        return sqlite_url(tmp_path / "qingshan.sqlite")
    return str(request.getfixturevalue("pg_database_url"))
