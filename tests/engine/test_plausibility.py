"""Plausibility of input rasters: the common unit mistakes are rejected before anything is computed.

Issue 7 found precipitation in metres accepted (GEP −17 %, water conservation 0, exit code 0), UTM
coordinates labelled EPSG:4326 and float precipitation uploaded as land cover accepted. Each
mistake below is a copy of one input of the Jiangxi example: ``qingshan account`` must exit with
code 2, name the raster, its median and 99th percentile and the fix in both languages, and leave
no output folder and no succeeded run. The same mistakes uploaded on the platform are rejected
(the version carries the error and cannot be submitted). An override lets a genuinely extreme
raster through and records a notice for the QC report.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from test_bad_input import assert_no_trace, copy_raster
from typer.testing import CliRunner

from qingshan.core.errors import ConfigError, InputError
from qingshan.core.notices import collecting
from qingshan.engine.config import load_config
from qingshan.engine.run import load_inputs, load_tables, plan
from qingshan.io.plausibility import (
    SAMPLE_CELLS,
    SampleStats,
    check_raster,
    check_values,
    sample_values,
)

NODATA = -9999.0


def scaled(factor: float, offset: float = 0.0) -> Callable[[np.ndarray], np.ndarray]:
    """Edit for :func:`copy_raster`: ``a × factor + offset`` on valid cells, nodata kept."""
    return lambda a: np.where(a == NODATA, a, a * factor + offset).astype(a.dtype)


def _utm_as_4326(example_dir: Path, dst: Path) -> Path:
    """The example's NDVI placed on UTM 50N metres (5 km cells) but labelled EPSG:4326."""
    return copy_raster(example_dir / "ndvi_max.tif", dst, crs="EPSG:4326",
                       transform=Affine(5000.0, 0, 300000.0, 0, -5000.0, 3380000.0))


# (input, file made from the example, edit, words the message must contain)
MISTAKES: dict[str, tuple[str, str, Any, tuple[str, ...]]] = {
    "precip_in_metres": ("precip", "approx_precip_2019.tif", scaled(1e-3), ("metres instead of millimetres", "A*1000")),
    "aet_in_metres": ("aet", "approx_aet_2019.tif", scaled(1e-3), ("metres instead of millimetres", "A*1000")),
    "ndvi_times_10000": ("ndvi", "ndvi_max.tif", scaled(1e4), ("NDVI scaled by 10 000", "A*0.0001")),
    "dem_in_km": ("dem", "dem.tif", scaled(1e-3), ("kilometres instead of metres", "A*1000")),
    "float_precip_as_landcover": ("lulc", "approx_precip_2019.tif", None, ("not integer-valued", "class codes")),
    "utm_labelled_4326": ("ndvi", "ndvi_max.tif", "utm", ("outside that CRS's area of use", "projected metres")),
}


def _bad_copy(example_dir: Path, tmp_path: Path, case: str) -> tuple[str, Path]:
    name, src, edit, _ = MISTAKES[case]
    dst = tmp_path / f"{case}.tif"
    if edit == "utm":
        return name, _utm_as_4326(example_dir, dst)
    return name, copy_raster(example_dir / src, dst, edit=edit)


# ----------------------------------------------------------------------------- qingshan account (CLI)
@pytest.mark.parametrize("case", list(MISTAKES))
def test_cli_account_rejects_unit_mistake(case: str, tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    from qingshan.cli import app

    name, bad = _bad_copy(example_dir, tmp_path, case)
    cfg = write_config(tmp_path, inputs={name: str(bad)})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert bad.name in text  # the raster is named
    for words in MISTAKES[case][3]:
        assert words in text, words
    assert "Fix:" in text and "修正方法" in text
    assert "[plausibility]" in text  # how to accept a genuinely extreme raster
    if case != "utm_labelled_4326":
        assert "median" in text and "99th percentile" in text and "中位数" in text
    assert_no_trace(tmp_path)


def test_dask_engine_rejects_precip_in_metres(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    """The block-wise engine (``[run] engine = "dask"``) checks the same statistics before its blocks."""
    from qingshan.cli import app

    name, bad = _bad_copy(example_dir, tmp_path, "precip_in_metres")
    cfg = write_config(tmp_path, run={"engine": "dask", "block_size": 64}, inputs={name: str(bad)})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    assert result.exit_code == 2, result.output
    assert bad.name in " ".join(result.output.split()) and "metres instead of millimetres" in result.output
    assert_no_trace(tmp_path)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no staging folder


def test_error_names_file_field_and_statistics(tmp_path: Path, example_dir: Path) -> None:
    _, bad = _bad_copy(example_dir, tmp_path, "precip_in_metres")
    with pytest.raises(InputError) as info:
        check_raster(bad, "precip")
    exc = info.value
    assert Path(exc.file).name == bad.name and exc.field == "precip"  # type: ignore[arg-type]
    with rasterio.open(example_dir / "approx_precip_2019.tif") as ds:
        v = ds.read(1).astype(float)
    v = v[v != NODATA] / 1000
    assert exc.extra["median"] == pytest.approx(np.median(v), rel=1e-6)
    assert exc.extra["p99"] == pytest.approx(np.percentile(v, 99), rel=1e-6)
    assert f"median {np.median(v):.4g}" in exc.en and "[12, 9000]" in exc.en
    assert "年降水量" in exc.zh and "米而非毫米" in exc.zh


def test_temperature_in_kelvin_is_rejected(tmp_path: Path) -> None:
    """No method of the catalogue reads air temperature yet: the check is tested on the raster itself."""
    path = tmp_path / "t2m_kelvin.tif"
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115, 0, -0.05, 29), nodata=NODATA) as ds:
        ds.write(np.linspace(283.0, 295.0, 400, dtype=np.float32).reshape(20, 20), 1)
    with pytest.raises(InputError) as info:
        check_raster(path, "air_temperature")
    exc = info.value
    assert exc.field == "air_temperature" and "t2m_kelvin.tif" in str(exc)
    assert "kelvin instead of °C" in exc.en and "A-273.15" in exc.fix and "开尔文" in exc.zh


