"""The SEEA basis of a run: what the ecosystem extent and condition accounts need, sealed with the run.

Written into the run's artifacts under ``seea/`` by :func:`write_seea_basis` (called from
``engine.run.write_artifacts``, so by every engine):

* ``ecosystem.<year>.tif`` — the ecosystem type of every cell of the accounting grid (uint8 COG,
  index into :data:`~qingshan.core.params.ECOSYSTEMS`; 255 = not accounted: land-cover nodata or
  outside every leaf region). Two of them, of two years or of two runs on the same grid, give the
  extent change matrix cell by cell.
* ``leaves.gpkg`` — the exact leaf polygons (code, geometry) the run aggregated with, so that the
  coverage weights can be rebuilt on that grid (:func:`crosstab`).
* ``extent.csv`` — ``region_code, year, ecosystem, area_km2`` of every leaf region: coverage-weighted
  true cell areas (the same weights and areas as the run's tables).
* ``condition.csv`` — ``region_code, year, ecosystem, indicator, unit, weighted_sum, area_km2`` of
  condition variables read from the inputs (NDVI; vegetation cover from NDVI by the run's own
  ``ndvi_soil``/``ndvi_veg`` parameters): ``weighted_sum / area_km2`` is the area-weighted mean,
  and both add up over regions, so means at every level are exact. With ``soil_retention`` by
  ``rusle`` and ``[options] seea_soil_loss = true``, also the actual soil loss rate A = R·K·LS·C·P
  [t/hm²/a] by the run's own method, inputs and parameters (opt-in: it computes RUSLE, routing
  included, a second time for each year).

Land cover and NDVI are read again (whole-grid, one year at a time); the soil loss rate reads every
input of the year again (whole-grid, as the routing of soil retention does in either engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import rasterio
import scipy.sparse as sp

from qingshan.aggregate.zonal import ZoneWeights, zone_weights
from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, LandcoverTable
from qingshan.io.rasters import crs_for_write, read_aligned

if TYPE_CHECKING:
    from qingshan.aggregate.regions import RegionSet
    from qingshan.engine.config import RunConfig

__all__ = ["BASIS_DIR", "NONE", "crosstab", "ecosystem_raster", "read_ecosystem", "write_seea_basis"]

BASIS_DIR = "seea"
NONE = 255  # ecosystem raster: not accounted


def ecosystem_raster(lulc: np.ndarray, landcover: LandcoverTable, weights: sp.spmatrix) -> np.ndarray:
    """uint8 ecosystem index per cell (:data:`NONE` for land-cover nodata or cells of no leaf region)."""
    eco = landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    covered = (np.asarray(weights.sum(axis=0)).ravel() > 0).reshape(eco.shape)
    return np.where(covered & (eco >= 0), eco, NONE).astype(np.uint8)


def _write_u8_cog(path: Path, values: np.ndarray, grid: Grid, description: str) -> None:
    profile = {"driver": "COG", "dtype": "uint8", "count": 1, "height": grid.height, "width": grid.width,
               "crs": crs_for_write(grid), "transform": grid.transform, "nodata": NONE, "compress": "deflate",
               "blocksize": 256}
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
        dst.set_band_description(1, description)
        dst.update_tags(1, classes=",".join(f"{i}={e}" for i, e in enumerate(ECOSYSTEMS)), nodata_means="not accounted")


def read_ecosystem(path: Path) -> tuple[np.ndarray, Grid]:
    """An ``ecosystem.<year>.tif`` and its grid."""
    with rasterio.open(path) as ds:
        return ds.read(1), Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)


def crosstab(eco0: np.ndarray, eco1: np.ndarray, weights: ZoneWeights, cell_km2: np.ndarray) -> pd.DataFrame:
    """Area [km²] of each leaf region by (type in ``eco0``, type in ``eco1``), coverage-weighted.

    Returns ``region_code, ecosystem_from, ecosystem_to, area_km2`` (non-zero rows); type ``none``
    stands for cells not accounted in that raster. With ``eco0 is eco1`` it is the extent (diagonal).
    """
    k = len(ECOSYSTEMS) + 1
    a = np.where(eco0 == NONE, k - 1, eco0).astype(np.int64).ravel()
    b = np.where(eco1 == NONE, k - 1, eco1).astype(np.int64).ravel()
    pair = a * k + b
    area = cell_km2.ravel()
    names = (*ECOSYSTEMS, "none")
    rows = []
    for p in np.unique(pair[(a < k - 1) | (b < k - 1)]):
        sums = np.asarray(weights.matrix @ np.where(pair == p, area, 0.0)).ravel()
        for code, s in zip(weights.codes, sums, strict=True):
            if s > 0:
                rows.append((code, names[p // k], names[p % k], float(s)))
    return pd.DataFrame(rows, columns=["region_code", "ecosystem_from", "ecosystem_to", "area_km2"])


def _condition_rows(ndvi: np.ndarray, eco: np.ndarray, weights: ZoneWeights, cell_km2: np.ndarray,
                    ndvi_soil: float | None, ndvi_veg: float | None) -> list[dict[str, Any]]:
    from qingshan.kernels.soil import fvc_from_ndvi

    variables = {"ndvi": (ndvi, "1")}
    if ndvi_soil is not None and ndvi_veg is not None:
        variables["vegetation_cover"] = (fvc_from_ndvi(ndvi, ndvi_soil, ndvi_veg), "1")
    rows: list[dict[str, Any]] = []
    for name, (values, unit) in variables.items():
        ok = np.isfinite(values) & (eco != NONE)
        area = np.where(ok, cell_km2, 0.0)
        wsum = weights.totals_by_ecosystem(np.where(ok, values, 0.0) * area, eco.astype(np.int16))
        warea = weights.totals_by_ecosystem(area, eco.astype(np.int16))
        for i, code in enumerate(weights.codes):
            for j, e in enumerate(ECOSYSTEMS):
                if warea[i, j] > 0:
                    rows.append({"region_code": code, "ecosystem": e, "indicator": name, "unit": unit,
                                 "weighted_sum": float(wsum[i, j]), "area_km2": float(warea[i, j])})
    return rows


def _soil_loss_rows(config: RunConfig, year: int, grid: Grid, eco: np.ndarray, weights: ZoneWeights,
                    cell_km2: np.ndarray) -> list[dict[str, Any]]:
    """Actual soil loss A = R·K·LS·C·P [t/hm²/a] by the run's own RUSLE method, inputs and parameters
    (runs with ``soil_retention`` by ``rusle``; reads every input of the year whole, as routing does)."""
    from qingshan.engine.run import load_inputs, load_tables, plan
    from qingshan.quantities.soil import soil_retention_layers

    if not config.options.get("seea_soil_loss", False):  # opt-in: it recomputes RUSLE (routing) for the year
        return []
    p = plan(config)
    if not any(s.id == "soil_retention" and m.id == "rusle" for s, m in p.items):
        return []
    tables = load_tables(config, p)
    g, inputs, _ = load_inputs(config, p, year, tables)
    if not g.same_as(grid):
        return []
    usle = soil_retention_layers(inputs, tables.params, g)["usle"]
    ok = np.isfinite(usle) & (eco != NONE)
    area = np.where(ok, cell_km2, 0.0)
    wsum = weights.totals_by_ecosystem(np.where(ok, usle, 0.0) * area, eco.astype(np.int16))
    warea = weights.totals_by_ecosystem(area, eco.astype(np.int16))
    return [{"region_code": code, "ecosystem": e, "indicator": "soil_loss_rate", "unit": "t/hm2/a",
             "weighted_sum": float(wsum[i, j]), "area_km2": float(warea[i, j])}
            for i, code in enumerate(weights.codes) for j, e in enumerate(ECOSYSTEMS) if warea[i, j] > 0]


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


def write_seea_basis(folder: Path, regions: RegionSet, config: RunConfig) -> None:
    """Write ``folder/seea/`` (see module docstring); nothing when the run has no land cover table."""
    from qingshan.engine.run import reference_grid

    if "lulc" not in config.inputs or config.tables.landcover is None:
        return
    out = folder / BASIS_DIR
    out.mkdir(exist_ok=True)
    landcover = LandcoverTable.from_csv(config.tables.landcover)
    regions.leaves[["code", "geometry"]].to_file(out / "leaves.gpkg", layer="leaves", driver="GPKG")
    ndvi_soil, ndvi_veg = _ndvi_params(config) if "ndvi" in config.inputs else (None, None)
    extent, condition = [], []
    weights: ZoneWeights | None = None
    last: Grid | None = None
    for year in config.run.years:
        grid = reference_grid(config, year)
        if weights is None or last is None or not grid.same_as(last):
            weights, last = zone_weights(regions, grid), grid
        lulc = read_aligned(config.input_path("lulc", year), "lulc", grid, allow_resample=config.grid.resample)
        eco = ecosystem_raster(lulc, landcover, weights.matrix)
        _write_u8_cog(out / f"ecosystem.{year}.tif", eco, grid, f"ecosystem type {year} (SEEA extent basis)")
        km2 = grid.cell_area() / 1e6
        extent.append(crosstab(eco, eco, weights, km2).assign(year=year))
        if "ndvi" in config.inputs:
            ndvi = read_aligned(config.input_path("ndvi", year), "ndvi", grid, allow_resample=config.grid.resample)
            condition += [{**r, "year": year} for r in _condition_rows(ndvi, eco, weights, km2, ndvi_soil, ndvi_veg)]
        condition += [{**r, "year": year} for r in _soil_loss_rows(config, year, grid, eco, weights, km2)]
    ext = pd.concat(extent, ignore_index=True).rename(columns={"ecosystem_to": "ecosystem"})
    ext[["region_code", "year", "ecosystem", "area_km2"]].to_csv(out / "extent.csv", index=False)
    cond_cols = ["region_code", "year", "ecosystem", "indicator", "unit", "weighted_sum", "area_km2"]
    pd.DataFrame(condition, columns=cond_cols).to_csv(out / "condition.csv", index=False)
