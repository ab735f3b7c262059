"""A run's per-cell layers are converted to COGs while its tables and workbook are written (eleventh pass of
issue 11).

After the blocks, the COG conversions (GDAL: compression with the GIL released) and the exports (pandas and the
workbook: Python on one core) ran one after the other. They now run side by side
(:class:`qingshan.io.cog.FinishInBackground`), and every artifact is written before the run is recorded. What must
hold: the conversions really overlap the exports; a conversion that fails, or an export that fails while the
layers convert, leaves no run, no file and no thread behind; a writer whose turn never came is aborted.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.window import Window
from qingshan.engine import export
from qingshan.io import cog
from qingshan.io.cog import BlockLayerWriter, FinishInBackground
from qingshan.store import artifacts, repo
from qingshan.store.db import open_store

WAIT = 60.0  # s: only reached when the behaviour is wrong


def _runs(tmp_path: Path) -> list[Any]:
    return repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}"))


def _left_in_data_dir(tmp_path: Path) -> list[str]:
    root = artifacts.runs_root(tmp_path / "qingshan-data")
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def _cog_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("cog-finish", "cog_"))]


def test_the_layers_convert_while_the_tables_are_written(write_config: Any, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Each conversion waits until the tables and the workbook are written. One after the other (before), the
    conversions would have waited in vain: the exports started only once they had all ended."""
    tables_written = threading.Event()
    seen: list[bool] = []
    to_cog, export_tables = cog.to_cog, export.export_tables

    def waiting_to_cog(*a: Any, **k: Any) -> Path:
        seen.append(tables_written.wait(WAIT))
        return to_cog(*a, **k)

    def tables(*a: Any, **k: Any) -> list[Path]:
        files = export_tables(*a, **k)
        tables_written.set()
        return files

    monkeypatch.setattr(cog, "to_cog", waiting_to_cog)
    monkeypatch.setattr(export, "export_tables", tables)
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 0, result.output
    assert seen and all(seen), f"{seen.count(False)} of {len(seen)} conversions ran before the tables were written"
    (run,) = _runs(tmp_path)
    assert run.status == "succeeded"
    rasters = sorted(p.name for p in (tmp_path / "out" / "rasters").glob("*.tif"))
    assert len(rasters) == len(seen)  # every layer converted, and moved into the run
    assert _cog_threads() == []


def test_a_conversion_that_fails_leaves_no_run_and_no_file(write_config: Any, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk while a layer converts (now after the tables are written): the bilingual storage error,
    exit 2, no run recorded, nothing left in the data dir nor in the output folder."""
    import rasterio.shutil

    def full(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rasterio.shutil, "copy", full)
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "No space left on device" in result.output and "无法写入" in result.output
    assert "Traceback" not in result.output
    assert _runs(tmp_path) == []
    assert _left_in_data_dir(tmp_path) == []
    assert not (tmp_path / "out").exists()
    assert _cog_threads() == []


def test_an_export_that_fails_while_the_layers_convert_stops_them(write_config: Any, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The exports fail while two layers convert: those two end, no further layer starts, and the run leaves
    nothing (no run, no staging folder, no converting thread)."""
    started: list[str] = []
    release = threading.Event()
    to_cog, stop = cog.to_cog, FinishInBackground.stop

    def held_to_cog(src: Any, dst: Any, **k: Any) -> Path:
        started.append(Path(dst).name)
        release.wait(WAIT)
        return to_cog(src, dst, **k)

    def failing_tables(*_a: Any, **_k: Any) -> list[Path]:
        raise InputError(en="bad table", zh="表格有误", field="tables", fix="fix it", fix_zh="请修正")

    def stop_then_release(self: FinishInBackground) -> None:
        self._stop.set()  # no further layer starts ...
        release.set()  # ... once the two under way may end
        stop(self)

    monkeypatch.setattr(cog, "to_cog", held_to_cog)
    monkeypatch.setattr(export, "export_tables", failing_tables)
    monkeypatch.setattr(FinishInBackground, "stop", stop_then_release)
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path))])
    assert result.exit_code == 2, result.output
    assert "bad table" in result.output and "表格有误" in result.output
    assert len(started) == cog.CONVERT_AT_ONCE, started  # the example has more layers than that
    assert _runs(tmp_path) == []
    assert _left_in_data_dir(tmp_path) == []
    assert _cog_threads() == []


