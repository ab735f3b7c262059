"""Scenarios 情景分析: a run whose inputs differ from a baseline run, and the difference it makes.

A scenario config names only what differs from a stored base run::

    [scenario]
    base = "RUN_ID"                   # optional when given on the command line (must then agree)
    name = "Plan 2030: forest → cropland in one county"
    recompute = []                    # indicators to recompute although unaffected ("*": all)

    [inputs]                          # raster inputs replaced (paths relative to this file; {year} allowed)
    lulc = "plan_2030.tif"

    [parameters]                      # scalar parameters replaced (keys of the parameter table)
    nep_npp_ratio = 0.5

Everything else — boundaries, tables, profile, options, the other inputs — comes from the base run's
stored config, and each of those files must still be what the base run read: its SHA-256 is checked
against the base run's provenance, and a file that changed on disk since is refused (naming the
file), since the scenario would otherwise differ from the base in more than it says.

Only what the changes affect is recomputed (:func:`affected_indicators`): an indicator is recomputed
when its method reads a changed input or parameter (the registry declares ``inputs``,
``optional_inputs`` and ``params`` per method), or — for every raster indicator — when the land
cover (which sets each cell's ecosystem type and the accounted cells) or the reference grid
changes. The rows of every other indicator are copied from the base run (its stored leaf rows,
valued again with the same prices) and its per-cell rasters copied from the base run's sealed
artifacts; the scenario run's provenance says which indicator was recomputed and why, and which were
copied (``provenance["scenario"]``). The scenario is recorded as a new run of its own (immutable, sealed
like any run).

The difference (:func:`difference_tables`, :func:`write_difference`) is scenario − base by indicator,
region and ecosystem type (value) and by component (physical quantity), with the percentage of the
base; per cell, scenario − base of every raster layer as COGs; and a GeoPackage of the regional
differences.
"""

from __future__ import annotations

import shutil
import time
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import ConfigError, InputError
from qingshan.core.notices import collecting
from qingshan.core.params import file_sha256
from qingshan.core.variables import VARIABLES
from qingshan.engine.config import RunConfig

__all__ = [
    "ScenarioOutcome",
    "ScenarioSpec",
    "affected_indicators",
    "base_config",
    "check_base_inputs",
    "compare_runs",
    "difference_rasters",
    "difference_tables",
    "load_scenario",
    "run_scenario",
    "write_difference",
]

YI = 1e8
LAND_COVER = "lulc"
Progress = Callable[[str, float], None]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ScenarioSection(_Strict):
    base: str | None = Field(None, description="id of the base run")
    name: str | None = Field(None, description="name of the scenario run")
    recompute: list[str] = Field(default_factory=list, description="indicators recomputed although unaffected ('*': all)")


class ScenarioSpec(_Strict):
    """What a scenario changes relative to its base run."""

    scenario: ScenarioSection = ScenarioSection()
    inputs: dict[str, str] = Field(default_factory=dict, description="raster inputs replaced: name → path ({year} allowed)")
    parameters: dict[str, float] = Field(default_factory=dict, description="scalar parameters replaced: key → value")
    source_path: Path | None = None


def _bad_scenario(path: Path | None, msg: str, msg_zh: str, *, field: str | None = None, fix: str, fix_zh: str) -> ConfigError:
    return ConfigError(msg, msg_zh, file=path, field=field, fix=fix, fix_zh=fix_zh)


def load_scenario(path: str | Path) -> ScenarioSpec:
    """Read a scenario config (TOML); relative input paths are relative to the file."""
    path = Path(path)
    fix, fix_zh = "See docs/scenarios.md for the scenario config.", "情景配置格式见 docs/scenarios.md。"
    if not path.is_file():
        raise _bad_scenario(path, f"Scenario config not found: {path}", f"找不到情景配置文件：{path}", fix=fix, fix_zh=fix_zh)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _bad_scenario(path, f"Scenario config is not valid UTF-8 TOML: {exc}", f"情景配置不是有效的 UTF-8 TOML 文件：{exc}",
                            fix="Fix the syntax at the line and column given.", fix_zh="请修正所示位置的语法。") from exc
    base = path.parent.resolve()
    data["inputs"] = {k: v if not isinstance(v, str) or Path(v).is_absolute() else str(base / v)
                      for k, v in dict(data.get("inputs", {})).items()}
    data["source_path"] = str(path.resolve())
    try:
        return ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise _bad_scenario(path, f"Scenario config field '{loc}': {err['msg']}", f"情景配置项 '{loc}' 有误：{err['msg']}",
                            field=loc, fix=fix, fix_zh=fix_zh) from exc


