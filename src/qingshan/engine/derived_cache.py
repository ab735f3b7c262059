"""Year-invariant derived layers, computed once and reused by content hash.

The DEM derivatives of soil retention — the pit-filled DEM, the flow accumulation and the LS
factor — do not change between accounting years, scenarios of other inputs or Monte Carlo draws
of other parameters. :class:`DerivedCache` keeps them on disk under a key that hashes

* the bytes, dtype and shape of the input arrays (the DEM),
* the grid (CRS, transform, size),
* every setting that changes the result (options and parameter values, listed per layer), and
* :data:`CACHE_VERSION` (bumped whenever a kernel changes its numbers),

so a changed DEM or setting never returns a stale layer. Entries are written atomically (a
temporary file renamed into place, then a manifest holding the SHA-256 of the stored file); an
entry whose file is missing, partial or altered no longer matches its manifest and is recomputed.
The routing tile size is not part of the key: tiled routing gives the same layers (docs/scaling.md,
"Tiled routing").

Use ``DerivedCache(default_cache_root(data_dir))`` or any directory given by the caller.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ParamSet
from qingshan.core.spec import MethodSpec
from qingshan.core.window import block_windows
from qingshan.engine.blocks import (
    DEFAULT_BLOCK_SIZE,
    ArraySource,
    Source,
    read_window,
    validate_block,
)

log = logging.getLogger(__name__)

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_ROUTING_TILE",
    "LS_FUNCTIONS",
    "WHOLE_GRID",
    "DerivedCache",
    "content_key",
    "default_cache_root",
    "flow_accumulation_cached",
    "ls_factor_cached",
    "ls_settings",
    "ls_source",
    "needs_ls",
    "routing_tile",
    "sweep_scratch",
]

CACHE_VERSION = "1"
"""Bump when a routing/LS kernel changes its results: every older entry is then unused."""

_HASH_ROWS = 1024


def default_cache_root(data_dir: str | Path) -> Path:
    """``<data dir>/cache/derived``: where a platform keeps its derived layers."""
    return Path(data_dir) / "cache" / "derived"


def _hash_array(h: hashlib._Hash, arr: np.ndarray) -> None:
    h.update(f"{arr.dtype.str}{arr.shape}".encode())
    from qingshan.io.memmaps import release_pages

    for r0 in range(0, max(arr.shape[0], 1), _HASH_ROWS):  # row blocks: memmaps stay on disk
        h.update(np.ascontiguousarray(arr[r0 : r0 + _HASH_ROWS]).tobytes())
        release_pages(arr)


def content_key(
    name: str,
    arrays: Mapping[str, np.ndarray],
    grid: Grid,
    settings: Mapping[str, object],
) -> str:
    """SHA-256 key of a derived layer ``name`` from its inputs' bytes, grid and settings."""
    h = hashlib.sha256()
    h.update(f"qingshan-derived/{CACHE_VERSION}/{name}".encode())
    for key in sorted(arrays):
        h.update(key.encode())
        _hash_array(h, np.asarray(arrays[key]))
    h.update(grid.crs_wkt.encode())
    h.update(repr((tuple(grid.transform)[:6], grid.height, grid.width)).encode())
    h.update(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def _owner() -> str:
    """``<host>~<pid>~``: the part of a scratch name that says which live process it belongs to."""
    return f"{socket.gethostname()}~{os.getpid()}~"


def _dead_scratch(name: str, host: str) -> bool:
    """True for a scratch entry (``.<what>-<host>~<pid>~…``) of this host whose process is no longer alive."""
    parts = name.split("~")
    if len(parts) < 3 or not parts[0].endswith(f"-{host}") or not parts[1].isdigit():
        return False
    try:
        os.kill(int(parts[1]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def sweep_scratch(root: str | Path) -> list[str]:
    """Remove the scratch folders and partial files that processes killed mid-way (``kill -9``, power loss)
    left in a cache folder: only this host's, and only of processes that are gone. Returns their names."""
    import shutil

    host = socket.gethostname()
    gone = []
    folder = Path(root)
    for entry in folder.glob(".*") if folder.is_dir() else []:
        if _dead_scratch(entry.name, host):
            shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            gone.append(entry.name)
    if gone:
        log.info("derived-layer cache %s: removed %d scratch entr(ies) of dead processes", folder, len(gone))
    return gone


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{_owner()}{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _save_rows(f: BinaryIO, arr: np.ndarray) -> None:
    """``np.save(f, arr)`` (C order), written :data:`_HASH_ROWS` rows at a time."""
    from qingshan.io.memmaps import release_pages

    arr = arr if isinstance(arr, np.memmap) else np.asarray(arr)
    header = np.lib.format.header_data_from_array_1_0(arr)
    header["fortran_order"] = False
    np.lib.format.write_array_header_1_0(f, header)
    for r0 in range(0, arr.shape[0] if arr.ndim else 1, _HASH_ROWS):
        f.write(np.ascontiguousarray(arr[r0 : r0 + _HASH_ROWS] if arr.ndim else arr).tobytes())
        release_pages(arr)


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


class DerivedCache:
    """Derived layers stored as ``<key>.npy`` with a ``<key>.json`` manifest under ``root``."""

    def __init__(self, root: str | Path, *, throwaway: bool = False) -> None:
        self.root = Path(root)
        self.throwaway = throwaway
        self.hits = 0
        self.misses = 0

    def key(self, name: str, arrays: Mapping[str, np.ndarray], grid: Grid, settings: Mapping[str, object]) -> str:
        """:func:`content_key` of a layer — or, in a ``throwaway`` cache (a temporary folder that lives for one
        command, where nothing is ever found again), a fresh random key: the inputs are not hashed."""
        if self.throwaway:
            return f"{name}-{uuid.uuid4().hex}"
        return content_key(name, arrays, grid, settings)

    def _paths(self, key: str) -> tuple[Path, Path]:
        return self.root / f"{key}.npy", self.root / f"{key}.json"

    def load(self, key: str) -> np.ndarray | None:
        """The stored layer (read-only memmap), or None if absent or not matching its manifest."""
        data, manifest = self._paths(key)
        if not data.exists() or not manifest.exists():
            return None
        try:
            meta = json.loads(manifest.read_text(encoding="utf-8"))
            if not isinstance(meta, dict):  # valid JSON but no manifest (damaged by hand or disk): recompute
                return None
            if not self.throwaway and meta.get("sha256") != _file_sha256(data):
                return None
            arr = np.load(data, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            return None
        if list(arr.shape) != meta.get("shape") or arr.dtype.str != meta.get("dtype"):
            return None
        return arr

    def store(self, key: str, arr: np.ndarray, name: str = "") -> None:
        """Write ``arr`` under ``key`` atomically (payload first, manifest last), row block by row
        block (a memmap's pages are released as they are copied: memory stays bounded)."""
        self.root.mkdir(parents=True, exist_ok=True)
        data, manifest = self._paths(key)

        def save(tmp: Path) -> None:
            with tmp.open("wb") as f:
                _save_rows(f, arr)

        if self.throwaway:  # read back by this command only: no checksum, no fsync
            with data.open("wb") as f:
                _save_rows(f, arr)
            meta: dict[str, object] = {"name": name, "sha256": None, "shape": list(arr.shape), "dtype": arr.dtype.str}
            _write_text(manifest, json.dumps(meta))
            return
        _atomic_write(data, save)
        meta = {"name": name, "sha256": _file_sha256(data), "shape": list(arr.shape), "dtype": arr.dtype.str}
        _atomic_write(manifest, lambda tmp: _write_text(tmp, json.dumps(meta)))

    def fetch(self, name: str, key: str, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The layer under ``key``: loaded if stored and intact, else computed and stored."""
        hit = self.load(key)
        if hit is not None:
            self.hits += 1
            return hit
        self.misses += 1
        arr = np.asarray(compute())
        self.store(key, arr, name)
        loaded = self.load(key)
        return loaded if loaded is not None else arr


def ls_settings(params: ParamSet) -> dict[str, object]:
    """Every option and parameter value that changes the LS factor (and nothing else)."""
    formula = str(params.option("ls_formula", "rusle_mccool"))
    out: dict[str, object] = {
        "ls_formula": formula,
        "flow_algorithm": str(params.option("flow_algorithm", "D8")).upper(),
    }
    if formula == "invest":
        out["l_max"] = float(params.option("l_max", 122.0))  # type: ignore[arg-type]
        return out
    out["mfd_exponent"] = float(params.option("mfd_exponent", 1.1))  # type: ignore[arg-type]
    cap = params.option("max_slope_length_m", None)
    out["max_slope_length_m"] = None if cap is None else float(cap)  # type: ignore[arg-type]
    for i in (1, 2, 3):
        out[f"rusle_m_break_{i}"] = params.scalar(f"rusle_m_break_{i}", "percent")
    for i in (1, 2, 3, 4):
        out[f"rusle_m_exp_{i}"] = params.scalar(f"rusle_m_exp_{i}", "1")
    return out


def ls_factor_cached(dem: np.ndarray, params: ParamSet, grid: Grid, cache: DerivedCache, *,
                     tile: int | None = None) -> np.ndarray:
    """:func:`qingshan.quantities.soil.ls_factor`, reused from ``cache`` when the DEM and the
    LS settings (:func:`ls_settings`) are unchanged; a read-only memmap of the cached layer.

    ``tile`` (else option ``routing_tile_size``): with a DEM larger than one tile (``dem`` may be
    a memmap, e.g. :func:`qingshan.quantities.routing_tiles.read_dem_memmap`), LS is routed tile
    by tile into scratch memmaps (in the cache's folder) and streamed into the cache: nothing
    grid-sized is held in memory, and the engine reads ``ls[rows, cols]`` per block
    (``soil_retention_layers(block_inputs, params, block_grid, ls=...)``, :func:`ls_source`).
    """
    from qingshan.quantities.routing_tiles import ls_factor_tiled, routing_tile_size
    from qingshan.quantities.soil import ls_factor

    key = cache.key("ls", {"dem": dem}, grid, ls_settings(params))
    hit = cache.load(key)
    if hit is not None:
        cache.hits += 1
        return hit
    cache.misses += 1
    if tile is None and params.option("routing_tile_size", None) is not None:
        tile = routing_tile_size(params)
    if tile is not None and max(dem.shape) > tile:
        cache.root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f".routing-{_owner()}", dir=cache.root) as tmp:
            ls = ls_factor_tiled(dem, params, grid, tile, workdir=tmp)
            cache.store(key, ls, "ls")
            del ls
    else:
        cache.store(key, ls_factor(np.asarray(dem), params, grid), "ls")
    out = cache.load(key)
    if out is None:  # pragma: no cover - just written and verified
        raise RuntimeError(f"derived-layer cache entry {key} could not be read back")
    return out


def flow_accumulation_cached(
    dem: np.ndarray, algorithm: str, cache: DerivedCache, grid: Grid, *, tile: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Pit-filled DEM and flow accumulation [pixels] of the InVEST chain
    (:func:`~qingshan.kernels.routing.fill_pits_invest`,
    :func:`~qingshan.kernels.routing.flow_accumulation_invest`), reused from ``cache``;
    routed tile by tile when ``tile`` is given and the grid is larger."""
    from qingshan.kernels.routing import fill_pits_invest, flow_accumulation_invest
    from qingshan.kernels.tiled_routing import tiled_flow_accumulation_invest

    algo = algorithm.upper()
    inputs = {"dem": dem}
    kf = cache.key("filled_invest", inputs, grid, {})
    ka = cache.key("flow_accumulation_invest", inputs, grid, {"flow_algorithm": algo})
    filled, acc = cache.load(kf), cache.load(ka)
    if filled is not None and acc is not None:
        cache.hits += 2
        return filled, acc
    if tile is not None and max(dem.shape) > tile:
        with tempfile.TemporaryDirectory(prefix="qingshan-routing-") as tmp:
            from qingshan.quantities.routing_tiles import memmap_alloc

            f, a = tiled_flow_accumulation_invest(dem, algo, tile, alloc=memmap_alloc(tmp))
            cache.store(kf, f, "filled_invest")
            cache.store(ka, a, "flow_accumulation_invest")
    else:
        f = fill_pits_invest(dem)
        cache.store(kf, f, "filled_invest")
        cache.store(ka, flow_accumulation_invest(f, algo), "flow_accumulation_invest")
    cache.misses += 2
    out_f, out_a = cache.load(kf), cache.load(ka)
    assert out_f is not None and out_a is not None  # just written
    return out_f, out_a


# ----------------------------------------------------------------------------- LS as a derived input of the engine
LS_FUNCTIONS = frozenset(
    {
        "qingshan.quantities.soil:soil_retention_rusle",
        "qingshan.quantities.soil:soil_fertility_rusle",
    }
)
"""Raster quantity functions that read the derived input ``ls`` (:func:`ls_source`): per cell but
for LS, which routes flow over the whole DEM."""

DEFAULT_ROUTING_TILE = 512
"""Routing tile [cells a side] when option ``routing_tile_size`` is not given and the grid is larger than
:data:`WHOLE_GRID` a side. Measured on the 3000² InVEST-chain D8 benchmark DEM (2 shared cores, CPU
seconds / peak RSS of the process, before the tiles ran on threads): tiles of 256: 10.7 s / 0.54 GB,
512: 12.2 s / 0.54 GB, 1024: 15.2 s / 0.61 GB, 2048: 19.6 s / 0.80 GB."""


def needs_ls(method: MethodSpec) -> bool:
    """True when ``method`` reads the derived LS layer (soil retention and soil fertility by RUSLE)."""
    return method.kind == "raster" and method.function in LS_FUNCTIONS


WHOLE_GRID = 4096
"""Without option ``routing_tile_size``, grids up to this many cells a side are routed whole (the in-memory
kernels, fastest), larger ones in tiles of :data:`DEFAULT_ROUTING_TILE` (memory bounded by the tile). The
whole-grid routing's memory is bounded by this size: at 3000² the whole ``qingshan compute soil_retention``
(InVEST chain) peaks at 680 MB with D8 (10.6 s wall) against 558 MB and 13.2 s in 512² tiles on 2 threads, and
InVEST's 696 MB. With MFD the tiled chain computes the weights tile by tile and accumulates them in one pass up
to :data:`~qingshan.kernels.tiled_routing.MFD_WHOLE_ACCUMULATION_CELLS` (the perimeter exchange took 143 s CPU
in 512² tiles at 3000²; now 22 s CPU and 19.8 s wall, against 10.8 s routed whole, machine shared)."""


def routing_tile(params: ParamSet, grid: Grid) -> int | None:
    """The routing tile for ``grid`` (option ``routing_tile_size``; else whole up to :data:`WHOLE_GRID` a side,
    :data:`DEFAULT_ROUTING_TILE` beyond), or None when the grid is routed whole."""
    from qingshan.quantities.routing_tiles import routing_tile_size

    if params.option("routing_tile_size", None) is not None:
        tile = routing_tile_size(params)
    elif max(grid.shape) <= WHOLE_GRID:
        return None
    else:
        tile = DEFAULT_ROUTING_TILE
    return tile if max(grid.shape) > tile else None


def ls_source(dem: Source, grid: Grid, params: ParamSet, cache: DerivedCache, *,
              block_size: int | tuple[int, int] = DEFAULT_BLOCK_SIZE) -> ArraySource:
    """The LS factor on the accounting grid as the engine's derived input ``ls`` (one layer per DEM and LS settings).

    The DEM is read window by window onto ``grid`` (:func:`~qingshan.engine.blocks.read_window`: off-grid
    DEMs warped as every block's inputs are; each window range-checked) into a scratch memmap in
    ``cache``'s folder, then LS is taken from ``cache`` or computed (:func:`ls_factor_cached`; routed
    whole or tile by tile, :func:`routing_tile`) — nothing of the DEM is masked, as the whole-grid
    method routed it. Returns a read-only memmap of the cached layer as a derived
    :class:`~qingshan.engine.blocks.ArraySource`: blocks read their window of it.
    """
    from qingshan.io.memmaps import scratch_alloc

    cache.root.mkdir(parents=True, exist_ok=True)
    sweep_scratch(cache.root)  # what a killed run left behind
    with tempfile.TemporaryDirectory(prefix=f".dem-{_owner()}", dir=cache.root) as tmp:
        z = scratch_alloc(tmp)(grid.shape, np.float64)
        f32 = True  # every elevation a float32 value (what the tiled default chain needs)
        check_f32 = _f32_matters(params, grid)
        for window in block_windows(grid.shape, block_size):
            arr = read_window(dem, grid, window)
            validate_block({"dem": arr}, {"dem": dem}, params)
            z[window.slices()] = arr
            if check_f32 and f32:
                ok = arr[np.isfinite(arr)]
                f32 = bool(np.array_equal(ok, ok.astype(np.float32)))
        ls = ls_factor_cached(z, params, grid, cache, tile=_tile_for(params, grid, f32))
        del z
    return ArraySource("ls", ls, derived=True)


def _f32_matters(params: ParamSet, grid: Grid) -> bool:
    """Whether :func:`_tile_for` depends on the DEM being float32 values (else the check is skipped)."""
    default_chain = str(params.option("ls_formula", "rusle_mccool")) != "invest"
    return default_chain and routing_tile(params, grid) is not None and params.option("routing_tile_size", None) is None


def _tile_for(params: ParamSet, grid: Grid, f32: bool) -> int | None:
    """:func:`routing_tile`, except that a DEM with elevations that are not float32 values (e.g. warped
    bilinearly onto the grid) is routed whole by the default chain when no tile was asked for: the
    tiled default chain could not reproduce it (an explicit ``routing_tile_size`` is an error instead)."""
    tile = routing_tile(params, grid)
    default_chain = str(params.option("ls_formula", "rusle_mccool")) != "invest"
    if tile is not None and not f32 and default_chain and params.option("routing_tile_size", None) is None:
        log.warning("The DEM on the accounting grid has elevations that are not float32 values (warped in float64?): "
                    "LS is routed on the whole %d×%d grid (memory grows with the grid). Supply the DEM as float32 on "
                    "the grid to route it tile by tile.", grid.height, grid.width)
        return None
    return tile
