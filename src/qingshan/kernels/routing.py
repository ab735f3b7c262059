"""Terrain kernels for the RUSLE LS factor: slope, flow routing and upslope contributing area.

* Slope: Horn's (1981) third-order finite difference on a 3×3 window, with true cell sizes in
  metres (per row, so geographic grids work).
* Depressions are filled by pyflwdir's priority-flood (Wang & Liu 2006,
  :func:`pyflwdir.dem.fill_depressions`), which also gives a D8 network that drains flats.
* ``D8``: steepest descent (O'Callaghan & Mark 1984) on the filled DEM, i.e. the neighbour with
  the largest drop per distance; cells with no lower neighbour (flats) follow pyflwdir's
  priority-flood direction; boundary cells (grid edge or next to nodata) with no lower neighbour
  are outlets. Accumulation by :meth:`pyflwdir.FlwdirRaster.accuflux`.
* ``MFD``: multiple flow direction (Freeman 1991): the outflow of a cell is shared among all
  lower neighbours in proportion to ``tan(β_i)^p`` (p = 1.1 in Freeman 1991); flats as for D8.
  Accumulation in topological order (numba).
* Flow length for the L factor: unit contributing area ``λ = A / w`` (specific catchment area;
  Moore & Burch 1986, the simplification of Desmet & Govers 1996 without the aspect term), where
  ``A`` includes the cell's own area and ``w`` is the cell width, so a lone cell has ``λ = w``.

All functions are pure (no IO); elevations NaN = nodata. Global dependency: upslope area needs
the whole catchment, so these kernels must not be run block by block (slope needs a 1-cell halo).
"""

from __future__ import annotations

import numpy as np
import pyflwdir
from affine import Affine
from numba import njit

__all__ = [
    "d8_directions",
    "fill_dem",
    "flow_length_from_area",
    "mfd_flow_accumulation",
    "slope_radians",
    "upslope_area",
]

_NODATA = -9999.0
# neighbour offsets (dr, dc) and their pyflwdir D8 codes
_DR = np.array([0, 1, 1, 1, 0, -1, -1, -1], dtype=np.int64)
_DC = np.array([1, 1, 0, -1, -1, -1, 0, 1], dtype=np.int64)
_CODES = np.array([1, 2, 4, 8, 16, 32, 64, 128], dtype=np.int64)
_PIT = 0
_MV = 247


def _per_row(value: float | np.ndarray, nrows: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64).reshape(-1)
    if arr.size == 1:
        return np.full(nrows, float(arr[0]))
    if arr.size != nrows:
        raise ValueError(
            f"cell size must be a scalar or one value per row ({nrows}), got {arr.size}"
        )
    return arr


def _pad_linear(z: np.ndarray) -> np.ndarray:
    """Pad by one cell, extrapolating linearly across the grid edge (exact for planes)."""
    pad = np.pad(z, 1, constant_values=np.nan)
    if z.shape[0] > 1:
        pad[0, 1:-1] = 2.0 * z[0] - z[1]
        pad[-1, 1:-1] = 2.0 * z[-1] - z[-2]
    if z.shape[1] > 1:
        pad[:, 0] = 2.0 * pad[:, 1] - pad[:, 2]
        pad[:, -1] = 2.0 * pad[:, -2] - pad[:, -3]
    return pad


def slope_radians(
    dem: np.ndarray, dx_m: float | np.ndarray, dy_m: float | np.ndarray
) -> np.ndarray:
    """Slope angle θ [rad] by Horn's (1981) method.

    Cells beyond the grid edge are extrapolated linearly (exact on planes); a missing (NaN)
    neighbour is extrapolated through the centre from the opposite neighbour, or takes the
    centre value when both are missing.

    Parameters
    ----------
    dem : elevation [m], 2-D; NaN = nodata.
    dx_m : cell width [m], scalar or one value per row (geographic grids).
    dy_m : cell height [m], scalar or one value per row.

    Returns
    -------
    ndarray [rad], NaN where ``dem`` is NaN.
    """
    z = np.asarray(dem, dtype=np.float64)
    nr = z.shape[0]
    dx = _per_row(dx_m, nr)[:, None]
    dy = _per_row(dy_m, nr)[:, None]
    pad = _pad_linear(z)

    def raw(dr: int, dc: int) -> np.ndarray:
        return pad[1 + dr : 1 + dr + z.shape[0], 1 + dc : 1 + dc + z.shape[1]]

    def nb(dr: int, dc: int) -> np.ndarray:
        # missing neighbour: linear extrapolation through the centre from the opposite cell
        # (exact on planes), else the centre value
        v, opp = raw(dr, dc), raw(-dr, -dc)
        return np.where(np.isnan(v), np.where(np.isnan(opp), z, 2.0 * z - opp), v)

    a, b, c = nb(-1, -1), nb(-1, 0), nb(-1, 1)
    d, f = nb(0, -1), nb(0, 1)
    g, h, i = nb(1, -1), nb(1, 0), nb(1, 1)
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy)
    return np.where(np.isnan(z), np.nan, np.arctan(np.hypot(dzdx, dzdy)))


