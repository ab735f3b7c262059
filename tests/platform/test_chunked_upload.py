"""Resumable raster uploads from the web (issue 12 item 6): chunks in any order, retries, resume, verified
assembly, the same validation as a one-request upload, one winner of concurrent completions."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import chunked_upload
from qingshan.store.platform_models import UploadChunk

CHUNK = 1000


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunked_upload, "CHUNK_BYTES", CHUNK)


def _raster(tmp_path: Path, values: np.ndarray | None = None) -> bytes:
    values = np.linspace(1300.0, 2000.0, 1600).reshape(40, 40) if values is None else values
    path = tmp_path / "precip.tif"
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype="float32", crs="EPSG:4326", transform=Affine(0.05, 0, 115.0, 0, -0.05, 29.0),
                       nodata=-9999.0) as ds:
        ds.write(values.astype(np.float32), 1)
    return path.read_bytes()


def _start(client: TestClient, h: dict[str, str], content: bytes, **over: object) -> dict:
    body = {"filename": "precip.tif", "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
            "variable": "precip", "year": 2019, **over}
    r = client.post("/api/uploads", headers=h, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _put(client: TestClient, h: dict[str, str], uid: str, i: int, data: bytes) -> object:
    return client.put(f"/api/uploads/{uid}/chunks/{i}", headers={**h, "Content-Type": "application/octet-stream"},
                      content=data)


def test_chunks_in_any_order_retry_resume_and_complete(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                       factory: sessionmaker[Session], tmp_path: Path) -> None:
    h = auth("submitter")
    content = _raster(tmp_path)
    up = _start(client, h, content)
    n = up["chunks"]
    assert n == -(-len(content) // CHUNK) and n >= 3 and up["missing"] == list(range(n))
    parts = [content[i * CHUNK:(i + 1) * CHUNK] for i in range(n)]

    for i in reversed(range(1, n)):  # out of order, the first one "lost"
        assert _put(client, h, up["id"], i, parts[i]).status_code == 200
    assert _put(client, h, up["id"], n - 1, parts[n - 1]).status_code == 200  # a retry: no-op
    r = _put(client, h, up["id"], 1, parts[2][: len(parts[1])])  # other bytes for a stored chunk
    assert r.status_code == 409 and r.json()["message_zh"]
    assert _put(client, h, up["id"], 0, parts[0][:-1]).status_code == 422  # wrong length
    state = client.get(f"/api/uploads/{up['id']}", headers=h).json()
    assert state["missing"] == [0]  # resume: only chunk 0 is needed
    r = client.post(f"/api/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 409 and "0" in r.json()["message_en"]

    assert _put(client, h, up["id"], 0, parts[0]).status_code == 200
    r = client.post(f"/api/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 200, r.text
    sub = r.json()
    v = sub["versions"][-1]
    assert (sub["group"], sub["variable"], v["status"], v["n_errors"]) == ("rasters", "precip", "draft", 0)
    assert v["sha256"] == hashlib.sha256(content).hexdigest()
    assert client.get(f"/api/submissions/{sub['id']}/versions/{v['version']}/file", headers=h).content == content
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(UploadChunk)) == 0  # chunks removed once complete
    assert client.post(f"/api/uploads/{up['id']}/complete", headers=h).status_code == 409
    assert client.get(f"/api/uploads/{up['id']}", headers=h).json()["submission_id"] == sub["id"]


def test_validation_hash_size_and_scope(client: TestClient, auth: Callable[[str], dict[str, str]],
                                        tmp_path: Path) -> None:
    h = auth("submitter")
    # precipitation in metres: recorded as a draft with the bilingual plausibility error, as in one request
    metres = _raster(tmp_path, np.linspace(1.3, 2.0, 400).reshape(20, 20))
    up = _start(client, h, metres)
    for i in range(up["chunks"]):
        _put(client, h, up["id"], i, metres[i * CHUNK:(i + 1) * CHUNK])
    v = client.post(f"/api/uploads/{up['id']}/complete", headers=h).json()["versions"][-1]
    assert v["n_errors"] == 1 and "millimetres" in v["errors"][0]["message_en"]

    # the announced hash does not match: refused, session back to open, nothing recorded
    good = _raster(tmp_path)
    up = _start(client, h, good, sha256="0" * 64)
    for i in range(up["chunks"]):
        _put(client, h, up["id"], i, good[i * CHUNK:(i + 1) * CHUNK])
    r = client.post(f"/api/uploads/{up['id']}/complete", headers=h)
    assert r.status_code == 422 and r.json()["field"] == "sha256" and r.json()["message_zh"]
    assert client.get(f"/api/uploads/{up['id']}", headers=h).json()["status"] == "open"

    too_big = client.post("/api/uploads", headers=h, json={"filename": "big.tif", "size": 10**12, "sha256": "a" * 64,
                                                            "variable": "precip", "year": 2019})
    assert too_big.status_code == 413 and too_big.json()["message_zh"]
    r = client.post("/api/uploads", headers=h, json={"filename": "x.tif", "size": 10, "sha256": "a" * 64,
                                                     "variable": "nope", "year": 2019})
    assert r.status_code == 422 and r.json()["field"] == "variable"
    # another account does not see the upload
    assert client.get(f"/api/uploads/{up['id']}", headers=auth("admin")).status_code == 404
    assert client.post("/api/uploads", headers=auth("reviewer"), json={}).status_code == 403


def test_concurrent_completions_record_one_version(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                   factory: sessionmaker[Session], tmp_path: Path) -> None:
    from platform_support import PASSWORD

    from qingshan.platform import auth as platform_auth

    h = auth("submitter")
    content = _raster(tmp_path)
    up = _start(client, h, content)
    for i in range(up["chunks"]):
        _put(client, h, up["id"], i, content[i * CHUNK:(i + 1) * CHUNK])
    who, _ = platform_auth.login(factory, "submitter", PASSWORD)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        try:
            chunked_upload.complete(factory, who, up["id"])
            results.append("ok")
        except Exception as exc:
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["StateError"] * 3 + ["ok"]
    subs = client.get("/api/submissions", headers=h).json()
    assert [len(s["versions"]) for s in subs if s["group"] == "rasters"] == [1]


def test_open_uploads_are_bounded_and_stale_ones_abandoned(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                          factory: sessionmaker[Session], tmp_path: Path) -> None:
    """An account cannot park unlimited unfinished uploads in the store: at most MAX_OPEN open (429 beyond,
    bilingual), and open uploads older than 24 h are abandoned, chunks deleted, when it starts another."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from qingshan.store.platform_models import UploadSession

    h = auth("submitter")
    content = _raster(tmp_path)
    ids = [_start(client, h, content)["id"] for _ in range(chunked_upload.MAX_OPEN)]
    assert _put(client, h, ids[0], 0, content[:CHUNK]).status_code == 200
    r = client.post("/api/uploads", headers=h, json={"filename": "x.tif", "size": len(content), "variable": "precip",
                                                     "year": 2019})
    assert r.status_code == 429 and r.json()["message_zh"] and "Traceback" not in r.text
    with factory.begin() as s:  # the first one was started two days ago
        s.execute(update(UploadSession).where(UploadSession.id == ids[0])
                  .values(created_at=datetime.now(UTC) - timedelta(days=2)))
    assert _start(client, h, content)["status"] == "open"  # room again: the stale one was abandoned
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(UploadChunk).where(UploadChunk.session_id == ids[0])) == 0
    r = _put(client, h, ids[0], 1, content[CHUNK:2 * CHUNK])
    assert r.status_code == 409 and "abandoned" in r.json()["message_en"]
