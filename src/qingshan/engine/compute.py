"""``compute_indicator``: one indicator on your own rasters, as a user of a single InVEST model would.

    plausibility (unit mistakes, CRS area of use) → the engine's blocks (:func:`qingshan.engine.blocks.map_blocks`:
    read windows aligned to the grid of ``lulc``, else of the first input → validate (CRS, value ranges,
    land-cover codes) → quantity function → per-pixel layers → windowed COG writes) → totals with units

Every method runs in blocks of ``block_size`` (1024) on threads, processes or a dask.distributed
cluster (``scheduler``). Soil retention and soil fertility (RUSLE) first route flow over the DEM
once for the LS factor, a derived input kept on disk (in a temporary folder, or ``cache``), which
each block reads its window of.

Only raster methods can be computed per pixel; table (statistics) methods need ``qingshan account``
or ``qingshan value``. For the two indicators InVEST also computes, the intermediate layers a user
checks against InVEST are returned and written too:

* ``water_conservation`` (method ``budyko``): ``aet``, ``pet``, ``omega``, ``wyield`` [mm] — the
  same quantities as InVEST Annual Water Yield's ``aet.tif``, ``pet.tif`` and ``wyield.tif``;
* ``soil_retention`` (method ``rusle``): ``r``, ``k``, ``c``, ``p``, ``ls`` and ``rkls``,
  ``usle``, ``avoided_erosion`` [t/hm²] — InVEST SDR's ``rkls.tif``, ``usle.tif``,
  ``avoided_erosion.tif`` (t/ha per pixel) and ``intermediate_outputs/ls.tif``.

Example
-------
>>> from qingshan.engine.compute import compute_indicator
>>> res = compute_indicator(  # doctest: +SKIP
...     "soil_retention",
...     {"dem": "dem.tif", "lulc": "lulc.tif", "ndvi": "ndvi.tif", "rain_erosivity": "r.tif"},
...     options={"flow_algorithm": "MFD", "ls_formula": "invest"},
...     output="out/sr.tif",
... )
>>> res.totals["soil_retained"]  # doctest: +SKIP
(123456.7, 't')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.notices import collecting, notice
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.core.spec import IndicatorSpec, MethodSpec
from qingshan.core.variables import VARIABLES
from qingshan.core.window import Window, block_grid
from qingshan.engine.blocks import (
    DEFAULT_BLOCK_SIZE,
    ArraySource,
    BlockPartial,
    Source,
    check_coverage,
    is_blockwise,
    map_blocks,
    open_scheduler,
    read_window,
    sources_on_grid,
    validate_block,
)
from qingshan.indicators import registry
from qingshan.io.cog import BlockLayerWriter
from qingshan.io.plausibility import check_raster
from qingshan.io.rasters import grid_of
from qingshan.quantities.water import water_budyko_layers, water_conservation_balance

__all__ = ["DEFAULT_LANDCOVER", "DEFAULT_PARAMS", "ComputeResult", "compute_indicator", "default_block_size",
           "output_paths"]

_TABLES = Path(__file__).resolve().parent.parent / "data" / "tables"
DEFAULT_PARAMS = _TABLES / "params_science.csv"
"""Scalar parameter table used when none is given (``src/qingshan/data/tables``)."""
DEFAULT_LANDCOVER = _TABLES / "landcover_modis_igbp.csv"
"""Land-cover table used when none is given (MODIS IGBP codes)."""

RasterLike = str | Path | np.ndarray
LayerFn = Callable[..., dict[str, np.ndarray]]

_WATER_UNITS = {"aet": "mm", "pet": "mm", "omega": "1", "wyield": "mm"}


def _soil_units() -> dict[str, str]:
    # imported here, not at the top: soil imports the routing kernels (pyflwdir, numba)
    from qingshan.quantities.soil import SOIL_LAYER_UNITS

    return {**SOIL_LAYER_UNITS, "avoided_erosion": "t/hm2"}


def _soil_layers(inputs: Mapping[str, np.ndarray], params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    from qingshan.quantities.soil import soil_retention_layers

    layers = soil_retention_layers(inputs, params, grid)
    return {**layers, "avoided_erosion": layers["rkls"] - layers["usle"]}


_INTERMEDIATES: dict[tuple[str, str], tuple[LayerFn, Callable[[], dict[str, str]]]] = {
    ("water_conservation", "budyko"): (water_budyko_layers, lambda: _WATER_UNITS),
    ("soil_retention", "rusle"): (_soil_layers, _soil_units),
}


@dataclass
class ComputeResult:
    """What :func:`compute_indicator` produced.

    Attributes
    ----------
    indicator, method : ids of the indicator and of the method used.
    grid : the grid every layer is on.
    layers : component id → per-pixel annual quantity (NaN = nodata), in ``units[component]``.
    units : component id → unit of the per-pixel quantity (e.g. ``m3``, ``t``).
    totals : component id → (sum over valid pixels, unit).
    intermediates : layer name → per-pixel array (e.g. ``aet`` [mm], ``rkls`` [t/hm2]).
    intermediate_units : layer name → unit.
    files : COGs written (empty when no output was given).
    """

    indicator: str
    method: str
    grid: Grid
    layers: dict[str, np.ndarray]
    units: dict[str, str]
    totals: dict[str, tuple[float, str]]
    intermediates: dict[str, np.ndarray] = field(default_factory=dict)
    intermediate_units: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def compute_indicator(
    indicator_id: str,
    inputs: Mapping[str, RasterLike],
    *,
    params: str | Path | ParameterTable | None = None,
    landcover: str | Path | LandcoverTable | None = None,
    method: str | None = None,
    options: Mapping[str, object] | None = None,
    overrides: Mapping[str, float] | None = None,
    output: str | Path | None = None,
    grid: Grid | None = None,
    resample: bool = True,
    plausibility: Mapping[str, object] | None = None,
    block_size: int | None = None,
    scheduler: Any = None,
    keep_layers: bool = True,
    write_layers: Collection[str] | None = None,
    cache: str | Path | None = None,
) -> ComputeResult:
    """Compute one indicator's per-pixel physical layer(s) from rasters and tables.

    Parameters
    ----------
    indicator_id : registry id, e.g. ``"water_conservation"``, ``"soil_retention"``.
    inputs : canonical input name (``qingshan indicators show ID`` lists them) → raster path or
        2-D array in the variable's canonical unit (NaN = nodata). Arrays need ``grid`` unless a
        path input fixes it.
    params : scalar parameter table (CSV path or table); default :data:`DEFAULT_PARAMS`.
    landcover : land-cover table (CSV with its ``.meta.csv``); default :data:`DEFAULT_LANDCOVER`.
    method : method id; default: the indicator's default method.
    options : method options, e.g. ``{"flow_algorithm": "MFD", "ls_formula": "invest"}``.
    overrides : scalar parameter values replacing the table's (units kept), e.g. ``{"zhang_z": 3}``.
    output : COG path ``OUT.tif``; one component → ``OUT.tif``, several →
        ``OUT.<component>.tif``; intermediates → ``OUT.<layer>.tif``. None: nothing written.
    grid : grid of array inputs (path inputs are aligned to the grid of ``lulc``, else of the
        first path input, when not given).
    resample : align rasters on other grids (land cover nearest, others bilinear); if False they
        are an error.
    plausibility : per input, ``"off"`` (or ``{"median": (lo, hi), "p99": (lo, hi)}``) to accept a
        raster file whose statistics look like a unit mistake; ``{"crs": "off"}`` for the CRS check
        (:mod:`qingshan.io.plausibility`). Array inputs are checked for ranges only.
    block_size : cells per block side (default 1024, or smaller for a method returning many layers:
        :func:`default_block_size`, 512 for soil retention). Soil retention and soil fertility (RUSLE)
        route flow once over the whole DEM for their LS factor (a derived input, routed tile by tile
        on grids larger than option ``routing_tile_size``, default 512), then run block by block.
    scheduler : where blocks are computed (``"threads"`` by default, ``"processes"``, a
        ``dask.distributed.Client`` or a scheduler address), as for ``qingshan account``.
    keep_layers : return the per-pixel layers and intermediates as arrays (default). ``False``
        (``qingshan compute``): only totals and files, memory bounded by the block size.
    write_layers : names of the layers to write (component ids and intermediate names, e.g. ``["water_conservation"]``
        to skip the intermediates); None: all. Every layer is still computed and returned.
    cache : folder of the derived-layer cache (LS, reused by content hash:
        :class:`~qingshan.engine.derived_cache.DerivedCache`); None: a temporary folder, removed at
        the end (also on an error or Ctrl-C). Nothing is written beside ``output``.

    Returns
    -------
    :class:`ComputeResult` with per-pixel layers and totals (sum of the per-pixel quantities).

    Raises
    ------
    InputError : missing or unknown input, implausible statistics (a unit mistake), coordinates outside
        the CRS's area of use, value outside the variable's plausible range, no CRS, land-cover code
        absent from the table, or a table method.
    """
    spec = registry().get(indicator_id)
    m = spec.method(method)
    _check_method(spec, m, inputs)
    _check_layers(spec, m, write_layers)
    pset = _param_set(params, landcover, options, overrides)
    grid = grid or _reference_grid(inputs)
    sources = _sources(inputs, grid, resample, plausibility)
    block = block_size or default_block_size(len(spec.components) + len(m.intermediates))
    assert is_blockwise(m), f"{spec.id}/{m.id} is not block-wise"
    inter_units = _INTERMEDIATES.get((spec.id, m.id), (_soil_layers, dict))[1]()
    sink = _LayerSink(spec, inter_units, grid, Path(output) if output is not None else None, keep_layers,
                      write_layers)
    with _one_writer(output), _derived_inputs(m, sources, grid, pset, block, cache) as derived, \
            open_scheduler(scheduler) as client, sink:
        total = map_blocks(grid, indicator_block, ({**sources, **derived}, (spec, m), pset), block_size=block,
                           client=client, on_block=sink)
        for found in total.notices:  # raised in worker threads or processes: into the caller's collector
            notice(found)
        check_coverage(total, sources)
        files = sink.finish()
    comps = [k for k in total.totals if not k.startswith(_INTERMEDIATE)]
    units = {c: spec.component(c).unit for c in comps}
    totals = {c: (float(total.totals[c][0, 0]), units[c]) for c in comps}
    return ComputeResult(spec.id, m.id, grid, sink.components(), units, totals, sink.intermediates(),
                         {k: inter_units[k] for k in sink.intermediates()} if keep_layers else {}, files)


def _one_writer(output: str | Path | None) -> AbstractContextManager[None]:
    """No other Qingshan command writes ``output``'s files meanwhile (:func:`qingshan.io.cog.exclusive_output`)."""
    if output is None:
        return nullcontext()
    from qingshan.io.cog import exclusive_output

    return exclusive_output(output)


