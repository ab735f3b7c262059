"""``value``: price physical quantities computed elsewhere (实物量 from another system).

Quantities CSV: ``region_code, region_name, year, indicator, component, ecosystem, quantity, unit``.
Units are parsed and converted to the component's declared unit; rows are valued with the price
table exactly as in ``account``, and the same tables are exported.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from qingshan import __version__
from qingshan.core.errors import InputError, QingshanError, UnknownIndicatorError
from qingshan.core.params import ECOSYSTEMS, ParameterTable, file_sha256
from qingshan.core.tables import parse_float, read_csv_table
from qingshan.core.units import conversion_factor
from qingshan.engine.export import export_tables
from qingshan.engine.run import replace_dir
from qingshan.engine.valuation import component_spec, value_rows
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable

__all__ = ["QUANTITY_COLUMNS", "read_quantities", "value_quantities"]

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
        eco = str(r.ecosystem).strip() or "other"
        if eco not in ECOSYSTEMS:
            raise InputError(
                f"Row {i}: unknown ecosystem '{eco}'", f"第 {i} 行：未知生态系统类型 '{eco}'",
                file=path, field="ecosystem",
                fix=f"Use one of: {', '.join(ECOSYSTEMS)}.", fix_zh=f"可用类型：{', '.join(ECOSYSTEMS)}。",
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
            qty *= conversion_factor(unit, target)
        except QingshanError as exc:
            exc.file, exc.field = path, "unit"
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
    return out


def value_quantities(quantities: str | Path, *, prices: str | Path, params: str | Path | None, profile: str,
                     output: str | Path, deflator: str | Path | None = None, base_year: int | None = None,
                     year_policy: str = "deflate") -> pd.DataFrame:
    """Value a quantities CSV and export the accounting tables into ``output``."""
    t0 = time.time()
    q = read_quantities(quantities, profile)
    names = dict(zip(q["region_code"], q["region_name"], strict=False))
    defl = Deflator.from_csv(deflator) if deflator else None
    table = PriceTable.from_csv(prices, deflator=defl, policy=year_policy)  # type: ignore[arg-type]
    param_table = ParameterTable.from_csv(params) if params else None
    base = base_year or int(q["year"].min())
    valued, used = value_rows(q.drop(columns="region_name"), prices=table, regions=None, base_year=base, deflator=defl)
    valued.insert(1, "region_name", valued["region_code"].map(names))
    hashes = {str(p): file_sha256(p) for p in (quantities, prices, params, deflator) if p}
    provenance: dict[str, Any] = {
        "qingshan_version": __version__, "command": "value", "profile": profile, "input_hashes": hashes,
        "prices": used, "parameters": {k: vars(v) for k, v in (param_table.params.items() if param_table else [])},
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
