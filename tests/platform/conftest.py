"""Fixtures of the platform tests: a fresh store with one account per role, an app client, and a
helper that fills the products form.

The password hashes are real Argon2id hashes (tests log in through the API, as a browser does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from platform_support import PASSWORD, USERS
from sqlalchemy.orm import Session, sessionmaker

from pg_harness import BACKENDS, pg_database_url, pg_server  # noqa: F401  (fixtures used by backend_url)
from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts
from qingshan.store.db import open_store, sqlite_url


def with_accounts(url: str) -> str:
    """``url``'s store migrated to the latest schema, with one account per role; ``url``."""
    factory = open_store(url)
    for name, (role, regions, forms) in USERS.items():
        accounts.create_user(factory, name, PASSWORD, role, regions=regions, forms=forms)
    return url


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite store migrated to the latest schema, with one account per role."""
    return with_accounts(sqlite_url(tmp_path / "platform.sqlite"))


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """As ``store_url``, once on SQLite and once on PostgreSQL (``postgres`` marker; a real server from
    pg_harness): for the suites whose behaviour depends on the database's locks."""
    return with_accounts(sqlite_url(tmp_path / "backend.sqlite") if request.param == "sqlite"
                         else str(request.getfixturevalue("pg_database_url")))


@pytest.fixture
def factory(store_url: str) -> sessionmaker[Session]:
    """Session factory of the fresh store."""
    return open_store(store_url)


@pytest.fixture
def client(store_url: str) -> Iterator[TestClient]:
    """A TestClient of the app over the fresh store (anonymous unless a test logs in)."""
    with TestClient(create_app(Settings(store_url=store_url))) as c:
        yield c


@pytest.fixture
def auth(client: TestClient) -> Callable[[str], dict[str, str]]:
    """``auth(username)`` → the Bearer header of a fresh session of that user."""
    def login(username: str) -> dict[str, str]:
        r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.cookies.clear()
        return {"Authorization": f"Bearer {r.json()['token']}"}

    return login
