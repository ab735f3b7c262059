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


@pytest.mark.parametrize("shape", [(600, 700), (257, 257), (513, 1025), (1025, 1025), (300, 5000), (40, 9000),
                                   (2049, 10), (4097, 5), (256, 256)])
def test_overview_factors_are_as_many_as_the_cog_driver_makes(tmp_path: Path, shape: tuple[int, int]) -> None:
    """``overview_factors`` (the levels built into the scratch file) against GDAL's COG driver choosing them
    itself: the same number of levels (the driver reports odd factors for thin rasters, e.g. [2, 5, 10])."""
    import rasterio.shutil

    from qingshan.io.cog import overview_factors

    src = tmp_path / "src.tif"
    with rasterio.open(src, "w", driver="GTiff", height=shape[0], width=shape[1], count=1, dtype="float32", crs=CRS,
                       transform=TRANSFORM) as dst:
        dst.write(np.zeros(shape, dtype=np.float32), 1)
    rasterio.shutil.copy(str(src), str(tmp_path / "cog.tif"), driver="COG", blocksize=256, overviews="auto")
    with rasterio.open(tmp_path / "cog.tif") as ds:
        made = ds.overviews(1)
    assert len(made) == len(overview_factors(shape))
    if min(shape) > 256:  # not thin: the same factors
        assert made == overview_factors(shape)


def _blockwise_layer(folder: Path, values: np.ndarray) -> Path:
    from qingshan.core.window import block_windows
    from qingshan.io.cog import BlockLayerWriter

    grid = Grid.from_crs(CRS, TRANSFORM, *values.shape)
    writer = BlockLayerWriter(folder, grid)
    for w in block_windows(grid.shape, 200):
        writer.write("x", w, values[w.slices()], units="mm", description="x")
    (path,) = writer.finish()
    return path