# ----------------------------------------------------------------------------- the base run
def base_config(run: Any) -> RunConfig:
    """The stored config of a base run (absolute paths, as it ran)."""
    try:
        return RunConfig.model_validate(run.config)
    except ValidationError as exc:
        raise InputError(
            f"Run '{run.id}' has no usable stored config, so it cannot be a scenario's base",
            f"核算记录 '{run.id}' 没有可用的配置记录，不能作为情景的基准",
            field="scenario.base",
            fix="Choose a run made by `qingshan account` or a platform job (see `qingshan runs`).",
            fix_zh="请选择由 `qingshan account` 或平台任务生成的核算（见 `qingshan runs`）。",
        ) from exc


def check_base_inputs(run: Any) -> dict[str, str]:
    """Every file the base run read must still hash as its provenance says; returns ``{path: sha256}``."""
    hashes: dict[str, str] = dict((run.provenance or {}).get("input_hashes") or {})
    for path, sha in sorted(hashes.items()):
        if not Path(path).is_file():
            raise InputError(
                f"Input file of base run '{run.id}' is gone: {path}",
                f"基准核算 '{run.id}' 的输入文件已不存在：{path}",
                file=path,
                field="input_hashes",
                fix="Restore the file the base run read (same content), or account a new base run and build the scenario on it.",
                fix_zh="请恢复基准核算所读取的原文件（内容不变），或重新核算一个基准再构建情景。",
            )
        now = file_sha256(path)
        if now != sha:
            raise InputError(
                f"Input file of base run '{run.id}' has changed since it ran: {path} (SHA-256 {now[:12]}…, the run read {sha[:12]}…)",
                f"基准核算 '{run.id}' 的输入文件在核算后已被修改：{path}（现 SHA-256 {now[:12]}…，核算时为 {sha[:12]}…）",
                file=path,
                field="input_hashes",
                fix="Restore the file the base run read, or account a new base run from the changed file and build the scenario on that run.",
                fix_zh="请恢复基准核算时的原文件，或用修改后的文件重新核算基准，再在新基准上构建情景。",
            )
    return hashes


def _check_changes(spec: ScenarioSpec, base: RunConfig) -> None:
    from qingshan.indicators import registry

    where = spec.source_path
    for name in spec.inputs:
        if name not in VARIABLES:
            raise _bad_scenario(where, f"Unknown input name '{name}'", f"未知的输入名称 '{name}'", field=f"inputs.{name}",
                                fix=f"Known inputs: {', '.join(sorted(VARIABLES))}.", fix_zh=f"可用输入：{', '.join(sorted(VARIABLES))}。")
        for year in base.run.years:
            path = Path(spec.inputs[name].replace("{year}", str(year)))
            if not path.is_file():
                raise InputError(f"Scenario input '{name}' for {year} not found: {path}", f"情景输入 '{name}'（{year} 年）不存在：{path}",
                                 file=path, field=f"inputs.{name}",
                                 fix="Give an existing raster (paths are relative to the scenario config).",
                                 fix_zh="请给出存在的栅格文件（相对路径相对于情景配置文件）。")
    for ind in spec.scenario.recompute:
        if ind != "*" and ind not in registry().profile(base.run.profile).indicator_ids:
            raise _bad_scenario(where, f"'{ind}' is not an indicator of profile {base.run.profile}",
                                f"'{ind}' 不是方法配置 {base.run.profile} 的指标", field="scenario.recompute",
                                fix="Name indicator ids of the base run (`qingshan indicators --profile …`), or '*' for all.",
                                fix_zh="请填写基准核算的指标编号（见 `qingshan indicators --profile …`），或用 '*' 表示全部。")