BLOCK_LAYER_BYTES = 64 * 2**20
"""Bytes of the float64 layers one block returns to the writer (components + intermediates) that the
default block size of :func:`compute_indicator` keeps within (a few blocks are in flight at once)."""


def default_block_size(n_layers: int) -> int:
    """:data:`~qingshan.engine.blocks.DEFAULT_BLOCK_SIZE` (1024), halved until ``n_layers`` float64 layers
    of a block fit :data:`BLOCK_LAYER_BYTES` (soil retention, 12 layers: 512; water yield, 5: 1024)."""
    side = DEFAULT_BLOCK_SIZE
    while side > 256 and side * side * 8 * max(n_layers, 1) > BLOCK_LAYER_BYTES:
        side //= 2
    return side


@contextmanager
def _derived_inputs(m: MethodSpec, sources: Mapping[str, Source], grid: Grid, pset: ParamSet,
                    block: int | tuple[int, int], cache: str | Path | None) -> Iterator[dict[str, Source]]:
    """Derived inputs of method ``m`` for the blocks: ``{"ls": …}`` for RUSLE (routed once, before the
    blocks, :func:`~qingshan.engine.derived_cache.ls_source`), else none. The layer lives in ``cache``
    or in a temporary folder removed when the ``with`` block ends — in :func:`scratch_root`, where the
    folders of killed runs (``kill``, ``kill -9``: a 10 000² run leaves gigabytes) are removed first."""
    from qingshan.engine.derived_cache import (
        DerivedCache,
        _owner,
        ls_source,
        needs_ls,
        sweep_scratch,
    )

    if not needs_ls(m):
        yield {}
    elif cache is not None:
        yield {"ls": ls_source(sources["dem"], grid, pset, DerivedCache(cache), block_size=block)}
    else:
        root = scratch_root()
        sweep_scratch(root)
        with tempfile.TemporaryDirectory(prefix=f".derived-{_owner()}", dir=root) as tmp:
            yield {"ls": ls_source(sources["dem"], grid, pset, DerivedCache(tmp, throwaway=True), block_size=block)}


