"""The engine: every raster method computed block by block, the whole grid being the one-block case.

:func:`qingshan.engine.run.account` (``qingshan account``) runs :func:`account_blockwise`, and
:func:`qingshan.engine.compute.compute_indicator` (``qingshan compute``) runs
:func:`qingshan.engine.blocks.map_blocks` (the one loop over blocks, with reading and validating
windows) with its own block task. No input raster is ever read whole for an element-wise method:

    plan → load_tables → load_regions → [per year: plausibility → derived inputs (LS routed once per
    DEM, or reused from the cache) → blocks (read windows → validate → quantity functions on the
    block's grid → W[:, block] @ q by ecosystem, cell areas by ecosystem) → sum] → table methods →
    caps → rules → value → roll_up → export → store
    (with per-cell COGs: blocks → this process → windowed writes; per year: → COG, in the background
    while the run goes on; the COGs are moved into the artifacts after the tables and the workbook)

Each block is one task (:func:`map_blocks`; a grid of one block is computed directly, without a
task graph). Its grid is :func:`qingshan.core.window.block_grid`, so ``per_cell`` multiplies by
the block's own cell areas and the quantity functions run unchanged. A block's totals per leaf
region and ecosystem are ``W_b @ q`` (:func:`compute_block`) with ``W_b`` the exact coverage
weights of the block's cells (:func:`qingshan.aggregate.zonal.zone_weights` on the block's grid,
``weights="block"``, the default; or the columns of the whole grid's matrix, ``weights="grid"``);
partial totals are summed in a tree of fan-in :data:`FAN_IN`, or in window order when layers are
written. Where blocks run (:func:`open_scheduler`): Dask's threaded scheduler (default), its
``"processes"`` scheduler, or a ``dask.distributed`` cluster (a ``Client`` or a scheduler address).
Notices raised in a block are returned with its result and raised again in the run.

Every raster method is block-wise. The one quantity whose value at a cell depends on other cells,
the LS factor of soil retention and soil fertility (flow routing over the DEM), is a derived input:
:func:`qingshan.engine.derived_cache.ls_source` routes it once per DEM and LS settings before the
blocks (tile by tile on large grids, cached by content hash in ``<data dir>/cache/derived``) and
each block reads its window of it (input ``ls``). On a ``dask.distributed`` cluster it is routed on a
worker (:func:`_ls_layer`): the client, perhaps a laptop, holds neither the DEM nor the routing's grids. Which methods are block-wise is declared by the
``blockwise`` flag of each method spec; a registry test checks it against
:data:`BLOCKWISE_FUNCTIONS`, the functions verified block-invariant.

Per-cell layers: the engine exports ``rasters/<indicator>.<component>.<year>.tif`` COGs. Each
block returns its layers (float64, NaN outside the accounted regions) to this process, which
writes them in window order into tiled GeoTIFFs (:class:`qingshan.io.cog.BlockLayerWriter`, one
writer: GDAL datasets are not safe to write from several workers) while at most
:data:`AHEAD_PER_THREAD` blocks per worker thread are computed ahead; each file is then
converted to a COG in a staging folder of the data dir and moved into the run's artifacts. The
conversions (GDAL compressing, the GIL released) run in a background thread
(:class:`qingshan.io.cog.FinishInBackground`) beside the next year's blocks and the valuation and
exports (Python, one core), and every artifact is written before the run is recorded. No whole
raster is held in memory.

Off-grid inputs (``[grid] resample = true``) are warped per window through a GDAL ``WarpedVRT`` on
the accounting grid (equal to ``read_aligned``'s whole-raster ``reproject`` on the tests' case;
see docs/scaling.md).

Example
-------
>>> from qingshan.engine.config import load_config
>>> from qingshan.engine.blockwise import account_blockwise
>>> out = account_blockwise(load_config("jiangxi-2019.toml"), block_size=512)  # doctest: +SKIP

Scripts that start a ``LocalCluster`` need an ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from qingshan.aggregate.regions import RegionSet
from qingshan.aggregate.zonal import EcosystemSplit, ZoneWeights, accounted_cells, zone_weights
from qingshan.core.errors import ConfigError
from qingshan.core.grid import Grid
from qingshan.core.notices import Notice, collecting, notice
from qingshan.core.params import ECOSYSTEMS, ParamSet, file_sha256
from qingshan.core.spec import IndicatorSpec, MethodSpec
from qingshan.core.window import Window, block_grid, block_windows
from qingshan.engine.blocks import (
    DEFAULT_BLOCK_SIZE,
    FAN_IN,
    ArraySource,
    BlockPartial,
    InputSource,
    OnBlock,
    Source,
    check_coverage,
    is_blockwise,
    local_scheduler,
    map_blocks,
    open_scheduler,
    read_window,
    sources_on_grid,
    validate_block,
)
from qingshan.engine.caps import apply_emission_caps, cap_rules
from qingshan.engine.config import RunConfig
from qingshan.engine.derived_cache import DerivedCache, default_cache_root, ls_source, needs_ls
from qingshan.engine.extent import BasisInBackground
from qingshan.engine.rules import apply_profile_rules
from qingshan.engine.run import (
    LEAF_COLUMNS,
    Plan,
    Progress,
    RunOutcome,
    Tables,
    _noop,
    check_grid_meets_regions,
    check_statistics,
    check_statistics_hm2,
    compute_raster,
    leaf_frame,
    load_regions,
    load_tables,
    plan,
    plan_inputs,
    reference_grid,
    value_record_export,
)
from qingshan.io.cog import (
    BlockLayerWriter,
    CellType,
    FinishInBackground,
    cog_settings,
    not_shared,
    write_block_file,
)
from qingshan.io.plausibility import check_inputs

__all__ = [
    "BLOCKWISE_FUNCTIONS",
    "DEFAULT_BLOCK_SIZE",
    "FAN_IN",
    "ArraySource",
    "BlockPartial",
    "InputSource",
    "account_blockwise",
    "compute_blockwise",
    "input_sources",
    "is_blockwise",
    "layer_tags",
    "map_blocks",
    "open_scheduler",
    "read_window",
    "sources_on_grid",
]

log = logging.getLogger(__name__)

BLOCKWISE_FUNCTIONS = frozenset(
    {
        # each uses only per-pixel arithmetic, land-cover lookups and grid.cell_area()
        "qingshan.quantities.water:water_conservation_balance",
        "qingshan.quantities.water:water_conservation_budyko",
        "qingshan.quantities.carbon:carbon_nep",
        "qingshan.quantities.carbon:carbon_fixation_rate",
        "qingshan.quantities.carbon:carbon_biomass_change_raster",
        "qingshan.quantities.carbon:oxygen_from_carbon",
        "qingshan.quantities.carbon:oxygen_from_fixation_rate",
        "qingshan.quantities.climate:climate_et_energy",
        "qingshan.quantities.climate:climate_per_type",
        "qingshan.quantities.purification:air_purification_capacity",
        "qingshan.quantities.purification:water_purification_capacity",
        "qingshan.quantities.ions:negative_ions_production",
        "qingshan.quantities.wind:sand_fixation_rweq",
        "qingshan.quantities.habitat:pest_control_area",
        "qingshan.quantities.habitat:species_conservation_area",
        # per cell given the derived input ls (pit filling and flow accumulation over the whole DEM,
        # computed once before the blocks: qingshan.engine.derived_cache.ls_source)
        "qingshan.quantities.soil:soil_retention_rusle",
        "qingshan.quantities.soil:soil_fertility_rusle",
    }
)
"""Raster quantity functions whose value at a cell depends only on that cell's inputs (and, for
RUSLE, on the cell's value of the derived LS layer, :data:`~qingshan.engine.derived_cache.LS_FUNCTIONS`).
Every raster method is one of them: the engine has one path."""

Item = tuple[IndicatorSpec, MethodSpec]
WeightsMode = Literal["block", "grid"]


# ----------------------------------------------------------------------------- reading windows
def input_sources(config: RunConfig, names: Sequence[str], grid: Grid, year: int) -> dict[str, InputSource]:
    """Open each input's header only: check its CRS and decide whether its windows are warped.

    Raises :class:`GridMismatchError` for an off-grid raster when ``[grid] resample = false``.
    """
    return sources_on_grid({name: config.input_path(name, year) for name in names}, grid, resample=config.grid.resample)


# ----------------------------------------------------------------------------- one block
def _ecosystem_index(inputs: Mapping[str, np.ndarray], params: ParamSet, shape: tuple[int, int]) -> np.ndarray:
    """Per-cell index into ECOSYSTEMS (−1 for nodata), as the numpy engine computes it."""
    lulc = inputs.get("lulc")
    if lulc is not None and params.landcover is not None:
        return params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    return np.full(shape, ECOSYSTEMS.index("other"), dtype=np.int16)


AREA_KEY = "_area.hm2"
"""Key of the block totals of cell area [hm²] by leaf region and ecosystem (statistics bounds per hm²)."""


def block_partial(
    window: Window,
    grid: Grid,
    sources: Mapping[str, Source],
    items: Sequence[Item],
    params: ParamSet,
    weights: sp.csc_matrix | RegionSet,
    keep_layers: bool = False,
    area: bool = False,
) -> BlockPartial:
    """Read, validate, compute and aggregate one block (one Dask task).

    ``weights``: the whole grid's coverage matrix (CSC; its columns are sliced), or the regions,
    whose coverage of this block's cells is then computed here (same fractions: the coverage of
    a cell by a polygon does not depend on the raster around it). ``keep_layers``: also return
    the block's per-cell quantities (float64, NaN outside the accounted regions, as the tables
    count them) in ``layers``, for the COG writer. ``area``: also sum the cell areas [hm²] by
    region and ecosystem (:data:`AREA_KEY`). Notices raised while the block is computed (in a
    worker thread or process, where the run's collector is not visible) are returned in
    ``notices``; the engine passes them on to the run's QC report.
    """
    with collecting() as found:
        bgrid = block_grid(grid, window)
        inputs = {name: read_window(src, grid, window) for name, src in sources.items()}
        finite = validate_block(inputs, sources, params)
        if isinstance(weights, RegionSet):
            w_block = zone_weights(weights, bgrid).matrix
        else:
            w_block = weights[:, window.flat_indices(grid.width)]
        part = compute_block(inputs, bgrid, items, params, w_block, keep_layers=keep_layers, area=area)
    part.finite, part.cells = finite, window.size
    part.notices = list(found)
    return part


def compute_block(inputs: Mapping[str, np.ndarray], grid: Grid, items: Sequence[Item], params: ParamSet,
                  weights: sp.spmatrix, *, keep_layers: bool = False, area: bool = False) -> BlockPartial:
    """Compute ``items`` on validated ``inputs`` of one block (or of the whole grid) and aggregate them.

    The one place where per-cell quantities are computed and summed by region × ecosystem
    (``weights @ q``): blocks of block-wise methods and the whole grid of the others both pass here.
    ``grid``: the block's grid; ``weights``: coverage of its cells (regions × cells).
    """
    eco = _ecosystem_index(inputs, params, grid.shape)
    split = EcosystemSplit.of(weights, eco)  # one sparse product per layer: sums by region × ecosystem
    totals, cells = {}, {}
    accounted = accounted_cells(weights, eco) if keep_layers else None
    for spec, method in items:  # every method sees every input, as in the numpy engine
        layers = compute_raster(spec, method, dict(inputs), params, grid)
        for comp, arr in layers.items():
            totals[f"{spec.id}.{comp}"] = split.totals(arr)
            if accounted is not None:  # float64, as the COG stores it: sums agree with the tables
                cells[f"{spec.id}.{comp}"] = np.where(accounted, arr, np.nan)
    if area:
        totals[AREA_KEY] = split.totals(grid.cell_area() / 1e4)
    return BlockPartial(totals=totals, layers=cells)


# ----------------------------------------------------------------------------- the graph
def blockwise_totals(
    grid: Grid,
    sources: Mapping[str, Source],
    items: Sequence[Item],
    params: ParamSet,
    weights: ZoneWeights | RegionSet,
    *,
    block_size: int | tuple[int, int] = DEFAULT_BLOCK_SIZE,
    client: Any = None,
    on_block: OnBlock | None = None,
    area: bool = False,
    layer_files: Path | None = None,
) -> BlockPartial:
    """Sum of :func:`block_partial` over every block of ``grid``, computed by Dask.

    ``weights``: the whole grid's :class:`ZoneWeights`, or the :class:`RegionSet` (each block then
    computes the coverage of its own cells). ``client``: ``None`` or ``"threads"`` (Dask's threaded
    scheduler), ``"processes"`` or ``"synchronous"`` (Dask's local schedulers), a
    ``dask.distributed.Client``, or a scheduler address (a client is opened for this call and
    closed after, see :func:`open_scheduler`). ``area``: also sum cell areas (:data:`AREA_KEY`).

    ``on_block(window, partial)``: when given, every block also returns its per-cell layers
    (``partial.layers``) and is handed to ``on_block`` in this process, in window order, while
    later blocks are computed: at most :data:`AHEAD_PER_THREAD` blocks per worker thread are
    computed ahead of it (see :func:`_stream_blocks`). Without it, partial totals are summed in
    a tree of Dask tasks and no layer leaves a worker.

    ``layer_files``: with ``on_block``, the layers do not travel back either: each block writes them into a
    file of this folder (:func:`block_to_file`) and ``on_block`` gets its name (``partial.layer_file``) — for
    a ``dask.distributed`` cluster, whose workers share the folder with this process.
    """
    w_shared = weights if isinstance(weights, RegionSet) else weights.matrix.tocsc()
    shared = (dict(sources), tuple(items), params, w_shared)
    if layer_files is not None and on_block is not None:
        return map_blocks(grid, block_to_file, shared, args=(area, str(layer_files), cog_settings().dtype),
                          block_size=block_size, client=client, on_block=on_block)
    return map_blocks(grid, block_partial, shared, args=(area,), block_size=block_size, client=client,
                      on_block=on_block)


def block_to_file(window: Window, grid: Grid, sources: Mapping[str, Source], items: Sequence[Item], params: ParamSet,
                  weights: sp.csc_matrix | RegionSet, keep_layers: bool, area: bool, folder: str,
                  dtype: CellType) -> BlockPartial:
    """:func:`block_partial` whose layers are written into ``folder/<row>_<col>.tif`` (:func:`write_block_file`,
    cells of ``dtype``) where the block is computed, and returned as that file's name and band keys."""
    part = block_partial(window, grid, sources, items, params, weights, True, area)
    if keep_layers and part.layers:
        path = Path(folder) / f"{window.row_off}_{window.col_off}.tif"
        write_block_file(path, grid, window, part.layers, dtype)
        part.layer_file, part.layer_keys = str(path), tuple(part.layers)
    part.layers = {}
    return part


# ----------------------------------------------------------------------------- a run
def _needed_inputs(config: RunConfig, items: Sequence[Item]) -> set[str]:
    return {n for _, m in items if m.kind == "raster" for n in (*m.inputs, *(o for o in m.optional_inputs if o in config.inputs))}


def _rows(spec: IndicatorSpec, comp: str, sums: np.ndarray, codes: Sequence[str], year: int) -> pd.DataFrame:
    """Leaf rows of one component from its (n_regions, n_ecosystems) sums (as ``aggregate_raster``)."""
    df = pd.DataFrame(sums, columns=list(ECOSYSTEMS))
    df["region_code"] = list(codes)
    long = df.melt(id_vars="region_code", var_name="ecosystem", value_name="quantity")
    long = long[long["quantity"] != 0]
    return long.assign(year=year, indicator=spec.id, component=comp, unit=spec.component(comp).unit)


def layer_tags(spec: IndicatorSpec, comp: str, year: int) -> dict[str, str]:
    """Units tag and description of a per-cell layer, as :func:`qingshan.engine.export.export_all` writes them."""
    return {"units": f"{spec.component(comp).unit} per cell per year", "description": f"{spec.id}/{comp} {year}"}


def _layer_sink(writer: BlockLayerWriter, items: Sequence[Item], year: int) -> OnBlock:
    """``on_block`` that writes each block's layers into ``<indicator>.<component>.<year>``."""
    specs = {s.id: s for s, _ in items}

    def write(window: Window, part: BlockPartial) -> None:
        for key, arr in part.layers.items():
            ind, comp = key.split(".", 1)
            writer.write(f"{key}.{year}", window, arr, **layer_tags(specs[ind], comp, year))

    return write


def _file_sink(writer: BlockLayerWriter, items: Sequence[Item], year: int) -> OnBlock:
    """``on_block`` that hands each block's file of layers (written by a worker, :func:`block_to_file`) to
    ``writer``; a file this process cannot see is a :class:`~qingshan.core.errors.StorageError` (the workers
    must share the data dir with it)."""
    specs = {s.id: s for s, _ in items}

    def write(window: Window, part: BlockPartial) -> None:
        if part.layer_file is None:
            return
        if not Path(part.layer_file).is_file():
            raise not_shared(part.layer_file, "block file", "分块文件")
        layers = {}
        for key in part.layer_keys:
            ind, comp = key.split(".", 1)
            tags = layer_tags(specs[ind], comp, year)
            layers[f"{key}.{year}"] = (tags["units"], tags["description"])
        writer.write_file(window, part.layer_file, layers)

    return write


def _check_weights_mode(weights: str) -> None:
    if weights not in ("block", "grid"):
        raise ConfigError(
            f"Unknown weights mode '{weights}'",
            f"未知的权重模式 '{weights}'",
            field="weights",
            fix="Use 'block' (coverage per block) or 'grid' (one matrix for the whole grid).",
            fix_zh="请使用 'block'（逐块计算覆盖率）或 'grid'（整个格网一个矩阵）。",
        )


def compute_blockwise(
    config: RunConfig,
    p: Plan,
    tables: Tables,
    regions: RegionSet,
    *,
    block_size: int | tuple[int, int] = DEFAULT_BLOCK_SIZE,
    client: Any = None,
    weights: WeightsMode = "block",
    progress: Progress = _noop,
    rasters: Path | None = None,
    derived: DerivedCache | Path | None = None,
    finisher: FinishInBackground | None = None,
) -> tuple[pd.DataFrame, Grid | None, dict[str, Any]]:
    """Leaf rows of every indicator of every year: the engine's compute and aggregation step.

    Per year: plausibility of every input → derived inputs (the LS factor when soil retention or
    soil fertility by RUSLE is planned: :func:`~qingshan.engine.derived_cache.ls_source`, routed once
    per DEM and LS settings) → blocks of the raster methods (read windows → validate → compute →
    ``W_b @ q`` by ecosystem, and cell areas by ecosystem for the statistics bounds per hm²) → table
    methods; then emission caps and the profile's rules.

    ``weights="block"``: each block computes the coverage weights of its own cells (no
    whole-grid matrix); ``"grid"``: the whole grid's matrix is built once and its columns sliced
    per block.

    ``derived``: the cache of derived layers (a :class:`~qingshan.engine.derived_cache.DerivedCache`
    or its folder); default: ``<data dir>/cache/derived`` of the config's store (so LS is reused
    across years, scenarios and uncertainty draws), or a temporary folder when the config names no
    data dir. Its hits and misses are in the facts (``derived_cache``).

    ``client``: where blocks are computed (see :func:`open_scheduler`).

    ``rasters``: a folder that receives one COG per raster component and year,
    ``<indicator>.<component>.<year>.tif``, written window by window by a
    :class:`~qingshan.io.cog.BlockLayerWriter`; ``None`` writes none. On an error, the layers of
    the failing year are deleted. ``finisher``: each year's layers are converted to COGs there, in the
    background (:class:`~qingshan.io.cog.FinishInBackground`; the caller waits for them), instead of before
    the next year starts.

    Notices raised in the blocks (worker threads or processes) are raised again here, in the
    caller's context, so that the run's QC report lists them.

    Returns the leaf rows (columns of ``account``'s leaf rows), the accounting grid of the last
    year, and engine facts for the provenance (which methods ran block-wise, block count).
    """
    _check_weights_mode(weights)
    blockwise = [(s, m) for s, m in p.items if is_blockwise(m)]
    assert all(is_blockwise(m) for _, m in p.items if m.kind == "raster"), "every raster method is block-wise"
    routed = any(needs_ls(m) for _, m in blockwise)
    names = plan_inputs(config, p)
    lulc = {"lulc"} & names  # land cover read (ecosystem split) only when the plan reads it
    area = bool(lulc) and tables.statistics is not None and tables.params.landcover is not None
    codes = tuple(str(c) for c in regions.leaves["code"])  # ZoneWeights rows, in this order
    with _derived_cache(config, derived, routed) as cache:
        return _compute_years(config, p, tables, regions, blockwise, names, lulc, area, codes, cache,
                              block_size=block_size, client=client, weights=weights, progress=progress, rasters=rasters,
                              finisher=finisher)


@contextmanager
def _derived_cache(config: RunConfig, cache: DerivedCache | Path | None, routed: bool) -> Iterator[DerivedCache | None]:
    """The cache of derived layers (LS): the given one, one in the given folder, the config's data
    dir's, else a temporary one removed afterwards (``None`` when nothing is routed: no folder is made)."""
    if not routed:
        yield None
    elif isinstance(cache, DerivedCache):
        yield cache
    elif cache is not None:
        yield DerivedCache(cache)
    else:
        root = _config_cache_root(config, None)
        if root is not None:
            yield DerivedCache(root)
            return
        with tempfile.TemporaryDirectory(prefix="qingshan-derived-") as tmp:
            yield DerivedCache(tmp)


def _ls_layer(dem: Source, grid: Grid, params: ParamSet, cache: DerivedCache, *,
              block_size: int | tuple[int, int], client: Any) -> ArraySource:
    """The derived input ``ls`` (:func:`~qingshan.engine.derived_cache.ls_source`): routed here with a local
    scheduler; on a ``dask.distributed`` cluster on one of its workers, which writes it into ``cache`` (the data
    dir's, shared with the workers) — the routing is a run's largest serial step and its memory grows with the
    grid, so it belongs where the memory is, not on the client. The notices raised there and the cache's hits
    and misses come back with the layer; this process only maps the cached file."""
    if local_scheduler(client) is not None:
        return ls_source(dem, grid, params, cache, block_size=block_size)
    from qingshan.core.codeversion import SameCode
    from qingshan.io.cog import not_shared
    from qingshan.io.memmaps import open_memmap_spec

    spec, found, hits, misses = client.submit(SameCode.of(_route_ls), dem, grid, params, cache.root, cache.throwaway,
                                              block_size, pure=False).result()
    for n in found:
        notice(n)
    cache.hits += hits
    cache.misses += misses
    if not Path(spec[0]).is_file():
        raise not_shared(spec[0], "LS factor layer", " LS 因子图层")
    return ArraySource("ls", open_memmap_spec(spec), derived=True)


def _route_ls(dem: Source, grid: Grid, params: ParamSet, root: Path, throwaway: bool, block_size: int | tuple[int, int]
              ) -> tuple[tuple[str, int, tuple[int, ...], str, str], list[Notice], int, int]:
    """On a worker: :func:`~qingshan.engine.derived_cache.ls_source` into the cache at ``root``; returns the
    cached layer's file (:func:`~qingshan.io.memmaps.memmap_spec`), the notices raised, and the cache's hits
    and misses."""
    from qingshan.io.memmaps import memmap_spec

    cache = DerivedCache(root, throwaway=throwaway)
    with collecting() as found:
        ls = ls_source(dem, grid, params, cache, block_size=block_size)
    spec = memmap_spec(ls.values)
    if spec is None:  # ls_source returns a map of the cached .npy file
        raise RuntimeError("the LS factor layer is not a file-backed memmap")
    return spec, list(found), cache.hits, cache.misses


def _config_cache_root(config: RunConfig, store_url: str | None) -> Path | None:
    """``<data dir>/cache/derived`` of the run's store (see :func:`_staging_folder`), or None when it has no data dir."""
    from qingshan.engine.run import store_url_of
    from qingshan.store import artifacts

    try:
        return default_cache_root(artifacts.data_dir_for(store_url_of(config, store_url), config.run.data_dir))
    except ConfigError:
        return None


def _compute_years(config: RunConfig, p: Plan, tables: Tables, regions: RegionSet, blockwise: Sequence[Item],
                   names: set[str], lulc: set[str], area: bool, codes: tuple[str, ...], cache: DerivedCache | None, *,
                   block_size: int | tuple[int, int], client: Any, weights: WeightsMode, progress: Progress,
                   rasters: Path | None, finisher: FinishInBackground | None
                   ) -> tuple[pd.DataFrame, Grid | None, dict[str, Any]]:
    frames: list[pd.DataFrame] = []
    grid: Grid | None = None
    n_blocks = 0
    routed = any(needs_ls(m) for _, m in blockwise)
    for y_i, year in enumerate(config.run.years):
        if finisher is not None:  # an earlier year's layers failed to convert: stop before computing this one
            finisher.raise_failed()
        check_inputs({n: config.input_path(n, year) for n in names}, config.plausibility)  # unit mistakes first
        grid = reference_grid(config, year)
        check_grid_meets_regions(config, grid, regions, year)  # a mislabelled reference raster names itself
        progress(f"blocks {year}", 0.1 + 0.7 * y_i / len(config.run.years))
        whole_w = zone_weights(regions, grid) if weights == "grid" else None
        by_key: dict[str, np.ndarray] = {}
        writer = BlockLayerWriter(rasters, grid) if rasters is not None else None
        with writer if writer is not None else nullcontext():  # an error deletes this year's layers
            block_names = _needed_inputs(config, blockwise) | lulc
            if block_names:
                sources: dict[str, Source] = dict(input_sources(config, sorted(block_names), grid, year))
                t0 = time.perf_counter()
                if routed:  # LS routed once per DEM and LS settings, before the blocks; blocks read its windows
                    assert cache is not None
                    progress(f"LS {year}", 0.1 + 0.7 * y_i / len(config.run.years))
                    sources["ls"] = _ls_layer(sources["dem"], grid, tables.params, cache, block_size=block_size,
                                              client=client)
                    log.info("year %d: LS factor ready in %.1f s (derived cache: %d hit(s), %d miss(es))", year,
                             time.perf_counter() - t0, cache.hits, cache.misses)
                zones = whole_w if weights == "grid" and whole_w is not None else regions
                blocks_dir = None  # on a cluster: where the workers write their blocks' layers
                if writer is not None and rasters is not None and local_scheduler(client) is None:
                    blocks_dir = rasters / ".blocks" / str(year)
                    blocks_dir.mkdir(parents=True, exist_ok=True)  # created here: the workers never create it
                sink = (_file_sink if blocks_dir else _layer_sink)(writer, blockwise, year) if writer else None
                partial = blockwise_totals(grid, sources, blockwise, tables.params, zones, block_size=block_size,
                                           client=client, area=area, on_block=sink, layer_files=blocks_dir)
                for found in partial.notices:  # raised in worker threads or processes: into the run's collector
                    notice(found)
                check_coverage(partial, sources)
                n_blocks += len(list(block_windows(grid.shape, block_size)))
                log.info("year %d: %d block-wise indicator(s) over %d cells in %.1f s", year, len(blockwise),
                         partial.cells, time.perf_counter() - t0)
                by_key = partial.totals
            if area:
                check_statistics_hm2(tables, regions, codes, by_key[AREA_KEY], year)
            for spec, method in p.items:
                progress(f"{spec.id} {year}", 0.1 + 0.7 * (y_i + 1) / len(config.run.years))
                if method.kind == "raster":
                    comps = [k.split(".", 1)[1] for k in by_key if k.split(".", 1)[0] == spec.id]
                    frames.extend(_rows(spec, c, by_key[f"{spec.id}.{c}"], codes, year) for c in comps)
                else:
                    tbl = {"statistics": tables.statistics, "products": tables.products}
                    rows = method.load()(tables=tbl, params=tables.params, regions=regions, year=year, indicator=spec.id)
                    frames.append(rows.assign(year=year, indicator=spec.id))
            if writer is not None:
                progress(f"COG {year}", 0.1 + 0.7 * (y_i + 1) / len(config.run.years))
                if finisher is not None:  # converted while the run goes on
                    finisher.submit(writer)
                else:
                    writer.finish(client=client if local_scheduler(client) is None else None)  # a cluster converts there
    leaf = leaf_frame(frames)  # no rows at all: check_coverage names the indicators without data
    rules = cap_rules(p.items)
    if rules:  # use-bounded services: Q = min(capacity, emissions) per region (RCEES practice)
        leaf, report = apply_emission_caps(
            leaf, tables.statistics, regions, rules, missing=str(tables.params.option("emission_cap_missing", "error"))
        )
        tables.cap_report = report.to_dict("records")
    leaf = apply_profile_rules(leaf, p.profile.rules, tables.statistics, regions)  # e.g. 区域外扣减 (GB/T 46869)
    facts: dict[str, Any] = {
        "engine": "dask-blockwise",
        "block_size": list(block_size) if isinstance(block_size, tuple) else block_size,
        "blocks": n_blocks,
        "weights": weights,
        "blockwise_methods": [f"{s.id}/{m.id}" for s, m in blockwise],
        "scheduler": local_scheduler(client) or str(getattr(getattr(client, "scheduler", None), "address", client)),
    }
    if routed and cache is not None:  # provenance: LS routed (misses) or reused (hits) by content hash
        facts["derived_cache"] = {"layers": ["ls"], "hits": cache.hits, "misses": cache.misses}
    return leaf[list(LEAF_COLUMNS)].reset_index(drop=True), grid, facts


def _input_hashes(config: RunConfig, p: Plan) -> dict[str, str]:
    names = plan_inputs(config, p)
    return {str(config.input_path(n, y)): file_sha256(config.input_path(n, y)) for y in config.run.years for n in sorted(names)}


def account_blockwise(
    config: RunConfig,
    *,
    block_size: int | tuple[int, int] = DEFAULT_BLOCK_SIZE,
    client: Any = None,
    weights: WeightsMode = "block",
    store_url: str | None = None,
    progress: Progress = _noop,
    rasters: bool = True,
) -> RunOutcome:
    """Run an accounting end to end with the engine (see module docstring); :func:`qingshan.engine.run.account`
    calls it with the config's ``[run] block_size`` and ``scheduler``.

    Parameters
    ----------
    config : the run config.
    block_size : side of a block [cells] (or rows, cols); a block as large as the grid is the whole-grid case.
    client : where blocks are computed: ``None``/``"threads"``, ``"processes"``, ``"synchronous"``, a
        ``dask.distributed.Client``, or a scheduler address (``tcp://host:8786``, connected once for the run).
    weights : ``"block"`` (coverage weights per block) or ``"grid"`` (one whole-grid matrix).
    store_url, progress : as for ``account``.
    rasters : write the per-cell COGs (``rasters/<indicator>.<component>.<year>.tif``).
        They are built in a staging folder of the data dir and moved into the run's artifacts.
    """
    with collecting() as found:  # notices of every step (and of every block), for the QC report
        return _account_blockwise(config, block_size, client, weights, store_url, progress, rasters, found)


def _account_blockwise(config: RunConfig, block_size: int | tuple[int, int], client: Any, weights: WeightsMode,
                       store_url: str | None, progress: Progress, rasters: bool, found: list[Notice]) -> RunOutcome:
    t0 = time.time()
    progress("plan", 0.0)
    _check_weights_mode(weights)
    p = plan(config)
    tables = load_tables(config, p)
    regions = load_regions(config)
    check_statistics(tables, regions)
    hashes = {**tables.hashes, **_input_hashes(config, p), str(config.regions.file): file_sha256(config.regions.file)}
    with open_scheduler(client, file=config.source_path) as scheduler:
        staging = _staging_folder(config, store_url) if rasters else None
        basis = BasisInBackground(_staging_folder(config, store_url, ".seea"), regions, config, client=scheduler)
        finisher = FinishInBackground(scheduler if local_scheduler(scheduler) is None else None)  # a cluster converts there
        try:
            leaf_rows, _grid, facts = compute_blockwise(config, p, tables, regions, block_size=block_size,
                                                        client=scheduler, weights=weights, progress=progress,
                                                        rasters=staging, derived=_config_cache_root(config, store_url),
                                                        finisher=finisher)
            return value_record_export(config, p, tables, regions, leaf_rows, hashes, t0, store_url=store_url,
                                       progress=progress, extra_provenance={"engine": facts}, cogs=finisher.result,
                                       notices=found, client=scheduler, basis=basis)
        finally:
            finisher.stop()  # before the staging folder is removed: no conversion writes into it afterwards
            basis.stop()  # at once when the run failed; the basis has been moved into the run when it succeeded
            for folder in (staging, basis.folder):
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)


def _staging_folder(config: RunConfig, store_url: str | None, stem: str = ".rasters") -> Path:
    """A new temporary folder in the data dir's ``runs/`` (same file system as the run's artifacts:
    its COGs are moved into them by a rename; removed by a later repair if this process dies)."""
    from qingshan.engine.run import store_url_of
    from qingshan.store import artifacts

    data_dir = artifacts.data_dir_for(store_url_of(config, store_url), config.run.data_dir)
    return artifacts.make_tmp(artifacts.runs_root(data_dir), stem=stem)
