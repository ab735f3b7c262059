"""An accounting assembled from catalogue entries: validated before it is queued, pinned to approved versions,
built by the worker into the same run config as the base it came from, exported as a config that
`qingshan account` reads, and imported back. The engine is not run here (the e2e tests run the worker)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from platform_support import PASSWORD
from sqlalchemy.orm import Session, sessionmaker

from qingshan.engine.config import load_config
from qingshan.engine.run import _config_meaning
from qingshan.platform import accounts
from qingshan.platform.jobs import build_config, default_base_config

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXCLUDE = [e.model_dump() for e in load_config(default_base_config()).exclude]  # the example's own, with reasons


def example_spec(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    """The embedded example, assembled entry by entry from the catalogue (as the workbench page does)."""
    by_key = {e["key"].removeprefix("base:example:jiangxi-2019:"): e["id"]
              for e in client.get("/api/catalog", headers=headers).json() if e["key"].startswith("base:")}
    return {"name": "江西 2019（数据目录组装）", "profile": "jiangxi-db36-2021", "years": [2019], "base_year": 2019,
            "boundaries": {"entry": by_key["boundaries"]},
            "rasters": {"lulc": {"entry": by_key["raster:lulc"]}, "ndvi": {"entry": by_key["raster:ndvi"]},
                        "dem": {"entry": by_key["raster:dem"]},
                        "precip": {"2019": {"entry": by_key["raster:precip:2019"]}},
                        "aet": {"2019": {"entry": by_key["raster:aet:2019"], "version": 1}}},
            "tables": {"parameters": [{"entry": by_key["parameters:0"]}], "landcover": {"entry": by_key["landcover"]},
                       "landcover_meta": {"entry": by_key["landcover_meta"]},
                       "prices": [{"entry": by_key["prices"]}], "deflator": {"entry": by_key["deflator"]},
                       "statistics": [{"entry": by_key["statistics"]}], "products": {"entry": by_key["products"]}},
            "exclude": EXCLUDE, "options": {"water_purification_components": ["cod", "nh3n"]}}


def _meaning(config: Any) -> dict[str, Any]:
    return _config_meaning(config, {})


def test_assembled_accounting_is_the_base_it_names_and_is_queued_pinned(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session],
        tmp_path: Path) -> None:
    adm, acc = auth("admin"), auth("accountant")
    assert client.post("/api/catalog/bases/example:jiangxi-2019", headers=adm).status_code == 201
    spec = example_spec(client, acc)
    pinned = client.post("/api/assemblies/validate", headers=acc, json=spec)
    assert pinned.status_code == 200, pinned.text
    assert pinned.json()["example"] is True
    assert pinned.json()["pinned"]["rasters"]["lulc"]["2019"]["version"] == 1  # "latest approved", pinned

    r = client.post("/api/assemblies/jobs", headers=acc, json=spec)
    assert r.status_code == 202, r.text
    job = r.json()
    assert (job["base"], job["example"], job["status"]) == ("catalog", True, "queued")
    assert job["params"]["assembly"]["pinned"]["boundaries"]["sha256"]
    # what the worker runs is the example config in meaning (every file by SHA-256), with no hidden base
    built = build_config(factory, job, tmp_path / "job")
    assert _meaning(built) == _meaning(load_config(default_base_config()))
    assert all(str(tmp_path) in str(p) for p in (built.regions.file, built.tables.prices, *built.inputs.values()))

    # saved, then exported as a config `qingshan account` reads, with the same meaning
    saved = client.post("/api/assemblies", headers=acc, json=spec)
    assert saved.status_code == 201 and client.get("/api/assemblies", headers=acc).json()[0]["id"] == saved.json()["id"]
    r = client.post("/api/assemblies/config", headers=acc, json=spec)
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    zipfile.ZipFile(io.BytesIO(r.content)).extractall(tmp_path / "bundle")
    exported = load_config(tmp_path / "bundle" / "accounting.toml")
    assert _meaning(exported) == _meaning(built)

    # ... and imported back: every file matches its approved catalogue version, nothing new is created
    r = client.post("/api/assemblies/import", headers=acc, files={"file": ("accounting.zip", r.content, "application/zip")})
    assert r.status_code == 200, r.text
    imported = r.json()
    assert imported["created"] == [] and len(imported["matched"]) == 13
    again = client.post("/api/assemblies/validate", headers=acc, json=imported["spec"]).json()
    assert again["pinned"] == pinned.json()["pinned"] | {"rasters": again["pinned"]["rasters"]}
    assert {v["2019"]["sha256"] for v in again["pinned"]["rasters"].values()} == \
        {v["2019"]["sha256"] for v in pinned.json()["pinned"]["rasters"].values()}

    # the old route (an explicit base) still works
    assert client.post("/api/jobs", headers=acc, json={"profile": "jiangxi-db36-2021", "years": [2019],
                                                       "base": "example:jiangxi-2019"}).status_code in (202, 409)


def test_assembly_is_validated_before_it_is_queued(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                   factory: sessionmaker[Session]) -> None:
    adm, acc = auth("admin"), auth("accountant")
    client.post("/api/catalog/bases/example:jiangxi-2019", headers=adm)
    spec = example_spec(client, acc)

    def refused(change: Callable[[dict[str, Any]], None], *words: str) -> None:
        bad = example_spec(client, acc)
        change(bad)
        r = client.post("/api/assemblies/jobs", headers=acc, json=bad)
        assert r.status_code in (404, 422), r.text
        body = r.json()
        assert body["message_zh"] and all(w in body["message_en"] + body.get("fix", "") for w in words), body

    refused(lambda s: s["rasters"].update(lulc={"entry": spec["rasters"]["dem"]["entry"]}), "raster", "lulc")
    refused(lambda s: s.update(boundaries=s["tables"]["prices"][0]), "boundaries")
    refused(lambda s: s["rasters"].update(precip={"2018": s["rasters"]["precip"]["2019"]}), "precip", "2019")
    refused(lambda s: s.update(years=[2019, 2020]), "2020")
    refused(lambda s: s.update(exclude=[{"id": "no_such_indicator", "reason": "x"}]), "no_such_indicator")
    refused(lambda s: s["rasters"]["aet"]["2019"].update(version=7), "approved version 7")
    refused(lambda s: s["tables"].update(prices=[]), "price")
    refused(lambda s: s.update(profile="no-such-profile"), "no-such-profile")

    # a draft version, or an entry of a department that did not share it, cannot be used
    accounts.create_user(factory, "water-sub", PASSWORD, "submitter", regions=["360000"], forms=["products"],
                         department="水利局")
    sub = auth("water-sub")
    eid = client.post("/api/catalog", headers=sub, json={"kind": "prices", "title_zh": "价格", "title_en": "Prices",
                                                         "visibility": "departments"}).json()["id"]
    client.post(f"/api/catalog/{eid}/versions", headers=sub, files={"file": ("p.csv", b"price_key\n", "text/csv")})
    refused(lambda s: s["tables"]["prices"].append({"entry": eid}), f"entry {eid}")
    assert client.post("/api/assemblies/jobs", headers=sub, json=spec).status_code == 403  # accountants only
    assert client.get("/api/jobs", headers=acc).json() == []  # nothing was queued


@pytest.mark.heavy
def test_worker_runs_an_assembled_accounting_like_the_base(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session], store_url: str,
        tmp_path: Path) -> None:
    """The worker runs the assembled example: same content hash as the base route's run (two Jiangxi runs:
    ``pytest -m heavy tests/platform/test_assembly.py``)."""
    import subprocess
    import sys

    from qingshan.store import repo

    adm, acc = auth("admin"), auth("accountant")
    client.post("/api/catalog/bases/example:jiangxi-2019", headers=adm)
    assembled = client.post("/api/assemblies/jobs", headers=acc, json=example_spec(client, acc)).json()
    proc = subprocess.run([sys.executable, "-m", "qingshan.cli.platform", "worker", "--store", store_url, "--once",
                           "--output", str(tmp_path / "jobs"), "--poll", "0.1"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    job = client.get(f"/api/jobs/{assembled['id']}", headers=acc).json()
    assert job["status"] == "succeeded", job["error"]
    run = repo.get_run(factory, job["run_id"])
    assert run is not None and run.provenance.get("example") is True  # labelled: the example's files
    from qingshan.engine.run import account

    base = load_config(default_base_config())
    base = base.model_copy(update={"run": base.run.model_copy(update={"output": tmp_path / "base-out"})})
    outcome = account(base, store_url=store_url)
    assert repo.get_run(factory, outcome.run_id).content_hash == run.content_hash  # type: ignore[union-attr]


def test_approved_forms_complete_the_tables_of_an_assembly(
        client: TestClient, auth: Callable[[str], dict[str, str]], factory: sessionmaker[Session],
        tmp_path: Path) -> None:
    """A form (statistics rows) chosen after the base statistics table replaces the rows with the same key."""
    import pandas as pd
    from platform_support import fill_products

    from qingshan.platform import jobs

    client.post("/api/catalog/bases/example:jiangxi-2019", headers=auth("admin"))
    accounts.create_user(factory, "agri-sub", PASSWORD, "submitter", regions=["360100"], forms=["products"],
                         department="农业农村局")
    sub, rev, acc = auth("agri-sub"), auth("reviewer"), auth("accountant")
    body = fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"]])
    sid = client.post("/api/submissions", headers=sub, data={"group": "products", "year": "2019"},
                      files={"file": ("p.xlsx", body, XLSX)}).json()["id"]
    client.post(f"/api/submissions/{sid}/versions/1/submit", headers=sub)
    assert client.post(f"/api/submissions/{sid}/versions/1/approve", headers=rev).status_code == 200
    [form] = client.get("/api/catalog", params={"kind": "submission"}, headers=acc).json()
    spec = example_spec(client, acc)
    spec["tables"]["statistics"].append({"entry": form["id"]})
    job = client.post("/api/assemblies/jobs", headers=acc, json=spec).json()
    stats = pd.read_csv(jobs.build_config(factory, job, tmp_path / "job").tables.statistics, dtype=str)
    rice = stats[(stats["region_code"] == "360102") & (stats["item"] == "rice") & (stats["year"] == "2019")]
    assert len(rice) == 1 and float(rice["value"].iloc[0]) == 0.9 and rice["unit"].iloc[0] == "万t"
    base = pd.read_csv(load_config(default_base_config()).tables.statistics, dtype=str)
    assert len(stats) == len(base)  # the row replaced, nothing else added or lost