def test_correct_example_inputs_pass(example_dir: Path) -> None:
    for name, file in [("precip", "approx_precip_2019.tif"), ("aet", "approx_aet_2019.tif"), ("dem", "dem.tif"),
                       ("ndvi", "ndvi_max.tif"), ("lulc", "lulc_modis_igbp_2019.tif")]:
        stats = check_raster(example_dir / file, name)
        assert stats.n > 15000, name


# ----------------------------------------------------------------------------- overrides
def _desert_precip(example_dir: Path, tmp_path: Path) -> Path:
    """A hyper-arid region's precipitation in mm (median ~8 mm): correct, but below the typical range."""
    return copy_raster(example_dir / "approx_precip_2019.tif", tmp_path / "desert_precip.tif", edit=scaled(1 / 200))


def test_override_off_lets_an_extreme_raster_through_with_a_notice(tmp_path: Path, write_config: Any,
                                                                   example_dir: Path) -> None:
    desert = _desert_precip(example_dir, tmp_path)
    strict = load_config(write_config(tmp_path / "strict", inputs={"precip": str(desert)}))
    p = plan(strict)
    with pytest.raises(InputError, match=r"desert_precip\.tif"):
        load_inputs(strict, p, 2019, load_tables(strict, p))
    cfg = load_config(write_config(tmp_path / "off", inputs={"precip": str(desert)}, plausibility={"precip": "off"}))
    with collecting() as notes:
        _, arrays, _ = load_inputs(cfg, p, 2019, load_tables(cfg, p))
    assert np.nanmedian(arrays["precip"]) < 12
    (n,) = [x for x in notes if x.field == "precip"]
    assert n.code == "plausibility_override" and n.file is not None and Path(n.file).name == "desert_precip.tif"
    observed = re.search(r"median (\d+(?:\.\d+)?)", n.en)
    assert "off" in n.en and observed is not None and float(observed.group(1)) < 12 and "合理性检查已关闭" in n.zh