CRS = "EPSG:32650"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def test_a_writer_whose_turn_never_came_is_aborted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two years' writers: the first one's conversion is under way when the run stops, the second one's has not
    started. Stopping waits for the first and aborts the second: its intermediates are closed and deleted."""
    grid = Grid.from_crs(CRS, TRANSFORM, 10, 9)
    started, release = threading.Event(), threading.Event()
    to_cog = cog.to_cog

    def held_to_cog(*a: Any, **k: Any) -> Path:
        started.set()
        release.wait(WAIT)
        return to_cog(*a, **k)

    monkeypatch.setattr(cog, "to_cog", held_to_cog)
    finisher = FinishInBackground()
    first, second = BlockLayerWriter(tmp_path / "2019", grid), BlockLayerWriter(tmp_path / "2020", grid)
    for writer in (first, second):
        writer.write("a", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="a")
        finisher.submit(writer)
    assert started.wait(WAIT)
    threading.Timer(0.2, release.set).start()
    finisher.stop()
    assert [p.name for p in (tmp_path / "2019").iterdir()] == ["a.tif"]  # finished: it was under way
    with rasterio.open(tmp_path / "2019" / "a.tif") as ds:
        assert float(ds.read(1).sum()) == 90.0
    assert list((tmp_path / "2020").iterdir()) == []  # aborted: its intermediate deleted
    assert second._open == {}
    assert _cog_threads() == []


def test_result_raises_the_first_error_and_lists_every_cog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    grid = Grid.from_crs(CRS, TRANSFORM, 10, 9)
    finisher = FinishInBackground()
    ok = BlockLayerWriter(tmp_path / "ok", grid)
    ok.write("b", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="b")
    ok.write("a", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="a")
    finisher.submit(ok)
    assert [p.name for p in finisher.result()] == ["a.tif", "b.tif"]

    def full(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    import rasterio.shutil

    monkeypatch.setattr(rasterio.shutil, "copy", full)
    bad = BlockLayerWriter(tmp_path / "bad", grid)
    bad.write("c", Window(0, 0, 10, 9), np.ones((10, 9)), units="t", description="c")
    finisher.submit(bad)
    with pytest.raises(OSError, match="No space left"):
        finisher.result()
    assert list((tmp_path / "bad").iterdir()) == []  # the failed writer was aborted
    finisher.stop()
    assert _cog_threads() == []


def test_a_failed_conversion_stops_a_multi_year_run_before_the_next_year(write_config: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Found in the eleventh pass's review: a conversion that failed in 2019 was raised only after 2020's blocks
    were computed (``FinishInBackground.result`` at the end). The run now stops before the next year's blocks."""
    import shutil

    from qingshan.engine import blockwise as bw
    from qingshan.engine import run as R
    from qingshan.engine.config import load_config

    cfg0 = load_config(write_config(tmp_path / "probe"))
    folder = tmp_path / "inputs"
    folder.mkdir()
    inputs = {}
    for name, pattern in cfg0.inputs.items():
        src = cfg0.input_path(name, 2019)
        if "{year}" in pattern:
            for year in (2019, 2020):
                shutil.copy(src, folder / src.name.replace("2019", str(year)))
            inputs[name] = str(folder / src.name.replace("2019", "{year}"))
        else:
            inputs[name] = str(src)
    cfg = load_config(write_config(tmp_path, run={"years": [2019, 2020]}, inputs=inputs))
    p0 = R.plan(cfg)
    p = R.Plan(p0.profile, tuple((s, m) for s, m in p0.items if s.id == "water_conservation"))
    tables, regions = R.load_tables(cfg, p), R.load_regions(cfg)

    def failing_to_cog(*a: Any, **k: Any) -> Path:
        raise InputError("disk full while converting", "转换时磁盘已满", fix="free space", fix_zh="释放空间")

    submit = FinishInBackground.submit

    def submit_and_wait(self: FinishInBackground, writer: BlockLayerWriter) -> None:
        submit(self, writer)
        self._pending[-1][1].exception(WAIT)  # this year's conversion has ended (failed) before the next year

    years: list[int] = []
    totals = bw.blockwise_totals

    def counting_totals(grid: Any, sources: Any, *a: Any, **k: Any) -> Any:
        years.append(len(years))
        return totals(grid, sources, *a, **k)

    monkeypatch.setattr(cog, "to_cog", failing_to_cog)
    monkeypatch.setattr(FinishInBackground, "submit", submit_and_wait)
    monkeypatch.setattr(bw, "blockwise_totals", counting_totals)
    finisher = FinishInBackground()
    with pytest.raises(InputError, match="disk full"):
        bw.compute_blockwise(cfg, p, tables, regions, block_size=64, rasters=tmp_path / "cogs", finisher=finisher)
    finisher.stop()
    assert len(years) == 1, "2020's blocks were computed after 2019's layers had failed to convert"
