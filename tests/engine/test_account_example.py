"""End-to-end: the embedded Jiangxi 2019 example through ``engine.run.account`` (one run per module)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import rasterio
from rasterio import features

PROVINCE = "360000"
KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]


def _config_of(outcome) -> Path:  # type: ignore[no-untyped-def]
    return outcome.output_dir.parent / "config.toml"


def _store_of(outcome) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite:///{outcome.output_dir.parent / 'store.sqlite'}"


def test_run_succeeds(example_run) -> None:  # type: ignore[no-untyped-def]
    res = example_run.results
    assert not res.empty
    assert example_run.output_dir.is_dir()
    assert set(res["region_code"]) >= {PROVINCE}
    levels = {example_run.regions.get(c).level for c in res["region_code"].unique()}
    assert levels == {"province", "city", "county"}
    gep = res.loc[res["region_code"] == PROVINCE, "value"].sum(skipna=True)
    assert np.isfinite(gep)
    assert gep > 0


@pytest.mark.parametrize("column", ["quantity", "value", "value_comparable"])
def test_children_sum_to_parent(example_run, column: str) -> None:  # type: ignore[no-untyped-def]
    """Counties add up to their city and cities to the province, per indicator/component/year."""
    res, regions = example_run.results, example_run.regions
    per = res.groupby(["region_code", "year", "indicator", "component"])[column].sum(min_count=1)
    checked = 0
    for parent in [*regions.codes_at("province"), *regions.codes_at("city")]:
        kids = regions.children(parent)
        assert kids, f"{parent} has no children"
        p = per.xs(parent, level="region_code")
        c = per[per.index.get_level_values("region_code").isin(kids)].groupby(level=["year", "indicator", "component"]).sum(min_count=1)
        both = pd.concat({"parent": p, "children": c}, axis=1)
        assert both.index.equals(p.index.union(c.index))
        for idx, row in both.iterrows():
            if pd.isna(row["parent"]) and pd.isna(row["children"]):
                continue
            assert not pd.isna(row["parent"]) and not pd.isna(row["children"]), (parent, idx, row.to_dict())
            assert abs(row["parent"] - row["children"]) <= 1e-6 * max(abs(row["parent"]), 1.0), (parent, idx, row.to_dict())
            checked += 1
    assert checked > 100


def test_water_conservation_matches_raster(example_run) -> None:  # type: ignore[no-untyped-def]
    """Province total = coverage-weighted raster sum: between the sums of interior and touched cells.

    The COG covers the whole reference grid (the rectangle around Jiangxi), so the province's
    cells are selected with its boundary: cells fully inside ≤ total ≤ cells touching, and the
    total is within 3 % of the cells whose centre lies inside.
    """
    res = example_run.results
    total = res.loc[(res["region_code"] == PROVINCE) & (res["indicator"] == "water_conservation")
                    & (res["component"] == "water_conservation") & (res["year"] == 2019), "quantity"].sum()
    tif = example_run.output_dir / "rasters" / "water_conservation.water_conservation.2019.tif"
    with rasterio.open(tif) as ds:
        arr = ds.read(1).astype(np.float64)
        shape = (ds.height, ds.width)
        transform, crs = ds.transform, ds.crs
    province = gpd.GeoSeries([example_run.regions.leaves.union_all()], crs=example_run.regions.leaves.crs).to_crs(crs.to_wkt())
    geom = province.iloc[0]
    centre = features.geometry_mask([geom], shape, transform, invert=True, all_touched=False)
    touched = features.geometry_mask([geom], shape, transform, invert=True, all_touched=True)
    border = features.geometry_mask([geom.boundary], shape, transform, invert=True, all_touched=True)
    interior = touched & ~border
    vals = np.nan_to_num(arr, nan=0.0)
    s_in, s_centre, s_touch = vals[interior].sum(), vals[centre].sum(), vals[touched].sum()
    assert total > 0
    assert s_in * (1 - 1e-6) <= total <= s_touch * (1 + 1e-6), (s_in, total, s_touch)
    assert total == pytest.approx(s_centre, rel=0.03)
    # the province is only part of the grid: never more than the whole raster
    assert total <= np.nansum(arr) * (1 + 1e-6)


def test_exports_exist(example_run) -> None:  # type: ignore[no-untyped-def]
    out = example_run.output_dir
    sheets = pd.ExcelFile(out / "gep_accounts.xlsx", engine="openpyxl").sheet_names
    for prefix in ("GEP总表", "价值量", "实物量", "可比价"):
        assert any(s.startswith(prefix) for s in sheets), (prefix, sheets)
    csv = pd.read_csv(out / "results.csv", encoding="utf-8-sig", dtype={"region_code": str})
    assert len(csv) == len(example_run.results)
    assert {"region_code", "year", "indicator", "quantity", "value"} <= set(csv.columns)
    layers = {name for name, _ in pyogrio.list_layers(out / "regions.gpkg")}
    assert layers >= {"province", "city", "county"}
    counts = {"province": 1, "city": 11, "county": 100}
    for layer, n in counts.items():
        gdf = gpd.read_file(out / "regions.gpkg", layer=layer)
        assert "gep_2019_yi" in gdf.columns
        assert len(gdf) == n
        assert gdf["gep_2019_yi"].notna().all()
    prov_gep = gpd.read_file(out / "regions.gpkg", layer="province")["gep_2019_yi"].iloc[0]
    res = example_run.results
    assert prov_gep == pytest.approx(res.loc[(res["region_code"] == PROVINCE) & (res["year"] == 2019), "value"].sum() / 1e8, rel=1e-9)
    tifs = sorted((out / "rasters").glob("*.tif"))
    assert tifs
    for tif in tifs:
        with rasterio.open(tif) as ds:
            assert ds.crs is not None
            assert ds.driver == "GTiff"
            assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT", "").upper() == "COG"
    assert not list(out.parent.glob(f".{out.name}.tmp-*")), "temporary export folder left behind"


def test_provenance(example_run) -> None:  # type: ignore[no-untyped-def]
    prov = json.loads((example_run.output_dir / "provenance.json").read_text(encoding="utf-8"))
    hashes = prov["input_hashes"]
    assert hashes
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes.values()), hashes
    names = {Path(p).name for p in hashes}
    assert {"lulc_modis_igbp_2019.tif", "prices_default.csv", "jiangxi_county_tianditu.geojson"} <= names
    assert prov["parameters"]
    assert all("value" in p and "source" in p for p in prov["parameters"].values())
    assert prov["prices"]
    assert all(p.get("source") for p in prov["prices"]), prov["prices"]
    assert re.fullmatch(r"[0-9a-f]{64}", prov["content_hash"])
    assert prov["content_hash"] == example_run.provenance["content_hash"]
    assert prov["run_id"] == example_run.run_id


def test_recorded_in_store(example_run) -> None:  # type: ignore[no-untyped-def]
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(_store_of(example_run))
    runs = {r.id: r for r in repo.list_runs(factory)}
    assert example_run.run_id in runs
    run = runs[example_run.run_id]
    assert run.status == "succeeded"
    assert run.content_hash == example_run.provenance["content_hash"]
    stored = repo.read_results(factory, example_run.run_id)
    assert len(stored) == len(example_run.results)


def test_rerun_is_identical(example_run) -> None:  # type: ignore[no-untyped-def]
    """Same config twice → exactly the same results table and content hash (kept last: replaces the output)."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account

    second = account(load_config(_config_of(example_run)))
    assert second.run_id != example_run.run_id
    assert second.provenance["content_hash"] == example_run.provenance["content_hash"]

    def norm(df: pd.DataFrame) -> pd.DataFrame:
        return df.sort_values(KEYS).reset_index(drop=True)

    pd.testing.assert_frame_equal(norm(example_run.results), norm(second.results), check_exact=True)
