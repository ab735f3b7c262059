"""Memory of the engine is bounded by the block size, not by the raster size (heavy: ``pytest -m heavy``).

A block-wise indicator (water conservation, Budyko: five inputs, one component and four
intermediate layers written as COGs) on synthetic rasters of 2000² and 4000² cells, in blocks of
256², through ``compute_indicator(..., keep_layers=False)`` (what ``qingshan compute`` runs).
Python's peak allocation (``tracemalloc``; numpy reports its buffers to it) is measured during the
run. A whole-grid computation would hold every layer of the grid: ≥ 10 float64 layers, 320 MB at
2000² and 1.28 GB at 4000². Block-wise, the peak is set by the block size × layers × blocks in
flight and stays the same when the grid has four times as many cells. Not a timing test.

    PYTHONPATH=src .venv/bin/python -m pytest tests/engine/test_engine_memory.py -m heavy -q
"""

from __future__ import annotations

import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.core.window import block_windows
from qingshan.engine.compute import compute_indicator

pytestmark = pytest.mark.heavy

BLOCK = 256
RANGES = {"precip": (800.0, 2000.0), "pet": (600.0, 1400.0), "root_depth": (300.0, 3000.0), "pawc": (0.05, 0.3)}


def _inputs(folder: Path, size: int) -> dict[str, Path]:
    """Tiled float32 GeoTIFFs of ``size``² cells (30 m UTM), written window by window."""
    folder.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "float32", "crs": "EPSG:32650",
               "transform": Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3300000.0), "nodata": -9999.0,
               "tiled": True, "blockxsize": 512, "blockysize": 512}
    rng = np.random.default_rng(11)
    paths = {}
    for name in [*RANGES, "lulc"]:
        paths[name] = folder / f"{name}.tif"
        with rasterio.open(paths[name], "w", **profile) as ds:
            for w in block_windows((size, size), 1024):
                if name == "lulc":
                    values = rng.choice([1.0, 4.0, 10.0, 12.0], w.shape)
                else:
                    values = rng.uniform(*RANGES[name], w.shape)
                ds.write(values.astype("float32"), 1, window=w.to_rasterio())
    return paths


def _peak(tmp_path: Path, size: int) -> tuple[int, float]:
    inputs = _inputs(tmp_path / f"in{size}", size)
    tracemalloc.start()
    try:
        res = compute_indicator("water_conservation", inputs, method="budyko", block_size=BLOCK, keep_layers=False,
                                output=tmp_path / f"out{size}" / "wc.tif")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(res.files) == 5 and res.layers == {}
    return peak, res.totals["water_conservation"][0]


def test_peak_memory_does_not_grow_with_the_raster(tmp_path: Path) -> None:
    small, total_small = _peak(tmp_path, 2000)
    large, total_large = _peak(tmp_path, 4000)
    layer_large = 4000 * 4000 * 8  # one float64 layer of the large grid: 128 MB
    sys.stdout.write(f"\npeak Python allocation: {small / 2**20:.1f} MiB at 2000², {large / 2**20:.1f} MiB at 4000² "
                     f"(one float64 layer of 4000²: {layer_large / 2**20:.0f} MiB)\n")
    assert total_large > 3 * total_small > 0  # four times the cells, the same kind of values
    assert large < layer_large / 2  # far below what a whole-grid computation holds (≥ 10 layers)
    assert large < 1.5 * small + 8 * 2**20  # bounded by the blocks, not by the raster


def test_processes_scheduler_gives_the_threads_result(tmp_path: Path) -> None:
    """``scheduler="processes"``: one pool of worker processes for the run (they import qingshan: seconds), same values."""
    inputs = _inputs(tmp_path / "in", 300)
    threads = compute_indicator("water_conservation", inputs, method="budyko", block_size=128)
    procs = compute_indicator("water_conservation", inputs, method="budyko", block_size=128, scheduler="processes",
                              output=tmp_path / "out" / "wc.tif")
    assert procs.totals["water_conservation"][0] == pytest.approx(threads.totals["water_conservation"][0], rel=1e-12)
    np.testing.assert_allclose(procs.layers["water_conservation"], threads.layers["water_conservation"], rtol=1e-12,
                               equal_nan=True)
