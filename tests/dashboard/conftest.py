"""One real accounting of the embedded Jiangxi example, shared by the dashboard and parcel tests.

``example`` runs ``qingshan.engine.run.account`` once per session into a temporary output folder
and SQLite store; ``client`` serves it through ``create_app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import qingshan
from qingshan.api.app import create_app
from qingshan.api.settings import Settings

EXAMPLE = Path(qingshan.__file__).parent / "data" / "examples" / "jiangxi" / "jiangxi-2019.toml"
PARCEL_PATH = "/api/runs/{run_id}/parcel"


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The example run: ``run_id``, ``store_url``, ``output_dir``, ``results`` and ``counties`` (exact polygons)."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account

    tmp = tmp_path_factory.mktemp("dashboard_run")
    cfg = load_config(EXAMPLE)
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"output": tmp / "out"})})
    url = f"sqlite:///{tmp / 'store.sqlite'}"
    outcome = account(cfg, store_url=url)
    _publish_if_supported(url, outcome.run_id)
    counties = gpd.read_file(tmp / "out" / "regions.gpkg", layer="county").to_crs("EPSG:4326")
    return SimpleNamespace(run_id=outcome.run_id, store_url=url, output_dir=tmp / "out",
                           results=outcome.results, counties=counties)


def _publish_if_supported(store_url: str, run_id: str) -> None:
    """Approve and publish the run when the platform has publication (the public reads published runs)."""
    try:
        from qingshan.platform import jobs
        from qingshan.platform.audit import Actor
    except ImportError:  # a results store without the platform layer: every run is readable
        return
    from qingshan.store.db import open_store

    factory = open_store(store_url)
    for action in ("approve", "publish"):
        jobs.set_publication(factory, Actor("dashboard-tests", "accountant"), run_id, action, acknowledge_qc=True)


@pytest.fixture(scope="session")
def app(example: SimpleNamespace) -> FastAPI:
    """``create_app`` over the example store, with the parcel router if the app lacks it."""
    application = create_app(Settings(store_url=example.store_url))
    if not any(getattr(r, "path", "") == PARCEL_PATH for r in application.routes):
        from qingshan.api.routers import parcels

        application.include_router(parcels.router)
    return application


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient over the example run's store."""
    with TestClient(app) as c:
        yield c
