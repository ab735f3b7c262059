"""Acceptance of the embedded Jiangxi 2019 example's data (issue 13).

* every statistics row names its source with a certainty tag, or says ``APPROXIMATION:`` and how it was made;
* GDP and population exist for the province and every city and county of the example's boundaries, and the
  county rows shared out from a city add up to the city;
* the example's class shares are within 10 percentage points of Jiangxi's published 2019 shares, or the
  comparison page ``docs/jiangxi-2019.md`` lists the class with both figures (the example's share as this run
  computes it, and the published one).
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import qingshan

EXAMPLE = Path(qingshan.__file__).parent / "data" / "examples" / "jiangxi"
PAGE = Path(__file__).resolve().parents[2] / "docs" / "jiangxi-2019.md"
PROVINCE = "360000"
SOURCE_TAG = re.compile(r"^(\[(V|V-code|V exchange|D|R)\]\s+\S.{10,}|APPROXIMATION:\s+\S.{20,})", re.DOTALL)
CLASSES = {"provisioning": "gep_share_material_products", "regulating": "gep_share_regulating_services",
           "cultural": "gep_share_cultural_services"}


def _stats() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE / "approx_statistics_2019.csv", dtype={"region_code": str}, keep_default_na=False)


def unsourced_rows(stats: pd.DataFrame) -> list[int]:
    """CSV line numbers of rows whose ``source`` has no certainty tag nor an ``APPROXIMATION:`` saying how."""
    return [i + 2 for i, s in enumerate(stats["source"].astype(str)) if not SOURCE_TAG.match(s.strip())]


def test_every_statistics_row_names_its_source() -> None:
    stats = _stats()
    assert len(stats) > 500
    assert unsourced_rows(stats) == []


@pytest.mark.parametrize("source", ["", "REAL", "APPROXIMATION", "estimated", "[V]"])
def test_a_row_without_a_source_is_found(source: str) -> None:
    stats = _stats().head(3).copy()
    stats.loc[1, "source"] = source
    assert unsourced_rows(stats) == [3]


def _boundary_codes() -> set[str]:
    gdf = gpd.read_file(EXAMPLE / "jiangxi_county_tianditu.geojson")
    codes = {PROVINCE}
    for col in ("city_adcode", "district_adcode"):
        codes |= set(gdf[col].astype(str))
    return codes


@pytest.mark.parametrize("item", ["gdp", "population"])
def test_gdp_and_population_for_every_city_and_county(item: str) -> None:
    codes = _boundary_codes()
    assert len(codes) == 1 + 11 + 100
    rows = _stats()
    rows = rows[(rows["item"] == item) & (rows["year"] == 2019)]
    assert not rows["region_code"].duplicated().any()
    assert set(rows["region_code"]) == codes
    assert (rows["value"].astype(float) > 0).all()


@pytest.mark.parametrize("item", ["gdp", "population"])
def test_counties_add_up_to_their_city_and_the_cities_to_the_province(item: str) -> None:
    gdf = gpd.read_file(EXAMPLE / "jiangxi_county_tianditu.geojson")
    city_of = dict(zip(gdf["district_adcode"].astype(str), gdf["city_adcode"].astype(str), strict=True))
    rows = _stats()
    value = rows[rows["item"] == item].set_index("region_code")["value"].astype(float)
    counties = value[value.index.isin(city_of)]
    by_city = counties.groupby(counties.index.map(city_of)).sum()
    assert by_city.to_dict() == pytest.approx(value[by_city.index].to_dict(), rel=1e-4)
    assert by_city.sum() == pytest.approx(value[PROVINCE], rel=2e-3)  # revised province GDP vs sum of cities


def _published() -> dict[str, float]:
    pub = pd.read_csv(EXAMPLE / "published_gep_2019.csv")
    return dict(zip(pub["indicator"], pub["value"].astype(float), strict=True))


def _example_shares(example_run) -> dict[str, float]:
    res = example_run.results
    prov = res[(res["region_code"] == PROVINCE) & (res["year"] == 2019)]
    by_class = prov.groupby("category")["value"].sum()
    return {c: 100 * float(by_class.get(c, 0.0)) / float(by_class.sum()) for c in CLASSES}


def _page_row(text: str, cls: str) -> str | None:
    return next((ln for ln in text.splitlines() if ln.startswith("|") and cls in ln.lower()), None)


def test_class_shares_near_published_or_explained_on_the_page(example_run) -> None:
    published = _published()
    assert published["gep_total"] == pytest.approx(29040.66)
    shares = _example_shares(example_run)
    text = PAGE.read_text(encoding="utf-8")
    for cls, key in CLASSES.items():
        if abs(shares[cls] - published[key]) <= 10:
            continue
        row = _page_row(text, cls)
        assert row is not None, f"{PAGE.name} has no table row for {cls} ({shares[cls]:.1f} % vs {published[key]} %)"
        assert f"{published[key]:.2f} %" in row, f"published share of {cls} missing: {row}"
        assert f"{shares[cls]:.1f} %" in row, f"the example's share of {cls} ({shares[cls]:.1f} %) missing: {row}"


def test_page_gives_the_published_total_and_the_example_total(example_run) -> None:
    res = example_run.results
    gep = res[(res["region_code"] == PROVINCE) & (res["year"] == 2019)]["value"].sum() / 1e8
    text = PAGE.read_text(encoding="utf-8")
    assert "29,040.66" in text
    assert f"{gep:,.0f}" in text, f"the example's GEP {gep:,.0f} 亿元 is not on {PAGE.name}"


def test_approximate_rows_are_qc_notices_naming_the_item() -> None:
    from qingshan.core.notices import collecting
    from qingshan.core.tables import read_csv_table
    from qingshan.quantities.statistics import STATISTICS_COLUMNS, check_statistics_rows

    path = EXAMPLE / "approx_statistics_2019.csv"
    with collecting() as notices:
        check_statistics_rows(read_csv_table(path, STATISTICS_COLUMNS, what="statistics table", what_zh="统计数据表"), path)
    mine = {n.en.split("'")[1]: n for n in notices if n.code == "statistics_approximation"}
    assert set(mine) == {"gdp", "population", "rice", "tourism_revenue", "lake_area", "emissions.so2", "emissions.nox",
                         "emissions.cod", "emissions.nh3n"}  # reservoir storages are reported values: no notice
    assert mine["gdp"].en.startswith("Statistics item 'gdp': 100 of 112 rows are approximations")
    assert "shared over the city's counties" in mine["gdp"].en
    assert mine["population"].zh.startswith("统计项 'population'：112 行中有 111 行为近似值")
    assert mine["gdp"].field == "source" and mine["gdp"].file == str(path)
