"""Out-of-core driver of the tiled routing kernels: the RUSLE LS factor tile by tile.

:func:`ls_factor_tiled` computes the same LS as :func:`qingshan.quantities.soil.ls_factor`
(both ``ls_formula`` chains, D8 and MFD) with the tiled kernels of
:mod:`qingshan.kernels.tiled_routing`; every grid-sized intermediate (filled DEM, directions,
accumulation, LS) is a ``numpy.memmap`` in a scratch directory, so memory is bounded by the tile
size plus perimeter data. :func:`read_dem_memmap` reads a DEM raster window by window into such a
memmap. Selected from :func:`~qingshan.quantities.soil.ls_factor` by option
``routing_tile_size`` (cells; grids no larger than one tile are routed whole).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.io.memmaps import release_pages, scratch_alloc
from qingshan.kernels.routing import slope_percent_invest, slope_radians
from qingshan.kernels.soil import length_factor, ls_factor_invest, slope_factor_mccool
from qingshan.kernels.tiled_routing import (
    Alloc,
    NotFloat32Error,
    tiled_flow_accumulation_invest,
    tiled_upslope_area,
    tiles,
)

__all__ = ["ls_factor_tiled", "memmap_alloc", "read_dem_memmap", "routing_tile_size", "row_cell_areas"]

_MIN_TILE = 16


def routing_tile_size(params: ParamSet) -> int:
    """Option ``routing_tile_size`` as a whole number of cells (≥ 16), or a bilingual error."""
    raw = params.option("routing_tile_size", None)
    try:
        tile = int(str(raw))
    except ValueError:
        tile = 0
    if tile < _MIN_TILE:
        raise InputError(
            f"Option routing_tile_size must be a whole number of cells ≥ {_MIN_TILE}, got {raw!r}",
            f"选项 routing_tile_size 须为不小于 {_MIN_TILE} 的整数（像元数），当前为 {raw!r}",
            field="routing_tile_size",
            fix="Set routing_tile_size to e.g. 2048, or remove it to route the whole grid at once.",
            fix_zh="请将 routing_tile_size 设为例如 2048，或删除该选项以整体计算汇流。",
        )
    return tile


def memmap_alloc(workdir: str | Path) -> Alloc:
    """Scratch-array factory writing ``numpy.memmap`` files into ``workdir``; their pages are released
    from this process as tiles are written (:func:`qingshan.io.memmaps.scratch_alloc`): memory stays
    bounded by the tile size, not by the grid's."""
    return scratch_alloc(workdir)


def read_dem_memmap(path: str | Path, alloc: Alloc, *, block: int = 1024) -> np.ndarray:
    """Band 1 of a raster as float64 (NaN = nodata), read window by window into ``alloc``."""
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as src:
        out = alloc((src.height, src.width), np.float64)
        for r0, r1, c0, c1 in tiles((src.height, src.width), block):
            win = Window(c0, r0, c1 - c0, r1 - r0)
            data = src.read(1, window=win, masked=True)
            out[r0:r1, c0:c1] = np.ma.filled(data.astype(np.float64), np.nan)
    release_pages(out)
    return out


def row_cell_areas(grid: Grid) -> np.ndarray:
    """Cell area per row [m2] (cells along a row are equal), without a grid-sized array."""
    return Grid(grid.crs_wkt, grid.transform, grid.height, 1).cell_area()[:, 0]


def _clipped(arr: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, slice, slice]:
    """Window with a one-cell halo clipped to the grid, and the slices of the core in it."""
    nr, nc = arr.shape
    a0, a1, b0, b1 = max(r0 - 1, 0), min(r1 + 1, nr), max(c0 - 1, 0), min(c1 + 1, nc)
    win = np.asarray(arr[a0:a1, b0:b1], dtype=np.float64)
    return win, slice(r0 - a0, r0 - a0 + r1 - r0), slice(c0 - b0, c0 - b0 + c1 - c0)


