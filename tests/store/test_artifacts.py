"""``qingshan.store.artifacts``: where the data dir is, sealing, and how readers find a run's files."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from qingshan.core.errors import ConfigError, InputError
from qingshan.store import artifacts


def test_data_dir_explicit_then_environment_then_beside_sqlite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(artifacts.DATA_DIR_ENV, raising=False)
    url = f"sqlite:///{tmp_path / 'db' / 'q.sqlite'}"
    assert artifacts.data_dir_for(url) == tmp_path / "db" / "qingshan-data"
    monkeypatch.setenv(artifacts.DATA_DIR_ENV, str(tmp_path / "env"))
    assert artifacts.data_dir_for(url) == tmp_path / "env"
    assert artifacts.data_dir_for(url, tmp_path / "explicit") == tmp_path / "explicit"


def test_postgresql_needs_an_explicit_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(artifacts.DATA_DIR_ENV, raising=False)
    with pytest.raises(ConfigError, match="data dir") as exc:
        artifacts.data_dir_for("postgresql+psycopg://u@h/db")
    assert exc.value.field == "run.data_dir" and artifacts.DATA_DIR_ENV in exc.value.fix
    assert artifacts.find_data_dir("postgresql+psycopg://u@h/db") is None


def _sealed(tmp_path: Path) -> tuple[Path, str, list[dict[str, object]]]:
    data = tmp_path / "data"
    staging = artifacts.make_tmp(artifacts.runs_root(data))
    (staging / "rasters").mkdir()
    (staging / "a.csv").write_text("x\n1\n", encoding="utf-8")
    (staging / "rasters" / "b.tif").write_bytes(b"\x00\x01" * 100)
    rel, manifest = artifacts.seal(staging, data, "run-1")
    return data, rel, manifest


def test_seal_records_sha256_makes_read_only_and_leaves_no_temp(tmp_path: Path) -> None:
    data, rel, manifest = _sealed(tmp_path)
    assert rel == "runs/run-1"
    folder = data / rel
    assert {e["name"] for e in manifest} == {"a.csv", "rasters/b.tif"}
    for e in manifest:
        p = folder / str(e["name"])
        assert e["sha256"] == hashlib.sha256(p.read_bytes()).hexdigest() and e["size"] == p.stat().st_size
    for p in [folder, *folder.rglob("*")]:
        assert stat.S_IMODE(p.stat().st_mode) in (0o444, 0o555)
    assert sorted(p.name for p in (data / "runs").iterdir()) == ["run-1"]
    with pytest.raises(FileExistsError):  # a run's folder is written once
        artifacts.seal(artifacts.make_tmp(data / "runs"), data, "run-1")
    artifacts.remove_tree(folder)  # sealed folders can still be removed on purpose (failed runs, restore --force)
    assert not folder.exists()


def test_readers_find_files_by_manifest_name_only(tmp_path: Path) -> None:
    data, rel, manifest = _sealed(tmp_path)
    run = SimpleNamespace(id="run-1", artifacts_dir=rel, artifacts=manifest, output_dir=None)
    path, entry = artifacts.artifact_file(run, data, "rasters/b.tif")
    assert path == data / "runs" / "run-1" / "rasters" / "b.tif" and entry["size"] == 200
    for bad in ("../run-1/a.csv", "/etc/passwd", "rasters", "c.csv"):
        with pytest.raises(InputError, match="no artifact"):
            artifacts.artifact_file(run, data, bad)


def test_missing_artifacts_error_names_no_server_path(tmp_path: Path) -> None:
    data, rel, manifest = _sealed(tmp_path)
    run = SimpleNamespace(id="run-1", artifacts_dir=rel, artifacts=manifest, output_dir=None)
    with pytest.raises(InputError) as exc:
        artifacts.artifact_dir(run, tmp_path / "moved-away")
    assert str(tmp_path) not in str(exc.value) and "restore" in exc.value.fix
    legacy = SimpleNamespace(id="old", artifacts_dir=None, artifacts=None, output_dir=str(tmp_path / "gone" / "out"))
    with pytest.raises(InputError) as exc:
        artifacts.artifact_dir(legacy, data)
    assert str(tmp_path) not in str(exc.value)
