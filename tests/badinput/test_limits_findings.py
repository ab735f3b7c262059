"""Reproductions of the findings of issue 8 on bounded inputs, with the *default* limits:

* a 113 KB XLSX whose one string expands to 100 MiB was accepted (201 after 52 s) and stored;
* a GeoTIFF header claiming 100 000 × 100 000 pixels (37 GiB allocation) → 5xx;
* a deeply nested JSON body → RecursionError (500);
* form parsing and parcel reading ran on the event loop, so /healthz stalled behind them;
* CLI commands outside the error printer (``qingshan users add`` printed an IntegrityError traceback).
"""

from __future__ import annotations

import io
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import rasterio
from badinput_cases import OK_ROW, _row, fill, ring, string_bomb
from fastapi.testclient import TestClient
from rasterio.transform import from_origin
from typer.testing import CliRunner

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.core.errors import InputError
from qingshan.core.limits import LimitExceededError, Limits, check_zip, json_depth
from qingshan.core.redact import redact_paths

MiB = 2**20


@pytest.fixture(scope="module")
def default_client(corpus_store: SimpleNamespace) -> Iterator[TestClient]:
    """The app with the default limits (what a deployment gets)."""
    with TestClient(create_app(Settings(store_url=corpus_store.url, limits=Limits()))) as client:
        yield client


def _versions(client: TestClient, auth: dict[str, str]) -> int:
    r = client.get("/api/submissions", headers=auth)
    assert r.status_code == 200
    return sum(len(s["versions"]) for s in r.json())


# ----------------------------------------------------------------------------- zip bomb
def test_xlsx_zip_bomb_is_refused_before_extraction(default_client: TestClient,
                                                    corpus_auth: dict[str, dict[str, str]]) -> None:
    bomb = string_bomb(100 * MiB)
    assert len(bomb) < 200_000  # ≈ 110 KB on disk
    auth = corpus_auth["c-submitter"]
    before = _versions(default_client, auth)
    r = default_client.post("/api/submissions", headers=auth, data={"group": "products", "year": "2019"},
                            files={"file": ("bomb.xlsx", bomb, "application/octet-stream")})
    assert r.status_code == 413, r.text[:300]
    body = r.json()
    assert body["error"] == "limit_exceeded" and "zip_bytes" in body["fix"] and "解压后" in body["message_zh"]
    assert len(r.content) < 5_000
    assert _versions(default_client, auth) == before  # nothing stored


def test_zip_check_reads_the_directory_only() -> None:
    """check_zip decides from the declared sizes: a bomb is refused without decompressing a byte."""
    bomb = string_bomb(150 * MiB)
    with pytest.raises(LimitExceededError) as info:
        check_zip(bomb, Limits(), filename="bomb.xlsx")
    assert "expands to 150 MiB" in info.value.en
    check_zip(fill([OK_ROW]), Limits())  # a real form passes


def test_huge_cells_are_stored_clipped(default_client: TestClient, corpus_auth: dict[str, dict[str, str]]) -> None:
    """A cell of 30 000 characters is an error whose stored value is clipped, so listings stay small."""
    auth = corpus_auth["c-submitter"]
    r = default_client.post("/api/submissions", headers=auth, data={"group": "products", "year": "2019"},
                            files={"file": ("f.xlsx", fill([_row(value="9" * 30_000)]), "application/octet-stream")})
    assert r.status_code == 201
    detail = default_client.get(f"/api/submissions/{r.json()['id']}", headers=auth).json()
    error = detail["versions"][-1]["errors"][0]
    assert error["code"] == "too_long" and len(error["value"]) < 200 and len(error["message_en"]) < 600
    assert len(default_client.get("/api/submissions", headers=auth).content) < 200_000


# ----------------------------------------------------------------------------- rasters
def _huge_header_tif(path: Path) -> Path:
    """A 77 KB GeoTIFF whose header claims 100 000 × 100 000 float32 cells (sparse: no tile written)."""
    with rasterio.open(path, "w", driver="GTiff", width=100_000, height=100_000, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(115, 29, 1e-5, 1e-5), tiled=True, blockxsize=1024,
                       blockysize=1024, compress="deflate", sparse_ok=True, nodata=-9999):
        pass
    return path


