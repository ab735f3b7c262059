"""The SEEA data tables (``qingshan/data/seea/``): the service mapping, condition reference levels and
asset-valuation parameters — each row with its source and certainty ([R] = unverified, editable).

* ``services_map.csv`` — every Qingshan indicator (and component where they differ) → a service of the
  SEEA EA reference list (UN 2021, ch. 6, Table 6.3), its class and the default beneficiary
  (``industries``, ``households``, ``government``); or ``status = not_applicable`` with the reason.
* ``condition_reference.csv`` — reference level per condition indicator × ecosystem type, with the
  direction (``higher``: index = min(1, value / reference); ``lower``: index = min(1, reference / value)).
* ``asset_parameters.csv`` — ``discount_rate`` [1/a] and ``asset_life`` [a] of the NPV.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from qingshan.core.errors import InputError
from qingshan.core.tables import read_csv_table

__all__ = ["BENEFICIARIES", "DATA", "AssetParameters", "asset_parameters", "condition_references", "services_map"]

DATA = Path(__file__).resolve().parents[2] / "data" / "seea"
BENEFICIARIES = ("industries", "households", "government")
MAP_COLUMNS = ["indicator", "component", "status", "seea_class", "seea_service", "seea_service_zh", "beneficiary",
               "certainty", "source", "note"]


def _bad(path: Path, field: str, en: str, zh: str, fix: str, fix_zh: str) -> InputError:
    return InputError(en, zh, file=path, field=field, fix=fix, fix_zh=fix_zh)


def services_map(path: Path | None = None) -> pd.DataFrame:
    """The indicator → SEEA service mapping, checked (status, beneficiary, one row per indicator/component)."""
    path = path or DATA / "services_map.csv"
    df = read_csv_table(path, MAP_COLUMNS, what="SEEA service mapping", what_zh="SEEA 服务对照表")
    df = df.fillna({"component": "*", "note": "", "seea_service": "", "seea_service_zh": "", "beneficiary": ""})
    bad = df[~df["status"].isin(["mapped", "not_applicable"])]
    if not bad.empty:
        raise _bad(path, "status", f"Unknown status '{bad['status'].iloc[0]}' ({bad['indicator'].iloc[0]})",
                   f"未知的状态 '{bad['status'].iloc[0]}'（{bad['indicator'].iloc[0]}）",
                   "Use mapped or not_applicable.", "请填写 mapped 或 not_applicable。")
    mapped = df[df["status"] == "mapped"]
    bad = mapped[~mapped["beneficiary"].isin(BENEFICIARIES) | (mapped["seea_service"] == "")]
    if not bad.empty:
        raise _bad(path, "beneficiary", f"Row {bad['indicator'].iloc[0]}/{bad['component'].iloc[0]} needs a SEEA service "
                   f"and a beneficiary in {', '.join(BENEFICIARIES)}",
                   f"{bad['indicator'].iloc[0]}/{bad['component'].iloc[0]} 行须填写 SEEA 服务与受益部门（{', '.join(BENEFICIARIES)}）",
                   "Fill seea_service and beneficiary, or set status = not_applicable with a note.",
                   "请填写 seea_service 与 beneficiary，或将 status 设为 not_applicable 并说明原因。")
    dup = df.duplicated(["indicator", "component"])
    if dup.any():
        row = df[dup].iloc[0]
        raise _bad(path, "indicator", f"Duplicate row {row['indicator']}/{row['component']}",
                   f"重复的行 {row['indicator']}/{row['component']}", "Keep one row per indicator and component.",
                   "每个指标与分项只保留一行。")
    return df


def condition_references(path: Path | None = None) -> pd.DataFrame:
    """Reference levels: ``indicator, ecosystem, reference_level, unit, direction, ect_class, certainty, source``."""
    path = path or DATA / "condition_reference.csv"
    df = read_csv_table(path, ["indicator", "ecosystem", "reference_level", "unit", "direction", "certainty", "source"],
                        what="SEEA condition reference levels", what_zh="SEEA 状况参照水平表")
    if not df["direction"].isin(["higher", "lower"]).all() or (pd.to_numeric(df["reference_level"]) <= 0).any():
        raise _bad(path, "direction", "Each reference level must be > 0 with direction higher or lower",
                   "参照水平须大于 0，direction 须为 higher 或 lower", "Correct the row.", "请修正该行。")
    return df.assign(reference_level=pd.to_numeric(df["reference_level"]))


@dataclass(frozen=True)
class AssetParameters:
    """Discount rate [1/a] and asset life [a] of the NPV, with their sources."""

    discount_rate: float
    asset_life: int
    table: pd.DataFrame

    def annuity_factor(self) -> float:
        """Present value of 1 a year for ``asset_life`` years, paid at each year's end: (1 − (1+r)^−L) / r."""
        r, n = self.discount_rate, self.asset_life
        return float(n) if r == 0 else (1.0 - (1.0 + r) ** -n) / r


def asset_parameters(path: Path | None = None, *, discount_rate: float | None = None,
                     asset_life: int | None = None) -> AssetParameters:
    """Read ``asset_parameters.csv``; the keyword arguments override its values (recorded as such)."""
    path = path or DATA / "asset_parameters.csv"
    df = read_csv_table(path, ["param_key", "value", "unit", "certainty", "source"], what="SEEA asset parameters",
                        what_zh="SEEA 资产参数表").set_index("param_key")
    for key in ("discount_rate", "asset_life"):
        if key not in df.index:
            raise _bad(path, key, f"Missing parameter {key}", f"缺少参数 {key}", f"Add a row {key}.", f"请添加 {key} 行。")
    if discount_rate is not None:
        df.loc["discount_rate", ["value", "source"]] = [discount_rate, "user override 用户指定"]
    if asset_life is not None:
        df.loc["asset_life", ["value", "source"]] = [asset_life, "user override 用户指定"]
    r, life = float(df.loc["discount_rate", "value"]), float(df.loc["asset_life", "value"])
    if not (0 <= r < 1) or life < 1 or life != int(life):
        raise _bad(path, "value", f"discount_rate must be in [0, 1) and asset_life a whole number ≥ 1 (got {r}, {life})",
                   f"折现率须在 [0, 1) 内，资产寿命须为不小于 1 的整数（当前 {r}、{life}）",
                   "Correct the values (a rate as a fraction: 0.03 for 3 %).", "请修正（折现率用小数：3 % 写作 0.03）。")
    return AssetParameters(r, int(life), df.reset_index())
