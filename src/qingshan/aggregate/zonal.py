"""Exact zonal aggregation: per-cell quantities → totals per region and ecosystem type.

Each leaf region gets, for every cell it touches, the fraction of the cell it covers
(exactextract). These weights form a sparse matrix ``W`` (regions × cells); a region's total is
``W @ q``. Cells covered by several regions are split by coverage, so every cell is counted at
most once; where boundary slivers make coverages sum above one, the column is normalised.
Higher levels are sums of their children, so children add up to their parent exactly.
"""

from __future__ import annotations

import threading
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

__all__ = ["EcosystemSplit", "ZoneWeights", "accounted_cells", "coverage_table", "roll_up", "zone_weights"]


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
        """Sums per region × ecosystem type, shape ``(n_regions, len(ECOSYSTEMS))`` (see :class:`EcosystemSplit`)."""
        return EcosystemSplit.of(self.matrix, ecosystem).totals(values)


@dataclass(frozen=True)
class EcosystemSplit:
    """Coverage weights split by each cell's ecosystem type: one sparse product sums a layer by region × type.

    ``matrix`` has a row per (region, type) pair, ``region * n_types + type``, and keeps of each cell's weights
    only the row of its type; cells of no type (an index outside ``0 … n_types − 1``: −1, or 255 in an
    ecosystem raster) are left out. Build it once per grid or block (:meth:`of`), then :meth:`totals` costs one
    sparse product per layer, where splitting the values type by type cost one product and one masked copy
    per type.

    A row's products are added in increasing cell order, whatever the order of the weights' indices: the same
    bits as ``weights @ np.where(eco == k, values, 0)`` for each type ``k`` with sorted indices (the masked
    form only adds zeros in between). With unsorted indices — the coverage of a block as exactextract lists
    its cells — that product followed the stored order, so its totals could differ in their last bits.
    """

    matrix: sp.csc_matrix  # (n_regions * n_types, n_cells)
    n_regions: int
    n_types: int

    @classmethod
    def of(cls, weights: sp.spmatrix, ecosystem: np.ndarray, n_types: int = len(ECOSYSTEMS)) -> EcosystemSplit:
        """Split ``weights`` (regions × cells, any sparse format) by ``ecosystem`` (a type index per cell)."""
        w = sp.csc_matrix(weights)
        if not w.has_sorted_indices:  # a copy: the caller's matrix may be shared by other threads
            w = w.sorted_indices()
        n_regions, n_cells = w.shape
        eco = np.asarray(ecosystem).reshape(-1).astype(np.int64)
        if eco.size != n_cells:
            raise ValueError(f"ecosystem has {eco.size} cells, weights {n_cells}")
        col = np.repeat(np.arange(n_cells), np.diff(w.indptr))
        kind = eco[col]
        keep = (kind >= 0) & (kind < n_types)
        rows = w.indices[keep].astype(np.int64) * n_types + kind[keep]
        indptr = np.zeros(n_cells + 1, dtype=np.int64)
        np.cumsum(np.bincount(col[keep], minlength=n_cells), out=indptr[1:])
        m = sp.csc_matrix((w.data[keep], rows, indptr), shape=(n_regions * n_types, n_cells))
        return cls(matrix=m, n_regions=n_regions, n_types=n_types)

    def totals(self, values: np.ndarray) -> np.ndarray:
        """Coverage-weighted sums of ``values`` (a value per cell; NaN counts as 0, as ``np.nan_to_num``) per
        region × type, shape ``(n_regions, n_types)``."""
        flat = np.nan_to_num(values.reshape(-1), nan=0.0)
        if self.matrix.nnz == 0:
            return np.zeros((self.n_regions, self.n_types))
        return np.asarray(self.matrix @ flat).reshape(self.n_regions, self.n_types)


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
            table = coverage_table(ds, leaves)
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


# exactextract calls back into Python (its rasterio source) from C++; two threads doing so at once
# deadlocked in the block-wise engine (one thread in the C++ loop, the other in the read callback, both
# idle for good). One call at a time per process; processes of a dask cluster still run in parallel.
_EXACTEXTRACT_LOCK = threading.Lock()


def coverage_table(ds: rasterio.DatasetReader, leaves: object) -> pd.DataFrame:
    """Cell ids and coverage fractions of each polygon of ``leaves`` on the grid of ``ds``."""
    with _EXACTEXTRACT_LOCK:
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

