"""Blocks of the accounting grid: windows that block-wise engines read, compute and aggregate.

A :class:`Window` is a rectangle of whole cells of a :class:`~qingshan.core.grid.Grid`
(``row_off, col_off, height, width`` in cells, as ``rasterio.windows.Window`` but row-first).
:func:`block_grid` turns it into a Grid of its own, with the affine transform shifted to the
window's upper-left corner, so that ``grid.cell_area()`` and every per-cell quantity function
work on a block unchanged: the cell areas of a block are the cell areas of the same cells of the
whole grid (exactly for projected grids; to ~1e-15 relative for geographic grids, where the
shifted origin is rounded once).

Example
-------
>>> from affine import Affine
>>> from qingshan.core.grid import Grid
>>> g = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 113.0, 0, -0.05, 30.5), 130, 120)
>>> [w.shape for w in block_windows(g.shape, 64)]
[(64, 64), (64, 56), (64, 64), (64, 56), (2, 64), (2, 56)]
>>> block_grid(g, Window(64, 0, 64, 56)).transform.f  # 30.5 − 64 × 0.05
27.3
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from affine import Affine

from qingshan.core.grid import Grid

__all__ = ["Window", "block_grid", "block_windows"]


@dataclass(frozen=True, order=True)
class Window:
    """A rectangle of cells of a grid: offsets and size in cells (rows first)."""

    row_off: int
    col_off: int
    height: int
    width: int

    def __post_init__(self) -> None:
        if min(self.row_off, self.col_off) < 0 or min(self.height, self.width) < 1:
            raise ValueError(f"invalid window {self}: offsets must be ≥ 0 and sizes ≥ 1")

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.height * self.width

    def slices(self) -> tuple[slice, slice]:
        """``(rows, cols)`` slices that cut this window out of a whole-grid array."""
        return (slice(self.row_off, self.row_off + self.height), slice(self.col_off, self.col_off + self.width))

    def flat_indices(self, grid_width: int) -> np.ndarray:
        """Row-major indices of the window's cells in the flattened whole grid, in window order.

        ``values_whole.reshape(-1)[w.flat_indices(W)] == values_whole[w.slices()].reshape(-1)``.
        """
        rows = np.arange(self.row_off, self.row_off + self.height, dtype=np.int64)
        cols = np.arange(self.col_off, self.col_off + self.width, dtype=np.int64)
        return (rows[:, None] * grid_width + cols[None, :]).reshape(-1)

    def to_rasterio(self) -> object:
        """The equivalent ``rasterio.windows.Window`` (col_off, row_off, width, height)."""
        from rasterio.windows import Window as RioWindow

        return RioWindow(self.col_off, self.row_off, self.width, self.height)

    def within(self, shape: tuple[int, int]) -> bool:
        """True when the window lies inside a grid of ``shape`` (rows, cols)."""
        return self.row_off + self.height <= shape[0] and self.col_off + self.width <= shape[1]


def block_windows(shape: tuple[int, int], block_size: int | tuple[int, int]) -> Iterator[Window]:
    """Windows of at most ``block_size`` cells a side that tile a grid of ``shape`` row by row.

    Parameters
    ----------
    shape : (rows, cols) of the grid [cells].
    block_size : side of a block [cells], or (rows, cols); edge blocks are smaller.
    """
    bh, bw = (block_size, block_size) if isinstance(block_size, int) else block_size
    if bh < 1 or bw < 1:
        raise ValueError(f"block_size must be ≥ 1 cell, got {block_size}")
    height, width = shape
    for r in range(0, height, bh):
        for c in range(0, width, bw):
            yield Window(r, c, min(bh, height - r), min(bw, width - c))


def block_grid(grid: Grid, window: Window) -> Grid:
    """The grid of ``window``: same CRS and cell size, origin at the window's upper-left corner."""
    if not window.within(grid.shape):
        raise ValueError(f"window {window} is outside the grid {grid.shape}")
    transform = grid.transform @ Affine.translation(window.col_off, window.row_off)
    return Grid(grid.crs_wkt, transform, window.height, window.width)
