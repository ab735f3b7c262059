"""``backup``/``restore`` round trip on both backends (issue 8 build 7): the store (SQLite online backup,
``pg_dump -Fc``/``pg_restore``) and the run artifacts, checked against the manifest's SHA-256s, into
another folder and another database; a non-empty target is refused without ``force``."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from qingshan.core.errors import InputError
from qingshan.store import artifacts, repo
from qingshan.store.backup import backup, restore
from qingshan.store.db import open_store, sqlite_url

ROW = {"region_code": "360000", "year": 2019, "indicator": "i", "category": "regulating", "component": "c",
       "ecosystem": "forest", "quantity": 1.5, "unit": "t", "price": 2.0, "price_unit": "CNY/t", "value": 3.0,
       "value_comparable": 3.0}


def _record_run(url: str, data_dir: Path, run_id: str = "r1") -> list[dict[str, object]]:
    """One succeeded run with two sealed artifact files; its manifest."""
    factory = open_store(url)
    staging = artifacts.make_tmp(artifacts.runs_root(data_dir))
    (staging / "rasters").mkdir()
    (staging / "results.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (staging / "rasters" / "i.c.2019.tif").write_bytes(bytes(range(256)) * 10)
    rel, manifest = artifacts.seal(staging, data_dir, run_id)
    repo.start_run(factory, run_id=run_id, name="备份", profile="p", years=[2019], base_year=None,
                   config={}, code_version="test")
    repo.finish_run_succeeded(factory, run_id, results=pd.DataFrame([ROW]), regions=[{"code": "360000",
                              "name": "江西省", "level": "province"}], provenance={"k": "v"}, output_dir=None,
                              content_hash="h" * 64, artifacts_dir=rel, artifacts=manifest)
    return manifest


@pytest.fixture
def second_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Another empty database of the same backend (the restore target)."""
    if backend == "sqlite":
        yield sqlite_url(tmp_path / "elsewhere" / "restored.sqlite")
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url.rsplit("/", 1)[1])


def test_backup_restore_round_trip(store_url: str, second_url: str, tmp_path: Path) -> None:
    data_a, data_b = tmp_path / "data-a", tmp_path / "elsewhere" / "data-b"
    manifest = _record_run(store_url, data_a)
    done = backup(store_url, tmp_path / "bk", data_dir=data_a)
    assert done.runs == 1
    listed = json.loads((tmp_path / "bk" / "manifest.json").read_text(encoding="utf-8"))
    for f in listed["files"]:
        assert hashlib.sha256((tmp_path / "bk" / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    restore(tmp_path / "bk", second_url, data_dir=data_b)
    factory = open_store(second_url)
    run = repo.get_run(factory, "r1")
    assert run is not None and run.status == "succeeded" and run.artifacts == manifest
    got = repo.read_results(factory, "r1")
    assert got[["quantity", "value"]].to_dict("records") == [{"quantity": 1.5, "value": 3.0}]
    folder = artifacts.artifact_dir(run, data_b)
    assert folder == data_b / "runs" / "r1"
    for entry in manifest:
        path, _ = artifacts.artifact_file(run, data_b, str(entry["name"]))
        assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
        assert stat.S_IMODE(path.stat().st_mode) & 0o222 == 0  # read-only again


def test_restore_refuses_non_empty_target_unless_forced(store_url: str, tmp_path: Path) -> None:
    _record_run(store_url, tmp_path / "data")
    backup(store_url, tmp_path / "bk", data_dir=tmp_path / "data")
    with pytest.raises(InputError, match="not empty"):
        restore(tmp_path / "bk", store_url, data_dir=tmp_path / "data")
    restore(tmp_path / "bk", store_url, data_dir=tmp_path / "data", force=True)
    assert [r.id for r in repo.list_runs(open_store(store_url))] == ["r1"]
    assert (tmp_path / "data" / "runs" / "r1" / "results.csv").is_file()
