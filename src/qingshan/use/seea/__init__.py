"""SEEA EA tables from stored runs (联合国 SEEA 生态系统核算表): extent, condition, services supply and
use (physical and monetary), the monetary asset account, and the indicator → service mapping.

:func:`seea_tables` reads a succeeded run (and, with ``against``, an earlier one) from the store and
its sealed artifacts — the cube for services and assets, the ``seea/`` basis
(:mod:`qingshan.engine.extent`) for extent and condition — and builds every table with
:mod:`qingshan.use.seea.accounts`. The opening side is the first year of the run (or ``from_year``,
or a year of the ``against`` run), the closing side its last year (or ``to_year``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.store.models import Run
from qingshan.use.seea import accounts
from qingshan.use.seea.data import (
    AssetParameters,
    asset_parameters,
    condition_references,
    services_map,
)

__all__ = ["SeeaSide", "SeeaTables", "seea_tables"]


@dataclass(frozen=True)
class SeeaSide:
    """One side (opening or closing): a run, one of its years, its cube and its artifact folder."""

    run: Run
    year: int
    cube: pd.DataFrame
    folder: Path

    @property
    def label(self) -> str:
        return f"{self.run.id[:8]}/{self.year}"


@dataclass
class SeeaTables:
    """Every SEEA table of one comparison (long tables over all regions; services for every region)."""

    opening: str
    closing: str
    region: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    parameters: AssetParameters | None = None

    def meta(self) -> dict[str, Any]:
        p = self.parameters
        return {"opening": self.opening, "closing": self.closing, "region": self.region,
                "discount_rate": p.discount_rate if p else None, "asset_life": p.asset_life if p else None}


def _rerun(run: Run, what: str, what_zh: str) -> InputError:
    return InputError(
        f"Run '{run.id}' has no SEEA basis ({what}): it was computed before Qingshan sealed the ecosystem extent "
        "basis with each run, or without a land-cover input",
        f"核算记录 '{run.id}' 没有 SEEA 基础数据（{what_zh}）：该核算早于随核算封存生态系统面积基础数据的版本，或没有土地覆被输入",
        field="run",
        fix="Re-run the accounting with this version of Qingshan (qingshan account CONFIG, with a lulc input and a "
            "land-cover table), then call qingshan seea on the new run.",
        fix_zh="请用当前版本重新运行核算（qingshan account 配置文件，需有 lulc 输入与土地覆被表），再对新核算运行 qingshan seea。",
    )


def _basis_file(side_run: Run, folder: Path, name: str) -> Path:
    """A sealed ``seea/`` file of a run, checked against the SHA-256 its manifest recorded."""
    from qingshan.core.params import file_sha256

    entry = {e["name"]: e for e in (side_run.artifacts or [])}.get(f"seea/{name}")
    path = folder / "seea" / name
    if entry is None or not path.is_file():
        raise _rerun(side_run, f"seea/{name}", f"seea/{name}")
    if file_sha256(path) != entry["sha256"]:
        raise InputError(
            f"Artifact seea/{name} of run '{side_run.id}' differs from the file sealed with the run",
            f"核算记录 '{side_run.id}' 的成果文件 seea/{name} 与封存时不一致",
            field="run",
            fix="Restore the run's data dir from a backup (qingshan restore); sealed files are never edited.",
            fix_zh="请从备份恢复该核算的数据目录（qingshan restore）；封存的文件不得修改。",
        )
    return path


def _year(run: Run, year: int | None, default_last: bool, what: str) -> int:
    years = sorted(run.years)
    if year is None:
        return years[-1] if default_last else years[0]
    if year not in years:
        raise InputError(f"Run '{run.id}' has no year {year}", f"核算记录 '{run.id}' 没有 {year} 年的结果", field=what,
                         fix=f"Years of this run: {', '.join(map(str, years))}.",
                         fix_zh=f"本次核算的年份：{', '.join(map(str, years))}。")
    return year


def _sides(factory: sessionmaker[Session], run_id: str, against: str | None, from_year: int | None,
           to_year: int | None, data_dir: Path | None) -> tuple[SeeaSide, SeeaSide, pd.DataFrame]:
    from qingshan.store.artifacts import artifact_dir
    from qingshan.use.runs import load_run

    run, cube, regions = load_run(factory, run_id)
    folder = artifact_dir(run, data_dir)
    closing = SeeaSide(run, _year(run, to_year, True, "to"), cube, folder)
    if against is None:
        opening = SeeaSide(run, _year(run, from_year, False, "from"), cube, folder)
    else:
        other, ocube, _ = load_run(factory, against)
        opening = SeeaSide(other, _year(other, from_year, True, "from"), ocube, artifact_dir(other, data_dir))
    return opening, closing, regions


def leaf_crosstab(opening: SeeaSide, closing: SeeaSide) -> pd.DataFrame:
    """Leaf region × (opening type, closing type) areas [km²] from the two sides' ecosystem rasters."""
    from qingshan.aggregate.regions import RegionSet
    from qingshan.engine.extent import block_crosstab, ecosystem_grid

    path0 = _basis_file(opening.run, opening.folder, f"ecosystem.{opening.year}.tif")
    path1 = _basis_file(closing.run, closing.folder, f"ecosystem.{closing.year}.tif")
    grid0, grid1 = ecosystem_grid(path0), ecosystem_grid(path1)
    if not grid0.same_as(grid1):
        raise InputError(
            f"{opening.label} and {closing.label} are on different grids ({grid0.shape} vs {grid1.shape}): "
            "the extent change matrix compares land cover cell by cell",
            f"{opening.label} 与 {closing.label} 的核算格网不同（{grid0.shape} 与 {grid1.shape}），无法逐像元比较土地覆被",
            field="against",
            fix="Account both years on one grid (the same [grid] reference raster), or compare two years of one run.",
            fix_zh="请在同一格网上核算两个年份（[grid] reference 使用同一参考栅格），或比较同一次核算的两个年份。",
        )
    leaves = gpd.read_file(_basis_file(closing.run, closing.folder, "leaves.gpkg"), layer="leaves")
    if opening.run.id != closing.run.id:
        other = gpd.read_file(_basis_file(opening.run, opening.folder, "leaves.gpkg"), layer="leaves")
        if set(other["code"]) != set(leaves["code"]):
            raise InputError(
                f"Runs {opening.label} and {closing.label} have different leaf regions",
                f"两次核算 {opening.label} 与 {closing.label} 的最低级区划不同",
                field="against", fix="Compare runs made with the same boundary file.", fix_zh="请比较使用同一边界文件的核算。")
    return block_crosstab(path0, path1, RegionSet(regions={}, leaves=leaves), grid1)  # window by window


