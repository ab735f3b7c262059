"""Fixtures of the end-to-end browser tests: a fresh platform store with one account per role the
workflow needs, the app served by uvicorn on a free loopback port, and Debian's headless Chromium.

Playwright drives ``/usr/bin/chromium`` (never ``playwright install``). When Playwright or Chromium
is missing the tests are skipped with the reason, except under ``CI=true`` where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import NoReturn

import pytest

from helpers_server import served
from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts
from qingshan.store.db import open_store, sqlite_url

PASSWORD = "correct horse battery"
# username → (role, regions, forms): the submitter reports products for Nanchang city (3601xx).
USERS: dict[str, tuple[str, list[str], list[str]]] = {
    "dept-agri": ("submitter", ["360100"], ["products"]),
    "reviewer": ("reviewer", [], []),
    "accountant": ("accountant", [], []),
    "accountant-2": ("accountant", [], []),  # approves and publishes the first accountant's run (four-eyes)
}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _missing(reason: str) -> NoReturn:
    """Skip with ``reason``; under ``CI=true`` a missing browser is a failure, not a skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


@pytest.fixture
def browser_kit() -> SimpleNamespace:
    """``sync_api`` (playwright.sync_api) and ``chromium`` (path of Debian's chromium)."""
    try:
        import playwright.sync_api as sync_api
    except ImportError:
        _missing("playwright is not installed (pip install playwright; never `playwright install`)")
    chromium = shutil.which("chromium")
    if chromium is None:
        _missing("chromium is not installed (apt-get install chromium)")
    assert isinstance(sync_api, ModuleType)
    return SimpleNamespace(sync_api=sync_api, chromium=chromium, args=CHROMIUM_ARGS)


@pytest.fixture
def password() -> str:
    """The password of every account of the fresh store."""
    return PASSWORD


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    """A fresh SQLite store at the latest schema with the workflow's accounts (Argon2id hashes)."""
    url = sqlite_url(tmp_path / "e2e.sqlite")
    factory = open_store(url)
    for name, (role, regions, forms) in USERS.items():
        accounts.create_user(factory, name, PASSWORD, role, regions=regions, forms=forms)
    return url


@pytest.fixture
def base_url(store_url: str) -> Iterator[str]:
    """``create_app`` over the fresh store, served by uvicorn in a background thread."""
    with served(create_app(Settings(store_url=store_url))) as url:
        yield url