def fill_dem(dem: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depression-filled DEM and pyflwdir's priority-flood D8 directions (flats drained).

    Parameters
    ----------
    dem : elevation [m]; NaN = nodata.

    Returns
    -------
    (filled [m] with NaN for nodata, d8 codes uint8 in pyflwdir encoding).
    """
    z = np.where(np.isfinite(dem), dem, _NODATA).astype(np.float64)
    filled, d8 = pyflwdir.dem.fill_depressions(z, nodata=_NODATA, outlets="edge")
    filled = np.where(np.isfinite(dem), filled, np.nan)
    return filled, d8


@njit(cache=True)
def _is_boundary(valid: np.ndarray, i: int, j: int) -> bool:
    nr, nc = valid.shape
    for k in range(8):
        ni, nj = i + _DR[k], j + _DC[k]
        if ni < 0 or nj < 0 or ni >= nr or nj >= nc or not valid[ni, nj]:
            return True
    return False


@njit(cache=True)
def _fallback(z: np.ndarray, d8: np.ndarray, valid: np.ndarray, i: int, j: int) -> int:
    """Neighbour index k of the priority-flood direction, or −1 (outlet / pit).

    Only a direction to a neighbour that is not higher is followed, which keeps the routing
    graph acyclic (every edge is non-increasing and the zero-drop edges form pyflwdir's tree).
    """
    if _is_boundary(valid, i, j):
        return -1
    code = d8[i, j]
    for k in range(8):
        if _CODES[k] == code:
            ni, nj = i + _DR[k], j + _DC[k]
            if (
                0 <= ni < valid.shape[0]
                and 0 <= nj < valid.shape[1]
                and valid[ni, nj]
                and z[ni, nj] <= z[i, j]
            ):
                return k
    return -1


@njit(cache=True)
def _receivers(z, valid, d8, dx, dy, i, j, p, single, out_k, out_w):
    """Fill ``out_k``/``out_w`` with receiver neighbour indices and fractions; return count."""
    nr, nc = z.shape
    n = 0
    total = 0.0
    best = -1.0
    for k in range(8):
        ni, nj = i + _DR[k], j + _DC[k]
        if ni < 0 or nj < 0 or ni >= nr or nj >= nc or not valid[ni, nj]:
            continue
        drop = z[i, j] - z[ni, nj]
        if drop <= 0.0:
            continue
        ddx = dx[i] * _DC[k]
        ddy = 0.5 * (dy[i] + dy[ni]) * _DR[k]
        tan_b = drop / np.sqrt(ddx * ddx + ddy * ddy)
        if single:
            if tan_b > best:
                best = tan_b
                out_k[0] = k
                out_w[0] = 1.0
                n = 1
        else:
            w = tan_b**p
            out_k[n] = k
            out_w[n] = w
            total += w
            n += 1
    if n == 0:
        k = _fallback(z, d8, valid, i, j)
        if k >= 0:
            out_k[0] = k
            out_w[0] = 1.0
            n = 1
    elif not single:
        for m in range(n):
            # total underflows only for sub-normal drops: then split equally
            out_w[m] = out_w[m] / total if total > 0.0 else 1.0 / n
    return n


@njit(cache=True)
def _d8_kernel(z, valid, d8, dx, dy):
    nr, nc = z.shape
    out = np.full((nr, nc), _MV, dtype=np.uint8)
    ks = np.empty(8, dtype=np.int64)
    ws = np.empty(8, dtype=np.float64)
    for i in range(nr):
        for j in range(nc):
            if not valid[i, j]:
                continue
            n = _receivers(z, valid, d8, dx, dy, i, j, 1.0, True, ks, ws)
            out[i, j] = _CODES[ks[0]] if n > 0 else _PIT
    return out


@njit(cache=True)
def _mfd_kernel(z, valid, d8, dx, dy, weights, p):
    nr, nc = z.shape
    ks = np.empty(8, dtype=np.int64)
    ws = np.empty(8, dtype=np.float64)
    indeg = np.zeros((nr, nc), dtype=np.int64)
    for i in range(nr):
        for j in range(nc):
            if valid[i, j]:
                n = _receivers(z, valid, d8, dx, dy, i, j, p, False, ks, ws)
                for m in range(n):
                    indeg[i + _DR[ks[m]], j + _DC[ks[m]]] += 1
    acc = np.where(valid, weights, 0.0)
    terminal = np.zeros((nr, nc), dtype=np.bool_)
    queue = np.empty(nr * nc, dtype=np.int64)
    tail = 0
    for i in range(nr):
        for j in range(nc):
            if valid[i, j] and indeg[i, j] == 0:
                queue[tail] = i * nc + j
                tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        i, j = c // nc, c % nc
        n = _receivers(z, valid, d8, dx, dy, i, j, p, False, ks, ws)
        if n == 0:
            terminal[i, j] = True
        for m in range(n):
            ni, nj = i + _DR[ks[m]], j + _DC[ks[m]]
            acc[ni, nj] += acc[i, j] * ws[m]
            indeg[ni, nj] -= 1
            if indeg[ni, nj] == 0:
                queue[tail] = ni * nc + nj
                tail += 1
    return acc, terminal, tail


def d8_directions(
    filled: np.ndarray, d8_flood: np.ndarray, dx_m: float | np.ndarray, dy_m: float | np.ndarray
) -> np.ndarray:
    """Steepest-descent D8 directions (pyflwdir encoding) on a filled DEM.

    Parameters
    ----------
    filled : depression-filled elevation [m] (NaN = nodata), from :func:`fill_dem`.
    d8_flood : priority-flood directions from :func:`fill_dem` (used on flats).
    dx_m, dy_m : cell width / height [m], scalar or per row.
    """
    nr = filled.shape[0]
    valid = np.isfinite(filled)
    z = np.where(valid, filled, 0.0)
    return _d8_kernel(z, valid, d8_flood, _per_row(dx_m, nr), _per_row(dy_m, nr))


def mfd_flow_accumulation(
    filled: np.ndarray,
    d8_flood: np.ndarray,
    weights: np.ndarray,
    dx_m: float | np.ndarray,
    dy_m: float | np.ndarray,
    exponent: float = 1.1,
) -> tuple[np.ndarray, np.ndarray]:
    """Multiple-flow-direction accumulation of ``weights`` (Freeman 1991).

    Parameters
    ----------
    filled : depression-filled elevation [m] (NaN = nodata).
    d8_flood : priority-flood D8 directions (drain flats).
    weights : the quantity each cell contributes (e.g. cell area [m2]).
    dx_m, dy_m : cell width / height [m], scalar or per row.
    exponent : slope exponent p of the flow partition [1] (Freeman 1991: 1.1).

    Returns
    -------
    (accumulated weights including the cell's own, NaN at nodata; boolean mask of terminal
    cells — outlets and pits — whose accumulations sum to the total of ``weights``).
    """
    nr = filled.shape[0]
    valid = np.isfinite(filled)
    z = np.where(valid, filled, 0.0)
    w = np.asarray(weights, dtype=np.float64)
    acc, terminal, done = _mfd_kernel(
        z, valid, d8_flood, _per_row(dx_m, nr), _per_row(dy_m, nr), w, float(exponent)
    )
    if done != int(valid.sum()):  # pragma: no cover - guarded by construction (acyclic graph)
        raise RuntimeError("MFD routing graph has a cycle; the DEM could not be ordered")
    return np.where(valid, acc, np.nan), terminal


def upslope_area(
    dem: np.ndarray,
    cell_area: np.ndarray,
    *,
    dx_m: float | np.ndarray,
    dy_m: float | np.ndarray,
    algorithm: str = "D8",
    transform: Affine | None = None,
    latlon: bool = False,
    mfd_exponent: float = 1.1,
) -> np.ndarray:
    """Upslope contributing area of every cell, including the cell itself [m2].

    Parameters
    ----------
    dem : elevation [m]; NaN = nodata.
    cell_area : area of each cell [m2] (``Grid.cell_area()``).
    dx_m, dy_m : cell width / height [m], scalar or per row.
    algorithm : ``"D8"`` (steepest descent, pyflwdir accumulation) or ``"MFD"`` (Freeman 1991).
    transform, latlon : grid georeference passed to pyflwdir (D8 only; areas come from
        ``cell_area`` in both cases).
    mfd_exponent : MFD slope exponent p [1].
    """
    filled, d8_flood = fill_dem(dem)
    algo = algorithm.upper()
    if algo == "D8":
        d8 = d8_directions(filled, d8_flood, dx_m, dy_m)
        flw = pyflwdir.from_array(
            d8,
            ftype="d8",
            check_ftype=False,
            transform=transform or Affine.identity(),
            latlon=latlon,
        )
        acc = flw.accuflux(
            np.where(np.isfinite(filled), cell_area, 0.0).astype(np.float64), nodata=np.nan
        )
        return np.where(np.isfinite(filled), acc, np.nan)
    if algo == "MFD":
        return mfd_flow_accumulation(filled, d8_flood, cell_area, dx_m, dy_m, mfd_exponent)[0]
    raise ValueError(f"flow algorithm must be 'D8' or 'MFD', got {algorithm!r}")


def flow_length_from_area(area_m2: np.ndarray, cell_width_m: np.ndarray | float) -> np.ndarray:
    """Slope length as unit contributing area ``λ = A / w`` [m] (Moore & Burch 1986).

    Parameters
    ----------
    area_m2 : upslope contributing area including the cell [m2].
    cell_width_m : cell width w [m] (``Grid.cell_size_m()``).
    """
    return np.asarray(area_m2, dtype=np.float64) / cell_width_m
