"""SEEA tables to files: one CSV per table (long, every region) and a workbook ``seea_accounts.xlsx``
with the selected region's accounts in SEEA's layout (extent: entries × ecosystem types; change
matrix: opening type × closing type; supply: services × ecosystem types; use: services ×
beneficiaries; assets: entries × ecosystem types) and the long tables."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd

from qingshan.core.params import ECOSYSTEM_ZH, ECOSYSTEMS, NOT_BROKEN_DOWN
from qingshan.use.seea import SeeaTables
from qingshan.use.seea.accounts import NONE, TOTAL

__all__ = ["asset_layout", "extent_layout", "matrix_layout", "workbook_bytes", "write_outputs"]

EXTENT_ROWS = [("opening_km2", "Opening extent 期初面积"), ("additions_km2", "Additions 增加"),
               ("reductions_km2", "Reductions 减少"), ("net_change_km2", "Net change 净变化"),
               ("closing_km2", "Closing extent 期末面积")]
ASSET_ROWS = [("opening_value", "Opening value 期初价值"), ("change_extent", "Changes due to extent change 面积变化引起的变化"),
              ("change_condition_and_other", "Condition, price and other changes 状况、价格及其他变化"),
              ("closing_value", "Closing value 期末价值")]


def _label(e: str) -> str:
    special = {NOT_BROKEN_DOWN: "not broken down 未分生态系统", TOTAL: "total 合计", NONE: "not accounted 未核算"}
    return special.get(e) or f"{e} {ECOSYSTEM_ZH.get(e, '')}".strip()


def _columns(present: set[str]) -> list[str]:
    return [e for e in (*ECOSYSTEMS, NOT_BROKEN_DOWN, TOTAL) if e in present]


def extent_layout(extent: pd.DataFrame, region: str) -> pd.DataFrame:
    """Extent account of one region: rows opening … closing [km²], columns ecosystem types and total."""
    r = extent[extent["region_code"] == region].set_index("ecosystem")
    return pd.DataFrame({_label(e): [r.loc[e, k] for k, _ in EXTENT_ROWS] for e in _columns(set(r.index))},
                        index=[lab for _, lab in EXTENT_ROWS]).rename_axis("km²")


def matrix_layout(matrix: pd.DataFrame, region: str) -> pd.DataFrame:
    """Change matrix of one region: rows opening type, columns closing type, with totals [km²]."""
    m = matrix[matrix["region_code"] == region]
    order = [e for e in (*ECOSYSTEMS, "none") if e in set(m["ecosystem_from"]) | set(m["ecosystem_to"])]
    t = m.pivot_table(index="ecosystem_from", columns="ecosystem_to", values="area_km2", aggfunc="sum", fill_value=0.0)
    t = t.reindex(index=order, columns=order, fill_value=0.0)
    t["opening total 期初合计"] = t.sum(axis=1)
    t.loc["closing total 期末合计"] = t.sum(axis=0)
    t.index = [_label(i) if i in order else i for i in t.index]
    t.columns = [_label(c) if c in order else c for c in t.columns]
    return t.rename_axis("opening \\ closing (km²)")


def asset_layout(assets: pd.DataFrame, region: str) -> pd.DataFrame:
    """Asset account of one region: rows opening value … closing value [CNY], columns ecosystem types."""
    r = assets[assets["region_code"] == region].set_index("ecosystem")
    return pd.DataFrame({_label(e): [r.loc[e, k] for k, _ in ASSET_ROWS] for e in _columns(set(r.index))},
                        index=[lab for _, lab in ASSET_ROWS]).rename_axis("CNY 元")


def _sheets(t: SeeaTables) -> list[tuple[str, pd.DataFrame, bool]]:
    x, code = t.tables, t.region
    return [
        ("Extent 面积账户", extent_layout(x["extent_account"], code), True),
        ("Change matrix 变化矩阵", matrix_layout(x["extent_change_matrix"], code), True),
        ("Condition 状况账户", x["condition_account"][x["condition_account"]["region_code"] == code], False),
        ("Supply phys 实物供给", x["supply_physical"], False),
        ("Use phys 实物使用", x["use_physical"], False),
        ("Supply money 价值供给", x["supply_monetary"], False),
        ("Use money 价值使用", x["use_monetary"], False),
        ("Assets 资产账户", asset_layout(x["asset_account"], code), True),
        ("Extent all 各级面积", x["extent_account"], False),
        ("Matrix all 各级矩阵", x["extent_change_matrix"], False),
        ("Assets all 各级资产", x["asset_account"], False),
        ("Service map 服务对照", x["services_map"], False),
        ("Not included 未纳入", x["not_included"], False),
        ("Parameters 参数", x["parameters"], False),
    ]


def workbook_bytes(t: SeeaTables) -> bytes:
    """The workbook: an ``About`` sheet (sides, region, parameters), then every table."""
    buf = io.BytesIO()
    about = pd.DataFrame([{"key": k, "value": v} for k, v in t.meta().items()] + [
        {"key": "standard", "value": "SEEA Ecosystem Accounting (UN 2021), layout of the core accounts [R]"},
        {"key": "units", "value": "areas km²; values CNY (元) at current prices; quantities in each row's unit"}])
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        about.to_excel(xw, sheet_name="About 说明", index=False)
        for name, df, keep_index in _sheets(t):
            df.to_excel(xw, sheet_name=name[:31], index=keep_index)
            _format(xw.sheets[name[:31]])
    return buf.getvalue()


def _format(ws: Any) -> None:
    """Thousands separators on numbers (stored values unchanged), frozen header row, readable widths."""
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, float):
                cell.number_format = "#,##0.00" if abs(cell.value) >= 100 else "0.0000"
    ws.freeze_panes = "B2"
    for col in ws.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in col[:50])
        ws.column_dimensions[col[0].column_letter].width = min(60, max(10, width + 2))


def write_outputs(t: SeeaTables, folder: Path) -> list[Path]:
    """Every table as ``<name>.csv`` (UTF-8 with BOM, for Excel) and ``seea_accounts.xlsx`` into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, df in t.tables.items():
        path = folder / f"{name}.csv"
        df.to_csv(path, index=False, encoding="utf-8-sig")
        out.append(path)
    xlsx = folder / "seea_accounts.xlsx"
    xlsx.write_bytes(workbook_bytes(t))
    return [*out, xlsx]
