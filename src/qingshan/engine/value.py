"""``value``: price physical quantities computed elsewhere (实物量 from another system).

Quantities CSV: ``region_code, region_name, year, indicator, component, ecosystem, quantity, unit``.
Units are parsed and converted to the component's declared unit; rows are valued with the price
table exactly as in ``account``, and the same tables are exported.

A mass whose value lies in derived parts is derived as ``account`` derives it, by the same
quantity functions (:data:`DERIVATIONS`): soil retained [t] → reduced sedimentation, N and P
(:func:`qingshan.quantities.soil.soil_retention_parts`); sand fixed [t] → desertified land
avoided (:func:`qingshan.quantities.wind.sand_fixation_parts`). Only the parameters actually read
are recorded in provenance; any other given parameter is reported as unused (a notice and a
warning). Ecosystem ``all`` means a regional total not broken down by ecosystem. A price missing
for a region is looked up in its parents by GB/T 2260 code (county → city → province), then ``*``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from qingshan import __version__
from qingshan.core.errors import (
    InputError,
    MissingParameterError,
    QingshanError,
    UnknownIndicatorError,
)
from qingshan.core.notices import Notice, collecting, notice
from qingshan.core.params import (
    ECOSYSTEM_IDS,
    NOT_BROKEN_DOWN,
    ParameterTable,
    ParamSet,
    double_counted_ecosystem,
    file_sha256,
)
from qingshan.core.tables import parse_float, read_csv_table
from qingshan.core.units import conversion_factor, is_per_area, total_from_density
from qingshan.engine.export import export_tables
from qingshan.engine.run import replace_dir
from qingshan.engine.valuation import component_spec, value_rows
from qingshan.indicators import registry
from qingshan.quantities.soil import soil_fertility_parts, soil_retention_parts
from qingshan.quantities.wind import sand_fixation_parts
from qingshan.valuation.prices import Deflator, PriceTable

__all__ = ["DERIVATIONS", "QUANTITY_COLUMNS", "derive_parts", "gbt2260_ancestors", "read_quantities", "value_quantities"]

DERIVATIONS: dict[tuple[str, str], Callable[[Any, ParamSet], dict[str, Any]]] = {
    ("soil_retention", "soil_retained"): soil_retention_parts,
    ("soil_fertility", "soil_retained"): soil_fertility_parts,
    ("sand_fixation", "sand_fixed"): sand_fixation_parts,
}
"""(indicator, mass component) → the quantity function ``account`` uses to derive its valued parts."""

_ECOSYSTEM_CHOICES = (*ECOSYSTEM_IDS, NOT_BROKEN_DOWN)

QUANTITY_COLUMNS = ["region_code", "region_name", "year", "indicator", "component", "ecosystem", "quantity", "unit"]


def read_quantities(path: str | Path, profile: str) -> pd.DataFrame:
    """Read and check a quantities CSV against the catalogue and the profile."""
    df = read_csv_table(path, QUANTITY_COLUMNS, what="quantities table", what_zh="实物量表")
    reg = registry()
    prof = reg.profile(profile)
    allowed = set(prof.indicator_ids)
    rows = []
    for i, r in enumerate(df.itertuples(index=False), start=2):
        try:
            spec = reg.get(str(r.indicator).strip())
        except UnknownIndicatorError as exc:
            exc.file, exc.field = path, "indicator"
            exc.en = f"Row {i}: {exc.en}"
            raise
        if spec.id not in allowed:
            raise UnknownIndicatorError(
                f"Row {i}: indicator '{spec.id}' is not part of profile '{prof.id}'",
                f"第 {i} 行：指标 '{spec.id}' 不属于方法配置 '{prof.id}'",
                file=path, field="indicator",
                fix=f"Use another --profile, or one of: {', '.join(prof.indicator_ids)}.",
                fix_zh=f"请更换 --profile，或使用：{', '.join(prof.indicator_ids)}。",
            )
        try:
            comp = component_spec(spec, str(r.component).strip())
        except UnknownIndicatorError as exc:
            exc.file, exc.en, exc.zh = path, f"Row {i} (region {r.region_code}): {exc.en}", f"第 {i} 行（区域 {r.region_code}）：{exc.zh}"
            raise
        eco = str(r.ecosystem).strip()
        if eco not in _ECOSYSTEM_CHOICES:
            raise InputError(
                f"Row {i}: " + (f"unknown ecosystem '{eco}'" if eco else "ecosystem is empty"),
                f"第 {i} 行：" + (f"未知生态系统类型 '{eco}'" if eco else "生态系统类型为空"),
                file=path, field="ecosystem",
                fix=f"Use one of: {', '.join(_ECOSYSTEM_CHOICES)} ('{NOT_BROKEN_DOWN}': a total not broken down by ecosystem).",
                fix_zh=f"可用类型：{', '.join(_ECOSYSTEM_CHOICES)}（'{NOT_BROKEN_DOWN}' 表示未按生态系统细分的合计）。",
            )
        unit = str(r.unit).strip()
        qty = parse_float(r.quantity, path=path, field="quantity", row=i, what_zh="实物量表")
        if qty < 0:
            raise InputError(
                f"Row {i}: negative quantity {qty}", f"第 {i} 行：实物量为负值 {qty}",
                file=path, field="quantity", fix="Physical quantities are ≥ 0.", fix_zh="实物量应 ≥ 0。",
            )
        target = comp.unit if comp.id != "*" else unit
        try:
            qty = _to_total(qty, unit, target, r, path, i)
        except QingshanError as exc:
            exc.file, exc.field = path, exc.field or "unit"
            exc.en = f"Row {i}: {exc.en}"
            raise
        rows.append({"region_code": str(r.region_code).strip(), "region_name": str(r.region_name),
                     "year": int(parse_float(r.year, path=path, field="year", row=i, what_zh="实物量表")),
                     "indicator": spec.id, "component": str(r.component).strip(), "ecosystem": eco,
                     "quantity": qty, "unit": target})
    out = pd.DataFrame(rows)
    dup = out.duplicated(subset=["region_code", "year", "indicator", "component", "ecosystem"])
    if dup.any():
        first = out[dup].iloc[0]
        raise InputError(
            f"Duplicate row for region {first.region_code}, {first.year}, {first.indicator}/{first.component}/{first.ecosystem}",
            f"重复的行：区域 {first.region_code}，{first.year} 年，{first.indicator}/{first.component}",
            file=path, field="region_code", fix="Keep one row per region, year, indicator, component and ecosystem.",
            fix_zh="每个区域、年份、指标、组分和生态系统只保留一行。",
        )
    _check_not_broken_down(out, path)
    return out


def _to_total(qty: float, unit: str, target: str, row: Any, path: str | Path, i: int) -> float:
    """``qty`` [unit] in ``target``; a per-area unit (t/hm2, kg/(hm²·a)) is multiplied by the row's
    optional ``area`` [``area_unit``], the area it applies to."""
    area_text = str(getattr(row, "area", "") or "").strip()
    if not is_per_area(unit, target):
        if area_text:
            raise InputError(
                f"an area is given but unit '{unit}' is not per area", f"给出了面积，但单位 '{unit}' 不是单位面积量",
                file=path, field="area", fix=f"Leave area empty for a total, or give the quantity per area (e.g. {target}/hm2).",
                fix_zh=f"总量请不填面积，或以单位面积量给出（如 {target}/hm2）。",
            )
        return qty * conversion_factor(unit, target)
    if not area_text:
        raise InputError(
            f"unit '{unit}' is per area but no area is given", f"单位 '{unit}' 为单位面积量，但未给出面积",
            file=path, field="area",
            fix="Add columns area and area_unit (e.g. 1200, hm2) with the area the value applies to, or give the total.",
            fix_zh="请添加 area 和 area_unit 列（如 1200、hm2）给出适用面积，或直接给出总量。",
        )
    area = parse_float(area_text, path=path, field="area", row=i, what_zh="实物量表")
    area_unit = str(getattr(row, "area_unit", "") or "").strip() or "hm2"
    return total_from_density(qty, unit, area, area_unit, target)


def _check_not_broken_down(q: pd.DataFrame, path: str | Path) -> None:
    """A total given as ``all`` beside a breakdown of the same item, or ``forest`` beside
    ``forest.coniferous``, would be counted twice."""
    keys = ["region_code", "year", "indicator", "component"]
    for key, grp in q.groupby(keys, sort=False):
        ecos = set(grp["ecosystem"])
        parent = double_counted_ecosystem(ecos)
        if parent is not None:
            code, year, ind, comp = key
            raise InputError(
                f"Region {code}, {year}, {ind}/{comp}: ecosystem '{parent}' given beside its subtypes "
                f"{sorted(e for e in ecos if e.startswith(parent + '.'))} (it would be counted twice)",
                f"区域 {code}，{year} 年，{ind}/{comp}：'{parent}' 与其细分类型同时出现（会重复计算）",
                file=path, field="ecosystem",
                fix=f"Give '{parent}' or its subtypes, not both (subtypes roll up to '{parent}').",
                fix_zh=f"请只给出 '{parent}' 或其细分类型之一（细分类型会汇总到 '{parent}'）。",
            )
        if NOT_BROKEN_DOWN in ecos and len(ecos) > 1:
            code, year, ind, comp = key
            raise InputError(
                f"Region {code}, {year}, {ind}/{comp}: ecosystem '{NOT_BROKEN_DOWN}' given beside "
                f"{sorted(ecos - {NOT_BROKEN_DOWN})} (it would be counted twice)",
                f"区域 {code}，{year} 年，{ind}/{comp}：'{NOT_BROKEN_DOWN}'（未细分合计）与分生态系统的行同时出现（会重复计算）",
                file=path, field="ecosystem",
                fix=f"Give either one '{NOT_BROKEN_DOWN}' row or the rows by ecosystem, not both.",
                fix_zh=f"请只给出一行 '{NOT_BROKEN_DOWN}'，或只给出分生态系统的行。",
            )


@dataclass(frozen=True)
class _RecordingTable(ParameterTable):
    """A parameter table that remembers which keys were read."""

    used: set[str] = field(default_factory=set)

    def get(self, key: str, unit: str) -> float:
        value = super().get(key, unit)
        self.used.add(key)
        return value


def _parts_of(spec_id: str, mass: str) -> list[str]:
    """Valued components of an indicator other than its physical headline ``mass``."""
    spec = registry().get(spec_id)
    return [c.id for c in spec.components if c.id != mass and c.price_key is not None]


def derive_parts(q: pd.DataFrame, params: ParameterTable | None, path: str | Path) -> pd.DataFrame:
    """Add the valued parts of every mass in :data:`DERIVATIONS` whose parts are not given.

    ``q`` as from :func:`read_quantities`. The parts are computed by the same quantity functions
    as in ``account``; parameters are read from ``params`` (a :class:`_RecordingTable` records
    which). A mass given with only some of its parts is an error (give all parts or none).
    """
    keys = ["region_code", "year", "indicator", "ecosystem"]
    given = q.groupby(keys, sort=False)["component"].agg(set).to_dict()
    rows: list[dict[str, Any]] = []
    derived_any = False
    for r in q.itertuples(index=False):
        rows.append(r._asdict())
        fn = DERIVATIONS.get((r.indicator, r.component))
        if fn is None:
            continue
        parts = _parts_of(r.indicator, r.component)
        present = sorted(given[(r.region_code, r.year, r.indicator, r.ecosystem)] & set(parts))
        if len(present) == len(parts):
            continue
        where = f"region {r.region_code}, {r.year}, {r.indicator}/{r.component} ({r.ecosystem})"
        if present:
            raise InputError(
                f"{where}: parts {present} given but not {sorted(set(parts) - set(present))}",
                f"{where}：给出了部分组分 {present}，缺少 {sorted(set(parts) - set(present))}",
                file=path, field="component",
                fix=f"Give all of {parts}, or only the mass '{r.component}' with --params to derive them.",
                fix_zh=f"请给出全部 {parts}，或只给出 '{r.component}' 并用 --params 提供参数由其推算。",
            )
        if params is None:
            raise MissingParameterError(
                f"{where}: a mass is valued through {parts}, which need parameters; no --params was given",
                f"{where}：该实物量通过 {parts} 计价，推算需要参数，但未提供 --params",
                file=path, field="component",
                fix=f"Give --params PARAMS.csv (e.g. the shipped params_science.csv, adapted), or give {parts} directly.",
                fix_zh=f"请用 --params 提供参数表（如内置 params_science.csv，按本地调整），或直接给出 {parts}。",
            )
        derived = fn(float(r.quantity), ParamSet(scalars=params))
        spec = registry().get(r.indicator)
        derived_any = True
        for comp in parts:
            rows.append({**r._asdict(), "component": comp, "quantity": float(derived[comp]),
                         "unit": spec.component(comp).unit})
    return pd.DataFrame(rows, columns=q.columns) if derived_any else q


def gbt2260_ancestors(code: str) -> list[str]:
    """Parents of a GB/T 2260 code by its digits, nearest first (360722 → 360700, 360000).

    A 9- or 12-digit township code goes to its 6-digit county first. Codes that are not
    GB/T 2260 codes have none.
    """
    if not code.isdigit() or len(code) not in (6, 9, 12):
        return []
    out = [code[:6]] if len(code) > 6 else []
    six = code[:6]
    for parent in (six[:4] + "00", six[:2] + "0000"):
        if parent != six and parent not in out:
            out.append(parent)
    return [c for c in out if c != code]


def _warn_unused(params: _RecordingTable | None) -> list[str]:
    """One notice naming every parameter given but not read; returns their keys."""
    if params is None:
        return []
    unused = sorted(set(params.params) - params.used)
    if unused:
        keys = ", ".join(unused)
        notice(Notice(
            code="parameters_unused",
            en=f"{len(unused)} parameter(s) given but not used by this valuation (not recorded as used): {keys}",
            zh=f"{len(unused)} 个参数已提供但本次计价未使用（未记为已用）：{keys}",
            file=params.path, field="param_key",
        ))
    return unused


def value_quantities(quantities: str | Path, *, prices: str | Path, params: str | Path | None, profile: str,
                     output: str | Path, deflator: str | Path | None = None, base_year: int | None = None,
                     year_policy: str = "deflate") -> pd.DataFrame:
    """Value a quantities CSV and export the accounting tables into ``output``."""
    t0 = time.time()
    with collecting() as found:
        q = read_quantities(quantities, profile)
        names = dict(zip(q["region_code"], q["region_name"], strict=False))
        defl = Deflator.from_csv(deflator) if deflator else None
        table = PriceTable.from_csv(prices, deflator=defl, policy=year_policy)  # type: ignore[arg-type]
        from qingshan.valuation.price_bounds import check_price_bounds

        check_price_bounds(table)  # a price in the wrong unit (元/kg as 元/t)
        loaded = ParameterTable.from_csv(params) if params else None
        param_table = _RecordingTable(params=loaded.params, path=loaded.path) if loaded else None
        q = derive_parts(q, param_table, quantities)
        base = base_year or int(q["year"].min())
        valued, used = value_rows(q.drop(columns="region_name"), prices=table, regions=None, base_year=base,
                                  deflator=defl, ancestors_of=gbt2260_ancestors)
        unused = _warn_unused(param_table)
    for item in found:  # hand on to an outer collector (a run's QC report), if any
        notice(item)
    valued.insert(1, "region_name", valued["region_code"].map(names))
    hashes = {str(p): file_sha256(p) for p in (quantities, prices, params, deflator) if p}
    provenance: dict[str, Any] = {
        "qingshan_version": __version__, "command": "value", "profile": profile, "input_hashes": hashes,
        "prices": used,
        "parameters": {k: vars(param_table.params[k]) for k in sorted(param_table.used)} if param_table else {},
        "parameters_unused": unused, "notices": [n.to_dict() for n in found],
        "base_year": base, "seconds": round(time.time() - t0, 2),
    }
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        export_tables(valued, None, tmp, base_year=base, provenance=provenance)
        replace_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return valued
