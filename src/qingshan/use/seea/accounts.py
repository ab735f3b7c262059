"""The SEEA EA accounts as pure functions on tables (UN 2021, *System of Environmental-Economic
Accounting — Ecosystem Accounting*, ch. 4–10) [R: layout from the standard's account structure].

* :func:`extent_account` and :func:`change_matrix` — ecosystem extent account (opening, additions,
  reductions, net change, closing [km²]) and the ecosystem type change matrix (opening type × closing
  type), from a leaf crosstab of the two sides, summed up the region hierarchy. Opening and closing
  are the matrix's row and column sums, so ``opening + additions − reductions = closing`` exactly.
* :func:`condition_account` — area-weighted mean of each condition variable, its reference level,
  the ratio value / reference, and the normalised condition index in [0, 1] (SEEA EA ch. 5: the
  reference level scores 1): ``min(1, value / reference)`` for ``higher`` variables (NDVI, cover),
  ``min(1, reference / value)`` for ``lower`` ones (soil loss; 1 at or below the tolerable loss).
* :func:`supply_use` — physical and monetary ecosystem-services supply (rows: services; columns:
  ecosystem types) and use (columns: beneficiary sectors) tables from a run's cube; supply = use.
* :func:`asset_account` — monetary ecosystem asset account: NPV of the service flows by ecosystem
  type, ``NPV = V · (1 − (1+r)^−L) / r`` (flows constant at the year's value V, discount rate r,
  asset life L), and the reconciliation opening + changes due to extent change + other changes
  (condition, prices, revaluation) = closing.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from qingshan.core.errors import InputError
from qingshan.core.params import ECOSYSTEMS, NOT_BROKEN_DOWN, top_ecosystem
from qingshan.use.seea.data import BENEFICIARIES, AssetParameters

__all__ = ["asset_account", "change_matrix", "condition_account", "extent_account", "map_services", "roll_up_leaves",
           "supply_use"]

NONE = "none"  # not accounted on one side (land-cover nodata, outside the regions)
TOTAL = "total"  # all ecosystem types of a region
TYPES = (*ECOSYSTEMS, NOT_BROKEN_DOWN)


def _ancestors(regions: pd.DataFrame) -> dict[str, list[str]]:
    parent = dict(zip(regions["code"], regions["parent"], strict=True))
    out: dict[str, list[str]] = {}
    for code in regions["code"]:
        chain, p = [], parent.get(code)
        while isinstance(p, str) and p in parent:
            chain.append(p)
            p = parent.get(p)
        out[str(code)] = chain
    return out


def roll_up_leaves(leaf: pd.DataFrame, regions: pd.DataFrame, keys: list[str], values: list[str]) -> pd.DataFrame:
    """Leaf rows summed into every ancestor too (``regions``: code, parent): rows of every level."""
    anc = _ancestors(regions)
    frames = [leaf]
    for code, chain in anc.items():
        part = leaf[leaf["region_code"] == code]
        frames += [part.assign(region_code=a) for a in chain]
    allr = pd.concat(frames, ignore_index=True)
    return allr.groupby(["region_code", *keys], as_index=False)[values].sum()


def change_matrix(leaf_crosstab: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Ecosystem type change matrix [km²] of every region: ``region_code, ecosystem_from, ecosystem_to, area_km2``."""
    return roll_up_leaves(leaf_crosstab, regions, ["ecosystem_from", "ecosystem_to"], ["area_km2"])


def extent_account(matrix: pd.DataFrame) -> pd.DataFrame:
    """Extent account per region × ecosystem type (and ``total``) from a change matrix [km²]."""
    m = matrix
    opening = m.groupby(["region_code", "ecosystem_from"])["area_km2"].sum().rename_axis(["region_code", "ecosystem"])
    closing = m.groupby(["region_code", "ecosystem_to"])["area_km2"].sum().rename_axis(["region_code", "ecosystem"])
    moved = m[m["ecosystem_from"] != m["ecosystem_to"]]
    additions = moved.groupby(["region_code", "ecosystem_to"])["area_km2"].sum().rename_axis(["region_code", "ecosystem"])
    reductions = moved.groupby(["region_code", "ecosystem_from"])["area_km2"].sum().rename_axis(["region_code", "ecosystem"])
    t = pd.DataFrame({"opening_km2": opening, "additions_km2": additions, "reductions_km2": reductions,
                      "closing_km2": closing}).fillna(0.0).reset_index()
    t = t[t["ecosystem"] != NONE]
    t["net_change_km2"] = t["closing_km2"] - t["opening_km2"]
    total = t.groupby("region_code", as_index=False)[["opening_km2", "closing_km2", "net_change_km2"]].sum()
    # ecosystem conversions inside a region cancel in its total; only changes from/to "not accounted" remain
    into = m[(m["ecosystem_from"] == NONE) & (m["ecosystem_to"] != NONE)].groupby("region_code")["area_km2"].sum()
    out_of = m[(m["ecosystem_to"] == NONE) & (m["ecosystem_from"] != NONE)].groupby("region_code")["area_km2"].sum()
    total["additions_km2"] = total["region_code"].map(into).fillna(0.0)
    total["reductions_km2"] = total["region_code"].map(out_of).fillna(0.0)
    t = pd.concat([t, total.assign(ecosystem=TOTAL)], ignore_index=True)
    order = {e: i for i, e in enumerate((*ECOSYSTEMS, TOTAL))}
    t = t.sort_values(["region_code", "ecosystem"], key=lambda s: s.map(order) if s.name == "ecosystem" else s)
    return t[["region_code", "ecosystem", "opening_km2", "additions_km2", "reductions_km2", "net_change_km2",
              "closing_km2"]].reset_index(drop=True)


