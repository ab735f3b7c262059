"""Exact zonal aggregation: per-cell quantities → totals per region and ecosystem type.

Each leaf region gets, for every cell it touches, the fraction of the cell it covers
(exactextract). These weights form a sparse matrix ``W`` (regions × cells); a region's total is
``W @ q``. Cells covered by several regions are split by coverage, so every cell is counted at
most once; where boundary slivers make coverages sum above one, the column is normalised.
Higher levels are sums of their children, so children add up to their parent exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import rasterio
import scipy.sparse as sp
from exactextract import exact_extract
from rasterio.io import MemoryFile

from qingshan.aggregate.regions import RegionSet
from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS

__all__ = ["ZoneWeights", "accounted_cells", "roll_up", "zone_weights"]


@dataclass(frozen=True)
class ZoneWeights:
    """Coverage weights of the leaf regions on a grid."""

    codes: tuple[str, ...]
    matrix: sp.csr_matrix  # (n_regions, n_cells), coverage fraction in [0, 1]

    def totals(self, values: np.ndarray) -> np.ndarray:
        """Coverage-weighted sum of ``values`` (shape of the grid; NaN counts as 0) per region."""
        flat = np.nan_to_num(values.reshape(-1), nan=0.0)
        return np.asarray(self.matrix @ flat)

    def totals_by_ecosystem(self, values: np.ndarray, ecosystem: np.ndarray) -> np.ndarray:
        """Sums per region × ecosystem type, shape ``(n_regions, len(ECOSYSTEMS))``."""
        flat = np.nan_to_num(values.reshape(-1), nan=0.0)
        eco = ecosystem.reshape(-1)
        out = np.zeros((len(self.codes), len(ECOSYSTEMS)))
        for k in range(len(ECOSYSTEMS)):
            out[:, k] = self.matrix @ np.where(eco == k, flat, 0.0)
        return out


def accounted_cells(matrix: sp.spmatrix, ecosystem: np.ndarray) -> np.ndarray:
    """Cells the tables count (bool, shape of ``ecosystem``): covered by a leaf region and of a known ecosystem.

    ``matrix``: coverage weights (regions × these cells); ``ecosystem``: index into ECOSYSTEMS per
    cell (−1 for land-cover nodata, which :meth:`ZoneWeights.totals_by_ecosystem` leaves out).
    Per-cell layers are NaN elsewhere, so Σ(cell value × coverage) over a region is its table total.
    """
    covered = np.asarray(matrix.sum(axis=0)).ravel() > 0
    return covered.reshape(ecosystem.shape) & (ecosystem >= 0)


def zone_weights(regions: RegionSet, grid: Grid) -> ZoneWeights:
    """Coverage weights of the leaf polygons of ``regions`` on ``grid``."""
    leaves = regions.leaves.to_crs(grid.crs_wkt)
    with MemoryFile() as mem:
        with mem.open(
            driver="GTiff",
            height=grid.height,
            width=grid.width,
            count=1,
            dtype="uint8",
            crs=grid.crs_wkt,
            transform=grid.transform,
        ) as ds:
            ds.write(np.zeros((1, *grid.shape), dtype="uint8"))
        with mem.open() as ds:
            table = _extract(ds, leaves)
    rows, cols, vals = [], [], []
    for i, (cells, cover) in enumerate(zip(table["cell_id"], table["coverage"], strict=True)):
        cells = np.asarray(cells, dtype=np.int64)
        rows.append(np.full(cells.shape, i))
        cols.append(cells)
        vals.append(np.asarray(cover, dtype=np.float64))
    n_cells = grid.height * grid.width
    m = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(leaves), n_cells),
    )
    colsum = np.asarray(m.sum(axis=0)).ravel()
    over = colsum > 1.0
    if over.any():
        scale = np.ones(n_cells)
        scale[over] = 1.0 / colsum[over]
        m = (m @ sp.diags(scale)).tocsr()
    return ZoneWeights(codes=tuple(str(c) for c in leaves["code"]), matrix=m)


def _extract(ds: rasterio.DatasetReader, leaves: object) -> pd.DataFrame:
    return exact_extract(ds, leaves, ["cell_id", "coverage"], output="pandas")


def roll_up(leaf_rows: pd.DataFrame, regions: RegionSet, *, keys: list[str], value_cols: list[str]) -> pd.DataFrame:
    """Add rows for every ancestor region: the sum of its leaves, grouped by ``keys``.

    ``leaf_rows`` has a ``region_code`` column of leaf codes; the result has leaf and ancestor
    rows together, each ancestor the exact sum over its descendants.
    """
    frames = [leaf_rows]
    ancestor_map = {code: regions.ancestors(code) for code in leaf_rows["region_code"].unique()}
    depth = max((len(a) for a in ancestor_map.values()), default=0)
    for d in range(depth):
        mapped = leaf_rows.assign(
            region_code=leaf_rows["region_code"].map(lambda c, d=d: ancestor_map[c][d] if len(ancestor_map[c]) > d else None)
        ).dropna(subset=["region_code"])
        if mapped.empty:
            continue
        frames.append(mapped.groupby(["region_code", *keys], as_index=False, sort=False)[value_cols].sum())
    return pd.concat(frames, ignore_index=True)