def test_raster_header_of_100000_squared_is_refused_on_upload(default_client: TestClient,
                                                              corpus_auth: dict[str, dict[str, str]],
                                                              tmp_path: Path) -> None:
    tif = _huge_header_tif(tmp_path / "huge.tif").read_bytes()
    auth = corpus_auth["c-submitter"]
    before = _versions(default_client, auth)
    r = default_client.post("/api/submissions/rasters", headers=auth, data={"variable": "precip", "year": "2019"},
                            files={"file": ("huge.tif", tif, "image/tiff")})
    assert r.status_code == 413, r.text[:300]
    body = r.json()
    assert "100,000 × 100,000" in body["message_en"] and "raster_cells" in body["fix"] and "像元" in body["message_zh"]
    assert body["file"] == "huge.tif"
    assert _versions(default_client, auth) == before


def test_raster_header_of_100000_squared_is_refused_by_the_cli(tmp_path: Path) -> None:
    from qingshan.cli import app

    huge = _huge_header_tif(tmp_path / "precip.tif")
    small = tmp_path / "pet.tif"
    with rasterio.open(small, "w", driver="GTiff", width=4, height=3, count=1, dtype="float32", crs="EPSG:4326",
                       transform=from_origin(115, 29, 0.01, 0.01)) as ds:
        ds.write(np.full((3, 4), 1000.0, dtype="float32"), 1)
    args = ["compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / "out" / "x.tif"),
            "--input", f"precip={huge}", "--input", f"pet={small}", "--input", f"lulc={small}",
            "--input", f"root_depth={small}", "--input", f"pawc={small}"]
    result = CliRunner().invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == 2, text
    assert "raster_cells" in text and "像元" in text and "precip.tif" in text
    assert not (tmp_path / "out").exists()