def ls_factor_tiled(
    dem: np.ndarray,
    params: ParamSet,
    grid: Grid,
    tile: int,
    *,
    workdir: str | Path | None = None,
) -> np.ndarray:
    """LS factor [1] as :func:`qingshan.quantities.soil.ls_factor`, routed tile by tile.

    Parameters
    ----------
    dem : elevation [m] (array or memmap, e.g. from :func:`read_dem_memmap`); NaN = nodata.
    params, grid : as for :func:`~qingshan.quantities.soil.ls_factor`.
    tile : routing tile size [cells].
    workdir : scratch directory for the memmaps (a temporary directory when None; the
        returned array is then an in-memory copy).
    """
    from qingshan.quantities.soil import _flow_algorithm, cell_dims_m

    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="qingshan-routing-") as tmp:
            return np.array(ls_factor_tiled(dem, params, grid, tile, workdir=tmp))
    alloc = memmap_alloc(workdir)
    dx, dy = cell_dims_m(grid)
    algo = _flow_algorithm(params)
    out = alloc(dem.shape, np.float64)
    if str(params.option("ls_formula", "rusle_mccool")) == "invest":
        filled, fa = tiled_flow_accumulation_invest(dem, algo, tile, alloc=alloc, release=release_pages)
        l_max = float(params.option("l_max", 122.0))  # type: ignore[arg-type]
        for r0, r1, c0, c1 in tiles(dem.shape, tile):
            win, rs, cs = _clipped(filled, r0, r1, c0, c1)
            rows = slice(r0 - rs.start, r0 - rs.start + win.shape[0])
            slope = slope_percent_invest(win, dx[rows], dy[rows])[rs, cs]
            out[r0:r1, c0:c1] = ls_factor_invest(
                slope, np.asarray(fa[r0:r1, c0:c1]), dx[r0:r1, None], l_max=l_max
            )
        return out
    area_row = row_cell_areas(grid)
    try:
        area = tiled_upslope_area(
            dem,
            _RowBroadcast(area_row, dem.shape[1]),  # type: ignore[arg-type]
            dx_m=dx,
            dy_m=dy,
            algorithm=algo,
            mfd_exponent=float(params.option("mfd_exponent", 1.1)),  # type: ignore[arg-type]
            tile=tile,
            alloc=alloc,
        )
    except NotFloat32Error as exc:
        raise InputError(
            "Tiled routing (option routing_tile_size) of the default LS chain needs elevations that "
            "are exact float32 values, as read from a float32 or integer DEM",
            "默认 LS 算法的分块汇流（选项 routing_tile_size）要求高程为精确的 float32 数值（float32 或整数 DEM）",
            field="routing_tile_size",
            fix="Supply the DEM as float32 (or integers) on the accounting grid (e.g. gdalwarp -ot Float32 to the grid), "
                "or set option routing_tile_size to at least the grid's larger side to route the whole grid at once "
                "(memory then grows with the grid).",
            fix_zh="请以 float32（或整数）格式、在核算格网上提供 DEM（如 gdalwarp -ot Float32 对齐到格网），"
                   "或将选项 routing_tile_size 设为不小于格网较长边的像元数以整体计算汇流（内存随格网增大）。",
        ) from exc
    cap = params.option("max_slope_length_m", None)
    breaks = tuple(params.scalar(f"rusle_m_break_{i}", "percent") for i in (1, 2, 3))
    exps = tuple(params.scalar(f"rusle_m_exp_{i}", "1") for i in (1, 2, 3, 4))
    width = np.sqrt(area_row)
    for r0, r1, c0, c1 in tiles(dem.shape, tile):
        win, rs, cs = _clipped(dem, r0, r1, c0, c1)
        rows = slice(r0 - rs.start, r0 - rs.start + win.shape[0])
        theta = slope_radians(win, dx[rows], dy[rows])[rs, cs]
        lam = np.asarray(area[r0:r1, c0:c1]) / width[r0:r1, None]
        if cap is not None:
            lam = np.minimum(lam, float(cap))  # type: ignore[arg-type]
        l_fac = length_factor(lam, 100.0 * np.tan(theta), breaks, exps)  # type: ignore[arg-type]
        out[r0:r1, c0:c1] = l_fac * slope_factor_mccool(theta)
    return out


class _RowBroadcast:
    """A (rows, cols) view of per-row values that only materialises the windows asked for."""

    def __init__(self, per_row: np.ndarray, ncols: int) -> None:
        self.per_row = per_row
        self.shape = (per_row.size, ncols)

    def __getitem__(self, key: tuple[slice, slice]) -> np.ndarray:
        rs, cs = key
        ncols = len(range(*cs.indices(self.shape[1])))
        return np.repeat(self.per_row[rs][:, None], ncols, axis=1)
