"""Memory of the SEEA basis is bounded by the block size, not by the raster size (heavy: ``pytest -m heavy``).

``write_seea_basis`` (every ``account`` run writes it) on ``qingshan synth`` data of 1000² and 2000²
cells (land cover, NDVI, 20 counties), in blocks of 256². Python's peak allocation (``tracemalloc``;
numpy and scipy report their buffers to it) is measured during the call. Whole-grid, the basis held
the grid's coverage matrix, land cover, NDVI, cell areas and their temporaries: the peak grew with the
grid (90 MB at 1000², 357 MB at 2000² before it was block-wise). Block by block it is set by the block
size × blocks in flight and stays about the same (9 MB and 12 MB). Not a timing test.

    PYTHONPATH=src .venv/bin/python -m pytest tests/use/test_seea_memory.py -m heavy -q -p no:cacheprovider
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pandas as pd
import pytest

from qingshan.engine.config import load_config
from qingshan.engine.extent import write_seea_basis
from qingshan.engine.run import load_regions
from qingshan.synth import SynthSpec, write_synth

pytestmark = pytest.mark.heavy

BLOCK = 256


def _peak(tmp_path: Path, size: int) -> tuple[int, float]:
    cfg = load_config(write_synth(tmp_path / f"in{size}", SynthSpec(size=size, seed=3, counties=20)))
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"block_size": BLOCK})})
    regions = load_regions(cfg)
    (tmp_path / f"warm{size}").mkdir()
    write_seea_basis(tmp_path / f"warm{size}", regions, cfg)  # lazy imports and caches are not the basis's memory
    out = tmp_path / f"out{size}"
    out.mkdir()
    tracemalloc.start()
    try:
        write_seea_basis(out, regions, cfg)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    area = pd.read_csv(out / "seea" / "extent.csv")["area_km2"].sum()
    return peak, area


def test_seea_basis_memory_does_not_grow_with_the_grid(tmp_path: Path) -> None:
    small, area_small = _peak(tmp_path, 1000)
    large, area_large = _peak(tmp_path, 2000)
    assert area_large == pytest.approx(4 * area_small, rel=0.05)  # the counties cover the grid: 4× the area
    # 4× the cells; a whole-grid basis peaks ≥ 4× higher (≥ 300 MB more at 2000²)
    assert large < 1.5 * small + 20e6, f"peak {large / 1e6:.0f} MB at 2000² vs {small / 1e6:.0f} MB at 1000²"
