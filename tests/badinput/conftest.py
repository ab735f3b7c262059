"""Shared, session-scoped fixtures of the bad-input corpus (built once; every case is cheap).

* ``corpus_store``: the small results store of ``tests/api`` (one published run of 8 regions ×
  2 years, no export folder) plus one account per platform role;
* ``corpus_client``: ``create_app`` over it with *small* limits (:data:`SMALL_LIMITS`), so that each
  limit is hit with a tiny input;
* ``example_dir``: a private copy of the embedded Jiangxi example and its tables, which CLI cases
  copy and break one file at a time (the accounting stops at the broken input; nothing is run whole).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest
from fastapi.testclient import TestClient

import qingshan
from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.core.limits import Limits

DATA = Path(qingshan.__file__).parent / "data"
API_FIXTURE = Path(__file__).resolve().parent.parent / "api" / "conftest.py"
PASSWORD = "corpus-password-口令-1"
# username → (role, regions, forms)
USERS = {
    "c-admin": ("admin", [], []),
    "c-accountant": ("accountant", [], []),
    "c-reviewer": ("reviewer", [], []),
    "c-submitter": ("submitter", ["360100"], ["products", "rasters"]),
}
# Small limits: every limit of qingshan.core.limits is reached with a file of a few kB.
SMALL_LIMITS = Limits(request_bytes=3 * 2**20, json_bytes=2**20, json_depth=32, upload_bytes=2**20,
                      form_bytes=512 * 1024, zip_bytes=2 * 2**20, zip_members=40, form_rows=30, cell_chars=500,
                      form_errors=20, raster_cells=10_000, parcel_vertices=500, parcel_bytes=256 * 1024)
PARCEL_MAX_KM2 = 5_000.0


def _api_fixture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("qingshan_tests_badinput_api_store", API_FIXTURE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def corpus_store(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The fixture store of tests/api with one account per role; ``url`` and ``run_id``."""
    from qingshan.platform.accounts import create_user
    from qingshan.store.db import open_store

    fixture = _api_fixture()
    url = fixture.build_store(tmp_path_factory.mktemp("corpus_store") / "qingshan.sqlite")
    factory = open_store(url)
    for name, (role, regions, forms) in USERS.items():
        create_user(factory, name, PASSWORD, role, regions=regions, forms=forms)
    return SimpleNamespace(url=url, factory=factory, run_id=fixture.RUN_ID, failed_run_id=fixture.FAILED_RUN_ID)


@pytest.fixture(scope="session")
def corpus_client(corpus_store: SimpleNamespace) -> Iterator[TestClient]:
    """A TestClient with :data:`SMALL_LIMITS` (entered: one event loop for every request)."""
    settings = Settings(store_url=corpus_store.url, limits=SMALL_LIMITS, parcel_max_km2=PARCEL_MAX_KM2)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def corpus_auth(corpus_client: TestClient) -> dict[str, dict[str, str]]:
    """username → Bearer header of a session (logged in once per session)."""
    out = {}
    for name in USERS:
        r = corpus_client.post("/api/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        out[name] = {"Authorization": f"Bearer {r.json()['token']}"}
    corpus_client.cookies.clear()
    return out


@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the Jiangxi example (``…/examples/jiangxi``) with ``…/tables`` beside it."""
    root = tmp_path_factory.mktemp("corpus_data")
    shutil.copytree(DATA / "examples" / "jiangxi", root / "examples" / "jiangxi")
    shutil.copytree(DATA / "tables", root / "tables")
    return root / "examples" / "jiangxi"