def scenario_config(spec: ScenarioSpec, base: RunConfig, output: Path, name: str) -> RunConfig:
    """The base run's config with the scenario's inputs and parameters replaced."""
    _check_changes(spec, base)
    run = base.run.model_copy(update={"name": name, "output": output})
    return base.model_copy(update={"run": run, "inputs": {**base.inputs, **spec.inputs},
                                   "parameters": {**base.parameters, **spec.parameters}})


# ----------------------------------------------------------------------------- what changes
@dataclass(frozen=True)
class Changes:
    """Inputs (name → {year: (base sha, scenario sha)}) and parameters (key → (base value, scenario value)) that differ."""

    inputs: dict[str, dict[int, tuple[str, str]]] = field(default_factory=dict)
    parameters: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": {n: {str(y): {"base_sha256": a, "scenario_sha256": b} for y, (a, b) in ys.items()}
                           for n, ys in self.inputs.items()},
                "parameters": {k: {"base": a, "scenario": b} for k, (a, b) in self.parameters.items()}}


def changes(base: RunConfig, scen: RunConfig, base_params: Mapping[str, float], scen_params: Mapping[str, float]) -> Changes:
    """What differs between the base and the scenario config: by file content and by parameter value
    (``base_params``: the values the base run used, from its provenance)."""
    inputs: dict[str, dict[int, tuple[str, str]]] = {}
    for name in sorted(scen.inputs):
        for year in scen.run.years:
            new = file_sha256(scen.input_path(name, year))
            old = file_sha256(base.input_path(name, year)) if name in base.inputs else ""
            if new != old:
                inputs.setdefault(name, {})[year] = (old, new)
    params = {k: (float(base_params[k]), float(v)) for k, v in scen_params.items()
              if k in base_params and float(base_params[k]) != float(v)}
    return Changes(inputs, params)


def affected_indicators(items: Iterable[tuple[Any, Any]], changed: Changes, *, grid_reference: str = LAND_COVER,
                        recompute: Iterable[str] = ()) -> dict[str, list[str]]:
    """Indicator id → why it must be recomputed (empty: its rows can be copied from the base run).

    From the registry: a method reads an input (``inputs``/``optional_inputs``) or a scalar parameter
    (``params``, and the components' ``value_factors``); every raster indicator depends on the land
    cover (ecosystem type of each cell, accounted cells) and on the reference grid.
    """
    forced = set(recompute)
    out: dict[str, list[str]] = {}
    for spec, method in items:
        why = []
        for name in changed.inputs:
            if name in method.inputs or name in method.optional_inputs:
                why.append(f"reads input {name}")
            elif method.kind == "raster" and name in (LAND_COVER, grid_reference):
                why.append(f"ecosystem type / accounted cells from {name}")
        keys = {r.key for r in method.params if not r.per_class} | {r.key for c in spec.components for r in c.value_factors}
        why += [f"reads parameter {k}" for k in changed.parameters if k in keys]
        if "*" in forced or spec.id in forced:
            why.append("recompute requested")
        out[spec.id] = why
    return out


# ----------------------------------------------------------------------------- running it
@dataclass
class ScenarioOutcome:
    """A recorded scenario run and its comparison with its base."""

    run_id: str
    base_run_id: str
    recomputed: dict[str, list[str]]
    copied: list[str]
    changes: Changes
    output_dir: Path
    provenance: dict[str, Any]


def _leaf_codes(regions_df: pd.DataFrame) -> set[str]:
    parents = set(regions_df["parent"].dropna().astype(str))
    return {str(c) for c in regions_df["code"] if str(c) not in parents}


def _copied_leaf_rows(cube: pd.DataFrame, regions_df: pd.DataFrame, indicators: set[str]) -> pd.DataFrame:
    """The base run's leaf rows of ``indicators``, in stored order (quantities as the base computed them)."""
    from qingshan.engine.run import LEAF_COLUMNS

    leaf = cube[cube["region_code"].astype(str).isin(_leaf_codes(regions_df)) & cube["indicator"].isin(indicators)]
    return leaf[LEAF_COLUMNS].astype({"year": int, "quantity": float}).reset_index(drop=True)