def _condition(side: SeeaSide) -> pd.DataFrame:
    c = pd.read_csv(_basis_file(side.run, side.folder, "condition.csv"), dtype={"region_code": str})
    return c[c["year"] == side.year].drop(columns="year")


def _flows(mapped: pd.DataFrame) -> pd.DataFrame:
    return mapped.assign(value=mapped["value"].astype(float).fillna(0.0))[["region_code", "ecosystem", "value"]]


def seea_tables(factory: sessionmaker[Session], run_id: str, *, against: str | None = None,
                from_year: int | None = None, to_year: int | None = None, region: str | None = None,
                data_dir: Path | None = None, discount_rate: float | None = None,
                asset_life: int | None = None) -> SeeaTables:
    """Every SEEA table of ``run_id`` (closing side) against its first year or another run (opening side)."""
    opening, closing, regions = _sides(factory, run_id, against, from_year, to_year, data_dir)
    code = region or str(regions.loc[regions["parent"].isna(), "code"].iloc[0])
    if code not in set(regions["code"]):
        raise InputError(f"Run '{run_id}' has no region {code}", f"核算记录 '{run_id}' 没有区划 {code}", field="region",
                         fix="Give a region code of the run (qingshan runs; GET /api/runs/{id}/regions).",
                         fix_zh="请给出本次核算中的区划代码。")
    rel = regions[["code", "parent"]]
    matrix = accounts.change_matrix(leaf_crosstab(opening, closing), rel)
    extent = accounts.extent_account(matrix)
    condition = accounts.condition_account(_condition(opening), _condition(closing), rel, condition_references())
    mapping = services_map()
    mapped0, _ = accounts.map_services(opening.cube[opening.cube["year"] == opening.year], mapping)
    mapped1, left_out = accounts.map_services(closing.cube[closing.cube["year"] == closing.year], mapping)
    params = asset_parameters(discount_rate=discount_rate, asset_life=asset_life)
    assets = accounts.asset_account(_flows(mapped0), _flows(mapped1), extent, params)
    out = SeeaTables(opening.label, closing.label, code, parameters=params)
    names = dict(zip(regions["code"], regions["name"], strict=True))
    out.tables = {"extent_account": extent, "extent_change_matrix": matrix, "condition_account": condition,
                  "asset_account": assets}
    for name, t in accounts.supply_use(mapped1[mapped1["region_code"] == code]).items():
        out.tables[name] = t
    out.tables["not_included"] = (left_out[left_out["region_code"] == code]
                                  .groupby(["indicator", "component", "note"], as_index=False)["value"].sum())
    out.tables["services_map"] = mapping
    out.tables["parameters"] = params.table
    for key in ("extent_account", "extent_change_matrix", "condition_account", "asset_account"):
        t = out.tables[key]
        t.insert(1, "region_name", t["region_code"].map(names).fillna(""))
    return out
