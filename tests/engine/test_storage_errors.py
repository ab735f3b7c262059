"""A full disk or an unwritable folder while writing outputs: a bilingual error naming the file and the fix,
never a traceback, and nothing half-written left (found: ``qingshan compute`` on a full file system ended in
a rasterio traceback, ``RasterioIOError: Write failed``)."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.core.errors import QingshanError, StorageError
from qingshan.core.grid import Grid
from qingshan.core.window import Window
from qingshan.io.cog import BlockLayerWriter
from qingshan.io.rasters import write_cog

CRS = "EPSG:32650"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def _lulc(path: Path, n: int) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=n, width=n, count=1, dtype="uint8", crs=CRS,
                       transform=TRANSFORM, nodata=255, tiled=True, compress="deflate") as dst:
        dst.write(np.full((n, n), 1, dtype=np.uint8), 1)
    return path


def _small_files(limit: int) -> None:  # in the child: files may not grow beyond `limit` bytes (EFBIG, as a full disk)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_compute_on_a_full_disk_says_so_in_both_languages_and_leaves_nothing(tmp_path: Path) -> None:
    lulc = _lulc(tmp_path / "lulc.tif", 600)
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", "compute",
                          "carbon_sequestration", "--method", "fixation_rate", "--input", f"lulc={lulc}",
                          "-o", str(out / "q.tif")], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                         preexec_fn=lambda: _small_files(1_000_000))  # a 600² float64 layer is 2.9 MB
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "Could not write" in res.stderr and "无法写入" in res.stderr and "MB free" in res.stderr
    assert "Free disk space" in res.stderr and "请清理磁盘空间" in res.stderr
    assert "previous exception" not in res.stderr  # GDAL's own error said what failed, not "see above"
    assert not out.exists() or list(out.iterdir()) == []  # no part file, no COG, no temporary file


def test_block_writer_turns_write_errors_into_storage_errors_and_aborts(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    grid = Grid.from_crs(CRS, TRANSFORM, 10, 9)

    def full(*_a: object, **_k: object) -> None:
        raise rasterio.errors.RasterioIOError("Write failed. See previous exception for details.")

    def write_twice() -> None:
        with BlockLayerWriter(tmp_path, grid) as writer:
            writer.write("a", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="a")
            monkeypatch.setattr(type(writer._open["a"]), "write", full)
            writer.write("a", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="a")

    with pytest.raises(StorageError) as err:
        write_twice()
    assert isinstance(err.value, QingshanError) and isinstance(err.value, OSError)
    assert err.value.file == tmp_path / "a.tif" and err.value.code == "storage_error"
    assert "a.tif" in err.value.en and "a.tif" in err.value.zh and err.value.fix and err.value.fix_zh
    assert list(tmp_path.iterdir()) == []


def test_a_failed_conversion_is_a_storage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rasterio.shutil

    grid = Grid.from_crs(CRS, TRANSFORM, 10, 9)

    def full(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasterio.shutil, "copy", full)
    def write_and_finish() -> None:
        with BlockLayerWriter(tmp_path, grid) as writer:
            writer.write("b", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="b")
            writer.finish()

    with pytest.raises(StorageError, match="No space left on device"):
        write_and_finish()
    assert list(tmp_path.iterdir()) == []
    import qingshan.io.rasters as rasters

    monkeypatch.setattr(rasters, "follow_umask", full)  # after GDAL wrote the temporary file
    with pytest.raises(StorageError, match=r"c\.tif"):
        write_cog(tmp_path / "c.tif", np.ones((10, 9)), grid, units="t", description="c")
    assert list(tmp_path.iterdir()) == []


def test_an_output_folder_that_is_a_file_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("not a folder")
    grid = Grid.from_crs(CRS, TRANSFORM, 10, 9)
    with pytest.raises(StorageError, match="Could not write"):
        BlockLayerWriter(tmp_path / "taken" / "sub", grid)
    with pytest.raises(StorageError):
        write_cog(tmp_path / "taken" / "x.tif", np.ones((10, 9)), grid, units="t", description="x")
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_the_api_answers_a_full_disk_with_507_and_no_server_path(tmp_path: Path) -> None:
    from qingshan.api.errors import safe_body, status_of
    from qingshan.core.errors import storage_error

    err = storage_error(tmp_path / "runs" / "r1" / "a.tif", OSError(28, "No space left on device"))
    assert status_of(err) == 507
    body = safe_body(err)
    assert body["error"] == "storage_error" and str(tmp_path) not in str(body) and "a.tif" in str(body)


@pytest.mark.skipif(not hasattr(resource, "RLIMIT_FSIZE"), reason="needs RLIMIT_FSIZE")
def test_an_accounting_on_a_full_disk_fails_cleanly(tmp_path: Path) -> None:
    """``qingshan demo`` (an accounting run) when no file may grow beyond 300 kB: the bilingual error, no
    traceback, and no run folder or staging folder left behind (the derived-layer cache keeps only whole entries)."""
    res = subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", "demo", "--output", "out"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                         preexec_fn=lambda: _small_files(300_000))
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and "Could not write" in res.stderr and "无法写入" in res.stderr
    left = [p for p in tmp_path.rglob("*") if p.is_file() and "cache" not in p.parts]
    assert left == [], left
    runs = tmp_path / "qingshan-data" / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