def _copy_cogs(base_dir: Path, indicators: set[str], staging: Path) -> list[Path]:
    """The base run's per-cell COGs of ``indicators`` copied into ``staging`` (moved into the new run's ``rasters/``)."""
    out = []
    for src in sorted((base_dir / "rasters").glob("*.tif")):
        if src.name.split(".", 1)[0] in indicators:
            dest = staging / src.name
            shutil.copyfile(src, dest)
            dest.chmod(0o644)
            out.append(dest)
    return out


def _input_hashes(cfg: RunConfig, known: Mapping[str, str]) -> dict[str, str]:
    """SHA-256 of every file the scenario run stands on (boundaries, tables, each input of each year): the base
    run's (just checked) where the file is the base's, hashed now otherwise."""
    paths = [cfg.regions.file, *cfg.tables.parameters,
             *(p for p in (cfg.tables.landcover, cfg.tables.prices, cfg.tables.deflator, cfg.tables.statistics,
                           cfg.tables.products) if p is not None),
             *(cfg.input_path(n, y) for n in sorted(cfg.inputs) for y in cfg.run.years)]
    return {str(p): known.get(str(p)) or file_sha256(p) for p in paths}


def _check_same_grid(base: RunConfig, scen: RunConfig) -> None:
    from qingshan.engine.run import reference_grid

    for year in scen.run.years:
        a, b = reference_grid(base, year), reference_grid(scen, year)
        if not a.same_as(b):
            path = scen.input_path(scen.grid.reference, year)
            raise InputError(
                f"Scenario raster {path} is not on the base run's grid ({b.shape} vs {a.shape}, or another transform/CRS)",
                f"情景栅格 {path} 与基准核算的格网不一致（{b.shape} 对 {a.shape}，或变换/坐标系不同）",
                file=path, field=f"inputs.{scen.grid.reference}",
                fix="Make the scenario raster from the base raster (same extent, resolution and CRS), changing only cell values.",
                fix_zh="请以基准栅格为模板制作情景栅格（范围、分辨率、坐标系相同），只修改像元值。",
            )


def run_scenario(factory: sessionmaker[Session], store_url: str, base_run_id: str, spec: ScenarioSpec, *,
                 output: Path, data_dir: Path | None = None, progress: Progress = lambda _s, _f: None) -> ScenarioOutcome:
    """Account a scenario of ``base_run_id``: recompute what the changes affect, copy the rest, record a new run."""
    from qingshan.use.runs import load_run

    if spec.scenario.base and spec.scenario.base != base_run_id:
        raise _bad_scenario(spec.source_path, f"The scenario config names base run '{spec.scenario.base}', not '{base_run_id}'",
                            f"情景配置指定的基准核算为 '{spec.scenario.base}'，而非 '{base_run_id}'", field="scenario.base",
                            fix="Give the same run id on the command line and in [scenario] base (or leave one out).",
                            fix_zh="命令行与 [scenario] base 中的核算编号应一致（或只给出其一）。")
    run, cube, regions_df = load_run(factory, base_run_id)
    base = base_config(run)
    base_hashes = check_base_inputs(run)
    name = spec.scenario.name or f"Scenario of {run.name} 情景"
    cfg = scenario_config(spec, base, output, name)
    if data_dir is not None:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"data_dir": data_dir})})
    with collecting() as found:
        return _run(factory, store_url, run, cube, regions_df, base, base_hashes, cfg, spec, progress, found)


