"""How COGs are written (issue 11, Build 3): fast lossless compression, overviews only where they pay,
only the layers asked for — and still valid COGs with exactly the values given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.core.errors import ConfigError
from qingshan.core.grid import Grid
from qingshan.io.cog import CogSettings, cog_options, using_cog_settings
from qingshan.io.rasters import write_cog

CRS = "EPSG:32650"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)


def _layer(shape: tuple[int, int]) -> np.ndarray:
    a = np.random.default_rng(3).uniform(0, 1000, shape)
    a[0, :5] = np.nan
    return a


def _write(path: Path, shape: tuple[int, int]) -> np.ndarray:
    a = _layer(shape)
    write_cog(path, a, Grid.from_crs(CRS, TRANSFORM, *shape), units="mm", description="test layer")
    return a


def test_default_is_zstd_float_predictor_cog_without_overviews_and_exact(tmp_path: Path) -> None:
    a = _write(tmp_path / "a.tif", (600, 700))
    with rasterio.open(tmp_path / "a.tif") as ds:
        tags = ds.tags(ns="IMAGE_STRUCTURE")
        assert tags["LAYOUT"] == "COG" and tags["COMPRESSION"] == "ZSTD" and tags["PREDICTOR"] == "3"
        assert ds.block_shapes == [(256, 256)] and ds.overviews(1) == []  # 700 ≤ 8192 cells a side
        assert ds.dtypes == ("float64",) and ds.tags(1)["units"] == "mm"
        np.testing.assert_array_equal(ds.read(1), a)  # lossless, NaN where NaN


def test_overviews_when_large_or_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cog_options((9000, 100))["overviews"] == "auto" and cog_options((8192, 8192))["overviews"] == "none"
    monkeypatch.setenv("QINGSHAN_COG_OVERVIEWS", "always")
    _write(tmp_path / "b.tif", (600, 700))
    with rasterio.open(tmp_path / "b.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.overviews(1) == [2, 4]


def test_settings_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with using_cog_settings(CogSettings(compress="deflate", level=6)):
        a = _write(tmp_path / "c.tif", (300, 300))
    with rasterio.open(tmp_path / "c.tif") as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["COMPRESSION"] == "DEFLATE"
        np.testing.assert_array_equal(ds.read(1), a)
    monkeypatch.setenv("QINGSHAN_COG_COMPRESS", "jpeg")  # lossy: refused, in both languages
    with pytest.raises(ConfigError, match="QINGSHAN_COG_COMPRESS") as err:
        _write(tmp_path / "d.tif", (10, 10))
    assert "环境变量" in err.value.zh
    assert not (tmp_path / "d.tif").exists()
    monkeypatch.delenv("QINGSHAN_COG_COMPRESS")
    monkeypatch.setenv("QINGSHAN_COG_THREADS", "many")
    with pytest.raises(ConfigError, match="QINGSHAN_COG_THREADS"):
        _write(tmp_path / "d.tif", (10, 10))
    monkeypatch.setenv("QINGSHAN_COG_THREADS", "1")
    assert cog_options((10, 10))["num_threads"] == "1"


def _tif(path: Path, value: float, nodata: float = -9999.0) -> Path:
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=1, dtype="float32", crs=CRS,
                       transform=TRANSFORM, nodata=nodata) as dst:
        dst.write(np.full((3, 4), value, dtype=np.float32), 1)
    return path


def _water_args(tmp_path: Path) -> list[str]:
    args = ["compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / "out" / "wc.tif")]
    for name, value in {"precip": 1600.0, "pet": 1000.0, "lulc": 1.0, "root_depth": 1000.0, "pawc": 0.1}.items():
        args += ["--input", f"{name}={_tif(tmp_path / f'{name}.tif', value, 255 if name == 'lulc' else -9999.0)}"]
    return args


def test_only_the_layers_asked_for_are_written(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, [*_water_args(tmp_path), "--layer", "water_conservation"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["wc.tif"]  # no aet, pet, omega, wyield
    res = CliRunner().invoke(app, [*_water_args(tmp_path), "--layer", "soil_retained"])
    assert res.exit_code == 2 and "Unknown layer" in res.output and "wyield" in res.output