def _user() -> str:
    """The user's name, or their numeric id when the system knows no name for it (a container run with
    ``--user 12345`` and no ``USER``: ``getpass.getuser`` raised KeyError and soil retention died)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


def scratch_root() -> Path:
    """``<temp dir>/qingshan-scratch-<user>``: the temporary LS folders of ``qingshan compute`` (one per user,
    so that another user's run never finds a folder it cannot write)."""
    root = Path(tempfile.gettempdir()) / f"qingshan-scratch-{_user()}"
    root.mkdir(exist_ok=True)
    return root


_INTERMEDIATE = "~"
"""Prefix of an intermediate layer's key in a block's layers (``~aet``), beside the components."""


def indicator_layers(spec: IndicatorSpec, m: MethodSpec, arrays: dict[str, np.ndarray], pset: ParamSet,
                     grid: Grid) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per-pixel components and intermediates of one indicator on one block (or the whole grid)."""
    inter, _ = _intermediates(spec.id, m.id, arrays, pset, grid)
    if (spec.id, m.id) == ("soil_retention", "rusle"):  # reuse the LS routing of the intermediates
        from qingshan.quantities.soil import soil_retention_components

        layers = soil_retention_components(inter, pset, grid)
    elif (spec.id, m.id) == ("water_conservation", "budyko"):  # reuse the Budyko AET
        layers = water_conservation_balance({**arrays, "aet": inter["aet"]}, pset, grid)
    else:
        layers = m.load()(inputs=arrays, params=pset, grid=grid)
    return layers, inter


def indicator_block(window: Window, grid: Grid, sources: Mapping[str, Source], item: tuple[IndicatorSpec, MethodSpec],
                    pset: ParamSet, keep_layers: bool) -> BlockPartial:
    """One block of :func:`compute_indicator` (a task of :func:`qingshan.engine.blocks.map_blocks`):
    read and validate the window of every input, compute, and sum each component over valid cells."""
    spec, m = item
    with collecting() as found:
        bgrid = block_grid(grid, window)
        inputs = {name: read_window(src, grid, window) for name, src in sources.items()}
        finite = validate_block(inputs, sources, pset)
        layers, inter = indicator_layers(spec, m, inputs, pset, bgrid)
    totals = {c: np.array([[np.nansum(a)]]) for c, a in layers.items()}
    kept = {**layers, **{_INTERMEDIATE + k: v for k, v in inter.items()}} if keep_layers else {}
    return BlockPartial(totals=totals, finite=finite, cells=window.size, layers=kept, notices=list(found))


class _LayerSink:
    """Receives each block's layers in this process: writes them into the output COGs (one
    :class:`~qingshan.io.cog.BlockLayerWriter`) and, with ``keep``, into whole arrays for the result."""

    def __init__(self, spec: IndicatorSpec, inter_units: Mapping[str, str], grid: Grid, output: Path | None,
                 keep: bool, write: Collection[str] | None = None) -> None:
        self.spec, self.inter_units, self.grid, self.output, self.keep = spec, inter_units, grid, output, keep
        self.write = None if write is None else set(write)  # layer names to write (None: all)
        self.arrays: dict[str, np.ndarray] = {}
        self.paths: dict[str, Path] = {}  # layer key → final file
        self.writer: BlockLayerWriter | None = None  # opened with the first block (bad input: no folder made)
        self.made = [d for d in (output.parent, *output.parent.parents) if not d.exists()] if output else []

    def __enter__(self) -> _LayerSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None or self.output is None:
            return
        if self.writer is not None:
            self.writer.abort()
        for folder in self.made:  # the folders this call created, innermost first: nothing half-written is left
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def __call__(self, window: Window, part: BlockPartial) -> None:
        if self.output is not None and self.writer is None:
            self.writer = BlockLayerWriter(self.output.parent, self.grid, scope=None)
            comps = [k for k in part.layers if not k.startswith(_INTERMEDIATE)]
            inter = [k[1:] for k in part.layers if k.startswith(_INTERMEDIATE)]
            named = output_paths(self.output, comps, inter)
            self.paths = {(k if k in comps else _INTERMEDIATE + k): path for k, path in named.items()
                          if self.write is None or k in self.write}
        for key, arr in part.layers.items():
            if self.keep:
                self.arrays.setdefault(key, np.full(self.grid.shape, np.nan))[window.slices()] = arr
            if self.writer is not None and key in self.paths:
                units, desc = self._tags(key)
                self.writer.write(_stem(self.paths[key]), window, arr, units=units, description=desc)

    def _tags(self, key: str) -> tuple[str, str]:
        if key.startswith(_INTERMEDIATE):
            name = key[1:]
            return self.inter_units[name], f"{self.spec.id} intermediate '{name}'"
        return self.spec.component(key).unit, f"{self.spec.id}.{key} per pixel per year"

    def finish(self) -> list[Path]:
        """Convert the written layers to COGs at their final paths (in :func:`output_paths` order)."""
        if self.writer is None:
            return []
        self.writer.finish()
        for path in self.paths.values():
            made = path.parent / f"{_stem(path)}.tif"
            if made != path:
                os.replace(made, path)
        return list(self.paths.values())

    def components(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self.arrays.items() if not k.startswith(_INTERMEDIATE)}

    def intermediates(self) -> dict[str, np.ndarray]:
        return {k[1:]: v for k, v in self.arrays.items() if k.startswith(_INTERMEDIATE)}


def _stem(path: Path) -> str:
    """Name of ``path`` without its ``.tif`` (the writer's layer name)."""
    return path.name[:-4] if path.name.endswith(".tif") else path.name


def output_paths(output: str | Path, components: list[str], extra: list[str] = ()) -> dict[str, Path]:  # type: ignore[assignment]
    """File of each layer: ``OUT.tif`` for a single component, else ``OUT.<name>.tif``."""
    out = Path(output)
    stem = out.with_suffix("") if out.suffix.lower() in (".tif", ".tiff") else out
    paths = {c: out if len(components) == 1 else Path(f"{stem}.{c}.tif") for c in components}
    paths.update({n: Path(f"{stem}.{n}.tif") for n in extra})
    return paths


def _check_method(spec: IndicatorSpec, m: MethodSpec, inputs: Mapping[str, RasterLike]) -> None:
    if m.kind != "raster":
        raise InputError(
            f"Method '{m.id}' of '{spec.id}' works on statistics tables, not rasters",
            f"指标 '{spec.id}' 的方法 '{m.id}' 基于统计表，不能逐像元计算",
            field="method",
            fix="Use `qingshan account` (config with [tables] statistics) or `qingshan value` for table methods.",
            fix_zh="统计表方法请使用 `qingshan account` 或 `qingshan value`。",
        )
    accepted = (*m.inputs, *m.optional_inputs)
    for name in inputs:
        if name not in accepted:
            raise InputError(
                f"'{spec.id}' (method {m.id}) takes no input '{name}'; it takes {', '.join(accepted)}",
                f"指标 '{spec.id}'（方法 {m.id}）没有输入 '{name}'；可用输入：{', '.join(accepted)}",
                field=name,
                fix=f"Rename the input to one of: {', '.join(accepted)} (see `qingshan indicators show {spec.id}`).",
                fix_zh=f"请改用以下输入名之一：{', '.join(accepted)}（见 `qingshan indicators show {spec.id}`）。",
            )
    for name in m.inputs:
        if name not in inputs:
            v = VARIABLES[name]
            raise InputError(
                f"'{spec.id}' (method {m.id}) needs the input '{name}' ({v.description}, {v.units})",
                f"指标 '{spec.id}'（方法 {m.id}）需要输入 '{name}'（{v.name_zh}，{v.units}）",
                field=name,
                fix=f"Add --input {name}=PATH.tif.",
                fix_zh=f"请添加 --input {name}=路径.tif。",
            )


def _param_set(
    params: str | Path | ParameterTable | None,
    landcover: str | Path | LandcoverTable | None,
    options: Mapping[str, object] | None,
    overrides: Mapping[str, float] | None,
) -> ParamSet:
    table = params if isinstance(params, ParameterTable) else ParameterTable.from_csv(params or DEFAULT_PARAMS)
    if overrides:
        table = table.with_overrides(overrides)
    from qingshan.core.param_bounds import check_parameter_bounds

    check_parameter_bounds(table)  # a share written in percent
    lc = landcover if isinstance(landcover, LandcoverTable) else LandcoverTable.from_csv(landcover or DEFAULT_LANDCOVER)
    return ParamSet(table, lc, dict(options or {}))


def _reference_grid(inputs: Mapping[str, RasterLike]) -> Grid:
    paths = {n: v for n, v in inputs.items() if not isinstance(v, np.ndarray)}
    if not paths:
        raise InputError(
            "All inputs are arrays: give the grid they are on",
            "所有输入均为数组：请提供其所在格网 grid",
            field="grid",
            fix="Pass grid=Grid.from_crs(crs, transform, height, width), or give one input as a raster file.",
            fix_zh="请传入 grid=Grid.from_crs(...)，或至少以文件形式提供一个输入。",
        )
    ref = "lulc" if "lulc" in paths else next(iter(paths))
    return grid_of(paths[ref])


def _sources(inputs: Mapping[str, RasterLike], grid: Grid, resample: bool,
             plausibility: Mapping[str, object] | None) -> dict[str, Source]:
    """Plausibility of each raster file and its place on ``grid``; arrays checked for shape (ranges: per block)."""
    paths = {}
    out: dict[str, Source] = {}
    for name, value in inputs.items():
        if isinstance(value, np.ndarray):
            arr = np.asarray(value, dtype=np.float64)
            if arr.shape != grid.shape:
                raise InputError(
                    f"Array input '{name}' has shape {arr.shape}, the grid is {grid.shape}",
                    f"数组输入 '{name}' 的形状 {arr.shape} 与格网 {grid.shape} 不一致",
                    field=name,
                    fix="Give arrays of the grid's shape (rows, cols).",
                    fix_zh="请提供与格网形状（行，列）一致的数组。",
                )
            out[name] = ArraySource(name, arr)
        else:
            check_raster(value, name, plausibility, context="compute")
            paths[name] = Path(value)
    out.update(sources_on_grid(paths, grid, resample=resample))
    return out


def _intermediates(
    indicator: str, method: str, arrays: dict[str, np.ndarray], pset: ParamSet, grid: Grid
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    entry = _INTERMEDIATES.get((indicator, method))
    if entry is None:
        return {}, {}
    fn, units_of = entry
    layers = fn(arrays, pset, grid)
    units = units_of()
    return layers, {k: units[k] for k in layers}


def _check_layers(spec: IndicatorSpec, m: MethodSpec, layers: Collection[str] | None) -> None:
    known = [c.id for c in spec.components] + list(m.intermediates)
    unknown = sorted(set(layers or ()) - set(known))
    if unknown:
        raise InputError(
            f"Unknown layer(s) {', '.join(unknown)} for {spec.id} ({m.id})",
            f"{spec.id}（{m.id}）没有图层 {', '.join(unknown)}",
            field="layer",
            fix=f"Choose among: {', '.join(known)}.",
            fix_zh=f"可选图层：{', '.join(known)}。",
        )