def _what_changes(run: Any, base: RunConfig, cfg: RunConfig, spec: ScenarioSpec) -> tuple[Any, Any, Changes, dict[str, list[str]]]:
    """The scenario's plan and tables, what differs from the base, and why each indicator must be recomputed."""
    from qingshan.engine import run as engine

    p = engine.plan(cfg)
    used = {k: float(v["value"]) for k, v in ((run.provenance or {}).get("parameters") or {}).items()}
    for key in spec.parameters:
        if key not in used:
            raise _bad_scenario(spec.source_path, f"Parameter '{key}' is not a parameter of base run '{run.id}'",
                                f"参数 '{key}' 不是基准核算 '{run.id}' 使用的参数", field=f"parameters.{key}",
                                fix="Use a key of the base run's parameter table (its provenance lists them).",
                                fix_zh="请使用基准核算参数表中的参数键（见其溯源信息）。")
    tables = engine.load_tables(cfg, p)
    changed = changes(base, cfg, used, {k: v.value for k, v in tables.params.scalars.params.items()})
    if changed.inputs:
        _check_same_grid(base, cfg)
    why = affected_indicators(p.items, changed, grid_reference=cfg.grid.reference, recompute=spec.scenario.recompute)
    base_methods = dict((run.provenance or {}).get("methods") or {})
    for s, m in p.items:  # a method the base did not use: recompute it
        if base_methods.get(s.id) != m.id:
            why[s.id].append("method differs from the base run")
    return p, tables, changed, why


def _engine_settings(run: Any, cfg: RunConfig) -> dict[str, Any]:
    """Block size and weights mode the base run was computed with (its provenance's engine facts), so that what
    the scenario does not change is summed in the same blocks; the config's block size otherwise."""
    facts = (run.provenance or {}).get("engine")
    facts = facts if isinstance(facts, dict) else {}
    size = facts.get("block_size") or cfg.run.block_size
    return {"block_size": tuple(size) if isinstance(size, list) else int(size),
            "weights": facts.get("weights") if facts.get("weights") in ("block", "grid") else "block"}


def _run(factory: sessionmaker[Session], store_url: str, run: Any, cube: pd.DataFrame, regions_df: pd.DataFrame,
         base: RunConfig, base_hashes: dict[str, str], cfg: RunConfig, spec: ScenarioSpec, progress: Progress,
         found: list[Any]) -> ScenarioOutcome:
    from qingshan.engine import run as engine
    from qingshan.engine.blockwise import compute_blockwise
    from qingshan.store import artifacts
    from qingshan.store.verify import check_sealed

    t0 = time.time()
    progress("plan", 0.0)
    p, tables, changed, why = _what_changes(run, base, cfg, spec)
    redo = {k for k, v in why.items() if v}
    copied = sorted(k for k in why if k not in redo)
    sub = engine.Plan(profile=p.profile, items=tuple(i for i in p.items if i[0].id in redo), excluded=p.excluded)
    regions = engine.load_regions(cfg)
    engine.check_statistics(tables, regions)
    data_dir = artifacts.data_dir_for(engine.store_url_of(cfg, store_url), cfg.run.data_dir)
    # the base's rasters are copied and its rows reused: never from edited ones (they would be sealed anew, valid)
    check_sealed(factory, run, data_dir, "cannot be the base of a scenario", "不能作为情景分析的基准")
    staging = artifacts.make_tmp(artifacts.runs_root(data_dir), stem=".scenario")
    try:  # the engine, on the recomputed indicators only (its COGs into staging, with the base's copied ones)
        new_leaf, _grid, facts = compute_blockwise(cfg, sub, tables, regions, **_engine_settings(run, cfg),
                                                   progress=progress, rasters=staging)
        _copy_cogs(artifacts.artifact_dir(run, data_dir), set(copied), staging)
        kept = [f for f in (new_leaf, _copied_leaf_rows(cube, regions_df, set(copied))) if not f.empty]
        leaf = pd.concat(kept, ignore_index=True) if kept else new_leaf
        base_caps = [r for r in (run.provenance or {}).get("emission_caps") or [] if r.get("indicator") in set(copied)]
        prov = {"base_run": run.id, "base_content_hash": run.content_hash, "name": cfg.run.name,
                "config": str(spec.source_path) if spec.source_path else None,
                "config_sha256": file_sha256(spec.source_path) if spec.source_path else None,
                "changed": changed.as_dict(), "recomputed": {k: why[k] for k in sorted(redo)},
                "copied_from_base": copied}
        outcome = engine.value_record_export(
            cfg, p, tables, regions, leaf, _input_hashes(cfg, base_hashes), t0, store_url=store_url, progress=progress,
            cogs=sorted(staging.glob("*.tif")), notices=found,
            extra_provenance={"scenario": prov, "engine": facts, "emission_caps": [*tables.cap_report, *base_caps]})
    finally:
        artifacts.remove_tree(staging)
    return ScenarioOutcome(outcome.run_id, run.id, prov["recomputed"], copied, changed, outcome.output_dir, outcome.provenance)