def test_overviews_built_in_the_scratch_file_are_the_drivers_average(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overviews are built into the block writer's scratch file, then copied (about half the COG driver's
    own cost). They are what the driver makes with ``overview_resampling = average`` — bit for bit — and
    an overview cell is the mean of the cells it covers, NaN left out (the driver's default, cubic,
    invents values beyond the cells' range)."""
    import rasterio.shutil

    import qingshan.io.cog as cog

    monkeypatch.setenv("QINGSHAN_COG_OVERVIEWS", "always")
    a = _layer((600, 700))
    a[100:102, 200:202] = [[1.0, np.nan], [np.nan, np.nan]]
    a[300:302, 400:402] = np.nan
    built: list[tuple[int, int]] = []
    real = cog._build_overviews
    monkeypatch.setattr(cog, "_build_overviews", lambda path, shape, settings: (built.append(shape), real(path, shape, settings)))
    blockwise = _blockwise_layer(tmp_path / "b", a)
    assert built == [(600, 700)]  # in the scratch file, not by the driver
    write_cog(tmp_path / "whole.tif", a, Grid.from_crs(CRS, TRANSFORM, 600, 700), units="mm", description="x")
    assert built == [(600, 700)] * 2  # a whole array takes the same path
    with rasterio.open(tmp_path / "whole.tif") as ds:
        assert ds.tags(1)["units"] == "mm" and ds.descriptions == ("x",) and ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        np.testing.assert_array_equal(ds.read(1), a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "whole.tif"]  # no scratch file left

    src = tmp_path / "plain.tif"
    with rasterio.open(src, "w", driver="GTiff", height=600, width=700, count=1, dtype="float64", crs=CRS,
                       transform=TRANSFORM, nodata=np.nan) as dst:
        dst.write(a, 1)
    rasterio.shutil.copy(str(src), str(tmp_path / "driver.tif"), driver="COG", blocksize=256, overviews="auto",
                         overview_resampling="average")  # the COG driver building them itself
    for level in (0, 1):
        for other in ("whole.tif", "driver.tif"):
            with rasterio.open(blockwise, overview_level=level) as b, rasterio.open(tmp_path / other, overview_level=level) as w:
                np.testing.assert_array_equal(b.read(1), w.read(1))
    with rasterio.open(blockwise) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.overviews(1) == [2, 4]
        np.testing.assert_array_equal(ds.read(1), a)  # full resolution: exact
    with rasterio.open(blockwise, overview_level=0) as ds:
        ov = ds.read(1)
    assert ov.shape == (300, 350)
    assert ov[50, 100] == 1.0 and np.isnan(ov[150, 200])  # one valid cell of four; none
    np.testing.assert_allclose(ov[7, 9], np.mean(a[14:16, 18:20]), rtol=1e-15)
    assert np.nanmin(ov) >= np.nanmin(a) and np.nanmax(ov) <= np.nanmax(a)


def test_to_cog_leaves_a_source_it_does_not_own_unchanged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the writer's own scratch file gets overviews built into it; another GeoTIFF converted with
    ``to_cog`` is read, never written (the COG driver builds the overviews)."""
    from qingshan.io.cog import to_cog

    monkeypatch.setenv("QINGSHAN_COG_OVERVIEWS", "always")
    src = tmp_path / "user.tif"
    with rasterio.open(src, "w", driver="GTiff", height=600, width=700, count=1, dtype="float64", crs=CRS,
                       transform=TRANSFORM, nodata=np.nan) as dst:
        dst.write(_layer((600, 700)), 1)
    before = src.read_bytes()
    to_cog(src, tmp_path / "out.tif")
    assert src.read_bytes() == before
    with rasterio.open(tmp_path / "out.tif") as ds:
        assert ds.overviews(1) == [2, 4] and ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"


def test_overview_resampling_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QINGSHAN_COG_OVERVIEWS", "always")
    monkeypatch.setenv("QINGSHAN_COG_OVERVIEW_RESAMPLING", "nearest")
    a = _layer((600, 700))
    path = _blockwise_layer(tmp_path, a)
    with rasterio.open(path, overview_level=0) as ds:
        ov = ds.read(1)
    assert np.isin(ov[np.isfinite(ov)], a).all()  # every overview cell is one of the layer's cells
    monkeypatch.setenv("QINGSHAN_COG_OVERVIEW_RESAMPLING", "cubic")
    with pytest.raises(ConfigError, match="QINGSHAN_COG_OVERVIEW_RESAMPLING") as err:
        _write(tmp_path / "e.tif", (10, 10))
    assert "环境变量" in err.value.zh


# ----------------------------------------------------------------------------- blocks written by workers
def _blocks(shape: tuple[int, int], side: int) -> list[tuple[object, dict[str, np.ndarray]]]:
    from qingshan.core.window import block_windows

    a, b = _layer(shape), _layer(shape)[::-1].copy()
    return [(w, {"a": a[w.slices()], "b": b[w.slices()]}) for w in block_windows(shape, side)]


@pytest.mark.parametrize(("dtype", "overviews"), [("float64", "auto"), ("float32", "auto"), ("float64", "always")])
def test_layers_from_block_files_are_the_layers_written_by_arrays(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  dtype: str, overviews: str) -> None:
    """On a cluster each worker writes its blocks' layers into a file of its own (write_block_file) and the
    client's writer mosaics them (write_file): the COGs are the very files written from the arrays, byte for byte
    (values, NaN, band and dataset tags, overviews), and no block file or VRT is left."""
    from qingshan.io.cog import BlockLayerWriter, write_block_file

    monkeypatch.setenv("QINGSHAN_COG_OVERVIEWS", overviews)
    shape = (700, 600)  # blocks of 192: not aligned with the 256-cell tiles, short edge blocks
    grid = Grid.from_crs(CRS, TRANSFORM, *shape)
    tags = {"a": ("t/hm2", "layer a"), "b": ("mm", "layer b 水")}
    with using_cog_settings(CogSettings(dtype=dtype)):  # type: ignore[arg-type]
        with BlockLayerWriter(tmp_path / "arrays", grid) as w:
            for window, layers in _blocks(shape, 192):
                for stem, values in layers.items():
                    w.write(stem, window, values, units=tags[stem][0], description=tags[stem][1])
            by_arrays = w.finish()
        (tmp_path / "files" / ".blocks").mkdir(parents=True)
        with BlockLayerWriter(tmp_path / "files", grid) as w:
            for i, (window, layers) in enumerate(_blocks(shape, 192)[::-1]):  # any order
                path = write_block_file(tmp_path / "files" / ".blocks" / f"{i}.tif", grid, window, layers, dtype)  # type: ignore[arg-type]
                w.write_file(window, path, {stem: tags[stem] for stem in layers})
            by_files = w.finish()
    assert [p.name for p in by_files] == [p.name for p in by_arrays] == ["a.tif", "b.tif"]
    for x, y in zip(by_files, by_arrays, strict=True):
        assert x.read_bytes() == y.read_bytes(), x.name
    assert sorted(p.name for p in (tmp_path / "files").rglob("*") if p.is_file()) == ["a.tif", "b.tif"]


def test_an_aborted_writer_deletes_its_block_files(tmp_path: Path) -> None:
    from qingshan.core.window import Window
    from qingshan.io.cog import BlockLayerWriter, write_block_file

    grid = Grid.from_crs(CRS, TRANSFORM, 64, 64)
    window = Window(0, 0, 32, 64)
    (tmp_path / ".blocks").mkdir()

    def a_block_fails() -> None:
        with BlockLayerWriter(tmp_path, grid) as w:
            path = write_block_file(tmp_path / ".blocks" / "0.tif", grid, window, {"a": np.ones((32, 64))}, "float64")
            w.write_file(window, path, {"a": ("mm", "a")})
            raise RuntimeError("a block failed")

    with pytest.raises(RuntimeError):
        a_block_fails()
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_a_block_file_is_not_written_into_a_folder_that_is_gone(tmp_path: Path) -> None:
    """Found: after Ctrl-C the run deleted its staging folder while a worker still computed a block, which then
    created the folder again and left an 8 MB file. The folder is the run's to create and delete."""
    from qingshan.core.errors import StorageError
    from qingshan.core.window import Window
    from qingshan.io.cog import write_block_file

    grid = Grid.from_crs(CRS, TRANSFORM, 64, 64)
    with pytest.raises(StorageError):
        write_block_file(tmp_path / "gone" / ".blocks" / "0_0.tif", grid, Window(0, 0, 64, 64), {"a": np.ones((64, 64))},
                         "float64")
    assert not list(tmp_path.iterdir())