def test_override_bounds_replace_the_typical_range(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    desert = _desert_precip(example_dir, tmp_path)
    path = write_config(tmp_path, inputs={"precip": str(desert)})
    text = path.read_text(encoding="utf-8")
    path.write_text(text + "\n[plausibility]\nprecip = { median = [1, 9000], p99 = [1, 12000] }\n", encoding="utf-8")
    cfg = load_config(path)
    p = plan(cfg)
    with collecting() as notes:
        load_inputs(cfg, p, 2019, load_tables(cfg, p))
    overrides = [x for x in notes if x.code == "plausibility_override"]  # other checks may add notices too
    assert [x.field for x in overrides] == ["precip"] and "median [1, 9000]" in overrides[0].en
    path.write_text(text + "\n[plausibility]\nprecip = { median = [9, 9000] }\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"expected a median in \[9, 9000\]"):
        load_inputs(load_config(path), p, 2019, load_tables(cfg, p))


def test_override_of_unknown_input_is_a_config_error(tmp_path: Path, write_config: Any) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write_config(tmp_path, plausibility={"precipitation": "off"}))
    assert info.value.field == "plausibility" and "precipitation" in str(info.value)


def test_crs_override(tmp_path: Path, example_dir: Path) -> None:
    bad = _utm_as_4326(example_dir, tmp_path / "utm.tif")
    with collecting() as notes:
        check_raster(bad, "ndvi", {"crs": "off"})
    assert [x.field for x in notes] == ["crs"]


def test_compute_cli_rejects_and_accepts_with_plausibility_off(tmp_path: Path, example_dir: Path) -> None:
    from qingshan.cli import app

    desert = _desert_precip(example_dir, tmp_path)
    dry_aet = copy_raster(example_dir / "approx_aet_2019.tif", tmp_path / "a.tif", edit=scaled(1 / 400))
    args = ["compute", "water_conservation", "--method", "water_balance", "-o", str(tmp_path / "wc.tif"),
            "-i", f"precip={desert}", "-i", f"aet={dry_aet}", "-i", f"lulc={example_dir / 'lulc_modis_igbp_2019.tif'}"]
    bad = CliRunner().invoke(app, args)
    text = " ".join(bad.output.split())
    assert bad.exit_code == 2 and "--plausibility precip=off" in text and "[plausibility]" not in text, text
    ok = CliRunner().invoke(app, [*args, "--plausibility", "precip=off", "--plausibility", "aet=off"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "wc.tif").is_file()


# ----------------------------------------------------------------------------- platform upload
@pytest.mark.parametrize("case", ["precip_in_metres", "float_precip_as_landcover", "utm_labelled_4326"])
def test_platform_upload_rejects_unit_mistake(case: str, tmp_path: Path, example_dir: Path) -> None:
    from qingshan.platform import submissions

    name, bad = _bad_copy(example_dir, tmp_path, case)
    check = submissions.validate_raster(bad, name)
    (err,) = check.errors
    assert err["file"] == bad.name and err["field"] in (name, "crs")
    assert bad.name in err["message_en"] and err["fix"] and err["fix_zh"] and err["message_zh"]
    for words in MISTAKES[case][3]:
        assert words in err["message_en"] + err["fix"], words
    assert "accountant" in err["fix"]  # an uploader cannot override: the accountant's config can


# ----------------------------------------------------------------------------- sampling
def test_statistics_of_a_large_raster_come_from_a_sample(tmp_path: Path) -> None:
    """A raster of 4 × SAMPLE_CELLS cells: at most SAMPLE_CELLS are read, spread over the raster."""
    side = 2 * int(np.sqrt(SAMPLE_CELLS))
    path = tmp_path / "big.tif"
    rows = np.linspace(1000.0, 2000.0, side)[:, None] * np.ones((1, side))
    with rasterio.open(path, "w", driver="GTiff", height=side, width=side, count=1, dtype="float32", tiled=True,
                       blockxsize=256, blockysize=256, crs="EPSG:4326", transform=Affine(0.001, 0, 115, 0, -0.001, 29),
                       nodata=NODATA) as ds:
        ds.write(rows.astype(np.float32), 1)
    with rasterio.open(path) as ds:
        values = sample_values(ds)
    assert SAMPLE_CELLS // 2 < values.size <= SAMPLE_CELLS
    stats = SampleStats.of(values)
    assert stats.median == pytest.approx(1500, rel=0.02) and stats.p99 == pytest.approx(1990, rel=0.01)


def test_empty_statistics_are_left_to_the_coverage_check() -> None:
    check_values(SampleStats(0, float("nan"), float("nan"), 0.0), "precip", "p.tif")


# ----------------------------------------------------------------------------- CRS area of use
@pytest.mark.parametrize(
    ("crs", "bounds", "ok"),
    [
        ("EPSG:4326", (113.0, 24.0, 119.0, 30.5), True),  # Jiangxi in degrees
        ("EPSG:4326", (0.0, -10.0, 360.0, 10.0), True),  # 0…360 longitudes
        ("EPSG:4326", (300000.0, 2700000.0, 900000.0, 3380000.0), False),  # UTM metres labelled degrees
        ("EPSG:32650", (300000.0, 2700000.0, 900000.0, 3380000.0), True),  # the same, labelled right
        ("EPSG:4490", (-35.0, -8.1, -34.8, -7.9), False),  # CGCS2000 (China) on Brazilian coordinates
        ("EPSG:4547", (288776.0, 9110771.0, 298765.0, 9120760.0), False),  # UTM 25S metres as China 3° GK
    ],
)
def test_coordinates_must_fit_the_crs(crs: str, bounds: tuple[float, float, float, float], ok: bool) -> None:
    from qingshan.io.plausibility import check_crs

    if ok:
        check_crs(crs, bounds, "r.tif")
        return
    with pytest.raises(InputError) as info:
        check_crs(crs, bounds, "r.tif")
    assert info.value.field == "crs" and "r.tif" in info.value.en and "gdal_edit.py" in info.value.fix


def test_sample_of_a_mostly_nodata_raster_falls_back_to_a_decimated_read(tmp_path: Path) -> None:
    """Valid cells only in one 256² tile that the evenly spread blocks miss: a decimated read finds them."""
    side = 2048  # 64 tiles; 15 of them are sampled (0, 4, 9, 14, …), not tile 1
    arr = np.full((side, side), NODATA, dtype=np.float32)
    arr[:256, 256:512] = 1600.0
    path = tmp_path / "sea.tif"
    with rasterio.open(path, "w", driver="GTiff", height=side, width=side, count=1, dtype="float32", tiled=True,
                       blockxsize=256, blockysize=256, crs="EPSG:4326", transform=Affine(0.001, 0, 115, 0, -0.001, 29),
                       nodata=NODATA) as ds:
        ds.write(arr, 1)
    with rasterio.open(path) as ds:
        values = sample_values(ds)
    assert values.size == 1000 * 1000 <= SAMPLE_CELLS  # the decimated read (15 blocks would be 983 040 cells)
    finite = values[np.isfinite(values)]
    assert finite.size >= 1000 and np.all(finite == 1600.0)
