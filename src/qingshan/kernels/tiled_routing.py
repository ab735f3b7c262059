"""Tiled flow routing: pit filling, flow directions and accumulation tile by tile, exactly.

The whole-grid kernels of :mod:`qingshan.kernels.routing` hold the DEM and every derived grid
in memory. The functions here compute the same grids tile by tile, reading windows of the input
(``numpy.memmap`` or any array) and writing windows of the output, holding one tile (+ a one-cell
halo) and perimeter data at a time:

* **Filling** — Barnes (2016), "Parallel priority-flood depression filling for trillion cell
  digital elevation models" (Computers & Geosciences 96: 56-68). Each tile is flooded on its own
  from its perimeter cells (each its own label) and from the grid outlets inside it (valid cells
  next to nodata or the grid edge; label *ocean*); where two floods meet, an edge between their
  labels with the spill elevation is kept. Adding the edges between neighbouring perimeter
  cells of adjacent tiles gives a small graph whose minimax distances from the ocean are the
  fill levels of the perimeter cells; a second flood of each tile seeded by those levels gives
  the filled surface. The filled value of a cell is the smallest, over all paths to an outlet,
  of the highest elevation on the path — unique, so the tiled result is **bit-identical** to
  :func:`~qingshan.kernels.routing.fill_pits_invest` and to pyflwdir's
  :func:`~qingshan.kernels.routing.fill_dem` (whose arithmetic ``z + (float32(W) − z)`` is
  reproduced; pyflwdir keys on float32, so elevations must be float32-representable, as any
  DEM read from a float32 or integer raster is).
* **Directions** — a cell with a lower neighbour gets its direction from its 3×3 window. A
  cell on a flat (no lower neighbour) gets it from its plateau, which may cross tiles: plateaus
  inside a tile are resolved with the tile; a plateau reaching the tile's edge is resolved in a
  second pass on a window holding the whole plateau and a one-cell ring, by the same whole-grid
  kernel (pygeoprocessing's plateau search for the InVEST chain, with the 256-cell block scan
  order anchored to the grid; pyflwdir's priority flood for the default chain, whose flat
  directions depend only on the float32-equal plateau and its ring). **Bit-identical.** Memory
  of this pass: the largest plateau crossing a tile edge (a filled lake).
* **Accumulation** — D8: Barnes (2017), "Parallel non-divergent flow accumulation for trillion
  cell digital elevation models on desktops or clusters" (Environmental Modelling & Software 92:
  202-212): pass 1 accumulates each tile alone and links each perimeter cell to the exit cell
  where its path leaves the tile; a topological sum over the exit graph gives every tile's
  inflows; pass 2 accumulates each tile with them. MFD splits flow (no single exit per perimeter
  cell), so it uses a perimeter exchange: flow leaving a tile is queued as inflow on the next
  tile's perimeter and a tile with queued inflow accumulates it over the cells downstream
  (accumulation is linear), until nothing crosses. Pixel counts along D8 (InVEST chain) are
  **bit-identical**; sums of real-valued weights (cell areas, MFD shares) are the same sums in
  another order: equal to about 1e-12 relative (observed 1e-15).

All functions are pure computations on arrays passed in (no file IO); ``alloc(shape, dtype)``
gives scratch arrays (a memmap factory for out-of-core runs, ``numpy.empty`` in memory). The
IO driver is :mod:`qingshan.quantities.routing_tiles`.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np

from qingshan.kernels._numba import load_numba

load_numba()  # without scipy.linalg (0.13 s): see the module
from numba import njit  # noqa: E402

from qingshan.kernels._rows import threads  # noqa: E402
from qingshan.kernels.routing import (  # noqa: E402
    _PG_BLOCK,
    _PG_DC,
    _PG_DR,
    _accumulate_pass,
    _accumulate_sources,
    _d8_invest_kernel,
    _d8_kernel,
    _fill_pits_inplace,
    _mfd_indegree_rows,
    _mfd_weights_kernel,
    _per_row,
    _receivers,
    flood_fill,
)

T = TypeVar("T")

__all__ = [
    "MFD_WHOLE_ACCUMULATION_CELLS",
    "Alloc",
    "NotFloat32Error",
    "Release",
    "map_tiles",
    "tiled_accumulate",
    "tiled_accumulate_d8",
    "tiled_d8_codes",
    "tiled_d8_invest",
    "tiled_fill",
    "tiled_flood_d8",
    "tiled_flow_accumulation_invest",
    "tiled_mfd_weights_invest",
    "tiled_rusle_routing",
    "tiled_upslope_area",
    "tiles",
]

Alloc = Callable[[tuple[int, ...], type | np.dtype], np.ndarray]
"""Scratch-array factory ``alloc(shape, dtype) -> array`` (memmap or in-memory)."""
Release = Callable[[np.ndarray], None]
"""Called on an array a pass is done with (a memmap's pages may be dropped from the process)."""


def _keep(arr: np.ndarray) -> None:
    """The default :data:`Release`: in-memory arrays have no pages to give back."""

_OCEAN = 0
MFD_WHOLE_ACCUMULATION_CELLS = 400_000_000
"""Largest grid (cells) whose InVEST-chain MFD accumulation runs as one topological pass over the tiled weights
(:func:`tiled_flow_accumulation_invest`, :func:`_mfd_one_pass`): everything grid-sized comes from ``alloc``; the
pass walks a front spread over the whole grid, so a memory-mapped run still holds the pages of about 18 bytes a cell
(weights, accumulation, in-degree, mask) while it runs, 7 GB at this bound, a 20 000² grid. Beyond it, the perimeter exchange
(:func:`tiled_accumulate`), bounded by the tile but far slower: MFD flow zigzags across tile edges and each
crossing re-runs a tile (``qingshan compute soil_retention`` at 10 000² with 2048² tiles: 28 min)."""
WHOLE_FILL_CELLS = 150_000_000
"""Largest grid (cells) whose InVEST-chain pit fill in :func:`tiled_flow_accumulation_invest` runs as the
whole-grid kernel (:func:`~qingshan.kernels.routing.fill_pits_invest`, the same bits as :func:`tiled_fill`) in
place on the scratch array (:func:`_fill_whole_in_place`): about 14 bytes a cell while it runs (levels, masks,
the queue's cells), 2.1 GB at this bound. Barnes' two flood
passes per tile cost about five times the whole-grid kernel per cell (84 s of thread time at 10 000², two
threads), so on two cores the whole fill takes about a third of the time; beyond the bound, tiles (memory
bounded by the tile)."""
_RELEASE_CELLS = 8_000_000
"""Window cells of the plateau pass between two calls of ``release`` (:func:`_tiled_directions`)."""
_RECENT_TILES = 2  # fractions kept for re-runs of the perimeter exchange (memory: 2 tiles × 64 B/cell)
_NODATA = -9999.0
# pyflwdir D8 codes in pygeoprocessing neighbour order (E, NE, N, NW, W, SW, S, SE)
_PG_TO_CODE = np.array([1, 128, 64, 32, 16, 8, 4, 2], dtype=np.int64)


def _empty(shape: tuple[int, ...], dtype: type | np.dtype) -> np.ndarray:
    return np.empty(shape, dtype=dtype)


def tiles(shape: tuple[int, int], tile: int) -> Iterator[tuple[int, int, int, int]]:
    """Row-major tiles ``(r0, r1, c0, c1)`` of ``tile``×``tile`` cells covering ``shape``."""
    if tile < 2:
        raise ValueError(f"routing tile size must be at least 2 cells, got {tile}")
    for r0 in range(0, shape[0], tile):
        for c0 in range(0, shape[1], tile):
            yield r0, min(r0 + tile, shape[0]), c0, min(c0 + tile, shape[1])


def _window(arr: np.ndarray, r0: int, r1: int, c0: int, c1: int, halo: int, fill: float) -> np.ndarray:
    """``arr[r0-halo:r1+halo, c0-halo:c1+halo]`` padded with ``fill`` beyond the grid."""
    nr, nc = arr.shape[:2]
    out = np.full((r1 - r0 + 2 * halo, c1 - c0 + 2 * halo, *arr.shape[2:]), fill, dtype=arr.dtype)
    a0, a1 = max(r0 - halo, 0), min(r1 + halo, nr)
    b0, b1 = max(c0 - halo, 0), min(c1 + halo, nc)
    out[a0 - r0 + halo : a1 - r0 + halo, b0 - c0 + halo : b1 - c0 + halo] = arr[a0:a1, b0:b1]
    return out


# --------------------------------------------------------------------------------------------
# Filling (Barnes 2016)
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _outlets(valid: np.ndarray) -> np.ndarray:
    """Core cells (window minus a one-cell halo) that are valid and next to an invalid cell."""
    nr, nc = valid.shape
    out = np.zeros((nr - 2, nc - 2), dtype=np.bool_)
    for i in range(1, nr - 1):
        for j in range(1, nc - 1):
            if not valid[i, j]:
                continue
            for k in range(8):
                if not valid[i + _PG_DR[k], j + _PG_DC[k]]:
                    out[i - 1, j - 1] = True
                    break
    return out


@njit(cache=True, nogil=True)
def _flood(z, valid, seed_level, label, record):
    """Priority flood of one tile from its seeds (``seed_level`` not NaN).

    Returns the levels (fill level within the tile given the seed levels) and, if ``record``,
    the edges ``(label_a, label_b, spill)`` where floods of two labels meet (``label`` holds the
    seeds' labels on entry and every cell's label on return).
    """
    nr, nc = z.shape
    level = np.full((nr, nc), np.nan)
    heap = [(0.0, 0)]
    heap.pop()
    for i in range(nr):
        for j in range(nc):
            if valid[i, j] and not np.isnan(seed_level[i, j]):
                level[i, j] = seed_level[i, j]
                heapq.heappush(heap, (seed_level[i, j], i * nc + j))
    ea = np.empty(64, dtype=np.int64)
    eb = np.empty(64, dtype=np.int64)
    ew = np.empty(64, dtype=np.float64)
    ne = 0
    # Priority-Flood+ (Barnes et al. 2014): cells raised to the current level go to a FIFO
    pit = np.empty(nr * nc, dtype=np.int64)
    head = tail = 0
    while len(heap) > 0 or head < tail:
        if head < tail:
            c = pit[head]
            head += 1
            h = level[c // nc, c % nc]
        else:
            h, c = heapq.heappop(heap)
            head = tail = 0
        i, j = c // nc, c % nc
        for k in range(8):
            ni, nj = i + _PG_DR[k], j + _PG_DC[k]
            if ni < 0 or nj < 0 or ni >= nr or nj >= nc or not valid[ni, nj]:
                continue
            if np.isnan(level[ni, nj]):
                label[ni, nj] = label[i, j]
                if z[ni, nj] <= h:
                    level[ni, nj] = h
                    pit[tail] = ni * nc + nj
                    tail += 1
                else:
                    level[ni, nj] = z[ni, nj]
                    heapq.heappush(heap, (level[ni, nj], ni * nc + nj))
            elif record and label[ni, nj] != label[i, j]:
                if ne == ea.size:
                    ea2 = np.empty(2 * ne, dtype=np.int64)
                    eb2 = np.empty(2 * ne, dtype=np.int64)
                    ew2 = np.empty(2 * ne, dtype=np.float64)
                    ea2[:ne] = ea
                    eb2[:ne] = eb
                    ew2[:ne] = ew
                    ea, eb, ew = ea2, eb2, ew2
                ea[ne] = label[i, j]
                eb[ne] = label[ni, nj]
                ew[ne] = max(h, level[ni, nj])
                ne += 1
    return level, ea[:ne], eb[:ne], ew[:ne]


def _perimeter(shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[0, :] = mask[-1, :] = True
    mask[:, 0] = mask[:, -1] = True
    return mask


def _seed_labels(
    zw: np.ndarray, validw: np.ndarray, r0: int, r1: int, c0: int, c1: int, ncol: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Core z, validity, outlet mask and seed labels (ocean 0, perimeter cell: global index + 1)
    of a tile with a one-cell halo (``zw`` 0 at nodata)."""
    z = zw[1:-1, 1:-1]
    valid = validw[1:-1, 1:-1]
    outlet = _outlets(validw)
    rows, cols = np.mgrid[r0:r1, c0:c1]
    label = np.where(_perimeter(valid.shape), rows * ncol + cols + 1, -1).astype(np.int64)
    label[outlet] = _OCEAN
    return z, valid, outlet, label


@njit(cache=True, nogil=True)
def _cross_edges(z2, valid2, r0, c0, ncol):
    """Edges from a tile's perimeter cells to their valid neighbours in adjacent tiles.

    ``z2``/``valid2``: the tile with a two-cell halo (to tell whether a halo cell is a grid
    outlet). Each edge's labels are those both tiles give the cells (ocean for a grid outlet,
    else global index + 1); its weight is the higher elevation. Every pair is seen from both
    sides; the duplicates do not change minimax distances.
    """
    nr, nc = z2.shape[0] - 4, z2.shape[1] - 4
    outlet = _outlets(valid2)  # the tile plus a one-cell halo
    ea = np.empty(16 * (nr + nc) + 16, dtype=np.int64)
    eb = np.empty(ea.size, dtype=np.int64)
    ew = np.empty(ea.size, dtype=np.float64)
    ne = 0
    for i in range(nr):
        for j in range(nc):
            if i != 0 and j != 0 and i != nr - 1 and j != nc - 1:
                continue
            if not valid2[i + 2, j + 2]:
                continue
            la = _OCEAN if outlet[i + 1, j + 1] else (r0 + i) * ncol + c0 + j + 1
            for k in range(8):
                ni, nj = i + _PG_DR[k], j + _PG_DC[k]
                if 0 <= ni < nr and 0 <= nj < nc:
                    continue
                if not valid2[ni + 2, nj + 2]:
                    continue
                lb = _OCEAN if outlet[ni + 1, nj + 1] else (r0 + ni) * ncol + c0 + nj + 1
                ea[ne] = la
                eb[ne] = lb
                ew[ne] = max(z2[i + 2, j + 2], z2[ni + 2, nj + 2])
                ne += 1
    return ea[:ne], eb[:ne], ew[:ne]


@njit(cache=True, nogil=True)
def _minimax(n, indptr, nbr, wt, src):
    """Minimax distance from node ``src`` over an undirected weighted graph (CSR)."""
    dist = np.full(n, np.inf)
    dist[src] = -np.inf
    heap = [(-np.inf, src)]
    while len(heap) > 0:
        d, u = heapq.heappop(heap)
        if d > dist[u]:
            continue
        for e in range(indptr[u], indptr[u + 1]):
            v = nbr[e]
            nd = max(d, wt[e])
            if nd < dist[v]:
                dist[v] = nd
                heapq.heappush(heap, (nd, v))
    return dist


@njit(cache=True, nogil=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


def _reduce_edges(a: np.ndarray, b: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning forest of a tile's spill edges (Kruskal).

    Replacing any set of edges by its minimum spanning forest keeps every minimax distance of
    the whole graph (a path's detour through the set can use the forest's path, whose highest
    edge is no higher), so each tile hands on at most one edge per label it touches.
    """
    nodes, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    m = a.size
    order = np.argsort(w, kind="stable")
    keep = _kruskal(inv[:m].astype(np.int64), inv[m:].astype(np.int64), order, nodes.size)
    return a[keep], b[keep], w[keep]


@njit(cache=True, nogil=True)
def _kruskal(ia, ib, order, n):
    parent = np.arange(n)
    keep = np.zeros(ia.size, dtype=np.bool_)
    for e in order:
        ra, rb = _find(parent, ia[e]), _find(parent, ib[e])
        if ra != rb:
            parent[ra] = rb
            keep[e] = True
    return keep


def _solve_spill(ea: np.ndarray, eb: np.ndarray, ew: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill level of every label: (sorted labels, level)."""
    nodes, inv = np.unique(np.concatenate([ea, eb, [_OCEAN]]), return_inverse=True)
    m = ea.size
    a, b = inv[:m], inv[m : 2 * m]
    src = np.concatenate([a, b])
    dst = np.concatenate([b, a])
    w = np.concatenate([ew, ew])
    order = np.argsort(src, kind="stable")
    indptr = np.zeros(nodes.size + 1, dtype=np.int64)
    np.add.at(indptr, src + 1, 1)
    indptr = np.cumsum(indptr)
    ocean = int(np.searchsorted(nodes, _OCEAN))
    dist = _minimax(nodes.size, indptr, dst[order].astype(np.int64), w[order], ocean)
    return nodes, dist


def tiled_fill(
    dem: np.ndarray,
    out: np.ndarray,
    tile: int,
    *,
    flavour: str = "invest",
) -> None:
    """Depression filling tile by tile (Barnes 2016), written into ``out``.

    Parameters
    ----------
    dem : elevation [m] (array or memmap), NaN = nodata.
    out : array of the same shape (float64) receiving the filled DEM (NaN at nodata).
    tile : tile size [cells].
    flavour : ``"invest"`` (= :func:`~qingshan.kernels.routing.fill_pits_invest`) or
        ``"pyflwdir"`` (= the filled DEM of :func:`~qingshan.kernels.routing.fill_dem`).
    """
    if flavour not in ("invest", "pyflwdir"):
        raise ValueError(f"fill flavour must be 'invest' or 'pyflwdir', got {flavour!r}")
    nr, nc = dem.shape
    grid_tiles = list(tiles((nr, nc), tile))
    parts = map_tiles(lambda t: _fill_edges(dem, t, nc, flavour), grid_tiles)
    nodes, level = _solve_spill(*(np.concatenate([p[k] for p in parts]) for k in range(3)))
    map_tiles(lambda t: _fill_tile(dem, out, t, nc, flavour, nodes, level), grid_tiles)


def _fill_edges(dem: np.ndarray, t: tuple[int, int, int, int], nc: int,
                flavour: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First pass of :func:`tiled_fill` on one tile: its spill edges between labels."""
    r0, r1, c0, c1 = t
    z2 = _window(dem, r0, r1, c0, c1, 2, np.nan).astype(np.float64)
    if flavour == "pyflwdir":
        _check_float32(z2)
    valid2 = np.isfinite(z2)
    z2 = np.where(valid2, z2, 0.0)
    z, valid, _outlet, label = _seed_labels(z2[1:-1, 1:-1], valid2[1:-1, 1:-1], r0, r1, c0, c1, nc)
    seed = np.where(label >= 0, z, np.nan)
    fa, fb, fw = _flood(z, valid, seed, label, True)[1:]
    xa, xb, xw = _cross_edges(z2, valid2, r0, c0, nc)
    return _reduce_edges(np.concatenate([fa, xa]), np.concatenate([fb, xb]), np.concatenate([fw, xw]))


def _fill_tile(dem: np.ndarray, out: np.ndarray, t: tuple[int, int, int, int], nc: int, flavour: str,
               nodes: np.ndarray, level: np.ndarray) -> None:
    """Second pass of :func:`tiled_fill` on one tile: flood from the solved spill levels into ``out``."""
    r0, r1, c0, c1 = t
    zw = _window(dem, r0, r1, c0, c1, 1, np.nan).astype(np.float64)
    validw = np.isfinite(zw)
    z, valid, outlet, label = _seed_labels(np.where(validw, zw, 0.0), validw, r0, r1, c0, c1, nc)
    seed = np.full(z.shape, np.nan)
    seed[outlet] = z[outlet]
    per = (label > _OCEAN) & valid
    if per.any():
        idx = np.searchsorted(nodes, label[per])
        seed[per] = level[idx]
    lev, *_ = _flood(z, valid, seed, label, False)
    if flavour == "pyflwdir":
        raise_ = lev > z
        lev = np.where(raise_, z + (lev.astype(np.float32).astype(np.float64) - z), z)
    out[r0:r1, c0:c1] = np.where(valid, lev, np.nan)


def map_tiles(fn: Callable[[tuple[int, int, int, int]], T], grid_tiles: Sequence[tuple[int, int, int, int]]) -> list[T]:
    """``[fn(t) for t in grid_tiles]`` on a pool of threads (the kernels release the GIL), results in tile
    order; as many threads as the row-block kernels use (:func:`qingshan.kernels._rows.threads`)."""
    n = threads()
    if n <= 1 or len(grid_tiles) <= 1:
        return [fn(t) for t in grid_tiles]
    with ThreadPoolExecutor(min(n, len(grid_tiles)), thread_name_prefix="qingshan-routing") as pool:
        return list(pool.map(fn, grid_tiles))


class NotFloat32Error(ValueError):
    """The pyflwdir fill flavour met an elevation that is not a float32 value."""


def _check_float32(z: np.ndarray) -> None:
    ok = np.isfinite(z)
    if not np.array_equal(z[ok], z[ok].astype(np.float32).astype(np.float64)):
        raise NotFloat32Error(
            "tiled routing of the default chain needs float32-representable elevations "
            "(pyflwdir compares float32 keys); read the DEM as float32 or route the whole grid"
        )


# --------------------------------------------------------------------------------------------
# Flat (plateau) resolution shared by the direction kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _flat_cells(z, valid):
    """Core cells of a haloed window with no strictly lower valid neighbour."""
    nr, nc = z.shape
    out = np.zeros((nr - 2, nc - 2), dtype=np.bool_)
    for i in range(1, nr - 1):
        for j in range(1, nc - 1):
            if not valid[i, j]:
                continue
            low = False
            for k in range(8):
                ni, nj = i + _PG_DR[k], j + _PG_DC[k]
                if valid[ni, nj] and z[ni, nj] < z[i, j]:
                    low = True
                    break
            out[i - 1, j - 1] = not low
    return out


@njit(cache=True, nogil=True)
def _escaping(key, valid, flat):
    """One core cell (window row, col) of each flat component that reaches the window's halo.

    A component is the 8-connected set of valid cells of equal ``key`` around a flat core cell;
    one reaching the halo may continue in the next tile and is resolved in the second pass.
    """
    nr, nc = key.shape
    comp = np.full((nr, nc), -1, dtype=np.int64)
    q = np.empty(nr * nc, dtype=np.int64)
    reps = np.empty(nr * nc, dtype=np.int64)
    nrep = 0
    for i0 in range(1, nr - 1):
        for j0 in range(1, nc - 1):
            if not flat[i0 - 1, j0 - 1] or comp[i0, j0] >= 0:
                continue
            comp[i0, j0] = 1
            q[0] = i0 * nc + j0
            head, tail = 0, 1
            esc = False
            while head < tail:
                c = q[head]
                head += 1
                i, j = c // nc, c % nc
                if i == 0 or j == 0 or i == nr - 1 or j == nc - 1:
                    esc = True
                    continue
                for k in range(8):
                    ni, nj = i + _PG_DR[k], j + _PG_DC[k]
                    if valid[ni, nj] and comp[ni, nj] < 0 and key[ni, nj] == key[i, j]:
                        comp[ni, nj] = 1
                        q[tail] = ni * nc + nj
                        tail += 1
            if esc:
                reps[nrep] = i0 * nc + j0
                nrep += 1
    return reps[:nrep]


@njit(cache=True, nogil=True)
def _component(filled, f32, seed_r, seed_c, seen):
    """Cells of the equal-elevation component of a seed over the whole grid (BFS), its bbox."""
    nr, nc = filled.shape
    q = np.empty(64, dtype=np.int64)
    q[0] = seed_r * nc + seed_c
    seen[seed_r, seed_c] = True
    v0 = filled[seed_r, seed_c]
    key0 = np.float32(v0) if f32 else v0
    head, tail = 0, 1
    rmin, rmax, cmin, cmax = seed_r, seed_r, seed_c, seed_c
    while head < tail:
        c = q[head]
        head += 1
        i, j = c // nc, c % nc
        rmin, rmax = min(rmin, i), max(rmax, i)
        cmin, cmax = min(cmin, j), max(cmax, j)
        for k in range(8):
            ni, nj = i + _PG_DR[k], j + _PG_DC[k]
            if ni < 0 or nj < 0 or ni >= nr or nj >= nc or seen[ni, nj]:
                continue
            v = filled[ni, nj]
            if np.isnan(v):
                continue
            kv = np.float32(v) if f32 else v
            if kv != key0:
                continue
            seen[ni, nj] = True
            if tail == q.size:
                q2 = np.empty(2 * tail, dtype=np.int64)
                q2[:tail] = q
                q = q2
            q[tail] = ni * nc + nj
            tail += 1
    return q[:tail], rmin, rmax + 1, cmin, cmax + 1


WindowSolver = Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]
"""``solve(z_window_with_halo, valid, row0, col0) -> result for the window's cells`` (row0/col0: grid
position of the window's first cell, −1 where the halo lies beyond the grid; ``valid`` = finite cells of
the window). The solver may overwrite the window's nodata cells (its own fill value): a plateau's window
may be a large share of the grid, so it is not copied."""


def _tiled_directions(
    filled: np.ndarray,
    out: np.ndarray,
    tile: int,
    solve: WindowSolver,
    *,
    f32_plateaus: bool,
    alloc: Alloc,
    release: Release = _keep,
) -> None:
    """Run a whole-grid direction kernel tile by tile (tiles on threads: the kernels release the GIL);
    plateaus crossing tiles in a 2nd pass, in tile order.

    Memory of the 2nd pass: about 20 bytes a cell of the largest plateau's bounding box (window,
    masks, the kernel's distances and queue); ``release(filled)`` and ``release(out)`` after each
    pass and each plateau keep the pages of the grid-sized arrays out of the process.
    """
    nr, nc = filled.shape

    def one(t: tuple[int, int, int, int]) -> list[tuple[int, int]]:
        r0, r1, c0, c1 = t
        zw = _window(filled, r0, r1, c0, c1, 1, np.nan).astype(np.float64, copy=False)
        valid = np.isfinite(zw)
        flat = _flat_cells(zw, valid)  # reads valid cells only, as does _escaping
        reps = None
        if flat.any():
            key = zw.astype(np.float32).astype(np.float64) if f32_plateaus else zw
            reps = _escaping(key, valid, flat)
        res = solve(zw, valid, r0 - 1, c0 - 1)
        out[r0:r1, c0:c1] = res[1:-1, 1:-1]  # tiles are disjoint
        if reps is None:
            return []
        wc = zw.shape[1]
        return [(r0 - 1 + int(c) // wc, c0 - 1 + int(c) % wc) for c in reps]

    pending = [cell for found in map_tiles(one, list(tiles((nr, nc), tile))) for cell in found]
    release(filled)
    release(out)
    if not pending:
        return
    seen = alloc((nr, nc), np.bool_)
    seen[...] = False
    src = np.asarray(filled)
    touched = 0  # window cells since the last release: releasing after each of thousands of small plateaus costs seconds
    for r, c in pending:
        if seen[r, c]:
            continue
        cells, a0, a1, b0, b1 = _component(src, f32_plateaus, r, c, np.asarray(seen))
        zw = _window(filled, a0, a1, b0, b1, 1, np.nan).astype(np.float64, copy=False)
        res = solve(zw, np.isfinite(zw), a0 - 1, b0 - 1)
        touched += zw.size
        del zw
        rr, cc = cells // nc, cells % nc
        out[rr, cc] = res[rr - a0 + 1, cc - b0 + 1]
        del res, rr, cc, cells
        if touched >= _RELEASE_CELLS:
            touched = 0
            for arr in (filled, out, seen):
                release(arr)
    for arr in (filled, out, seen):
        release(arr)


def tiled_d8_invest(
    filled: np.ndarray, out: np.ndarray, tile: int, *, alloc: Alloc = _empty, release: Release = _keep
) -> None:
    """:func:`~qingshan.kernels.routing.d8_directions_invest` tile by tile (int8 codes into ``out``)."""
    cells = float(filled.shape[0] * filled.shape[1])

    def solve(zw: np.ndarray, valid: np.ndarray, r0: int, c0: int) -> np.ndarray:
        zw[~valid] = 0.0
        return _d8_invest_kernel(zw, valid, _PG_BLOCK, r0, c0, cells)

    _tiled_directions(filled, out, tile, solve, f32_plateaus=False, alloc=alloc, release=release)


def tiled_mfd_weights_invest(
    filled: np.ndarray, out: np.ndarray, tile: int, *, alloc: Alloc = _empty, release: Release = _keep
) -> None:
    """:func:`~qingshan.kernels.routing.mfd_weights_invest` tile by tile (uint8 (rows, cols, 8))."""
    cells = float(filled.shape[0] * filled.shape[1])

    def solve(zw: np.ndarray, valid: np.ndarray, r0: int, c0: int) -> np.ndarray:
        zw[~valid] = 0.0
        return _mfd_weights_kernel(zw, valid, cells)

    _tiled_directions(filled, out, tile, solve, f32_plateaus=False, alloc=alloc, release=release)


def tiled_flood_d8(filled: np.ndarray, out: np.ndarray, tile: int, *, alloc: Alloc = _empty) -> None:
    """pyflwdir priority-flood D8 codes (second result of
    :func:`~qingshan.kernels.routing.fill_dem`) tile by tile, exact wherever the steepest-descent
    kernels use them: on interior cells with no lower neighbour (elsewhere they are unused).

    Parameters
    ----------
    filled : the filled DEM from :func:`tiled_fill` with ``flavour="pyflwdir"``.
    """

    def solve(zw: np.ndarray, valid: np.ndarray, r0: int, c0: int) -> np.ndarray:
        zw[~valid] = _NODATA
        return flood_fill(zw, _NODATA)[1]

    _tiled_directions(filled, out, tile, solve, f32_plateaus=True, alloc=alloc)


# --------------------------------------------------------------------------------------------
# Accumulation (Barnes 2017: perimeter exchange)
# --------------------------------------------------------------------------------------------

Fractions = Callable[[int, int, int, int], np.ndarray]
"""``fractions(r0, r1, c0, c1) -> (rows, cols, 8)`` share of each cell's flow sent to each
neighbour (pygeoprocessing order E, NE, N, …, SE); zero towards nodata / off-grid cells."""


@njit(cache=True, nogil=True)
def _accumulate_tile(frac, valid, own):
    """Accumulate ``own`` over a tile; return (acc, outflow into the one-cell ring (h+2, w+2))."""
    nr, nc = valid.shape
    indeg = np.zeros((nr, nc), dtype=np.int64)
    for r in range(nr):
        for s in range(nc):
            if not valid[r, s]:
                continue
            for k in range(8):
                if frac[r, s, k] == 0.0:
                    continue
                rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                if 0 <= rr < nr and 0 <= ss < nc:
                    indeg[rr, ss] += 1
    acc = np.where(valid, own, 0.0)
    ring = np.zeros((nr + 2, nc + 2))
    queue = np.empty(nr * nc, dtype=np.int64)
    tail = 0
    for r in range(nr):
        for s in range(nc):
            if valid[r, s] and indeg[r, s] == 0:
                queue[tail] = r * nc + s
                tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        for k in range(8):
            f = frac[r, s, k]
            if f == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc:
                acc[rr, ss] += acc[r, s] * f
                indeg[rr, ss] -= 1
                if indeg[rr, ss] == 0:
                    queue[tail] = rr * nc + ss
                    tail += 1
            else:
                ring[rr + 1, ss + 1] += acc[r, s] * f
    return acc, ring, tail


@njit(cache=True, nogil=True)
def _accumulate_delta(frac, valid, inflow):
    """Accumulate ``inflow`` (non-zero on a few perimeter cells) over the cells downstream of it.

    Same sums as :func:`_accumulate_tile` with ``own = inflow``, visiting only the cells the
    inflow reaches (a tile's re-runs in the perimeter exchange carry a little flow each).
    Returns (acc, outflow ring, ordered, flat indices of the cells reached: ``acc`` is 0 elsewhere).
    """
    nr, nc = valid.shape
    reach = np.zeros((nr, nc), dtype=np.bool_)
    cells = np.empty(nr * nc, dtype=np.int64)
    n = 0
    for r in range(nr):
        for s in range(nc):
            if inflow[r, s] != 0.0 and valid[r, s]:
                reach[r, s] = True
                cells[n] = r * nc + s
                n += 1
    head = 0
    while head < n:
        c = cells[head]
        head += 1
        r, s = c // nc, c % nc
        for k in range(8):
            if frac[r, s, k] == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc and not reach[rr, ss]:
                reach[rr, ss] = True
                cells[n] = rr * nc + ss
                n += 1
    indeg = np.zeros((nr, nc), dtype=np.int64)
    for m in range(n):
        r, s = cells[m] // nc, cells[m] % nc
        for k in range(8):
            if frac[r, s, k] == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc:
                indeg[rr, ss] += 1
    acc = np.zeros((nr, nc))
    ring = np.zeros((nr + 2, nc + 2))
    queue = np.empty(n, dtype=np.int64)
    tail = 0
    for m in range(n):
        r, s = cells[m] // nc, cells[m] % nc
        acc[r, s] = inflow[r, s]
        if indeg[r, s] == 0:
            queue[tail] = cells[m]
            tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        for k in range(8):
            f = frac[r, s, k]
            if f == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc:
                acc[rr, ss] += acc[r, s] * f
                indeg[rr, ss] -= 1
                if indeg[rr, ss] == 0:
                    queue[tail] = rr * nc + ss
                    tail += 1
            else:
                ring[rr + 1, ss + 1] += acc[r, s] * f
    return acc, ring, tail == n, cells[:n]


@njit(cache=True, nogil=True)
def _shares_u8(w, vw, r, s, out, m):
    """:func:`_mfd_fractions` of one cell into ``out[m]`` (the same operations, so the same bits)."""
    tot = 0.0
    for k in range(8):
        tot += float(w[r, s, k])
    for k in range(8):
        x = w[r, s, k]
        if x == 0 or not vw[1 + r + _PG_DR[k], 1 + s + _PG_DC[k]]:
            out[m, k] = 0.0
        else:
            out[m, k] = float(x) / tot


@njit(cache=True, nogil=True)
def _accumulate_delta_u8(w, vw, valid, idx, vals, reach, pos, shares, acc, cells, queue, ring, ring_seen, ring_cells):
    """:func:`_accumulate_delta` in time proportional to the cells the inflow reaches, not to the tile.

    The shares come from the uint8 ``flow_dir_mfd`` weights ``w`` of the tile and the haloed validity
    ``vw``, once per cell reached (:func:`_shares_u8`); the inflow is given sparse (``idx``: local flat
    indices in row-major order, unique; ``vals``: their inflow). The flat scratch arrays (``reach``,
    ``pos``, ``acc``, ``cells``, ``queue``: at least the tile's cell count; ``shares``: that × 8; the
    ring ones: (h+2)·(w+2)) are zero/False on entry and left so. Cells are visited and summed in
    :func:`_accumulate_delta`'s order, so the sums are the same.

    Returns (reached cells' flat indices, their accumulation, the ring cells' flat indices in the
    (h+2, w+2) ring in row-major order, their outflow, ordered).
    """
    nr, nc = valid.shape
    n = 0
    for m in range(idx.size):
        c = idx[m]
        if vals[m] != 0.0 and valid[c // nc, c % nc]:
            reach[c] = True
            acc[c] = vals[m]  # the inflow of the cells it starts at (acc stays 0 elsewhere)
            cells[n] = c
            n += 1
    head = 0
    while head < n:  # the cells reached, in the dense form's order; their shares, once each
        c = cells[head]
        r, s = c // nc, c % nc
        pos[c] = head
        _shares_u8(w, vw, r, s, shares, head)
        head += 1
        for k in range(8):
            if shares[pos[c], k] == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc and not reach[rr * nc + ss]:
                reach[rr * nc + ss] = True
                cells[n] = rr * nc + ss
                n += 1
    indeg = queue  # borrowed: counts first, then (below, in its own slots) the queue
    for m in range(n):
        indeg[cells[m]] = 0
    for m in range(n):
        r, s = cells[m] // nc, cells[m] % nc
        for k in range(8):
            if shares[m, k] == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc:
                indeg[rr * nc + ss] += 1
    deg = np.empty(n, np.int64)  # per reached cell, so that the queue can reuse the scratch
    for m in range(n):
        deg[m] = indeg[cells[m]]
    tail = 0
    for m in range(n):
        if deg[m] == 0:
            queue[tail] = cells[m]
            tail += 1
    nring = 0
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        mc = pos[c]
        for k in range(8):
            f = shares[mc, k]
            if f == 0.0:
                continue
            rr, ss = r + _PG_DR[k], s + _PG_DC[k]
            if 0 <= rr < nr and 0 <= ss < nc:
                d = rr * nc + ss
                acc[d] += acc[c] * f
                md = pos[d]
                deg[md] -= 1
                if deg[md] == 0:
                    queue[tail] = d
                    tail += 1
            else:
                e = (rr + 1) * (nc + 2) + ss + 1
                if not ring_seen[e]:
                    ring_seen[e] = True
                    ring_cells[nring] = e
                    nring += 1
                ring[e] += acc[c] * f
    got = cells[:n].copy()
    got_acc = np.empty(n)
    for m in range(n):
        c = cells[m]
        got_acc[m] = acc[c]
        acc[c] = 0.0
        reach[c] = False
    out_idx = np.sort(ring_cells[:nring])
    keep = 0
    out_val = np.empty(nring)
    for m in range(nring):
        e = out_idx[m]
        v = ring[e]
        ring[e] = 0.0
        ring_seen[e] = False
        if v != 0.0:  # np.nonzero of the dense ring
            out_idx[keep] = e
            out_val[keep] = v
            keep += 1
    return got, got_acc, out_idx[:keep], out_val[:keep], tail == n

def tiled_accumulate(
    shape: tuple[int, int],
    valid: np.ndarray,
    weights: Callable[[int, int, int, int], np.ndarray],
    fractions: Fractions,
    out: np.ndarray,
    tile: int,
    *,
    shares_u8: Callable[[int, int, int, int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> int:
    """Flow accumulation of ``weights`` tile by tile with perimeter exchange, into ``out``.

    Each tile accumulates its own weights; what leaves a tile is queued as inflow on the
    neighbouring tile's perimeter, and a tile with queued inflow accumulates that inflow alone
    and adds it (linearity), until no flow crosses a tile edge. Returns the number of tile
    passes. NaN at invalid cells.

    MFD flow crosses tile edges back and forth: a tile is re-run a few hundred times, each
    time for a little inflow. With ``shares_u8(r0, r1, c0, c1) -> (uint8 flow_dir_mfd weights,
    haloed validity)`` (the shares ``fractions`` gives, :func:`_mfd_fractions`) a re-run takes
    time in proportion to the cells its inflow reaches (:func:`_accumulate_delta_u8`) instead
    of computing the tile's shares again.
    """
    nr, nc = shape
    ntr, ntc = -(-nr // tile), -(-nc // tile)
    inbox: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    queue: deque[int] = deque()
    passes = 0
    recent: OrderedDict[int, np.ndarray] = OrderedDict()  # fractions of the last few tiles run

    def tile_fractions(t: int, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        if t in recent:
            recent.move_to_end(t)
            return recent[t]
        frac = fractions(r0, r1, c0, c1)
        recent[t] = frac
        if len(recent) > _RECENT_TILES:
            recent.popitem(last=False)
        return frac

    if shares_u8 is not None:  # scratch of the sparse re-runs: zero / False between them
        cells_max, ring_max = tile * tile, (tile + 2) * (tile + 2)
        reach, ring_seen = np.zeros(cells_max, np.bool_), np.zeros(ring_max, np.bool_)
        pos, cells, order = np.empty(cells_max, np.int64), np.empty(cells_max, np.int64), np.empty(cells_max, np.int64)
        shares_s, acc_s = np.empty((cells_max, 8)), np.zeros(cells_max)
        ring_s, ring_cells = np.zeros(ring_max), np.empty(ring_max, np.int64)

    def bounds(t: int) -> tuple[int, int, int, int]:
        tr, tc = divmod(t, ntc)
        return tr * tile, min((tr + 1) * tile, nr), tc * tile, min((tc + 1) * tile, nc)

    def add(r0: int, r1: int, c0: int, c1: int, flat: np.ndarray, values: np.ndarray) -> None:
        """Add a re-run's accumulation at the tile's cells ``flat`` (the cells its inflow reached; 0 elsewhere)."""
        rr, cc = np.divmod(flat, c1 - c0)
        view = out[r0:r1, c0:c1]
        view[rr, cc] = view[rr, cc] + values

    def send(ring_idx: np.ndarray, ring_vals: np.ndarray, r0: int, c0: int, width: int) -> None:
        """Queue the outflow (flat indices into a tile's (h+2, w+2) ring, row-major) on the tiles it enters."""
        if ring_idx.size == 0:
            return
        gr, gc = ring_idx // (width + 2) + r0 - 1, ring_idx % (width + 2) + c0 - 1
        dest = (gr // tile) * ntc + gc // tile
        for d in np.unique(dest):
            sel = dest == d
            if int(d) not in inbox:
                inbox[int(d)] = []
                queue.append(int(d))
            inbox[int(d)].append((gr[sel] * nc + gc[sel], ring_vals[sel]))

    def rerun_sparse(t: int, idx: np.ndarray, vals: np.ndarray) -> None:
        """A re-run of tile ``t`` for the inflow ``vals`` at its local flat cells ``idx`` (row-major, unique)."""
        nonlocal passes
        assert shares_u8 is not None
        r0, r1, c0, c1 = bounds(t)
        ok = np.asarray(valid[r0:r1, c0:c1], dtype=bool)
        w, vw = shares_u8(r0, r1, c0, c1)
        got, got_acc, ring_idx, ring_vals, ordered = _accumulate_delta_u8(
            w, vw, ok, idx, vals, reach, pos, shares_s, acc_s, cells, order, ring_s, ring_seen, ring_cells)
        if not ordered:  # pragma: no cover - acyclic by construction
            raise RuntimeError("routing graph has a cycle; the DEM could not be ordered")
        passes += 1
        add(r0, r1, c0, c1, got, got_acc)
        send(ring_idx, ring_vals, r0, c0, c1 - c0)

    def run(t: int, own: np.ndarray | None) -> None:
        nonlocal passes
        r0, r1, c0, c1 = bounds(t)
        ok = np.asarray(valid[r0:r1, c0:c1], dtype=bool)
        if own is None:
            w = np.where(ok, np.asarray(weights(r0, r1, c0, c1), dtype=np.float64), 0.0)
            first = True
        else:
            w, first = own, False
        frac = tile_fractions(t, r0, r1, c0, c1)
        if first:
            acc, ring, done = _accumulate_tile(frac, ok, w)
            ordered = done == int(ok.sum())
        else:
            acc, ring, ordered, reached = _accumulate_delta(frac, ok, w)
        if not ordered:  # pragma: no cover - acyclic by construction
            raise RuntimeError("routing graph has a cycle; the DEM could not be ordered")
        passes += 1
        if first:
            out[r0:r1, c0:c1] = np.where(ok, acc, np.nan)
        else:
            add(r0, r1, c0, c1, reached, acc.ravel()[reached])
        flat = np.flatnonzero(ring)  # row-major, as the sparse re-runs give it
        send(flat, ring.ravel()[flat], r0, c0, c1 - c0)

    for t in range(ntr * ntc):
        run(t, None)
    while queue:
        t = queue.popleft()
        items = inbox.pop(t)
        tr, tc = divmod(t, ntc)
        r0, c0 = tr * tile, tc * tile
        th, tw = min(tile, nr - r0), min(tile, nc - c0)
        if shares_u8 is not None:  # the dense form's sums: each cell's items added to 0.0 in order
            gidx = np.concatenate([g for g, _ in items])
            local = (gidx // nc - r0) * tw + gidx % nc - c0
            uniq, inv = np.unique(local, return_inverse=True)
            sums = np.zeros(uniq.size)
            np.add.at(sums, inv, np.concatenate([v for _, v in items]))
            rerun_sparse(t, uniq, sums)
            continue
        inflow = np.zeros((th, tw))
        for idx, vals in items:
            np.add.at(inflow, (idx // nc - r0, idx % nc - c0), vals)
        run(t, inflow)
    return passes


@njit(cache=True, nogil=True)
def _d8_tile(kdir, valid, own):
    """D8 accumulation of ``own`` over one tile and each cell's exit cell.

    ``kdir``: receiver neighbour (pygeoprocessing order) or −1 (none, or nodata/off-grid).
    Returns (acc, exit, ordered): ``exit[c]`` is the flat index of the cell where the path from
    ``c`` leaves the tile (its receiver lies outside), or −1 if the path ends inside.
    """
    nr, nc = valid.shape
    indeg = np.zeros((nr, nc), dtype=np.int64)
    for r in range(nr):
        for s in range(nc):
            k = kdir[r, s]
            if valid[r, s] and k >= 0:
                rr, ss = r + _PG_DR[k], s + _PG_DC[k]
                if 0 <= rr < nr and 0 <= ss < nc:
                    indeg[rr, ss] += 1
    acc = np.where(valid, own, 0.0)
    queue = np.empty(nr * nc, dtype=np.int64)
    tail = 0
    for r in range(nr):
        for s in range(nc):
            if valid[r, s] and indeg[r, s] == 0:
                queue[tail] = r * nc + s
                tail += 1
    head = 0
    while head < tail:
        c = queue[head]
        head += 1
        r, s = c // nc, c % nc
        k = kdir[r, s]
        if k < 0:
            continue
        rr, ss = r + _PG_DR[k], s + _PG_DC[k]
        if 0 <= rr < nr and 0 <= ss < nc:
            acc[rr, ss] += acc[r, s]
            indeg[rr, ss] -= 1
            if indeg[rr, ss] == 0:
                queue[tail] = rr * nc + ss
                tail += 1
    exit_ = np.full(nr * nc, -1, dtype=np.int64)
    for m in range(tail - 1, -1, -1):  # downstream cells first
        c = queue[m]
        r, s = c // nc, c % nc
        k = kdir[r, s]
        if k < 0:
            continue
        rr, ss = r + _PG_DR[k], s + _PG_DC[k]
        if 0 <= rr < nr and 0 <= ss < nc:
            exit_[c] = exit_[rr * nc + ss]
        else:
            exit_[c] = c
    return acc, exit_, tail


@njit(cache=True, nogil=True)
def _solve_links(nxt, local):
    """Outflow of every exit cell: its own tile's accumulation plus all exits draining into it.

    ``nxt[i]``: the exit node reached after leaving through exit ``i`` (−1: the flow ends in the
    next tile); ``local[i]``: accumulation at exit ``i`` from its own tile.
    """
    n = nxt.size
    indeg = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if nxt[i] >= 0:
            indeg[nxt[i]] += 1
    out = local.copy()
    queue = np.empty(n, dtype=np.int64)
    tail = 0
    for i in range(n):
        if indeg[i] == 0:
            queue[tail] = i
            tail += 1
    head = 0
    while head < tail:
        i = queue[head]
        head += 1
        j = nxt[i]
        if j >= 0:
            out[j] += out[i]
            indeg[j] -= 1
            if indeg[j] == 0:
                queue[tail] = j
                tail += 1
    return out, tail


Receivers = Callable[[int, int, int, int], np.ndarray]
"""``receivers(r0, r1, c0, c1) -> (rows, cols)`` D8 receiver of each cell (pygeoprocessing order
E, NE, N, …, SE), −1 where there is none or it is nodata / off-grid."""


def tiled_accumulate_d8(
    shape: tuple[int, int],
    valid: np.ndarray,
    weights: Callable[[int, int, int, int], np.ndarray],
    receivers: Receivers,
    out: np.ndarray,
    tile: int,
) -> None:
    """D8 flow accumulation in two passes over the tiles (Barnes 2017), into ``out``.

    Pass 1 accumulates each tile alone and links each perimeter cell to the exit cell where its
    path leaves the tile; the exits, each pointing to the exit reached next, form a small graph
    whose topological sum gives the flow entering every tile at every perimeter cell; pass 2
    accumulates each tile again with those inflows.
    """
    nc = shape[1]
    grid_tiles = list(tiles(shape, tile))

    def links(t: tuple[int, int, int, int]) -> tuple[np.ndarray, ...]:
        """Pass 1 on one tile: its perimeter cells' exits, and its exits' accumulations and receivers."""
        r0, r1, c0, c1 = t
        ok = np.asarray(valid[r0:r1, c0:c1], dtype=bool)
        w = np.where(ok, np.asarray(weights(r0, r1, c0, c1), dtype=np.float64), 0.0)
        kdir = receivers(r0, r1, c0, c1)
        acc, exit_, done = _d8_tile(kdir, ok, w)
        if done != int(ok.sum()):  # pragma: no cover - acyclic by construction
            raise RuntimeError("routing graph has a cycle; the DEM could not be ordered")
        tw = c1 - c0
        pi, pj = np.nonzero(_perimeter(ok.shape) & ok)
        loc = exit_[pi * tw + pj]
        ei, ej = np.nonzero((exit_.reshape(ok.shape) == np.arange(ok.size).reshape(ok.shape)) & ok)
        k = kdir[ei, ej]
        return ((pi + r0) * nc + pj + c0, np.where(loc >= 0, (loc // tw + r0) * nc + loc % tw + c0, -1),
                (ei + r0) * nc + ej + c0, acc[ei, ej], (ei + r0 + _PG_DR[k]) * nc + ej + c0 + _PG_DC[k])

    parts = map_tiles(links, grid_tiles)  # tiles on threads, results in tile order
    per_idx, per_exit, ex_idx, ex_acc, ex_rec = ([part[i] for part in parts] for i in range(5))
    p_idx, p_exit = np.concatenate(per_idx), np.concatenate(per_exit)
    order = np.argsort(p_idx)
    p_idx, p_exit = p_idx[order], p_exit[order]
    e_idx, e_acc, e_rec = np.concatenate(ex_idx), np.concatenate(ex_acc), np.concatenate(ex_rec)
    eorder = np.argsort(e_idx)
    e_idx, e_acc, e_rec = e_idx[eorder], e_acc[eorder], e_rec[eorder]
    # the entry cell an exit drains into is a perimeter cell of the next tile
    entry_exit = p_exit[np.searchsorted(p_idx, e_rec)]
    nxt = np.where(entry_exit >= 0, np.searchsorted(e_idx, entry_exit), -1)
    outflow, done = _solve_links(nxt.astype(np.int64), e_acc)
    if done != e_idx.size:  # pragma: no cover - acyclic by construction
        raise RuntimeError("routing graph has a cycle across tiles")
    inflow_idx, inv = np.unique(e_rec, return_inverse=True)
    inflow = np.zeros(inflow_idx.size)
    np.add.at(inflow, inv, outflow)

    def finish(t: tuple[int, int, int, int]) -> None:
        """Pass 2 on one tile: accumulated again with its inflows, into its own window of ``out``."""
        r0, r1, c0, c1 = t
        ok = np.asarray(valid[r0:r1, c0:c1], dtype=bool)
        w = np.where(ok, np.asarray(weights(r0, r1, c0, c1), dtype=np.float64), 0.0)
        lo, hi = np.searchsorted(inflow_idx, [r0 * nc, (r1 - 1) * nc + nc])
        gi = inflow_idx[lo:hi]
        rr, cc = gi // nc, gi % nc
        inside = (cc >= c0) & (cc < c1)
        np.add.at(w, (rr[inside] - r0, cc[inside] - c0), inflow[lo:hi][inside])
        acc, _, _ = _d8_tile(receivers(r0, r1, c0, c1), ok, w)
        out[r0:r1, c0:c1] = np.where(ok, acc, np.nan)

    map_tiles(finish, grid_tiles)


@njit(cache=True, nogil=True)
def _d8_receivers(fdir, valid_window):
    """Receivers of the core of a haloed window of D8 indices; −1 towards nodata / off-grid."""
    h, w = fdir.shape[0] - 2, fdir.shape[1] - 2
    out = np.full((h, w), -1, dtype=np.int64)
    for i in range(h):
        for j in range(w):
            k = fdir[i + 1, j + 1]
            if k >= 0 and valid_window[i + 1 + _PG_DR[k], j + 1 + _PG_DC[k]]:
                out[i, j] = k
    return out


def _fill_whole_in_place(
    dem: np.ndarray, filled: np.ndarray, valid: np.ndarray, tile: int, alloc: Alloc, release: Release
) -> None:
    """The whole-grid InVEST-chain fill (the kernel of :func:`~qingshan.kernels.routing.fill_pits_invest`)
    run on ``filled`` itself: the elevations are copied in window by window, then raised in place. Nothing
    grid-sized is allocated besides what ``alloc`` gives (memory-mapped scratch for out-of-core runs), and
    ``release(dem)`` is called as windows are copied: the fill holds the levels, the masks and the cells
    queued, not a second copy of the DEM.
    """
    for r0, r1, c0, c1 in tiles(dem.shape, tile):
        z = np.asarray(dem[r0:r1, c0:c1], dtype=np.float64)
        filled[r0:r1, c0:c1] = z
        valid[r0:r1, c0:c1] = np.isfinite(z)
        release(dem)
    cells = dem.shape[0] * dem.shape[1]
    queue = alloc((cells,), np.int32 if cells < 2**31 else np.int64)  # one slot per cell; only those used are touched
    _fill_pits_inplace(np.asarray(filled), np.asarray(valid), np.asarray(queue))
    for arr in (filled, valid, queue):
        release(arr)


def _mfd_one_pass(
    wts: np.ndarray, valid: np.ndarray, acc: np.ndarray, tile: int, alloc: Alloc, release: Release
) -> int:
    """The whole-grid MFD accumulation (:func:`~qingshan.kernels.routing._accumulate_kernel`: its order,
    its bits) written into ``acc`` and scratch from ``alloc`` (no in-memory grid, no copy): in-degrees and
    sources by row bands (``release`` after each), then the topological pass in one call. The pass walks a
    front spread over the whole grid, so it touches every page of the weights (8 bytes a cell), the
    accumulation (8), the in-degrees and the mask while it runs; releasing them in steps of a few million
    cells kept no less (measured at 10 000²: 2.1–2.4 GB either way) and cost 4 s of faults. Returns the
    number of cells done."""
    nr, nc = valid.shape
    cells = nr * nc
    indeg = alloc((nr, nc), np.int8)
    queue = alloc((cells,), np.int32 if cells < 2**31 else np.int64)
    w, v, d, a, q = (np.asarray(x) for x in (wts, valid, indeg, acc, queue))
    arrays = (wts, valid, indeg, acc, queue)
    tail = 0
    for r0 in range(0, nr, tile):
        r1 = min(r0 + tile, nr)
        _mfd_indegree_rows(w, v, d, r0, r1)
        tail = _accumulate_sources(v, d, a, q, r0, r1, tail)
        for arr in arrays:
            release(arr)
    tail = _accumulate_pass(w, v, d, a, q, tail)
    for arr in arrays:
        release(arr)
    return tail


def tiled_flow_accumulation_invest(
    dem: np.ndarray,
    algorithm: str,
    tile: int,
    *,
    alloc: Alloc = _empty,
    release: Release = _keep,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~qingshan.kernels.routing.fill_pits_invest` and
    :func:`~qingshan.kernels.routing.flow_accumulation_invest` tile by tile.

    ``release(arr)`` is called on ``dem`` and on scratch arrays when a pass over them is done: a
    memory-mapped caller drops their pages from the process there
    (:func:`qingshan.io.memmaps.release_pages`).

    Returns ``(filled, accumulation)`` as arrays from ``alloc``. Filled DEM (filled whole up to
    :data:`WHOLE_FILL_CELLS`, else tile by tile) and D8 pixel counts are bit-identical. MFD weights are computed tile by tile, bit-identical; up to
    :data:`MFD_WHOLE_ACCUMULATION_CELLS` they are accumulated in one topological pass (the whole-grid
    kernel: bit-identical counts), beyond it by perimeter exchange (sums of fractions in another
    order, ≈1e-15 relative).
    """
    algo = algorithm.upper()
    if algo not in ("D8", "MFD"):
        raise ValueError(f"flow algorithm must be 'D8' or 'MFD', got {algorithm!r}")
    shape = dem.shape
    filled = alloc(shape, np.float64)
    valid = alloc(shape, np.bool_)
    if shape[0] * shape[1] <= WHOLE_FILL_CELLS:
        _fill_whole_in_place(dem, filled, valid, tile, alloc, release)
    else:
        tiled_fill(dem, filled, tile, flavour="invest")
        for r0, r1, c0, c1 in tiles(shape, tile):
            valid[r0:r1, c0:c1] = np.isfinite(filled[r0:r1, c0:c1])
    if algo == "D8":
        fdir = alloc(shape, np.int8)
        tiled_d8_invest(filled, fdir, tile, alloc=alloc, release=release)

        def receivers(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
            fw = _window(fdir, r0, r1, c0, c1, 1, -1)
            vw = _window(valid, r0, r1, c0, c1, 1, False)
            return _d8_receivers(fw, vw)

        acc = alloc(shape, np.float64)
        tiled_accumulate_d8(shape, valid, _ones, receivers, acc, tile)
        return filled, acc
    wts = alloc((*shape, 8), np.uint8)
    tiled_mfd_weights_invest(filled, wts, tile, alloc=alloc, release=release)

    acc = alloc(shape, np.float64)
    cells = shape[0] * shape[1]
    if cells <= MFD_WHOLE_ACCUMULATION_CELLS:  # one pass, the whole-grid kernel's order: its bits
        done = _mfd_one_pass(wts, valid, acc, tile, alloc, release)
        if done != int(np.count_nonzero(valid)):  # pragma: no cover - acyclic by construction
            raise RuntimeError("routing graph has a cycle; the DEM could not be ordered")
        return filled, acc

    def shares(r0: int, r1: int, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(wts[r0:r1, c0:c1]), _window(valid, r0, r1, c0, c1, 1, False)

    def fractions(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        return _mfd_fractions(*shares(r0, r1, c0, c1))

    tiled_accumulate(shape, valid, _ones, fractions, acc, tile, shares_u8=shares)
    return filled, acc


@njit(cache=True, nogil=True)
def _receivers_of(frac):
    """D8 receiver index of one-hot fractions (−1 where none)."""
    h, w = frac.shape[0], frac.shape[1]
    out = np.full((h, w), -1, dtype=np.int64)
    for i in range(h):
        for j in range(w):
            for k in range(8):
                if frac[i, j, k] > 0.0:
                    out[i, j] = k
    return out


def _ones(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    return np.ones((r1 - r0, c1 - c0))


@njit(cache=True, nogil=True)
def _mfd_fractions(w, vw):
    """Share of each cell's flow sent to each neighbour from ``flow_dir_mfd``'s uint8 weights ``w``
    (h, w, 8): ``w_k / Σw`` towards a valid neighbour of the haloed validity window ``vw``
    (h+2, w+2), 0 elsewhere and where ``Σw = 0``.

    One pass without temporaries (the perimeter exchange asks for a tile's fractions again on
    every re-run: the numpy form, float copy, sum, divide and an (h, w, 8) neighbour mask, cost
    ten times the accumulation). The same IEEE operations as that form — an exact integer sum,
    one correctly rounded division, then ×1 or ×0 — so the same bits.
    """
    h, wd = w.shape[0], w.shape[1]
    frac = np.zeros((h, wd, 8))
    for r in range(h):
        for s in range(wd):
            tot = 0.0
            for k in range(8):
                tot += float(w[r, s, k])
            if tot > 0.0:
                for k in range(8):
                    if vw[1 + r + _PG_DR[k], 1 + s + _PG_DC[k]]:
                        frac[r, s, k] = float(w[r, s, k]) / tot
    return frac


@njit(cache=True, nogil=True)
def _pg_neighbour(k):
    """pyflwdir neighbour order (E, SE, S, SW, W, NW, N, NE) → pygeoprocessing order (E, NE, N, …, SE)."""
    return (8 - k) % 8


@njit(cache=True, nogil=True)
def _rusle_fractions(z, valid, d8, dx, dy, p, single):
    """(h, w, 8) flow shares of the core of a haloed window, as the whole-grid kernels route."""
    nr, nc = z.shape
    frac = np.zeros((nr - 2, nc - 2, 8))
    ks = np.empty(8, dtype=np.int64)
    ws = np.empty(8, dtype=np.float64)
    for i in range(1, nr - 1):
        for j in range(1, nc - 1):
            if not valid[i, j]:
                continue
            n = _receivers(z, valid, d8, dx, dy, i, j, p, single, ks, ws)
            for m in range(n):
                frac[i - 1, j - 1, _pg_neighbour(ks[m])] = ws[m]
    return frac


@njit(cache=True, nogil=True)
def _rusle_d8_receivers(z, valid, d8, dx, dy):
    """D8 receiver (pygeoprocessing order, −1 where none) of the core of a haloed window: what
    ``_receivers_of(_rusle_fractions(..., single=True))`` gives (single: at most one receiver, share 1),
    without the (h, w, 8) shares."""
    nr, nc = z.shape
    out = np.full((nr - 2, nc - 2), -1, dtype=np.int64)
    ks = np.empty(8, dtype=np.int64)
    ws = np.empty(8, dtype=np.float64)
    for i in range(1, nr - 1):
        for j in range(1, nc - 1):
            if valid[i, j] and _receivers(z, valid, d8, dx, dy, i, j, 1.0, True, ks, ws) > 0:
                out[i - 1, j - 1] = _pg_neighbour(ks[0])
    return out


def tiled_rusle_routing(
    dem: np.ndarray,
    tile: int,
    *,
    alloc: Alloc = _empty,
) -> tuple[np.ndarray, np.ndarray]:
    """Filled DEM and pyflwdir flood directions (:func:`~qingshan.kernels.routing.fill_dem`)
    tile by tile; returns ``(filled, flood_d8)`` arrays from ``alloc``."""
    filled = alloc(dem.shape, np.float64)
    tiled_fill(dem, filled, tile, flavour="pyflwdir")
    flood = alloc(dem.shape, np.uint8)
    tiled_flood_d8(filled, flood, tile, alloc=alloc)
    return filled, flood


def tiled_d8_codes(
    filled: np.ndarray,
    flood: np.ndarray,
    dx_m: float | np.ndarray,
    dy_m: float | np.ndarray,
    out: np.ndarray,
    tile: int,
) -> None:
    """:func:`~qingshan.kernels.routing.d8_directions` tile by tile (pyflwdir codes)."""
    nr = filled.shape[0]
    dx, dy = _per_row(dx_m, nr), _per_row(dy_m, nr)
    for r0, r1, c0, c1 in tiles(filled.shape, tile):
        zw, vw, fw, dxw, dyw = _rusle_window(filled, flood, dx, dy, r0, r1, c0, c1)
        out[r0:r1, c0:c1] = _d8_kernel(zw, vw, fw, dxw, dyw)[1:-1, 1:-1]


def _rusle_window(
    filled: np.ndarray, flood: np.ndarray, dx: np.ndarray, dy: np.ndarray, r0: int, r1: int, c0: int, c1: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Haloed window of the filled DEM (0 at nodata), validity, flood codes, dx and dy rows."""
    zw = _window(filled, r0, r1, c0, c1, 1, np.nan).astype(np.float64)
    vw = np.isfinite(zw)
    fw = _window(flood, r0, r1, c0, c1, 1, 247)
    rows = np.clip(np.arange(r0 - 1, r1 + 1), 0, filled.shape[0] - 1)
    return np.where(vw, zw, 0.0), vw, fw, dx[rows], dy[rows]


def tiled_upslope_area(
    dem: np.ndarray,
    cell_area: np.ndarray,
    *,
    dx_m: float | np.ndarray,
    dy_m: float | np.ndarray,
    algorithm: str = "D8",
    mfd_exponent: float = 1.1,
    tile: int,
    alloc: Alloc = _empty,
) -> np.ndarray:
    """:func:`~qingshan.kernels.routing.upslope_area` tile by tile [m2] (array from ``alloc``).

    D8 directions are bit-identical; the accumulated areas are the same sums in another order
    (≈1e-12 relative), as are MFD's.
    """
    algo = algorithm.upper()
    if algo not in ("D8", "MFD"):
        raise ValueError(f"flow algorithm must be 'D8' or 'MFD', got {algorithm!r}")
    shape = dem.shape
    nr = shape[0]
    dx, dy = _per_row(dx_m, nr), _per_row(dy_m, nr)
    filled, flood = tiled_rusle_routing(dem, tile, alloc=alloc)
    valid = alloc(shape, np.bool_)
    for r0, r1, c0, c1 in tiles(shape, tile):
        valid[r0:r1, c0:c1] = np.isfinite(filled[r0:r1, c0:c1])
    single = algo == "D8"

    def fractions(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        zw, vw, fw, dxw, dyw = _rusle_window(filled, flood, dx, dy, r0, r1, c0, c1)
        return _rusle_fractions(zw, vw, fw, dxw, dyw, float(mfd_exponent), single)

    def weights(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        return np.asarray(cell_area[r0:r1, c0:c1])

    def receivers(r0: int, r1: int, c0: int, c1: int) -> np.ndarray:  # = _receivers_of(fractions(...)), no shares
        zw, vw, fw, dxw, dyw = _rusle_window(filled, flood, dx, dy, r0, r1, c0, c1)
        return _rusle_d8_receivers(zw, vw, fw, dxw, dyw)

    acc = alloc(shape, np.float64)
    if single:
        tiled_accumulate_d8(shape, valid, weights, receivers, acc, tile)
    else:
        tiled_accumulate(shape, valid, weights, fractions, acc, tile)
    return acc
