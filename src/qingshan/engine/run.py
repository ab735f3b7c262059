"""``account``: one accounting run as a list of named steps.

    plan → load_tables → load_regions → [per year: blocks (read windows → validate → compute →
    aggregate → per-cell COGs)] → value → roll_up → record (with a lease) → artifacts (sealed) →
    export copy → store (one transaction)

There is one engine: the compute and aggregation steps run block by block
(:mod:`qingshan.engine.blockwise`, with ``[run] block_size`` and ``[run] scheduler``); the whole grid
is the one-block case. This module holds the steps around them (plan, tables, regions, valuation,
record, artifacts, content hash).

Inputs are validated, and indicators computed and valued, before the run is recorded, so bad
input leaves no trace but its error message; a failure after that (artifacts, export, store) is
recorded as a failed run. The run's files are written once into ``<data dir>/runs/<run id>/``
(read-only, see :mod:`qingshan.store.artifacts`); the output folder receives a copy, replaced
atomically. The content hash covers what the run means, not where its files are (:func:`content_hash`).
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qingshan import __version__
from qingshan.aggregate.regions import RegionSet
from qingshan.aggregate.zonal import ZoneWeights, roll_up
from qingshan.core.errors import ConfigError, InputError, QingshanError
from qingshan.core.grid import Grid
from qingshan.core.notices import Notice
from qingshan.core.param_bounds import check_parameter_bounds
from qingshan.core.params import ECOSYSTEMS, LandcoverTable, ParameterTable, ParamSet, file_sha256
from qingshan.core.spec import IndicatorSpec, MethodSpec
from qingshan.core.tables import read_csv_table
from qingshan.core.variables import VARIABLES
from qingshan.engine import qc
from qingshan.engine.caps import cap_rules
from qingshan.engine.config import RunConfig
from qingshan.engine.statistics_items import check_statistics_items
from qingshan.engine.valuation import value_rows
from qingshan.indicators import registry
from qingshan.indicators.registry import Profile
from qingshan.io.plausibility import check_inputs
from qingshan.io.rasters import grid_of, read_aligned
from qingshan.quantities.statistics import STATISTICS_COLUMNS, check_statistics_rows
from qingshan.quantities.statistics_bounds import check_statistics_bounds
from qingshan.valuation.price_bounds import check_price_bounds
from qingshan.valuation.prices import Deflator, PriceTable

if TYPE_CHECKING:
    from qingshan.engine.extent import BasisInBackground

__all__ = ["Plan", "RunOutcome", "Tables", "account", "content_hash", "store_url_of", "write_artifacts"]

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Plan:
    """What will be computed: the profile, and for each indicator the chosen method."""

    profile: Profile
    items: tuple[tuple[IndicatorSpec, MethodSpec], ...]
    excluded: tuple[tuple[str, str], ...] = ()
    """(indicator id, reason) of the profile's indicators left out by the config's ``exclude``."""

    @property
    def raster_inputs(self) -> set[str]:
        """Canonical raster variables some method needs."""
        return {i for _, m in self.items if m.kind == "raster" for i in m.inputs}


@dataclass
class Tables:
    """Every table of a run, read and checked."""

    params: ParamSet
    prices: PriceTable
    deflator: Deflator | None
    statistics: pd.DataFrame | None
    products: pd.DataFrame | None
    hashes: dict[str, str] = field(default_factory=dict)
    cap_report: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RunOutcome:
    """What a finished run produced."""

    run_id: str
    results: pd.DataFrame
    regions: RegionSet
    output_dir: Path
    provenance: dict[str, Any]
    files: list[Path]
    artifacts_dir: Path | None = None  # <data dir>/runs/<run id> (read-only)


def plan(config: RunConfig) -> Plan:
    """Resolve the profile and check that every raster input it needs is configured."""
    reg = registry()
    profile = reg.profile(config.run.profile)
    excluded = qc.exclusions(config, profile)
    items = []
    for entry in profile.entries:
        spec = reg.get(entry.indicator)
        if spec.id in excluded:
            continue
        method = spec.method(str(config.options.get(f"{spec.id}.method", entry.method or spec.default_method)))
        items.append((spec, method))
    p = Plan(profile=profile, items=tuple(items), excluded=tuple(excluded.items()))
    for name in sorted(p.raster_inputs):
        if name not in config.inputs:
            users = [s.id for s, m in p.items if name in m.inputs]
            raise ConfigError(
                f"Input raster '{name}' is needed by {', '.join(users)} but not given",
                f"指标 {', '.join(users)} 需要栅格输入 '{name}'（{VARIABLES[name].name_zh}），配置中未提供",
                file=config.source_path,
                field=f"inputs.{name}",
                fix=f"Add {name} = \"PATH.tif\" under [inputs] ({VARIABLES[name].description}, {VARIABLES[name].units}), "
                    f"or exclude the indicator with a reason: exclude = [{{id = \"{users[0]}\", reason = \"…\"}}].",
                fix_zh=f"请在 [inputs] 中添加 {name} = \"路径.tif\"，或显式排除该指标并说明原因：exclude = [{{id = \"{users[0]}\", reason = \"…\"}}]。",
            )
    for name in config.inputs:
        if name not in VARIABLES:
            raise ConfigError(
                f"Unknown input name '{name}'",
                f"未知的输入名称 '{name}'",
                file=config.source_path,
                field=f"inputs.{name}",
                fix=f"Known inputs: {', '.join(sorted(VARIABLES))}.",
                fix_zh=f"可用输入：{', '.join(sorted(VARIABLES))}。",
            )
    if config.run.base_year is not None and config.tables.deflator is None:
        others = [y for y in config.run.years if y != config.run.base_year]
        if others:
            raise ConfigError(
                f"Comparable prices for {others} at base year {config.run.base_year} need a deflator table",
                "计算可比价需要价格指数表",
                file=config.source_path,
                field="tables.deflator",
                fix="Set [tables] deflator = 'deflator.csv' (columns year,index,source).",
                fix_zh="请在 [tables] 中设置 deflator（列：year,index,source）。",
            )
    return p


def load_tables(config: RunConfig, p: Plan) -> Tables:
    """Read parameter, land-cover, price, deflator, statistics and product tables."""
    t = config.tables
    merged: dict[str, Any] = {}
    hashes: dict[str, str] = {}
    for path in t.parameters:
        tbl = ParameterTable.from_csv(path)
        merged.update(tbl.params)
        hashes[str(path)] = file_sha256(path)
    scalars = ParameterTable(params=merged, path=", ".join(str(x) for x in t.parameters) or "<none>")
    if config.parameters:
        scalars = scalars.with_overrides(config.parameters)
    check_parameter_bounds(scalars, config_path=config.source_path)  # a share written in percent
    landcover = LandcoverTable.from_csv(t.landcover) if t.landcover else None
    if t.landcover:
        hashes[str(t.landcover)] = file_sha256(t.landcover)
    deflator = Deflator.from_csv(t.deflator) if t.deflator else None
    prices = PriceTable.from_csv(t.prices, deflator=deflator, policy=config.prices.year_policy)
    for extra in (t.prices, t.deflator, t.statistics, t.products):
        if extra:
            hashes[str(extra)] = file_sha256(extra)
    stats = products = None
    if any(m.kind == "table" for _, m in p.items) or cap_rules(p.items):
        if t.statistics is None or t.products is None:
            raise ConfigError(
                "Provisioning indicators need [tables] statistics and products",
                "物质产品指标需要配置统计数据表 statistics 和产品表 products",
                file=config.source_path,
                field="tables.statistics",
                fix="Set both paths (see docs/formats.md).",
                fix_zh="请设置两个表的路径（见 docs/formats.md）。",
            )
        stats = check_statistics_rows(read_csv_table(t.statistics, STATISTICS_COLUMNS, what="statistics table", what_zh="统计数据表"), t.statistics)
        products = read_csv_table(t.products, ["item", "name_zh", "name_en", "indicator", "ecosystem", "unit"], what="product table", what_zh="产品表")
        check_statistics_items(stats, products, p.items, p.profile, str(t.statistics))  # rows nothing reads
    options = {**p.profile.options, **config.options}
    check_price_bounds(prices, accept=options.get("price_bounds_accept", []))  # 元/kg as 元/t, 元 as 万元
    return Tables(ParamSet(scalars, landcover, options), prices, deflator, stats, products, hashes)


def load_regions(config: RunConfig) -> RegionSet:
    """Build the administrative hierarchy from the boundary file."""
    r = config.regions
    return RegionSet.from_file(r.file, levels=r.levels, code_fields=r.code_fields, name_fields=r.name_fields,
                               overlap_tolerance_km2=r.overlap_tolerance_km2, gap_tolerance_km2=r.gap_tolerance_km2)


def check_statistics(tables: Tables, regions: RegionSet) -> None:
    """Plausibility bounds of the statistics rows (per km² of region, per capita); option ``statistics_bounds_accept``."""
    accept = tables.params.option("statistics_bounds_accept", [])
    check_statistics_bounds(tables.statistics, regions, accept=accept if isinstance(accept, list) else [str(accept)])


def check_statistics_landcover(tables: Tables, regions: RegionSet, weights: ZoneWeights, eco: np.ndarray, grid: Grid, year: int) -> None:
    """Statistics bounds per hm² of an ecosystem type (e.g. rice per hm² of cropland), areas from the land cover of ``year``."""
    if tables.statistics is None or tables.params.landcover is None:
        return
    hm2 = weights.totals_by_ecosystem(grid.cell_area() / 1e4, eco)
    check_statistics_hm2(tables, regions, weights.codes, hm2, year)


def check_statistics_hm2(tables: Tables, regions: RegionSet, codes: Sequence[str], hm2: np.ndarray, year: int) -> None:
    """:func:`check_statistics_landcover` from the areas [hm²] of each leaf region (rows, in ``codes`` order)
    by ecosystem type (columns, ``ECOSYSTEMS``), as the engine sums them block by block."""
    if tables.statistics is None or tables.params.landcover is None:
        return
    leaf = {str(c): dict(zip(ECOSYSTEMS, map(float, row), strict=True)) for c, row in zip(codes, hm2, strict=True)}
    accept = tables.params.option("statistics_bounds_accept", [])
    check_statistics_bounds(tables.statistics, regions, accept=accept if isinstance(accept, list) else [str(accept)],
                            leaf_ecosystem_hm2=leaf, year=year)


def reference_grid(config: RunConfig, year: int) -> Grid:
    """The accounting grid of ``year``: the grid of the input named by ``[grid] reference``."""
    if config.grid.reference not in config.inputs:
        raise ConfigError(
            f"Grid reference '{config.grid.reference}' is not an input",
            f"参考格网 '{config.grid.reference}' 不在输入中",
            file=config.source_path,
            field="grid.reference",
            fix="Name one of the [inputs] as the reference grid.",
            fix_zh="请将 [inputs] 中的一个栅格设为参考格网。",
        )
    return grid_of(config.input_path(config.grid.reference, year))


def check_grid_meets_regions(config: RunConfig, grid: Grid, regions: RegionSet, year: int) -> None:
    """Refuse an accounting grid that does not meet the regions at all, naming the reference raster.

    Found: a land-cover raster (the reference) with its coordinates in degrees but labelled UTM 50N made a grid of
    a few metres near the zone's origin — inside that CRS's area of use, so its own checks passed — and the run
    stopped at the first other input with "Raster 'aet' has no valid cells", blaming a good file.
    """
    from rasterio.warp import transform_bounds

    leaves = regions.leaves
    try:
        rb = transform_bounds(leaves.crs.to_wkt(), grid.crs_wkt, *leaves.total_bounds, densify_pts=21)
    except Exception:  # the regions cannot be placed in the grid's CRS at all: the next checks say more
        return
    gl, gb, gr, gt = grid.bounds
    left, bottom, right, top = rb
    if all(np.isfinite(rb)) and left < gr and right > gl and bottom < gt and top > gb:
        return
    path = config.input_path(config.grid.reference, year)
    raise InputError(
        f"The accounting grid of {path.name} (the reference '{config.grid.reference}', x {gl:.6g}…{gr:.6g}, "
        f"y {gb:.6g}…{gt:.6g} in its CRS) does not meet the regions of {Path(str(config.regions.file)).name} "
        f"(x {left:.6g}…{right:.6g}, y {bottom:.6g}…{top:.6g} there): its CRS label is likely wrong "
        "(coordinates in degrees labelled as metres, or another zone), or the raster covers another area",
        f"{path.name}（参考格网 '{config.grid.reference}'）的核算格网（其坐标系下 x {gl:.6g}…{gr:.6g}，"
        f"y {gb:.6g}…{gt:.6g}）与 {Path(str(config.regions.file)).name} 中的行政区不相交：其坐标系标注可能有误"
        "（经纬度被标为米制投影，或投影带不对），或栅格覆盖的是其他区域",
        file=path,
        field="crs",
        fix=f"Label {path.name} with the CRS its coordinates are really in (e.g. gdal_edit.py -a_srs EPSG:4326 "
            f"{path.name} for degrees), or give a raster of the regions' area.",
        fix_zh=f"请为 {path.name} 标注其坐标真正所属的坐标系（经纬度如 gdal_edit.py -a_srs EPSG:4326 {path.name}），"
               "或提供覆盖核算区域的栅格。",
    )


def plan_inputs(config: RunConfig, p: Plan) -> set[str]:
    """Raster inputs a run reads each year: those a method needs, and the optional ones the config gives."""
    return p.raster_inputs | {n for _, m in p.items for n in m.optional_inputs if n in config.inputs}


def load_inputs(config: RunConfig, p: Plan, year: int, tables: Tables) -> tuple[Grid, dict[str, np.ndarray], dict[str, str]]:
    """Read, validate and align every raster input of ``year`` whole onto the reference grid (with their SHA-256).

    Not the engine's path (it reads windows, :mod:`qingshan.engine.blockwise`): for tools and tests
    that want a year's inputs as arrays, with the engine's checks (plausibility, ranges, land-cover codes).
    """
    needed = plan_inputs(config, p)
    check_inputs({n: config.input_path(n, year) for n in needed}, config.plausibility)  # unit mistakes first
    grid = reference_grid(config, year)
    arrays = read_whole_inputs(config, sorted(needed), grid, year, tables.params)
    return grid, arrays, {str(config.input_path(n, year)): file_sha256(config.input_path(n, year)) for n in sorted(needed)}


def read_whole_inputs(config: RunConfig, names: Sequence[str], grid: Grid, year: int, params: ParamSet) -> dict[str, np.ndarray]:
    """Inputs ``names`` of ``year`` read whole onto ``grid`` (resampled if ``[grid] resample``), with
    range and land-cover-code checks: what a method that is not block-wise reads."""
    arrays = {n: read_aligned(config.input_path(n, year), n, grid, allow_resample=config.grid.resample) for n in names}
    if "lulc" in arrays and params.landcover is not None:
        lulc = arrays["lulc"]
        params.landcover.check_codes(lulc[np.isfinite(lulc)].astype(np.int64), raster=str(config.input_path("lulc", year)))
    return arrays


def compute_raster(spec: IndicatorSpec, method: MethodSpec, inputs: dict[str, np.ndarray], params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Call a raster quantity function and check what it returns."""
    fn = method.load()
    out = fn(inputs=inputs, params=params, grid=grid)
    for comp, arr in out.items():
        spec.component(comp)
        if arr.shape != grid.shape:
            raise AssertionError(f"{spec.id}.{comp}: shape {arr.shape} != grid {grid.shape}")
        if np.nanmin(arr, initial=0.0) < 0:
            raise AssertionError(f"{spec.id}.{comp}: negative quantities")
    return out


