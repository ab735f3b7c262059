"""``qingshan value`` derives what ``account`` derives (issue 7, build item 7) and falls back to a parent
region's price (issue 7, item 9).

Hand computations are written out: the parameters and prices below are small round numbers so that
each expected value can be checked on paper.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.engine.value import gbt2260_ancestors
from qingshan.engine.workbook import HEAD_ROWS

HEADER = "region_code,region_name,year,indicator,component,ecosystem,quantity,unit\n"
PARAMS = (
    "param_key,value,unit,source,certainty,note\n"
    "sediment_deposition_ratio,0.24,1,test,V,\n"
    "soil_bulk_density,1200,kg/m3,test,V,\n"  # 1.2 t/m3, given in kg/m3 to check the conversion
    "soil_n_content,0.004,1,test,V,\n"
    "soil_p_content,0.001,1,test,V,\n"
    "sand_bulk_density,1.25,t/m3,test,V,\n"
    "sand_cover_thickness,0.1,m,test,V,\n"
    "ac_efficiency,3.0,1,test (given but not used here),V,\n"
)
PRICES = (
    "price_key,value,unit,price_year,region,source\n"
    "dredging_cost,10,元/m3,2020,*,test\n"
    "nitrogen_treatment_cost,1000,元/t,2020,*,test\n"
    "phosphorus_treatment_cost,2000,元/t,2020,*,test\n"
    "sand_control_cost,4,元/m2,2020,*,test\n"
)


def _write(tmp: Path, name: str, text: str) -> Path:
    p = tmp / name
    p.write_text(text, encoding="utf-8")
    return p


def _run(tmp: Path, quantities: str, *, params: str | None = PARAMS, prices: str = PRICES,
         profile: str = "rcees"):  # type: ignore[no-untyped-def]
    args = ["value", str(_write(tmp, "q.csv", HEADER + quantities)), "--prices", str(_write(tmp, "p.csv", prices)),
            "--profile", profile, "-o", str(tmp / "out")]
    if params is not None:
        args += ["--params", str(_write(tmp, "params.csv", params))]
    return CliRunner().invoke(app, args)


def _results(tmp: Path) -> pd.DataFrame:
    return pd.read_csv(tmp / "out" / "results.csv", encoding="utf-8-sig", dtype={"region_code": str})


def _row(df: pd.DataFrame, component: str) -> pd.Series:
    sub = df[df["component"] == component]
    assert len(sub) == 1, (component, sub)
    return sub.iloc[0]


def test_soil_mass_values_three_components_by_hand(tmp_path: Path) -> None:
    # 120 万t = 1 200 000 t of soil retained in forest
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,120,万t\n")
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    # reduced sedimentation: λ·Q/ρ = 0.24 × 1 200 000 t / 1.2 t/m3 = 240 000 m3; × 10 元/m3 = 2 400 000 元
    sed = _row(df, "sediment_reduction")
    assert sed["quantity"] == pytest.approx(240_000.0, rel=1e-12)
    assert sed["unit"] == "m3"
    assert sed["value"] == pytest.approx(2_400_000.0, rel=1e-12)
    # N: 1 200 000 t × 0.004 = 4 800 t; × 1000 元/t = 4 800 000 元
    n = _row(df, "nitrogen_retained")
    assert n["quantity"] == pytest.approx(4_800.0, rel=1e-12)
    assert n["value"] == pytest.approx(4_800_000.0, rel=1e-12)
    # P: 1 200 000 t × 0.001 = 1 200 t; × 2000 元/t = 2 400 000 元
    p = _row(df, "phosphorus_retained")
    assert p["quantity"] == pytest.approx(1_200.0, rel=1e-12)
    assert p["value"] == pytest.approx(2_400_000.0, rel=1e-12)
    # the mass itself is the physical headline, not valued twice
    assert pd.isna(_row(df, "soil_retained")["value"])
    assert df["value"].sum() == pytest.approx(9_600_000.0, rel=1e-12)


def test_provenance_records_only_used_parameters_and_warns_unused(tmp_path: Path) -> None:
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,120,万t\n")
    assert res.exit_code == 0, res.output
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert sorted(prov["parameters"]) == ["sediment_deposition_ratio", "soil_bulk_density", "soil_n_content", "soil_p_content"]
    assert prov["parameters_unused"] == ["ac_efficiency", "sand_bulk_density", "sand_cover_thickness"]
    [warned] = [n for n in prov["notices"] if n["code"] == "parameters_unused"]
    assert all(k in warned["en"] for k in prov["parameters_unused"])
    assert "Warning" in res.output and "ac_efficiency" in res.output and "未使用" in res.output


def test_sand_mass_values_area_by_hand(tmp_path: Path) -> None:
    # 5 000 t of sand fixed: area = Q/(ρ·h) = 5000 / (1.25 × 0.1) = 40 000 m2; × 4 元/m2 = 160 000 元
    res = _run(tmp_path, "150000,内蒙古,2020,sand_fixation,sand_fixed,grassland,5000,t\n")
    assert res.exit_code == 0, res.output
    area = _row(_results(tmp_path), "desertified_land_avoided")
    assert area["quantity"] == pytest.approx(40_000.0, rel=1e-12)
    assert area["value"] == pytest.approx(160_000.0, rel=1e-12)
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert sorted(prov["parameters"]) == ["sand_bulk_density", "sand_cover_thickness"]


def test_derivation_uses_the_account_quantity_function(tmp_path: Path) -> None:
    # same numbers through the raster path's function: one formula, two callers
    import numpy as np

    from qingshan.core.params import ParameterTable, ParamSet
    from qingshan.quantities.soil import soil_retention_parts

    table = ParameterTable.from_csv(_write(tmp_path, "params.csv", PARAMS))
    parts = soil_retention_parts(np.array([1_200_000.0]), ParamSet(scalars=table))
    assert parts["sediment_reduction"][0] == pytest.approx(240_000.0, rel=1e-12)


def test_given_parts_are_kept_and_no_parameter_used(tmp_path: Path) -> None:
    q = ("360722,信丰县,2020,soil_retention,soil_retained,forest,100,t\n"
         "360722,信丰县,2020,soil_retention,sediment_reduction,forest,7,m3\n"
         "360722,信丰县,2020,soil_retention,nitrogen_retained,forest,1,t\n"
         "360722,信丰县,2020,soil_retention,phosphorus_retained,forest,1,t\n")
    res = _run(tmp_path, q)
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    assert _row(df, "sediment_reduction")["quantity"] == 7
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert prov["parameters"] == {}
    assert "soil_bulk_density" in prov["parameters_unused"]


def test_soil_mass_without_params_is_a_clear_error(tmp_path: Path) -> None:
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,100,t\n", params=None)
    assert res.exit_code == 2, res.output
    assert "--params" in res.output and "sediment_reduction" in res.output and "参数" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "out").exists()


def test_some_parts_given_is_an_error(tmp_path: Path) -> None:
    q = ("360722,信丰县,2020,soil_retention,soil_retained,forest,100,t\n"
         "360722,信丰县,2020,soil_retention,sediment_reduction,forest,7,m3\n")
    res = _run(tmp_path, q)
    assert res.exit_code == 2, res.output
    assert "nitrogen_retained" in res.output and "Fix:" in res.output


def test_missing_parameter_names_the_key(tmp_path: Path) -> None:
    params = "\n".join(line for line in PARAMS.splitlines() if not line.startswith("soil_n_content"))
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,100,t\n", params=params)
    assert res.exit_code == 2, res.output
    assert "soil_n_content" in res.output and "params.csv" in res.output


# ----------------------------------------------------------------------------- not broken down
def test_all_ecosystem_is_not_broken_down(tmp_path: Path) -> None:
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,all,120,万t\n")
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    assert set(df["ecosystem"]) == {"all"}
    eco_sheets = [s for s in pd.ExcelFile(tmp_path / "out" / "gep_accounts.xlsx").sheet_names if s.startswith("生态系统")]
    eco = pd.read_excel(tmp_path / "out" / "gep_accounts.xlsx", sheet_name=eco_sheets[0], header=HEAD_ROWS)
    assert "未分生态系统 not broken down" in eco.columns
    assert not any("other" in str(c) for c in eco.columns)


def test_empty_ecosystem_is_rejected_not_other(tmp_path: Path) -> None:
    res = _run(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,,120,万t\n")
    assert res.exit_code == 2, res.output
    assert "ecosystem is empty" in res.output and "'all'" in res.output and "未按生态系统细分" in res.output


def test_all_beside_breakdown_is_rejected(tmp_path: Path) -> None:
    q = ("360722,信丰县,2020,soil_retention,soil_retained,all,120,t\n"
         "360722,信丰县,2020,soil_retention,soil_retained,forest,100,t\n")
    res = _run(tmp_path, q)
    assert res.exit_code == 2, res.output
    assert "counted twice" in res.output


# ----------------------------------------------------------------------------- parent-region prices
def test_gbt2260_ancestors() -> None:
    assert gbt2260_ancestors("360722") == ["360700", "360000"]
    assert gbt2260_ancestors("360700") == ["360000"]
    assert gbt2260_ancestors("360000") == []
    assert gbt2260_ancestors("360722100") == ["360722", "360700", "360000"]
    assert gbt2260_ancestors("BYD") == []


def test_province_price_found_for_its_county(tmp_path: Path) -> None:
    prices = ("price_key,value,unit,price_year,region,source\n"
              "product_price.reed,9999,元/t,2020,*,national\n"
              "product_price.reed,3000,元/t,2020,360000,Jiangxi\n"
              "product_price.reed,5000,元/t,2020,440000,Guangdong\n")
    res = _run(tmp_path, "360722,信丰县,2020,forestry_products,reed,wetland,2,t\n", params=None, prices=prices)
    assert res.exit_code == 0, res.output
    row = _row(_results(tmp_path), "reed")
    assert row["price"] == 3000
    assert row["value"] == pytest.approx(6000.0)
    prov = json.loads((tmp_path / "out" / "provenance.json").read_text(encoding="utf-8"))
    assert prov["prices"][0]["region"] == "360000"


def test_city_price_before_province(tmp_path: Path) -> None:
    prices = ("price_key,value,unit,price_year,region,source\n"
              "product_price.reed,3000,元/t,2020,360000,Jiangxi\n"
              "product_price.reed,4000,元/t,2020,360700,Ganzhou\n")
    res = _run(tmp_path, "360722,信丰县,2020,forestry_products,reed,wetland,2,t\n", params=None, prices=prices)
    assert res.exit_code == 0, res.output
    assert _row(_results(tmp_path), "reed")["price"] == 4000


# ----------------------------------------------------------------------------- pest control (issue 7 item 8)
def test_pest_control_row_values_as_area_times_cost(tmp_path: Path) -> None:
    prices = ("price_key,value,unit,price_year,region,source\n"
              "pest_control_cost.forest,375,元/hm2,2010,*,Garzê\n"
              "pest_control_cost.grassland,112.5,元/hm2,2010,*,Garzê\n")
    q = ("513300,甘孜州,2010,pest_control,forest_area,forest,2000,hm2\n"
         "513300,甘孜州,2010,pest_control,grassland_area,grassland,1,万公顷\n")
    res = _run(tmp_path, q, params=None, prices=prices)
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    # forest: 2 000 hm2 × 375 元/hm2 = 750 000 元
    assert _row(df, "forest_area")["value"] == pytest.approx(750_000.0, rel=1e-12)
    # grassland: 1 万公顷 = 10 000 hm2 × 112.5 元/hm2 = 1 125 000 元
    grass = _row(df, "grassland_area")
    assert grass["quantity"] == pytest.approx(10_000.0, rel=1e-12)
    assert grass["value"] == pytest.approx(1_125_000.0, rel=1e-12)


def test_pest_control_raster_area_is_forest_and_grassland_cells() -> None:
    from importlib import resources

    import numpy as np
    from affine import Affine

    from qingshan.core.grid import Grid
    from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
    from qingshan.quantities.habitat import pest_control_area
    tables = resources.files("qingshan.data") / "tables"
    lc = LandcoverTable.from_csv(str(tables / "landcover_modis_igbp.csv"))
    forest = next(c for c in lc.codes if lc.ecosystem_of(c) == "forest")
    grass = next(c for c in lc.codes if lc.ecosystem_of(c) == "grassland")
    crop = next(c for c in lc.codes if lc.ecosystem_of(c) == "cropland")
    grid = Grid.from_crs("EPSG:32650", Affine(100, 0, 400000, 0, -100, 3300000), 1, 4)  # 1 hm2 cells
    lulc = np.array([[forest, forest, grass, crop]], dtype=float)
    out = pest_control_area({"lulc": lulc}, ParamSet(ParameterTable(params={}), lc), grid)
    assert out["forest_area"][0].tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])
    assert out["grassland_area"][0].tolist() == pytest.approx([0.0, 0.0, 1.0, 0.0])


# ----------------------------------------------------------------------------- soil fertility (GB/T 38582 practice)
FERTILITY_PARAMS = (
    "param_key,value,unit,source,certainty,note\n"
    "soil_bulk_density,1.25,t/m3,test,V,\n"
    "soil_n_content,0.002,1,test,V,\n"
    "soil_p_content,0.001,1,test,V,\n"
    "soil_k_content,0.02,1,test,V,\n"
    "soil_organic_matter_content,0.03,1,test,V,\n"
    "soil_abandon_thickness,0.5,m,test,V,\n"
)
FERTILITY_PRICES = (
    "price_key,value,unit,price_year,region,source\n"
    "fertilizer_price.n,10000,元/t,2020,*,test\n"
    "fertilizer_price.p,20000,元/t,2020,*,test\n"
    "fertilizer_price.k,4000,元/t,2020,*,test\n"
    "organic_matter_price,300,元/t,2020,*,test\n"
    "forestry_opportunity_cost,500,元/hm2,2020,*,test\n"
)


def test_soil_fertility_from_a_soil_mass_by_hand(tmp_path: Path) -> None:
    res = _run(tmp_path, "360722,信丰县,2020,soil_fertility,soil_retained,forest,100,万t\n",
               params=FERTILITY_PARAMS, prices=FERTILITY_PRICES, profile="gb-t-38582-2020")
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    q = 1_000_000.0  # t
    # N 0.2 % → 2 000 t × 10 000 = 2e7; P 0.1 % → 1 000 t × 20 000 = 2e7; K 2 % → 20 000 t × 4 000 = 8e7;
    # organic matter 3 % → 30 000 t × 300 = 9e6
    for comp, qty, value in (("nitrogen_retained", 2_000, 2e7), ("phosphorus_retained", 1_000, 2e7),
                             ("potassium_retained", 20_000, 8e7), ("organic_matter_retained", 30_000, 9e6)):
        row = _row(df, comp)
        assert row["quantity"] == pytest.approx(qty, rel=1e-12), comp
        assert row["value"] == pytest.approx(value, rel=1e-12), comp
    # abandoned land: Q/(ρ h) = 1e6 / (1.25 × 0.5) = 1.6e6 m2 = 160 hm2; × 500 元/hm2 = 80 000 元
    land = _row(df, "abandoned_land_avoided")
    assert land["quantity"] == pytest.approx(q / 1.25 / 0.5 / 1e4, rel=1e-12)
    assert land["value"] == pytest.approx(80_000.0, rel=1e-12)


# ----------------------------------------------------------------------------- per-area quantities with their area
HEADER_AREA = "region_code,region_name,year,indicator,component,ecosystem,quantity,unit,area,area_unit\n"


def _run_area(tmp: Path, rows: str, **kw):  # type: ignore[no-untyped-def]
    q = _write(tmp, "q.csv", HEADER_AREA + rows)
    args = ["value", str(q), "--prices", str(_write(tmp, "p.csv", PRICES)), "--params",
            str(_write(tmp, "params.csv", PARAMS)), "--profile", "rcees", "-o", str(tmp / "out")]
    return CliRunner().invoke(app, args)


def test_per_area_soil_retention_with_its_area(tmp_path: Path) -> None:
    # 500 kg/(hm²·a) over 2 万公顷 = 500 × 20 000 kg = 10 000 t; sediment 0.24 × 10 000 / 1.2 = 2 000 m3 → 20 000 元
    res = _run_area(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,500,kg/(hm²·a),2,万公顷\n")
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    assert _row(df, "soil_retained")["quantity"] == pytest.approx(10_000.0, rel=1e-12)
    assert _row(df, "sediment_reduction")["value"] == pytest.approx(20_000.0, rel=1e-12)


def test_per_area_without_area_is_rejected(tmp_path: Path) -> None:
    res = _run_area(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,3,t/hm2,,\n")
    assert res.exit_code == 2, res.output
    assert "per area" in res.output and "area_unit" in res.output and "单位面积" in res.output


def test_area_beside_a_total_is_rejected(tmp_path: Path) -> None:
    res = _run_area(tmp_path, "360722,信丰县,2020,soil_retention,soil_retained,forest,3,t,100,hm2\n")
    assert res.exit_code == 2, res.output
    assert "not per area" in res.output


# ----------------------------------------------------------------------------- ecosystem hierarchy in value
def test_value_by_forest_subtype_rolls_up(tmp_path: Path) -> None:
    prices = "price_key,value,unit,price_year,region,source\nproduct_price.timber,1000,元/m3,2020,*,test\n"
    q = ("360722,信丰县,2020,forestry_products,timber,forest.coniferous,3,m3\n"
         "360722,信丰县,2020,forestry_products,timber,forest.bamboo,2,m3\n")
    res = _run(tmp_path, q, params=None, prices=prices)
    assert res.exit_code == 0, res.output
    df = _results(tmp_path)
    assert set(df["ecosystem"]) == {"forest.coniferous", "forest.bamboo"}
    xlsx = tmp_path / "out" / "gep_accounts.xlsx"
    sheets = pd.ExcelFile(xlsx).sheet_names
    eco = pd.read_excel(xlsx, sheet_name=next(s for s in sheets if s.startswith("生态系统 ")), header=HEAD_ROWS)
    assert eco["森林 forest"].iloc[0] == pytest.approx(5000 / 1e8)  # rolled up: (3 + 2) m3 × 1000 元
    sub = pd.read_excel(xlsx, sheet_name=next(s for s in sheets if s.startswith("生态系统细分")), header=HEAD_ROWS)
    assert sub["竹林 forest.bamboo"].iloc[0] == pytest.approx(2000 / 1e8)


def test_value_forest_beside_its_subtype_is_rejected(tmp_path: Path) -> None:
    q = ("360722,信丰县,2020,forestry_products,timber,forest,3,m3\n"
         "360722,信丰县,2020,forestry_products,timber,forest.bamboo,2,m3\n")
    res = _run(tmp_path, q, params=None,
               prices="price_key,value,unit,price_year,region,source\nproduct_price.timber,1000,元/m3,2020,*,test\n")
    assert res.exit_code == 2, res.output
    assert "counted twice" in res.output
