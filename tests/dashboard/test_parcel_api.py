"""POST /api/runs/{run_id}/parcel over a real run of the embedded Jiangxi example."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping

from qingshan.core.errors import InputError
from qingshan.engine.parcel import clean_parcel, geodesic_km2, parcel_from_geojson, value_parcel

COUNTY = "360124"  # 进贤县, Nanchang: inland, holds part of a lake (water evaporation) and cropland (rice)
YEAR = 2019


def _url(example: SimpleNamespace) -> str:
    return f"/api/runs/{example.run_id}/parcel"


def _county(example: SimpleNamespace, code: str = COUNTY) -> Any:
    return example.counties.loc[example.counties["code"] == code, "geometry"].iloc[0]


def _post(client: TestClient, example: SimpleNamespace, geom: Any) -> dict[str, Any]:
    r = client.post(_url(example), json={"type": "Feature", "properties": {}, "geometry": mapping(geom)})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _quantities(body: dict[str, Any]) -> dict[tuple[str, str], float]:
    return {(c["indicator"], c["component"]): c["quantity"] for c in body["by_component"]}


@pytest.fixture(scope="module")
def whole_county(client: TestClient, example: SimpleNamespace) -> dict[str, Any]:
    return _post(client, example, _county(example))


def test_whole_county_returns_the_county_quantities_within_1pct(whole_county: dict[str, Any],
                                                                example: SimpleNamespace) -> None:
    res = example.results
    county = res[(res["region_code"] == COUNTY) & (res["year"] == YEAR)]
    expected = county.groupby(["indicator", "component"])["quantity"].sum()
    got = _quantities(whole_county)
    assert set(got) == {k for k, q in expected.items() if q > 0}
    for key, q in expected.items():
        if q > 0:
            assert got[key] == pytest.approx(q, rel=0.01), key
    assert whole_county["gep"] == pytest.approx(county["value"].sum(), rel=0.01)
    assert whole_county["gep_yi"] == pytest.approx(whole_county["gep"] / 1e8)
    assert [p["code"] for p in whole_county["regions"]] == [COUNTY]
    assert whole_county["area_outside_km2"] == pytest.approx(0.0, abs=1e-6)


def test_breakdowns_add_up_to_the_gep(whole_county: dict[str, Any]) -> None:
    gep = whole_county["gep"]
    for group in ("by_category", "by_indicator", "by_ecosystem"):
        assert sum(g["value"] or 0.0 for g in whole_county[group]) == pytest.approx(gep, rel=1e-9), group
    assert whole_county["exact_value"] + whole_county["apportioned_value"] == pytest.approx(gep, rel=1e-9)
    basis = {g["key"]: g["basis"] for g in whole_county["by_indicator"]}
    assert basis["agricultural_products"] == "apportioned"  # rice comes from the statistics table
    assert basis["water_conservation"] == "raster"
    rice = next(g for g in whole_county["by_ecosystem"] if g["key"] == "cropland")
    assert rice["name_zh"] == "农田"
    assert "近似" in whole_county["method_note_zh"] and "apportioned" in whole_county["method_note_en"]


def test_two_halves_add_up_to_the_whole_and_each_is_about_half(client: TestClient, example: SimpleNamespace,
                                                             whole_county: dict[str, Any]) -> None:
    geom = _county(example)
    x0, y0, x1, y1 = geom.bounds
    mid = float(np.median(np.asarray(shapely.get_coordinates(geom))[:, 0]))  # half the vertices each side
    west = _post(client, example, geom.intersection(box(x0 - 1, y0 - 1, mid, y1 + 1)))
    east = _post(client, example, geom.intersection(box(mid, y0 - 1, x1 + 1, y1 + 1)))
    assert west["area_km2"] + east["area_km2"] == pytest.approx(whole_county["area_km2"], rel=1e-6)
    assert west["gep"] + east["gep"] == pytest.approx(whole_county["gep"], rel=1e-6)
    whole_q, w_q, e_q = _quantities(whole_county), _quantities(west), _quantities(east)
    for key, q in whole_q.items():
        assert w_q.get(key, 0.0) + e_q.get(key, 0.0) == pytest.approx(q, rel=1e-6), key
    # apportioned rice follows cropland area; each half holds between 10 % and 90 % of it
    share = w_q[("agricultural_products", "rice")] / whole_q[("agricultural_products", "rice")]
    assert 0.1 < share < 0.9


def _inner_cell(example: SimpleNamespace) -> tuple[Any, float]:
    """A raster cell fully inside the county, as a lon/lat box, and its water-conservation quantity [m3]."""
    path = example.output_dir / "rasters" / f"water_conservation.water_conservation.{YEAR}.tif"
    geom = _county(example).buffer(-0.12)  # > 2 cells of 0.05° from the boundary
    with rasterio.open(path) as ds:
        data, t = ds.read(1), ds.transform
        for row in range(ds.height):
            for col in range(ds.width):
                x0, y1 = t.c + col * t.a, t.f + row * t.e  # north-up grid: upper-left corner
                cell = box(x0, y1 + t.e, x0 + t.a, y1)
                if data[row, col] > 0 and geom.contains(cell):
                    return cell, float(data[row, col])
    raise AssertionError("no inner cell")


def test_a_cell_and_half_a_cell_are_exact_fractions_of_the_raster(client: TestClient,
                                                                 example: SimpleNamespace) -> None:
    cell, q = _inner_cell(example)
    key = ("water_conservation", "water_conservation")
    assert _quantities(_post(client, example, cell))[key] == pytest.approx(q, rel=1e-9)  # coverage 1
    x0, y0, x1, y1 = cell.bounds
    half = box(x0, y0, (x0 + x1) / 2, y1)
    assert _quantities(_post(client, example, half))[key] == pytest.approx(0.5 * q, rel=1e-9)  # coverage ½


def _county_frame(example: SimpleNamespace, crs: str) -> gpd.GeoDataFrame:
    return example.counties[example.counties["code"] == COUNTY][["code", "geometry"]].to_crs(crs)


def _shp_zip(gdf: gpd.GeoDataFrame, tmp: Path) -> bytes:
    gdf.to_file(tmp / "parcel.shp")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in tmp.iterdir():
            if f.stem == "parcel":
                z.write(f, f.name)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["geojson", "gpkg", "shp"])
def test_uploads_of_geojson_gpkg_and_zipped_shp_give_the_county_gep(
        kind: str, client: TestClient, example: SimpleNamespace, whole_county: dict[str, Any],
        tmp_path: Path) -> None:
    gdf = _county_frame(example, "EPSG:32650")  # UTM 50N: the upload is reprojected to lon/lat
    if kind == "geojson":
        data = _county_frame(example, "EPSG:4326").to_json().encode()
    elif kind == "gpkg":
        gdf.to_file(tmp_path / "parcel.gpkg", layer="parcel", driver="GPKG")
        data = (tmp_path / "parcel.gpkg").read_bytes()
    else:
        data = _shp_zip(gdf, tmp_path)
    r = client.post(_url(example), files={"file": (f"parcel.{kind}", data, "application/octet-stream")})
    assert r.status_code == 200, r.text
    assert r.json()["gep"] == pytest.approx(whole_county["gep"], rel=0.005)
    assert r.json()["area_km2"] == pytest.approx(whole_county["area_km2"], rel=0.005)


def test_a_self_intersecting_polygon_is_repaired(client: TestClient, example: SimpleNamespace) -> None:
    c = _county(example).representative_point()
    x, y = c.x, c.y
    bowtie = shapely.Polygon([(x - .02, y - .02), (x + .02, y + .02), (x + .02, y - .02), (x - .02, y + .02)])
    assert not bowtie.is_valid
    body = _post(client, example, bowtie)
    assert body["area_km2"] == pytest.approx(geodesic_km2(shapely.make_valid(bowtie)), rel=1e-9)
    assert body["gep"] > 0


BAD_JSON: list[tuple[str, Any]] = [
    ("empty", {"type": "FeatureCollection", "features": []}),
    ("point", {"type": "Point", "coordinates": [116.2, 28.4]}),
    ("outside", mapping(box(10, 10, 10.1, 10.1))),
    ("too_large", mapping(box(114, 25, 118, 29))),  # ≈ 170 000 km2 > 10 000 km2
    ("projected", mapping(box(500000, 3100000, 510000, 3110000))),
    ("not_geojson", {"hello": "world"}),
    ("bad_coordinates", {"type": "Polygon", "coordinates": "x"}),
    ("unknown_type", {"type": ""}),  # shapely's GeometryTypeError, once a 500
    ("no_area", {"type": "Polygon", "coordinates": [[[116, 28], [116, 28], [116, 28], [116, 28]]]}),
    ("text_coordinates", {"type": "Polygon", "coordinates": [[["a", "b"], [1, 2], [3, 4], ["a", "b"]]]}),
]


@pytest.mark.parametrize(("name", "body"), BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_bad_parcels_are_422_in_both_languages(name: str, body: Any, client: TestClient,
                                               example: SimpleNamespace) -> None:
    r = client.post(_url(example), json=body)
    assert r.status_code == 422, (name, r.text)
    err = r.json()
    assert err["message_zh"] and err["message_en"] and err["fix_zh"]


@pytest.mark.parametrize(("name", "files", "content"), [
    ("unreadable_file", {"file": ("x.geojson", b"not a geodata file", "application/octet-stream")}, None),
    ("empty_file", {"file": ("x.zip", b"", "application/zip")}, None),
    ("zip_without_shp", {"file": ("x.zip", b"", "application/zip")}, "zip"),
    ("no_file_field", None, "form"),
    ("invalid_json", None, "json"),
    ("nan_coordinates", None, "nan"),
])
def test_bad_uploads_are_422_in_both_languages(name: str, files: Any, content: str | None, client: TestClient,
                                               example: SimpleNamespace) -> None:
    if content == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("readme.txt", "no layer here")
        r = client.post(_url(example), files={"file": ("x.zip", buf.getvalue(), "application/zip")})
    elif content == "form":
        r = client.post(_url(example), data={"other": "1"}, files={"x": ("a.txt", b"1", "text/plain")})
    elif content == "nan":  # Python's json accepts NaN, GeoJSON does not
        body = b'{"type": "Polygon", "coordinates": [[[NaN, 28], [116, 28.1], [116.1, 28], [NaN, 28]]]}'
        r = client.post(_url(example), content=body, headers={"content-type": "application/json"})
    elif content == "json":
        r = client.post(_url(example), content=b"{not json", headers={"content-type": "application/json"})
    else:
        r = client.post(_url(example), files=files)
    assert r.status_code == 422, (name, r.text)
    assert r.json()["message_zh"]


def test_unknown_year_is_404(client: TestClient, example: SimpleNamespace) -> None:
    r = client.post(_url(example) + "?year=1999", json=mapping(_county(example)))
    assert r.status_code == 404
    assert "1999" in r.json()["message_zh"]


def test_missing_rasters_are_a_bilingual_error(example: SimpleNamespace, tmp_path: Path) -> None:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(example.store_url)
    run = repo.get_run(factory, example.run_id)
    assert run is not None
    out = tmp_path / "out"
    shutil.copytree(example.output_dir, out)
    (out / "rasters" / f"water_conservation.water_conservation.{YEAR}.tif").unlink()
    kwargs = {"config": run.config, "methods": run.provenance["methods"], "year": YEAR,
              "regions": repo.read_regions(factory, run.id, with_geometry=True),
              "results": repo.read_results(factory, run.id, year=YEAR)}
    with pytest.raises(InputError) as err:
        value_parcel(_county(example), output_dir=out, **kwargs)
    assert "water_conservation" in err.value.en and "栅格" in err.value.zh
    shutil.rmtree(out / "rasters")
    with pytest.raises(InputError):
        value_parcel(_county(example), output_dir=out, **kwargs)
    with pytest.raises(InputError) as gone:
        value_parcel(_county(example), output_dir=tmp_path / "nowhere", **kwargs)
    assert "导出目录" in gone.value.zh


def test_clean_parcel_keeps_polygons_and_refuses_lines() -> None:
    line = shapely.LineString([(116, 28), (116.1, 28.1)])
    square = box(116, 28, 116.1, 28.1)
    assert clean_parcel([line, square]).equals(square)
    with pytest.raises(InputError, match="not a polygon"):
        clean_parcel([line])
    with pytest.raises(InputError, match="empty"):
        parcel_from_geojson({"type": "GeometryCollection", "geometries": []})
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(box(116, 28, 116.1, 28.1)))},
        {"type": "Feature", "properties": {}, "geometry": json.loads(shapely.to_geojson(box(116.1, 28, 116.2, 28.1)))},
    ]}
    assert parcel_from_geojson(fc).equals(box(116, 28, 116.2, 28.1))  # features are merged into one parcel
