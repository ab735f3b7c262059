"""The platform's disk fills up while a department uploads: a bilingual 507 saying nothing was saved, not a 500
(SQLite's "database or disk is full", PostgreSQL's 53100, or ENOSPC from a file write)."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Callable

import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from qingshan.platform import submissions


def _precip(tmp_path) -> bytes:  # type: ignore[no-untyped-def]
    path = tmp_path / "precip.tif"
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115.0, 0, -0.05, 29.0), nodata=-9999.0) as ds:
        ds.write(np.linspace(1300.0, 2000.0, 400, dtype=np.float32).reshape(20, 20), 1)
    return path.read_bytes()


def _full_db(*_a: object, **_k: object) -> None:
    raise OperationalError("INSERT INTO upload_version …", {}, sqlite3.OperationalError("database or disk is full"))


def _full_fs(*_a: object, **_k: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fail", [_full_db, _full_fs], ids=["database", "file"])
def test_an_upload_on_a_full_disk_is_a_bilingual_507(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                     tmp_path, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
                                                     fail: Callable[..., None]) -> None:
    monkeypatch.setattr(submissions, "_store_version" if fail is _full_db else "check_raster_file", fail)
    sub = auth("submitter")
    r = client.post("/api/submissions/rasters", headers=sub, data={"variable": "precip", "year": "2019"},
                    files={"file": ("precip.tif", _precip(tmp_path), "image/tiff")})
    assert r.status_code == 507, r.text
    body = r.json()
    assert body["error"] == "storage_error" and "disk is full" in body["message_en"] and "磁盘已满" in body["message_zh"]
    assert body["fix"] and body["fix_zh"]
    monkeypatch.undo()
    ok = client.post("/api/submissions/rasters", headers=sub, data={"variable": "precip", "year": "2019"},
                     files={"file": ("precip.tif", _precip(tmp_path), "image/tiff")})
    assert ok.status_code == 201, ok.text  # once there is room again, the same upload goes through


def test_other_errors_stay_500(client: TestClient, auth: Callable[[str], dict[str, str]], tmp_path,  # type: ignore[no-untyped-def]
                               monkeypatch: pytest.MonkeyPatch) -> None:
    def gone(*_a: object, **_k: object) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(submissions, "check_raster_file", gone)
    with pytest.raises(OSError, match="Input/output"):  # the TestClient re-raises what the server did not handle
        client.post("/api/submissions/rasters", headers=auth("submitter"), data={"variable": "precip", "year": "2019"},
                    files={"file": ("precip.tif", _precip(tmp_path), "image/tiff")})
