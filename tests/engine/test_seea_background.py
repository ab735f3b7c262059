"""The SEEA basis is written beside a run's blocks, at low priority (tenth pass of issue 11).

It needs only the config and the regions, so it starts with the run (:class:`BasisInBackground`) instead of
waiting for the exports: at 3000² the LS routing keeps one core busy and the other idle for longer than the
basis takes. What must hold: the artifacts are the same; a run that fails or is interrupted stops the basis and
leaves nothing behind; an error of the basis stops the run before it is recorded; its threads do not take CPU
from the run's own.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.core.errors import InputError
from qingshan.engine import blockwise, extent
from qingshan.engine.config import load_config
from qingshan.engine.run import load_regions
from qingshan.store import artifacts, repo
from qingshan.store.db import open_store


def _digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file; of a GeoPackage's rows (its metadata holds the time it was written)."""
    import geopandas as gpd

    def content(p: Path) -> bytes:
        return gpd.read_file(p).to_wkb().to_csv().encode() if p.suffix == ".gpkg" else p.read_bytes()

    return {p.relative_to(folder).as_posix(): hashlib.sha256(content(p)).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(tmp_path: Path) -> list[str]:
    root = artifacts.runs_root(tmp_path / "qingshan-data")
    return [p.name for p in root.iterdir() if ".tmp-" in p.name] if root.exists() else []


def test_the_basis_written_beside_the_blocks_is_the_one_written_after_them(write_config: Any, tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path / "a"))
    regions = load_regions(config)
    after = tmp_path / "after"
    after.mkdir()
    extent.write_seea_basis(after, regions, config)  # as the exports wrote it
    beside = extent.BasisInBackground(artifacts.make_tmp(tmp_path, stem=".seea"), regions, config)
    moved = tmp_path / "run"
    moved.mkdir()
    beside.move_into(moved)
    beside.stop()  # after success: nothing to remove, the basis is in the run
    assert _digests(moved / "seea") == _digests(after / "seea") and _digests(after / "seea")
    assert not (beside.folder / "seea").exists()


def test_a_run_failing_while_the_basis_is_written_stops_it_and_leaves_nothing(
        write_config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's blocks fail while the basis is half-way: the basis stops at its next block, its folder is removed,
    no run is recorded, the command says what failed."""
    started, written = threading.Event(), []
    real_write = extent._EcosystemCog.write

    def slow_write(self: Any, window: Any, eco: Any) -> None:
        written.append(window)
        started.set()
        time.sleep(0.05)
        real_write(self, window, eco)

    def failing_blocks(*_a: object, **_k: object) -> None:
        assert started.wait(30)
        raise InputError("a block failed", "某分块出错", file="lulc.tif", field="lulc", fix="fix it", fix_zh="修正")

    monkeypatch.setattr(extent._EcosystemCog, "write", slow_write)
    monkeypatch.setattr(blockwise, "compute_blockwise", failing_blocks)
    config = write_config(tmp_path, run={"block_size": 8})  # many blocks: the basis is stopped half-way
    result = CliRunner().invoke(app, ["account", str(config)])
    assert result.exit_code == 2 and "某分块出错" in result.output, result.output
    assert not [t for t in threading.enumerate() if t.name.startswith("seea")]
    n_blocks = len(written)
    time.sleep(0.3)
    assert len(written) == n_blocks  # stopped, not running on
    assert _leftovers(tmp_path) == []
    assert repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")) == []


def test_an_error_of_the_basis_stops_the_run_before_it_is_recorded(write_config: Any, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: the basis ran in the export phase, so its error left a failed run in the store. It is now waited
    for with the values (like bad statistics: no trace)."""

    def bad_basis(*_a: object, **_k: object) -> None:
        raise InputError("NDVI out of range", "NDVI 超出范围", file="ndvi.tif", field="ndvi", fix="fix", fix_zh="修正")

    monkeypatch.setattr(extent, "write_seea_basis", bad_basis)
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 2 and "NDVI 超出范围" in result.output, result.output
    assert repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")) == []
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own priority on Linux")
def test_background_threads_run_at_lower_priority() -> None:
    from qingshan.engine.blocks import LOW_PRIORITY_NICE, lower_priority

    seen: list[int] = []

    def probe() -> None:
        before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        lower_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) - before)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    assert seen == [LOW_PRIORITY_NICE]
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == os.getpriority(os.PRIO_PROCESS, 0)