def _config_meaning(config: RunConfig, hashes: dict[str, str]) -> dict[str, Any]:
    """The config without locations: no paths (each input file stands as its SHA-256), no run name,
    output folder, store, data dir or execution settings (engine, blocks, scheduler)."""
    def sha(path: Path | str) -> str:
        return hashes.get(str(path)) or file_sha256(path)

    data = config.model_dump(mode="json", exclude={"source_path": True, "run": {
        "output", "store", "name", "data_dir", "engine", "block_size", "scheduler"}})
    data["regions"]["file"] = sha(config.regions.file)
    data["inputs"] = {name: {str(y): sha(config.input_path(name, y)) for y in config.run.years}
                      for name in sorted(config.inputs)}
    for key, value in config.tables.model_dump().items():
        if isinstance(value, list):
            data["tables"][key] = [sha(v) for v in value]
        elif value is not None:
            data["tables"][key] = sha(value)
    return data


def content_hash(config: RunConfig, p: Plan, tables: Tables, hashes: dict[str, str],
                 prices_used: Sequence[dict[str, Any]]) -> str:
    """SHA-256 of what a run means, not where it ran: input bytes, config meaning, parameter and
    price values used, the profile and the code (package version and sources hash)."""
    from qingshan.core.codeversion import code_version

    code = code_version()
    payload = {
        "code": [code["version"], code["sources_sha256"]],
        "config": _config_meaning(config, hashes),
        "parameters": {k: [v.value, v.unit] for k, v in sorted(tables.params.scalars.params.items())},
        "prices": sorted(({k: v for k, v in r.items() if k not in ("source", "note")} for r in prices_used),
                         key=lambda r: json.dumps(r, sort_keys=True, default=str)),
        "profile": {"id": p.profile.id, "methods": {s.id: m.id for s, m in p.items},
                    "options": dict(tables.params.options)},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def store_url_of(config: RunConfig, store_url: str | None = None) -> str:
    """The results store of a run: the given URL, the config's, or SQLite beside the output folder."""
    return store_url or config.run.store or f"sqlite:///{Path(config.run.output).parent / 'qingshan.sqlite'}"


def _noop(step: str, fraction: float) -> None:
    return None


def account(config: RunConfig, *, store_url: str | None = None, progress: Progress = _noop,
            scheduler: Any = None, block_size: int | None = None, rasters: bool = True) -> RunOutcome:
    """Run an accounting end to end and return what it produced (see module docstring).

    The one engine (:func:`qingshan.engine.blockwise.account_blockwise`): block by block, with the
    whole grid as the one-block case. ``scheduler`` (default ``[run] scheduler``, else local threads):
    ``"threads"``, ``"processes"``, a ``dask.distributed.Client`` or a scheduler address
    ``tcp://host:8786``; ``block_size`` (default ``[run] block_size``) [cells]; ``rasters``: write the
    per-cell COGs.
    """
    from qingshan.engine.blockwise import account_blockwise

    return account_blockwise(config, block_size=block_size or config.run.block_size,
                             client=scheduler if scheduler is not None else config.run.scheduler,
                             store_url=store_url, progress=progress, rasters=rasters)


def value_record_export(
    config: RunConfig,
    p: Plan,
    tables: Tables,
    regions: RegionSet,
    leaf_rows: pd.DataFrame,
    hashes: dict[str, str],
    t0: float,
    *,
    layers_by_year: dict[int, dict[str, np.ndarray]] | None = None,
    grid: Grid | None = None,
    store_url: str | None = None,
    progress: Progress = _noop,
    extra_provenance: dict[str, Any] | None = None,
    cogs: Sequence[Path] | Callable[[], Sequence[Path]] = (),
    notices: list[Notice] | None = None,
    client: Any = None,
    basis: BasisInBackground | None = None,
) -> RunOutcome:
    """The steps every engine shares after computing leaf rows: value → roll up → record → artifacts → store.

    Values are computed and every artifact is written (into a temporary folder of the data dir) before
    the run is recorded, so bad statistics, a missing price or a failed export leave no trace; then
    the run is recorded, its artifacts sealed read-only as ``<data dir>/runs/<run id>``
    (:mod:`qingshan.store.artifacts`) and copied to the output folder. A failure after ``start_run``
    marks the run failed and deletes its artifacts. The run holds a lease while it is recorded
    ``running`` (:mod:`qingshan.store.lifecycle`).
    ``cogs``: per-cell COGs an engine has written, in a folder of the data dir's ``runs/`` (moved into
    the artifacts' ``rasters/``), or a callable that returns them once written (called after the tables
    and the workbook are written: an engine converts its layers meanwhile). ``notices``: the list the run's notices are
    collected into (its QC report lists them). ``client``: where the SEEA basis's blocks run (the run's
    scheduler, see :func:`~qingshan.engine.blocks.open_scheduler`; default local threads). ``basis``: the SEEA
    basis already started beside the blocks (:class:`~qingshan.engine.extent.BasisInBackground`); its error, like
    bad statistics, stops the run before it is recorded.
    """
    from qingshan.store import artifacts, repo
    from qingshan.store.db import open_store
    from qingshan.store.lifecycle import LeaseKeeper, lease_expiry

    base_year = config.run.base_year or config.run.years[0]
    not_computed = qc.check_coverage(config, p, leaf_rows, regions)  # required indicator without data: error
    progress("value", 0.8)
    valued, prices_used = value_rows(leaf_rows, prices=tables.prices, regions=regions, base_year=base_year, deflator=tables.deflator)
    results = _roll_up_valued(valued, regions)
    digest = content_hash(config, p, tables, hashes, prices_used)

    url = store_url_of(config, store_url)
    data_dir = artifacts.data_dir_for(url, config.run.data_dir)
    factory = open_store(url)
    run_id = str(uuid.uuid4())
    provenance = {**_provenance(config, p, tables, hashes, prices_used, digest, t0), **(extra_provenance or {})}
    provenance["qc"] = qc.build_report(config=config, p=p, tables=tables, results=results, regions=regions,
                                       prices_used=prices_used, notices=notices or [], not_computed=not_computed,
                                       hashes=hashes, store=factory)
    provenance["example"] = provenance["qc"]["example_data"]
    progress("export", 0.9)
    written = artifacts.make_tmp(artifacts.runs_root(data_dir))
    try:  # every file is written before the run is recorded: an error here leaves no run and no file
        write_artifacts(written, results, regions, layers_by_year or {}, grid, config, provenance, run_id, cogs=cogs,
                        client=client, basis=basis)
    except BaseException:
        artifacts.remove_tree(written)
        raise

    holder = artifacts.holder()
    repo.start_run(factory, run_id=run_id, name=config.run.name, profile=p.profile.id, years=config.run.years,
                   base_year=base_year, config=config.model_dump(mode="json"), code_version=__version__,
                   lease_holder=holder, lease_expires_at=lease_expiry())
    staging: Path | None = written
    sealed: Path | None = None
    try:
        with LeaseKeeper(factory, run_id, holder):
            rel, manifest = artifacts.seal(written, data_dir, run_id)
            sealed, staging = data_dir / rel, None
            files = artifacts.export_copy(sealed, Path(config.run.output), manifest)
            repo.finish_run_succeeded(factory, run_id, results=results, regions=_region_rows(regions),
                                      provenance=provenance, output_dir=str(config.run.output), content_hash=digest,
                                      artifacts_dir=rel, artifacts=manifest)
    except BaseException as exc:
        error = exc.to_dict() if isinstance(exc, QingshanError) else {"error": type(exc).__name__, "message_en": str(exc)}
        if not repo.finish_run_failed(factory, run_id, error) and _committed(repo.get_run_row(factory, run_id)):
            sealed = None  # the error came after the run was committed succeeded: its files are the run's
        for folder in (staging, sealed):
            if folder is not None:
                artifacts.remove_tree(folder)
        raise
    progress("done", 1.0)
    return RunOutcome(run_id, results, regions, Path(config.run.output), provenance, files, artifacts_dir=sealed)


def _committed(row: Any) -> bool:
    """Whether a run's stored row (``repo.get_run_row``) says ``succeeded``."""
    return row is not None and row.status == "succeeded"


def write_artifacts(folder: Path, results: pd.DataFrame, regions: RegionSet, layers: dict[int, dict[str, np.ndarray]],
                    grid: Grid | None, config: RunConfig, provenance: dict[str, Any], run_id: str, *,
                    cogs: Sequence[Path] | Callable[[], Sequence[Path]] = (), client: Any = None,
                    basis: BasisInBackground | None = None) -> None:
    """Every file of a run into ``folder``: the exports, the SEEA basis (``seea/``), and the inputs its readers
    need later (``inputs/``: land cover for parcels, the statistics table for GDP), so that nothing outside the
    folder is read again.

    The SEEA basis (blocks of raster reads and coverage, on ``client``) is written while the exports (tables and
    the workbook: Python, one core) are: side by side, not one after the other. Both have ended when this returns
    or raises. ``basis``: one already written beside the blocks (:class:`~qingshan.engine.extent.BasisInBackground`),
    moved into ``folder``.
    """
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    from qingshan.engine.export import export_all
    from qingshan.engine.extent import write_seea_basis  # SEEA extent and condition basis (seea/)

    if basis is not None:
        export_all(results, regions, layers, grid, config, provenance, run_id, cogs=cogs, dest=folder)
        basis.move_into(folder)
    else:
        with ThreadPoolExecutor(1, thread_name_prefix="seea") as pool:  # leaving waits for the basis, even on an error
            started = pool.submit(contextvars.copy_context().run, write_seea_basis, folder, regions, config,
                                  client=client)
            export_all(results, regions, layers, grid, config, provenance, run_id, cogs=cogs, dest=folder)
        started.result()  # the basis's own error, once the exports are written
    if config.tables.statistics is not None:
        (folder / "inputs").mkdir(exist_ok=True)
        shutil.copyfile(config.tables.statistics, folder / "inputs" / "statistics.csv")
    if "lulc" in config.inputs and config.tables.landcover is not None:
        (folder / "inputs").mkdir(exist_ok=True)
        shutil.copyfile(config.tables.landcover, folder / "inputs" / "landcover.csv")
        for year in config.run.years:
            shutil.copyfile(config.input_path("lulc", year), folder / "inputs" / f"lulc.{year}.tif")


LEAF_COLUMNS = ["region_code", "year", "indicator", "component", "ecosystem", "quantity", "unit"]


def leaf_frame(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Leaf rows of every indicator and year in one frame (empty, with the columns, when none has rows)."""
    kept = [f for f in frames if not f.empty]
    return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=LEAF_COLUMNS)


def _roll_up_valued(valued: pd.DataFrame, regions: RegionSet) -> pd.DataFrame:
    keys = ["year", "indicator", "category", "component", "ecosystem", "unit", "price_unit"]
    vals = ["quantity", "value", "value_comparable"]
    v = valued.copy()
    v["price_unit"] = v["price_unit"].fillna("")
    has_value = v["value"].notna()
    v[["value", "value_comparable"]] = v[["value", "value_comparable"]].astype(float)
    rolled = roll_up(v, regions, keys=keys, value_cols=vals)
    # groupby-sum turns all-NaN groups into 0: restore "no value" for unvalued components
    unvalued = set(v.loc[~has_value, "component"]) - set(v.loc[has_value, "component"])
    rolled.loc[rolled["component"].isin(unvalued), ["value", "value_comparable"]] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        rolled["price"] = np.where(rolled["quantity"] > 0, rolled["value"] / rolled["quantity"], np.nan)
    rolled["price_unit"] = rolled["price_unit"].replace("", None)
    return rolled.reset_index(drop=True)


def _region_rows(regions: RegionSet) -> list[dict[str, Any]]:
    from qingshan.engine.export import region_geometries

    geoms = region_geometries(regions)
    out = []
    for r in regions:
        g = geoms.get(r.code)
        out.append({"code": r.code, "name": r.name, "level": r.level, "parent": r.parent,
                    "area_km2": g[1] if g else None, "geometry": g[0] if g else None})
    return out


def _provenance(config: RunConfig, p: Plan, tables: Tables, hashes: dict[str, str], prices: list[dict[str, object]], content_hash: str, t0: float) -> dict[str, Any]:
    from qingshan.core.codeversion import code_version

    scalars = tables.params.scalars
    return {
        "qingshan_version": __version__,
        "python": platform.python_version(),
        "profile": {"id": p.profile.id, "status": p.profile.status, "options": dict(tables.params.options)},
        "methods": {s.id: m.id for s, m in p.items},
        "input_hashes": hashes,
        "parameters": {k: {"value": v.value, "unit": v.unit, "source": v.source, "certainty": v.certainty} for k, v in scalars.params.items()},
        "prices": prices,
        "deflator": tables.deflator.source if tables.deflator else None,
        "emission_caps": tables.cap_report,
        "content_hash": content_hash,
        "code": code_version(),
        "started": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
        "seconds": round(time.time() - t0, 2),
    }


def replace_dir(tmp: Path, final: Path) -> None:
    """Move a complete temporary folder to ``final``, replacing an older one."""
    old = final.with_name(final.name + ".old")
    if final.exists():
        if old.exists():
            shutil.rmtree(old)
        final.rename(old)
    tmp.rename(final)
    if old.exists():
        shutil.rmtree(old)