# ----------------------------------------------------------------------------- condition
def _means(condition: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    rolled = roll_up_leaves(condition, regions, ["ecosystem", "indicator", "unit"], ["weighted_sum", "area_km2"])
    return rolled.assign(value=rolled["weighted_sum"] / rolled["area_km2"])


def condition_account(opening: pd.DataFrame, closing: pd.DataFrame, regions: pd.DataFrame,
                      references: pd.DataFrame) -> pd.DataFrame:
    """Condition account per region × ecosystem × indicator: opening and closing values, reference
    level, ratios (value / reference), normalised indices (see module docstring) and change. ``opening``/``closing``: leaf rows of ``condition.csv`` of each side."""
    keys = ["region_code", "ecosystem", "indicator", "unit"]
    a = _means(opening, regions).rename(columns={"value": "opening_value", "area_km2": "opening_area_km2"})
    b = _means(closing, regions).rename(columns={"value": "closing_value", "area_km2": "closing_area_km2"})
    t = a[[*keys, "opening_value", "opening_area_km2"]].merge(b[[*keys, "closing_value", "closing_area_km2"]],
                                                               on=keys, how="outer")
    ref = references[["indicator", "ecosystem", "reference_level", "direction", "certainty", "source"]]
    t = t.merge(ref.rename(columns={"source": "reference_source"}), on=["indicator", "ecosystem"], how="left")
    for side in ("opening", "closing"):
        v, r = t[f"{side}_value"].to_numpy(float), t["reference_level"].to_numpy(float)
        ratio = v / r
        t[f"{side}_ratio"] = ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            lower = np.where(ratio <= 1, 1.0, 1.0 / ratio)
        t[f"{side}_index"] = np.where(np.isnan(ratio), np.nan,
                                      np.where(t["direction"] == "lower", lower, np.minimum(ratio, 1.0)))
    t["change_value"] = t["closing_value"] - t["opening_value"]
    t["change_index"] = t["closing_index"] - t["opening_index"]
    return t.sort_values(keys).reset_index(drop=True)


# ----------------------------------------------------------------------------- services
def map_services(cube: pd.DataFrame, mapping: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cube rows with their SEEA service and beneficiary (component rows first, then ``*``), and the
    rows left out as not applicable. An indicator of the cube without a mapping row is an error."""
    exact = mapping[mapping["component"] != "*"]
    star = mapping[mapping["component"] == "*"].drop(columns=["component"])
    keyset = set(zip(exact["indicator"], exact["component"], strict=True))
    hit = np.array([(i, c) in keyset for i, c in zip(cube["indicator"], cube["component"], strict=True)], dtype=bool)
    part1 = cube[hit].merge(exact, on=["indicator", "component"])
    part2 = cube[~hit].merge(star, on="indicator", how="left")
    out = pd.concat([part1, part2], ignore_index=True)
    missing = sorted(set(out.loc[out["status"].isna(), "indicator"]))
    if missing:
        raise InputError(
            f"No SEEA service mapping for {', '.join(missing)}",
            f"指标 {', '.join(missing)} 没有 SEEA 服务对照",
            file=None, field="indicator",
            fix="Add rows to data/seea/services_map.csv (or mark them not_applicable with a reason).",
            fix_zh="请在 data/seea/services_map.csv 中添加对照行（或标记为 not_applicable 并说明原因）。",
        )
    out["ecosystem"] = out["ecosystem"].map(lambda e: e if e == NOT_BROKEN_DOWN else top_ecosystem(str(e)))
    return out[out["status"] == "mapped"], out[out["status"] == "not_applicable"]


def _wide(rows: pd.DataFrame, index: list[str], columns: str, values: str, order: Iterable[str]) -> pd.DataFrame:
    t = rows.pivot_table(index=index, columns=columns, values=values, aggfunc="sum", fill_value=0.0)
    cols = [c for c in order if c in t.columns]
    t = t[cols]
    t["total"] = t.sum(axis=1)
    return t.rename(columns={NOT_BROKEN_DOWN: "not_broken_down"}).reset_index()


SERVICE_ROW = ["seea_class", "seea_service", "seea_service_zh"]
PHYSICAL_ROW = [*SERVICE_ROW, "indicator", "component", "unit"]


def supply_use(mapped: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """SEEA supply and use tables of one region and year (``mapped``: its cube rows from :func:`map_services`).

    ``supply_physical`` (rows: service × indicator × component, each in its unit; columns: ecosystem
    types), ``use_physical`` (columns: beneficiaries), ``supply_monetary`` and ``use_monetary`` (rows:
    services; CNY). Values without a price (NaN) count as 0 in the monetary tables.
    """
    m = mapped.assign(value=mapped["value"].astype(float).fillna(0.0), quantity=mapped["quantity"].astype(float))
    class_order = {"provisioning": 0, "regulating": 1, "cultural": 2}

    def order(t: pd.DataFrame) -> pd.DataFrame:
        return t.sort_values(["seea_class", "seea_service"], key=lambda s: s.map(class_order) if s.name == "seea_class" else s
                             ).reset_index(drop=True)

    return {
        "supply_physical": order(_wide(m, PHYSICAL_ROW, "ecosystem", "quantity", TYPES)),
        "use_physical": order(_wide(m, PHYSICAL_ROW, "beneficiary", "quantity", BENEFICIARIES)),
        "supply_monetary": order(_wide(m, SERVICE_ROW, "ecosystem", "value", TYPES)),
        "use_monetary": order(_wide(m, SERVICE_ROW, "beneficiary", "value", BENEFICIARIES)),
    }


# ----------------------------------------------------------------------------- assets
def asset_account(flows0: pd.DataFrame, flows1: pd.DataFrame, extent: pd.DataFrame,
                  params: AssetParameters) -> pd.DataFrame:
    """Monetary ecosystem asset account per region × ecosystem type [CNY].

    ``flows0``/``flows1``: ``region_code, ecosystem, value`` — annual monetary supply of the opening
    and closing sides; ``extent``: the extent account. The change due to extent is the opening NPV
    per km² × the net change of extent (all of the closing NPV for a type absent at opening; none for
    values not broken down by ecosystem); the rest of the change is condition, prices and other.
    """
    f = params.annuity_factor()
    keys = ["region_code", "ecosystem"]
    a = flows0.groupby(keys)["value"].sum().rename("opening_flow")
    b = flows1.groupby(keys)["value"].sum().rename("closing_flow")
    t = pd.concat([a, b], axis=1).fillna(0.0).reset_index()
    t["opening_value"] = t["opening_flow"] * f
    t["closing_value"] = t["closing_flow"] * f
    ext = extent[extent["ecosystem"] != TOTAL].set_index(keys)[["opening_km2", "closing_km2"]]
    t = t.join(ext, on=keys)
    per_km2 = np.where(t["opening_km2"] > 0, t["opening_value"] / t["opening_km2"].where(t["opening_km2"] > 0), 0.0)
    by_extent = np.where(t["opening_km2"] > 0, per_km2 * (t["closing_km2"] - t["opening_km2"]),
                         np.where(t["closing_km2"] > 0, t["closing_value"], 0.0))
    t["change_extent"] = np.where(t["ecosystem"] == NOT_BROKEN_DOWN, 0.0, np.nan_to_num(by_extent))
    t["change_condition_and_other"] = t["closing_value"] - t["opening_value"] - t["change_extent"]
    t["discount_rate"], t["asset_life"], t["annuity_factor"] = params.discount_rate, params.asset_life, f
    total = t.groupby("region_code", as_index=False)[
        ["opening_flow", "closing_flow", "opening_value", "change_extent", "change_condition_and_other", "closing_value"]].sum()
    total = total.assign(ecosystem=TOTAL, discount_rate=params.discount_rate, asset_life=params.asset_life, annuity_factor=f)
    whole = extent[extent["ecosystem"] == TOTAL].set_index("region_code")
    total["opening_km2"] = total["region_code"].map(whole["opening_km2"])
    total["closing_km2"] = total["region_code"].map(whole["closing_km2"])
    t = pd.concat([t, total], ignore_index=True)
    cols = [*keys, "opening_km2", "closing_km2", "opening_flow", "closing_flow", "discount_rate", "asset_life",
            "annuity_factor", "opening_value", "change_extent", "change_condition_and_other", "closing_value"]
    return t[cols].sort_values(keys).reset_index(drop=True)