# ----------------------------------------------------------------------------- JSON depth
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/runs/{run_id}/parcel"])
def test_deeply_nested_json_is_422_not_500(default_client: TestClient, corpus_store: SimpleNamespace,
                                           path: str) -> None:
    body = b'{"type":' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    r = default_client.post(path.format(run_id=corpus_store.run_id), content=body,
                            headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text[:300]
    assert "nests 200001 levels" in r.json()["message_en"] and "嵌套" in r.json()["message_zh"]


def test_json_depth_ignores_brackets_in_strings() -> None:
    assert json_depth(b'{"a": "[[[[{{{{", "b": [[1]]}') == 3
    assert json_depth(b'"\\"[[["') == 0
    assert json_depth(b"") == 0


# ----------------------------------------------------------------------------- off the event loop
class _Gate:
    """Wraps a function so that each call announces itself and waits until released."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn, self.entered, self.release = fn, threading.Event(), threading.Event()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self.release.wait(60)
        return self.fn(*args, **kwargs)


def test_healthz_answers_while_a_maximal_form_is_parsed_and_a_maximal_parcel_is_read_and_valued(
        corpus_store: SimpleNamespace, corpus_auth: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Form parsing, parcel reading and parcel valuation are held inside their functions while /healthz is
    called: if any of them ran on the event loop, /healthz could not answer until they were released."""
    from qingshan.api.routers import parcels
    from qingshan.platform import submissions

    limits = Limits(form_rows=2_000, parcel_vertices=20_000)
    form = fill([_row(region_code=f"36{i:04d}") for i in range(limits.form_rows)])  # maximal: at the row limit
    parcel = {"type": "Feature", "properties": {}, "geometry": ring(limits.parcel_vertices - 1)}
    parse, read, value = (_Gate(submissions.parse_form), _Gate(parcels.parcel_from_geojson),
                          _Gate(parcels.value_parcel))
    monkeypatch.setattr(submissions, "parse_form", parse)
    monkeypatch.setattr(parcels, "parcel_from_geojson", read)
    monkeypatch.setattr(parcels, "value_parcel", value)
    monkeypatch.setattr(parcels, "artifact_dir", lambda *_a: Path("/nonexistent/run"))  # the fixture run has none
    gates = (parse, read, value)
    with TestClient(create_app(Settings(store_url=corpus_store.url, limits=limits))) as client, \
            ThreadPoolExecutor(4) as pool:
        try:
            up = pool.submit(client.post, "/api/submissions", headers=corpus_auth["c-submitter"],
                             data={"group": "products", "year": "2019"},
                             files={"file": ("max.xlsx", form, "application/octet-stream")})
            pv = pool.submit(client.post, f"/api/runs/{corpus_store.run_id}/parcel", json=parcel)
            assert parse.entered.wait(30) and read.entered.wait(30), "the requests did not reach their work"
            assert pool.submit(client.get, "/healthz").result(timeout=5).status_code == 200
            parse.release.set()
            read.release.set()
            assert value.entered.wait(30), "the parcel was not valued"
            assert pool.submit(client.get, "/healthz").result(timeout=5).status_code == 200
        finally:
            for g in gates:
                g.release.set()
        assert up.result(timeout=60).status_code == 201
        answer = pv.result(timeout=60)
        assert answer.status_code == 422 and "export folder" in answer.json()["message_en"]  # the run has no rasters


# ----------------------------------------------------------------------------- CLI and API hygiene
def test_every_cli_command_goes_through_the_error_printer() -> None:
    import typer

    from qingshan.cli import app

    def commands(t: typer.Typer, prefix: str = "") -> Iterator[tuple[str, Any]]:
        for c in t.registered_commands:
            yield f"{prefix}{c.name or getattr(c.callback, '__name__', '?')}", c.callback
        if t.registered_callback is not None and t.registered_callback.callback is not None:
            yield f"{prefix}(callback)", t.registered_callback.callback
        for g in t.registered_groups:
            if g.typer_instance is not None:
                yield from commands(g.typer_instance, f"{prefix}{g.name} ")

    found = dict(commands(app))
    assert {"account", "users add", "forms templates", "serve", "worker", "publish", "compute"} <= set(found), found
    unguarded = [name for name, fn in found.items() if not getattr(fn, "_qingshan_friendly", False)]
    assert unguarded == []


def test_api_error_bodies_name_the_uploaded_file_not_the_server_path() -> None:
    assert redact_paths("Cannot open raster /tmp/tmpab12/upload.tif: /tmp/tmpab12/upload.tif: not recognized") == \
        "Cannot open raster upload.tif: upload.tif: not recognized"
    assert redact_paths("POST /api/submissions/rasters 上传") == "POST /api/submissions/rasters 上传"
    assert redact_paths(r"file C:\Users\me\x.tif") == "file x.tif"


def test_limits_from_the_environment() -> None:
    limits = Limits.from_env({"QINGSHAN_LIMIT_FORM_ROWS": "100_000", "QINGSHAN_LIMIT_JSON_DEPTH": " 64 "})
    assert limits.form_rows == 100_000 and limits.json_depth == 64 and limits.zip_bytes == Limits().zip_bytes
    with pytest.raises(InputError, match="QINGSHAN_LIMIT_ZIP_BYTES"):
        Limits.from_env({"QINGSHAN_LIMIT_ZIP_BYTES": "a lot"})
    with pytest.raises(InputError):
        Limits(form_rows=0)
    settings = Settings.from_env({"QINGSHAN_LIMIT_PARCEL_VERTICES": "10", "QINGSHAN_PARCEL_MAX_KM2": "50"})
    assert settings.limits.parcel_vertices == 10 and settings.parcel_max_km2 == 50.0


def test_member_count_is_checked_too() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for i in range(1_001):
            z.writestr(f"m{i}", b"")
    with pytest.raises(LimitExceededError, match="1,001 members"):
        check_zip(buf.getvalue(), Limits())


def test_store_urls_postgres_alias_is_accepted_and_bare_paths_are_explained() -> None:
    from qingshan.core.errors import ConfigError
    from qingshan.store.db import check_store_url

    assert check_store_url("postgres://u:p@db.example:5432/gep") == "postgresql://u:p@db.example:5432/gep"
    assert check_store_url("sqlite:////srv/q.sqlite") == "sqlite:////srv/q.sqlite"
    with pytest.raises(ConfigError) as info:
        check_store_url("/srv/qingshan.sqlite")
    assert "sqlite:////srv/qingshan.sqlite" in info.value.en and "数据库地址" in info.value.zh
    with pytest.raises(ConfigError, match="cannot be used"):
        check_store_url("mongodb://localhost/x")


def test_the_size_limit_is_checked_before_the_plausibility_sample(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding: ``qingshan compute`` took 73–92 s to refuse a 77 KB file whose header claims 100 000² cells —
    the plausibility sample decoded the whole sparse grid (nearest-neighbour overview read) before the limit
    was looked at. The header's size is checked first; nothing is sampled."""
    from qingshan.core.limits import LimitExceededError
    from qingshan.io import plausibility

    huge = _huge_header_tif(tmp_path / "precip.tif")

    def sampled(*_: object) -> None:
        raise AssertionError("sampled a raster the size limit refuses")

    monkeypatch.setattr(plausibility, "sample_values", sampled)
    with pytest.raises(LimitExceededError) as info:
        plausibility.check_raster(huge, "precip", context="compute")
    assert info.value.field == "raster" and "precip.tif" in str(info.value.file)
