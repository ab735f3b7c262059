"""The SEEA basis of a run: what the ecosystem extent and condition accounts need, sealed with the run.

Written into the run's artifacts under ``seea/`` by :func:`write_seea_basis` (called from
``engine.run.write_artifacts``, so by every engine):

* ``ecosystem.<year>.tif`` — the ecosystem type of every cell of the accounting grid (uint8 COG,
  index into :data:`~qingshan.core.params.ECOSYSTEMS`; 255 = not accounted: land-cover nodata or
  outside every leaf region). Two of them, of two years or of two runs on the same grid, give the
  extent change matrix cell by cell.
* ``leaves.gpkg`` — the exact leaf polygons (code, geometry) the run aggregated with, so that the
  coverage weights can be rebuilt on that grid (:func:`block_crosstab`).
* ``extent.csv`` — ``region_code, year, ecosystem, area_km2`` of every leaf region: coverage-weighted
  true cell areas (the same weights and areas as the run's tables).
* ``condition.csv`` — ``region_code, year, ecosystem, indicator, unit, weighted_sum, area_km2`` of
  condition variables read from the inputs (NDVI; vegetation cover from NDVI by the run's own
  ``ndvi_soil``/``ndvi_veg`` parameters): ``weighted_sum / area_km2`` is the area-weighted mean,
  and both add up over regions, so means at every level are exact. With ``soil_retention`` by
  ``rusle`` and ``[options] seea_soil_loss = true``, also the actual soil loss rate A = R·K·LS·C·P
  [t/hm²/a] by the run's own method, inputs and parameters (opt-in: it computes RUSLE, routing
  included, a second time for each year).

Block by block (:func:`~qingshan.engine.blocks.map_blocks`, ``[run] block_size``, on the run's
scheduler: Dask's local threads by default): each block reads its windows of land cover and NDVI (:func:`~qingshan.engine.blocks.read_window`),
computes the coverage of its own cells by the leaves (as the engine's blocks do; the whole grid's
coverage matrix is never built), its ecosystem codes and its extent and condition sums; totals are
added over blocks and the codes written into ``ecosystem.<year>.tif`` in window order. Memory is
bounded by the block size. The change matrix between two ecosystem rasters is summed block by
block as well (:func:`block_crosstab`). Only the opt-in soil loss rate reads every input of the
year again whole-grid (as the routing of soil retention does); its sums are then taken by block.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio
import rasterio.shutil
import scipy.sparse as sp

from qingshan.aggregate.zonal import EcosystemSplit, ZoneWeights, zone_weights
from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, LandcoverTable
from qingshan.core.variables import VARIABLES
from qingshan.core.window import Window, block_grid
from qingshan.engine.blocks import (
    DEFAULT_BLOCK_SIZE,
    BlockPartial,
    InputSource,
    check_coverage,
    lower_priority,
    map_blocks,
    read_window,
    sources_on_grid,
)
from qingshan.io.rasters import check_range, crs_for_write, follow_umask

if TYPE_CHECKING:
    from qingshan.aggregate.regions import RegionSet
    from qingshan.engine.config import RunConfig

__all__ = ["BASIS_DIR", "NONE", "BasisInBackground", "block_crosstab", "crosstab", "ecosystem_grid", "ecosystem_raster", "read_ecosystem",
           "write_seea_basis"]

BASIS_DIR = "seea"
NONE = 255  # ecosystem raster: not accounted
_K = len(ECOSYSTEMS) + 1  # ecosystem types and "none" (not accounted), the axes of a crosstab
_NAMES = (*ECOSYSTEMS, "none")


def ecosystem_raster(lulc: np.ndarray, landcover: LandcoverTable, weights: sp.spmatrix) -> np.ndarray:
    """uint8 ecosystem index per cell (:data:`NONE` for land-cover nodata or cells of no leaf region).

    ``weights``: coverage of these cells (regions × cells): the whole grid's, or one block's.
    """
    eco = landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    covered = (np.asarray(weights.sum(axis=0)).ravel() > 0).reshape(eco.shape)
    return np.where(covered & (eco >= 0), eco, NONE).astype(np.uint8)


class _EcosystemCog:
    """``ecosystem.<year>.tif`` written window by window: a tiled uncompressed uint8 GeoTIFF
    (``.part.tif``), converted to a deflate COG when every window is written (beside the destination,
    renamed when complete), so no whole-grid array is ever held. Same profile and tags as before."""

    def __init__(self, path: Path, grid: Grid, description: str) -> None:
        self.path, self.part = path, path.with_name(path.stem + ".part.tif")
        profile = {"driver": "GTiff", "dtype": "uint8", "count": 1, "height": grid.height, "width": grid.width,
                   "crs": crs_for_write(grid), "transform": grid.transform, "nodata": NONE, "tiled": True,
                   "blockxsize": 256, "blockysize": 256, "BIGTIFF": "IF_SAFER"}
        self.ds = rasterio.open(self.part, "w", **profile)
        self.ds.set_band_description(1, description)
        self.ds.update_tags(1, classes=",".join(f"{i}={e}" for i, e in enumerate(ECOSYSTEMS)), nodata_means="not accounted")

    def write(self, window: Window, values: np.ndarray) -> None:
        self.ds.write(values, 1, window=window.to_rasterio())

    def finish(self) -> None:
        self.ds.close()
        fd, tmp = tempfile.mkstemp(suffix=".tif", dir=self.path.parent)
        os.close(fd)
        try:
            rasterio.shutil.copy(str(self.part), tmp, driver="COG", compress="deflate", blocksize=256)
            follow_umask(tmp)
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
            self.part.unlink(missing_ok=True)

    def abort(self) -> None:
        self.ds.close()
        self.part.unlink(missing_ok=True)


def read_ecosystem(path: Path) -> tuple[np.ndarray, Grid]:
    """An ``ecosystem.<year>.tif`` and its grid (whole; :func:`block_crosstab` reads windows instead)."""
    with rasterio.open(path) as ds:
        return ds.read(1), Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)


def ecosystem_grid(path: Path) -> Grid:
    """The grid of an ``ecosystem.<year>.tif`` (header only)."""
    with rasterio.open(path) as ds:
        return Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)


def _pair_areas(eco0: np.ndarray, eco1: np.ndarray, matrix: sp.spmatrix, cell_km2: np.ndarray) -> np.ndarray:
    """Coverage-weighted area [km²] of each region by (type in ``eco0``, type in ``eco1``): (n_regions, K, K).

    Index ``K - 1`` is "none" (not accounted); the (none, none) entry stays 0. Sums over blocks.
    """
    a = np.where(eco0 == NONE, _K - 1, eco0).astype(np.int64).ravel()
    b = np.where(eco1 == NONE, _K - 1, eco1).astype(np.int64).ravel()
    pair = a * _K + b
    area = cell_km2.ravel()
    out = np.zeros((matrix.shape[0], _K, _K))
    for p in np.unique(pair[(a < _K - 1) | (b < _K - 1)]):
        out[:, p // _K, p % _K] = np.asarray(matrix @ np.where(pair == p, area, 0.0)).ravel()
    return out


def _crosstab_frame(codes: tuple[str, ...], areas: np.ndarray) -> pd.DataFrame:
    """Rows ``region_code, ecosystem_from, ecosystem_to, area_km2`` of the non-zero entries of ``areas``."""
    rows = [(code, _NAMES[p // _K], _NAMES[p % _K], float(areas[i, p // _K, p % _K]))
            for p in range(_K * _K) for i, code in enumerate(codes) if areas[i, p // _K, p % _K] > 0]
    return pd.DataFrame(rows, columns=["region_code", "ecosystem_from", "ecosystem_to", "area_km2"])


def crosstab(eco0: np.ndarray, eco1: np.ndarray, weights: ZoneWeights, cell_km2: np.ndarray) -> pd.DataFrame:
    """Area [km²] of each leaf region by (type in ``eco0``, type in ``eco1``), coverage-weighted.

    Returns ``region_code, ecosystem_from, ecosystem_to, area_km2`` (non-zero rows); type ``none``
    stands for cells not accounted in that raster. With ``eco0 is eco1`` it is the extent (diagonal).
    Whole-grid arrays: :func:`block_crosstab` computes the same from two ecosystem COGs block by block.
    """
    return _crosstab_frame(weights.codes, _pair_areas(eco0, eco1, weights.matrix, cell_km2))


def _crosstab_block(window: Window, grid: Grid, paths: tuple[Path, Path], regions: RegionSet,
                    keep_layers: bool) -> BlockPartial:
    """One block of :func:`block_crosstab`: both rasters' windows, the block's coverage weights."""
    bgrid = block_grid(grid, window)
    eco0, eco1 = (_read_u8_window(p, window) for p in paths)
    matrix = zone_weights(regions, bgrid).matrix
    return BlockPartial(totals={"pairs": _pair_areas(eco0, eco1, matrix, bgrid.cell_area() / 1e6)})


def _read_u8_window(path: Path, window: Window) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1, window=window.to_rasterio())


def block_crosstab(eco0: Path, eco1: Path, regions: RegionSet, grid: Grid, *,
                   block_size: int = DEFAULT_BLOCK_SIZE) -> pd.DataFrame:
    """:func:`crosstab` of two ``ecosystem.<year>.tif`` on ``grid``, block by block (windows of both
    files, coverage weights of each block's cells): memory bounded by the block size."""
    codes = tuple(str(c) for c in regions.leaves["code"])
    total = map_blocks(grid, _crosstab_block, [(Path(eco0), Path(eco1)), regions], block_size=block_size)
    return _crosstab_frame(codes, total.totals.get("pairs", np.zeros((len(codes), _K, _K))))


def _condition_sums(ndvi: np.ndarray, eco: np.ndarray, split: EcosystemSplit, cell_km2: np.ndarray,
                    ndvi_soil: float | None, ndvi_veg: float | None) -> dict[str, np.ndarray]:
    """``<indicator>.wsum`` and ``<indicator>.area`` by region × ecosystem of one block (or grid)."""
    from qingshan.kernels.soil import fvc_from_ndvi

    variables = {"ndvi": ndvi}
    if ndvi_soil is not None and ndvi_veg is not None:
        variables["vegetation_cover"] = fvc_from_ndvi(ndvi, ndvi_soil, ndvi_veg)
    return {k: v for name, values in variables.items() for k, v in _weighted(name, values, eco, split, cell_km2).items()}


def _weighted(name: str, values: np.ndarray, eco: np.ndarray, split: EcosystemSplit,
              cell_km2: np.ndarray) -> dict[str, np.ndarray]:
    """Area-weighted sum and area [km²] of the finite ``values`` of accounted cells, by region × ecosystem."""
    ok = np.isfinite(values) & (eco != NONE)
    area = np.where(ok, cell_km2, 0.0)
    return {f"{name}.wsum": split.totals(np.where(ok, values, 0.0) * area), f"{name}.area": split.totals(area)}


CONDITION_UNITS = {"ndvi": "1", "vegetation_cover": "1", "soil_loss_rate": "t/hm2/a"}
"""Unit of each condition variable in ``condition.csv``."""


def _condition_frame_rows(codes: tuple[str, ...], totals: dict[str, np.ndarray], names: list[str]) -> list[dict[str, Any]]:
    """``condition.csv`` rows (no year) of the summed ``totals``: every region × ecosystem with an area."""
    rows: list[dict[str, Any]] = []
    for name in names:
        if f"{name}.area" not in totals:
            continue
        wsum, warea = totals[f"{name}.wsum"], totals[f"{name}.area"]
        for i, code in enumerate(codes):
            for j, e in enumerate(ECOSYSTEMS):
                if warea[i, j] > 0:
                    rows.append({"region_code": code, "ecosystem": e, "indicator": name, "unit": CONDITION_UNITS[name],
                                 "weighted_sum": float(wsum[i, j]), "area_km2": float(warea[i, j])})
    return rows


def _soil_loss_layer(config: RunConfig, year: int, grid: Grid) -> np.ndarray | None:
    """Actual soil loss A = R·K·LS·C·P [t/hm²/a] on the whole grid by the run's own RUSLE method, inputs
    and parameters (runs with ``soil_retention`` by ``rusle`` and ``[options] seea_soil_loss = true``;
    reads every input of the year whole, as routing does); None otherwise."""
    from qingshan.engine.run import load_inputs, load_tables, plan
    from qingshan.quantities.soil import soil_retention_layers

    if not config.options.get("seea_soil_loss", False):  # opt-in: it recomputes RUSLE (routing) for the year
        return None
    p = plan(config)
    if not any(s.id == "soil_retention" and m.id == "rusle" for s, m in p.items):
        return None
    tables = load_tables(config, p)
    g, inputs, _ = load_inputs(config, p, year, tables)
    if not g.same_as(grid):
        return None
    return np.asarray(soil_retention_layers(inputs, tables.params, g)["usle"])


def _basis_block(window: Window, grid: Grid, sources: dict[str, InputSource], landcover: LandcoverTable,
                 regions: RegionSet, extra: dict[str, np.ndarray], ndvi_params: tuple[float | None, float | None],
                 keep_layers: bool) -> BlockPartial:
    """One block of the SEEA basis: ecosystem codes (in ``layers["ecosystem"]``), extent and condition sums.

    ``extra``: whole-grid layers already computed (the soil loss rate), whose window is summed here.
    """
    bgrid = block_grid(grid, window)
    read = {name: read_window(src, grid, window) for name, src in sources.items()}
    for name, arr in read.items():  # the checks of read_aligned, on the cells of this block
        if np.isfinite(arr).any():
            check_range(arr, VARIABLES[name], sources[name].path)
    matrix = zone_weights(regions, bgrid).matrix
    eco = ecosystem_raster(read["lulc"], landcover, matrix)
    km2 = bgrid.cell_area() / 1e6
    totals = {"extent": _pair_areas(eco, eco, matrix, km2)}
    split = EcosystemSplit.of(matrix, eco)  # cells of NONE (255) are of no type: left out
    if "ndvi" in read:
        totals.update(_condition_sums(read["ndvi"], eco, split, km2, *ndvi_params))
    for name, layer in extra.items():
        totals.update(_weighted(name, layer[window.slices()], eco, split, km2))
    finite = {name: int(np.count_nonzero(np.isfinite(arr))) for name, arr in read.items()}
    return BlockPartial(totals=totals, finite=finite, cells=window.size, layers={"ecosystem": eco} if keep_layers else {})


def _ndvi_params(config: RunConfig) -> tuple[float | None, float | None]:
    from qingshan.core.params import ParameterTable

    merged: dict[str, Any] = {}
    for path in config.tables.parameters:
        merged.update(ParameterTable.from_csv(path).params)
    table = ParameterTable(params=merged, path="<seea>")
    if config.parameters:
        table = table.with_overrides(config.parameters)
    get = {k: float(v.value) for k, v in table.params.items() if k in ("ndvi_soil", "ndvi_veg")}
    return get.get("ndvi_soil"), get.get("ndvi_veg")


def write_seea_basis(folder: Path, regions: RegionSet, config: RunConfig, *, client: Any = None,
                     stop: threading.Event | None = None, low_priority: bool = False) -> None:
    """Write ``folder/seea/`` (see module docstring); nothing when the run has no land cover table.

    Block by block (``[run] block_size``, on ``client``: local threads by default, or the run's scheduler,
    see :func:`~qingshan.engine.blocks.open_scheduler`): each block reads its windows of
    land cover and NDVI, computes the coverage of its cells by the leaves, its ecosystem codes and
    its extent and condition sums; the codes are written into ``ecosystem.<year>.tif`` in window
    order. Memory is bounded by the block size, not by the grid. ``stop``: when set, the basis stops at its next
    block with :class:`BasisStopped`; ``low_priority``: its blocks on local threads at
    :func:`~qingshan.engine.blocks.lower_priority` (see :class:`BasisInBackground`).
    """
    from qingshan.engine.run import reference_grid

    if "lulc" not in config.inputs or config.tables.landcover is None:
        return
    out = folder / BASIS_DIR
    out.mkdir(exist_ok=True)
    landcover = LandcoverTable.from_csv(config.tables.landcover)
    regions.leaves[["code", "geometry"]].to_file(out / "leaves.gpkg", layer="leaves", driver="GPKG")
    ndvi_params = _ndvi_params(config) if "ndvi" in config.inputs else (None, None)
    codes = tuple(str(c) for c in regions.leaves["code"])
    extent, condition = [], []
    for year in config.run.years:
        grid = reference_grid(config, year)
        totals = _basis_year(out / f"ecosystem.{year}.tif", config, year, grid, landcover, regions, ndvi_params,
                             client=client, stop=stop, low_priority=low_priority)
        extent.append(_crosstab_frame(codes, totals["extent"]).assign(year=year))
        rows = _condition_frame_rows(codes, totals, ["ndvi", "vegetation_cover", "soil_loss_rate"])
        condition += [{**r, "year": year} for r in rows]
    ext = pd.concat(extent, ignore_index=True).rename(columns={"ecosystem_to": "ecosystem"})
    ext[["region_code", "year", "ecosystem", "area_km2"]].to_csv(out / "extent.csv", index=False)
    cond_cols = ["region_code", "year", "ecosystem", "indicator", "unit", "weighted_sum", "area_km2"]
    pd.DataFrame(condition, columns=cond_cols).to_csv(out / "condition.csv", index=False)


def _basis_year(path: Path, config: RunConfig, year: int, grid: Grid, landcover: LandcoverTable, regions: RegionSet,
                ndvi_params: tuple[float | None, float | None], *, client: Any = None,
                stop: threading.Event | None = None, low_priority: bool = False) -> dict[str, np.ndarray]:
    """Every block of ``year``: ``ecosystem.<year>.tif`` written at ``path``; the summed totals returned."""
    names = ["lulc", "ndvi"] if "ndvi" in config.inputs else ["lulc"]
    sources = sources_on_grid({n: config.input_path(n, year) for n in names}, grid, resample=config.grid.resample)
    soil_loss = _soil_loss_layer(config, year, grid)
    extra = {} if soil_loss is None else {"soil_loss_rate": soil_loss}
    writer = _EcosystemCog(path, grid, f"ecosystem type {year} (SEEA extent basis)")

    def write(window: Window, part: BlockPartial) -> None:
        if stop is not None and stop.is_set():
            raise BasisStopped
        writer.write(window, part.layers["ecosystem"])

    try:
        total = map_blocks(grid, _basis_block, [sources, landcover, regions, extra, ndvi_params],
                           block_size=config.run.block_size, client=client, on_block=write, low_priority=low_priority)
        check_coverage(total, sources)
    except BaseException:
        writer.abort()
        raise
    writer.finish()
    return total.totals


class BasisStopped(Exception):
    """Raised in :func:`write_seea_basis` when its ``stop`` event is set (the run failed or was interrupted)."""


class BasisInBackground:
    """:func:`write_seea_basis` started when a run starts, beside its blocks, in a thread of its own.

    The basis needs only the config and the regions, not the run's results, so it need not wait for the exports
    (where it used to run): at 3000² it takes 4.4 s on 2 cores, and the LS routing before the blocks keeps one
    core busy and the other idle for longer than that. Its threads run at low priority
    (:func:`~qingshan.engine.blocks.lower_priority`): it takes the CPU the run's own steps leave, never slows
    the routing (found: at normal priority it made the LS routing 20 % slower, for almost no gain). It is written into ``folder`` (a temporary folder of the
    data dir, on the file system of the run's artifacts), then moved into the artifacts by :meth:`move_into`.
    :meth:`result` waits for it and raises its error (before the run is recorded, as for bad statistics);
    :meth:`stop` stops it at its next block and waits (the run failed first, or was interrupted).
    """

    def __init__(self, folder: Path, regions: RegionSet, config: RunConfig, *, client: Any = None) -> None:
        import contextvars

        self.folder = folder
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="seea", initializer=lower_priority)
        self._future: Future[None] = self._pool.submit(contextvars.copy_context().run, write_seea_basis, folder,
                                                       regions, config, client=client, stop=self._stop,
                                                       low_priority=True)

    def result(self) -> None:
        """Wait for the basis; raise its error."""
        self._future.result()

    def move_into(self, folder: Path) -> None:
        """``folder/seea`` from the finished basis (a rename: nothing is written twice); nothing when the run has
        no basis (no land cover)."""
        self.result()
        if (self.folder / BASIS_DIR).is_dir():
            os.replace(self.folder / BASIS_DIR, folder / BASIS_DIR)

    def stop(self) -> None:
        """Stop the basis at its next block, wait for its thread, and remove what it wrote."""
        self._stop.set()
        self._pool.shutdown(wait=True)
        shutil.rmtree(self.folder / BASIS_DIR, ignore_errors=True)
