"""Element-wise numpy kernels run in blocks of rows on threads.

A whole-grid numpy expression allocates one full-grid temporary per operation; run on blocks
of rows, the temporaries stay in cache, and the blocks run on threads (numpy's ufunc loops
release the GIL). Every element goes through the same ufunc loops as on the whole grid, so the
result is bit-identical.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROWS = 32
"""Rows per block (about 0.1 M cells on a 3000-column grid)."""


def threads() -> int:
    """Worker threads for row blocks: the machine's cores, at most 8."""
    return max(1, min(os.cpu_count() or 1, 8))


def map_row_blocks(fn: Callable[[int, int], np.ndarray], shape: tuple[int, ...], *, rows: int = ROWS) -> np.ndarray:
    """Float64 array of ``shape`` whose rows ``r0:r1`` are ``fn(r0, r1)``, block by block."""
    out = np.empty(shape)
    if len(shape) < 2 or shape[0] <= rows:
        out[...] = fn(0, shape[0] if shape else 1)
        return out

    def block(r0: int) -> None:
        r1 = min(r0 + rows, shape[0])
        out[r0:r1] = fn(r0, r1)

    with ThreadPoolExecutor(threads()) as pool:
        list(pool.map(block, range(0, shape[0], rows)))
    return out


def map_rows(
    fn: Callable[..., np.ndarray], shape: tuple[int, ...], *operands: np.ndarray, rows: int = ROWS
) -> np.ndarray:
    """``fn(*operands)`` (float64, broadcast to ``shape``) computed on blocks of ``rows`` rows.

    An operand with the result's number of dimensions and more than one row is cut into the
    same row blocks; others (scalars, single rows, per-column vectors) are passed whole.
    """
    if len(shape) < 2 or shape[0] <= rows:
        return map_row_blocks(lambda r0, r1: fn(*operands), shape, rows=rows)

    def cut(arr: np.ndarray, r0: int, r1: int) -> np.ndarray:
        return arr[r0:r1] if arr.ndim == len(shape) and arr.shape[0] > 1 else arr

    return map_row_blocks(lambda r0, r1: fn(*(cut(a, r0, r1) for a in operands)), shape, rows=rows)