# ----------------------------------------------------------------------------- the difference
KEYS = ["region_code", "year", "indicator"]


ROW_ORDER = ["region_code", "year", "indicator", "component", "ecosystem"]


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in one order, so that equal rows sum to bit-equal totals on both sides (float addition is not associative)."""
    cols = [c for c in ROW_ORDER if c in df.columns]
    return df.astype({"region_code": str}).sort_values(cols, kind="stable")


def _diff(base: pd.DataFrame, scen: pd.DataFrame, keys: list[str], col: str) -> pd.DataFrame:
    a = _canonical(base).groupby(keys, dropna=False)[col].sum(min_count=1).rename("base")
    b = _canonical(scen).groupby(keys, dropna=False)[col].sum(min_count=1).rename("scenario")
    df = pd.concat([a, b], axis=1).reset_index()
    a0 = df["base"].to_numpy(dtype=float, na_value=np.nan)
    diff = np.nan_to_num(df["scenario"].to_numpy(dtype=float, na_value=np.nan)) - np.nan_to_num(a0)
    df["difference"] = diff
    with np.errstate(divide="ignore", invalid="ignore"):
        df["percent"] = np.where(np.nan_to_num(a0) != 0, 100.0 * diff / a0, np.nan)
    return df


def _names(df: pd.DataFrame, regions_df: pd.DataFrame) -> pd.DataFrame:
    names = dict(zip(regions_df["code"].astype(str), regions_df["name"], strict=True))
    levels = dict(zip(regions_df["code"].astype(str), regions_df["level"], strict=True))
    df.insert(1, "region_name", df["region_code"].astype(str).map(names))
    df.insert(2, "level", df["region_code"].astype(str).map(levels))
    return df


def difference_tables(base: pd.DataFrame, scen: pd.DataFrame, regions_df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """scenario − base: ``indicator`` (value by region × year × indicator, with GEP rows), ``ecosystem``
    (value by region × year × ecosystem type) and ``component`` (physical quantity with its unit).

    Columns ``base``, ``scenario``, ``difference`` (CNY, or the quantity's unit) and ``percent`` (of the base)."""
    ind = _diff(base, scen, KEYS, "value")
    per_indicator = {side: ind[["region_code", "year", "indicator", side]].rename(columns={side: "value"})
                     for side in ("base", "scenario")}  # GEP: the sum of the indicators' totals, in indicator order
    gep = _diff(per_indicator["base"].assign(indicator="GEP"), per_indicator["scenario"].assign(indicator="GEP"), KEYS, "value")
    by_indicator = pd.concat([gep, ind], ignore_index=True).sort_values(["year", "region_code"], kind="stable")
    eco = _diff(base, scen, ["region_code", "year", "ecosystem"], "value").sort_values(["year", "region_code"], kind="stable")
    comp = _diff(base, scen, [*KEYS, "component", "unit"], "quantity").sort_values(["year", "region_code"], kind="stable")
    return {name: _names(df.reset_index(drop=True), regions_df)
            for name, df in (("indicator", by_indicator), ("ecosystem", eco), ("component", comp))}


def difference_rasters(base_dir: Path, scen_dir: Path, dest: Path) -> list[Path]:
    """Per-cell scenario − base of every raster layer both runs have, as COGs in ``dest``.

    A cell accounted on one side only (NaN on the other) counts the missing side as 0; NaN where neither accounts it."""
    import rasterio

    from qingshan.core.grid import Grid
    from qingshan.io.rasters import write_cog

    out = []
    dest.mkdir(parents=True, exist_ok=True)
    for scen_file in sorted((scen_dir / "rasters").glob("*.tif")):
        base_file = base_dir / "rasters" / scen_file.name
        if not base_file.is_file():
            continue
        with rasterio.open(base_file) as a, rasterio.open(scen_file) as b:
            va, vb = a.read(1, masked=True).filled(np.nan).astype(float), b.read(1, masked=True).filled(np.nan).astype(float)
            grid = Grid.from_crs(b.crs, b.transform, b.height, b.width)
            units = b.tags().get("units") or (b.units[0] if b.units and b.units[0] else "")
        both_nan = np.isnan(va) & np.isnan(vb)
        diff = np.where(both_nan, np.nan, np.nan_to_num(vb) - np.nan_to_num(va))
        path = dest / f"diff.{scen_file.name}"
        write_cog(path, diff, grid, units=units or "per cell per year", description=f"scenario − base: {scen_file.stem}")
        out.append(path)
    return out


def _gpkg(tables: Mapping[str, pd.DataFrame], regions_df: pd.DataFrame, path: Path) -> Path:
    import geopandas as gpd
    from shapely.geometry import shape

    ind = tables["indicator"]
    geo = regions_df.dropna(subset=["geometry"])
    gdf = gpd.GeoDataFrame(geo[["code", "name", "level"]].reset_index(drop=True),
                           geometry=[shape(__import__("json").loads(g)) for g in geo["geometry"]], crs="EPSG:4326")
    for (year,), sub in ind.groupby(["year"]):
        pv = sub.pivot_table(index="region_code", columns="indicator", values="difference", aggfunc="sum") / YI
        pv.columns = [f"diff_{c.lower() if c == 'GEP' else c}_{year}_yi" for c in pv.columns]
        gdf = gdf.merge(pv, left_on="code", right_index=True, how="left")
    path.unlink(missing_ok=True)
    for level in dict.fromkeys(gdf["level"]):
        gdf[gdf["level"] == level].to_file(path, layer=str(level), driver="GPKG")
    return path


def write_difference(tables: Mapping[str, pd.DataFrame], regions_df: pd.DataFrame, dest: Path, *,
                     base_dir: Path | None = None, scen_dir: Path | None = None) -> list[Path]:
    """``difference.xlsx`` (a sheet per table), ``difference_<table>.csv``, ``difference.gpkg`` (regional
    differences of value by indicator and GEP, 亿元, a layer per level) and ``rasters/diff.*.tif``."""
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    sheets = {"indicator": "按指标 by indicator", "ecosystem": "按生态系统 by ecosystem", "component": "实物量 by component"}
    xlsx = dest / "difference.xlsx"
    with pd.ExcelWriter(xlsx) as xw:
        for key, sheet in sheets.items():
            tables[key].to_excel(xw, sheet_name=sheet, index=False)
    files.append(xlsx)
    for key in sheets:
        csv = dest / f"difference_{key}.csv"
        tables[key].to_csv(csv, index=False, encoding="utf-8-sig")
        files.append(csv)
    if "geometry" in regions_df.columns and regions_df["geometry"].notna().any():
        files.append(_gpkg(tables, regions_df, dest / "difference.gpkg"))
    if base_dir is not None and scen_dir is not None:
        files += difference_rasters(base_dir, scen_dir, dest / "rasters")
    return files


def compare_runs(factory: sessionmaker[Session], store_url: str, base_run_id: str, scen_run_id: str,
                 dest: Path | None = None) -> tuple[dict[str, pd.DataFrame], pd.DataFrame, list[Path]]:
    """The difference tables of two stored runs, their regions, and (with ``dest``) the files of
    :func:`write_difference` (difference rasters from both runs' sealed artifacts)."""
    from qingshan.store import artifacts
    from qingshan.use.runs import load_run

    base, base_cube, _ = load_run(factory, base_run_id)
    scen, scen_cube, regions = load_run(factory, scen_run_id)
    tables = difference_tables(base_cube, scen_cube, regions)
    if dest is None:
        return tables, regions, []
    data_dir = artifacts.find_data_dir(store_url)
    files = write_difference(tables, regions, dest, base_dir=artifacts.artifact_dir(base, data_dir),
                             scen_dir=artifacts.artifact_dir(scen, data_dir))
    return tables, regions, files
