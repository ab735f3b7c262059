"""``qingshan compute`` and ``compute_indicator``: one indicator on a user's own rasters."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
import typer
from affine import Affine
from typer.testing import CliRunner

from qingshan.cli import friendly
from qingshan.cli.compute import compute, parse_value
from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.engine.compute import compute_indicator, output_paths

OLINDA = Path(__file__).resolve().parents[1] / "data" / "olinda_dem_utm25s.tif"
CRS = "EPSG:32650"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)  # 30 m cells → 900 m2


def _cli() -> typer.Typer:
    """The real app when `compute` is registered there, else a test app with the same command."""
    from qingshan.cli import app

    if any(c.name == "compute" for c in app.registered_commands):
        return app
    test_app = typer.Typer()

    @test_app.callback()
    def _group() -> None:  # makes `compute` a sub-command, as in the real app
        pass

    test_app.command(name="compute")(friendly(compute))
    return test_app


def write(path: Path, values: np.ndarray, nodata: float | None = -9999.0) -> Path:
    arr = np.asarray(values, dtype=np.float32)
    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1,
                       dtype="float32", crs=CRS, transform=TRANSFORM, nodata=nodata) as dst:
        dst.write(arr, 1)
    return path


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1).astype(np.float64)


@pytest.fixture
def water_inputs(tmp_path: Path) -> dict[str, Path]:
    """3×4 grid: forest (MODIS IGBP code 1) everywhere, P 1600, ET0 1000, soil depth 1000, PAWC 0.1."""
    shape = (3, 4)
    return {
        "precip": write(tmp_path / "p.tif", np.full(shape, 1600.0)),
        "pet": write(tmp_path / "et0.tif", np.full(shape, 1000.0)),
        "lulc": write(tmp_path / "lulc.tif", np.full(shape, 1.0), nodata=255),
        "root_depth": write(tmp_path / "depth.tif", np.full(shape, 1000.0)),
        "pawc": write(tmp_path / "pawc.tif", np.full(shape, 0.1)),
    }


# Budyko by hand, forest (kc 1.0, root depth 5000 mm, runoff α 4.52 %), Z = 5:
#   PET = 1000, AWC = min(5000, 1000)·0.1 = 100 mm, ω = 5·100/1600 + 1.25 = 1.5625, φ = 0.625
#   AET/P = 1 + 0.625 − (1 + 0.625^1.5625)^(1/1.5625) = 1.625 − 1.4851943... = 0.3399193
#   AET = 543.871 mm; wyield = 1056.129 mm
#   Q = 1600 − 0.0452·1600 − 543.871 = 983.809 mm → × 900 m2 / 1000 = 885.428 m3 per cell, 12 cells
AET_HAND = 1600 * (1.625 - (1 + 0.625**1.5625) ** (1 / 1.5625))
Q_CELL = (1600 - 0.0452 * 1600 - AET_HAND) * 900 / 1000


def test_budyko_water_conservation_total_by_hand(water_inputs: dict[str, Path], tmp_path: Path) -> None:
    res = compute_indicator("water_conservation", water_inputs, method="budyko", output=tmp_path / "wc.tif")
    assert res.totals["water_conservation"] == (pytest.approx(12 * Q_CELL, rel=1e-7), "m3")  # float32 rasters
    assert abs(AET_HAND - 543.871) < 1e-3
    assert np.allclose(res.intermediates["aet"], AET_HAND) and np.allclose(res.intermediates["wyield"], 1600 - AET_HAND)
    assert np.allclose(read(tmp_path / "wc.tif"), Q_CELL, rtol=1e-6)  # one component → OUT.tif
    assert np.allclose(read(tmp_path / "wc.aet.tif"), AET_HAND, rtol=1e-6)
    assert {p.name for p in res.files} == {"wc.tif", "wc.aet.tif", "wc.pet.tif", "wc.omega.tif", "wc.wyield.tif"}
    with rasterio.open(tmp_path / "wc.tif") as ds:
        assert ds.tags(1)["units"] == "m3" and ds.profile["tiled"]


def test_ecosystem_options_one_name_or_an_unknown_one(water_inputs: dict[str, Path]) -> None:
    """An ecosystem-list option given one bare name counts as a list of one; an unknown name (e.g. the shell ate
    the quotes of ["forest"]) is a bilingual error naming the option, not a traceback."""
    listed = compute_indicator("water_conservation", water_inputs, method="budyko",
                               options={"budyko_vegetated_ecosystems": ["forest"]})
    bare = compute_indicator("water_conservation", water_inputs, method="budyko",
                             options={"budyko_vegetated_ecosystems": "forest"})
    assert bare.totals == listed.totals
    with pytest.raises(InputError, match=r"budyko_vegetated_ecosystems: unknown ecosystem type\(s\) '\[forest\]'") as err:
        compute_indicator("water_conservation", water_inputs, method="budyko",
                          options={"budyko_vegetated_ecosystems": parse_value("[forest]")})
    assert "未知生态系统类型" in str(err.value) and err.value.field == "budyko_vegetated_ecosystems"


def test_param_override_and_option(water_inputs: dict[str, Path]) -> None:
    # Z = 0 → ω = 1.25; cropland excluded → no cell counts when only cropland is eligible
    res = compute_indicator("water_conservation", water_inputs, method="budyko", overrides={"zhang_z": 0})
    assert np.allclose(res.intermediates["omega"], 1.25)
    res = compute_indicator("water_conservation", water_inputs, method="budyko",
                            options={"water_conservation_ecosystems": ["cropland"]})
    assert res.totals["water_conservation"][0] == 0.0


def test_cli_water_prints_total(water_inputs: dict[str, Path], tmp_path: Path) -> None:
    args = ["compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / "o.tif")]
    for name, path in water_inputs.items():
        args += ["--input", f"{name}={path}"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert f"{12 * Q_CELL:.6g} m3" in result.output  # 10625.1 m3
    assert (tmp_path / "o.aet.tif").is_file()


def olinda_soil_inputs(tmp_path: Path, ndvi: float = 0.85) -> dict[str, Path]:
    with rasterio.open(OLINDA) as ds:
        profile, shape = ds.profile, (ds.height, ds.width)

    def like(name: str, value: float) -> Path:
        p = tmp_path / f"{name}.tif"
        with rasterio.open(p, "w", **{**profile, "dtype": "float32", "nodata": -9999.0}) as dst:
            dst.write(np.full(shape, value, dtype=np.float32), 1)
        return p

    return {"dem": OLINDA, "lulc": like("lulc", 1), "ndvi": like("ndvi", ndvi),
            "rain_erosivity": like("r", 5000.0), "soil_erodibility": like("k", 0.03)}


@pytest.mark.parametrize("algo", ["D8", "MFD"])
def test_cli_soil_retention_on_real_dem(tmp_path: Path, algo: str) -> None:
    inputs = olinda_soil_inputs(tmp_path)
    out = tmp_path / "sr.tif"
    args = ["compute", "soil_retention", "-o", str(out), "--option", f"flow_algorithm={algo}"]
    for name, path in inputs.items():
        args += ["-i", f"{name}={path}"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    ls, rkls, usle = (read(tmp_path / f"sr.{n}.tif") for n in ("ls", "rkls", "usle"))
    # R·K = 5000·0.03 = 150; NDVI 0.85 = ndvi_veg → FVC 1 → C = 0 → USLE = 0
    assert np.allclose(rkls, 150.0 * ls, rtol=1e-6) and np.all(usle == 0) and np.all(ls > 0)
    retained = read(tmp_path / "sr.soil_retained.tif")
    area = 89.994067**2  # m2 per cell (Olinda: 89.994067 m pixels)
    assert np.allclose(retained, rkls * area / 1e4, rtol=1e-5)  # t/hm2 × m2 / 10⁴ m2/hm2 → t
    printed = re.search(r"soil_retained: ([0-9.e+]+) t", result.output)
    assert printed and float(printed.group(1)) == pytest.approx(retained.sum(dtype=np.float64), rel=1e-5)
    for name in ("r", "k", "c", "p", "avoided_erosion", "sediment_reduction"):
        assert (tmp_path / f"sr.{name}.tif").is_file()


def test_more_vegetation_never_lowers_retention(tmp_path: Path) -> None:
    low = compute_indicator("soil_retention", olinda_soil_inputs(tmp_path, 0.2))
    high = compute_indicator("soil_retention", olinda_soil_inputs(tmp_path, 0.6))
    assert high.totals["soil_retained"][0] > low.totals["soil_retained"][0] > 0


def test_array_inputs_need_grid_and_shape() -> None:
    grid = Grid.from_crs(CRS, TRANSFORM, 3, 4)
    arrays = {"precip": np.full((3, 4), 1600.0), "aet": np.full((3, 4), 600.0), "lulc": np.full((3, 4), 1.0)}
    # water balance: (1600 − 72.32 − 600) mm · 900 m2 / 1000 = 834.912 m3 per cell
    res = compute_indicator("water_conservation", arrays, grid=grid)
    assert res.totals["water_conservation"][0] == pytest.approx(12 * 834.912)
    with pytest.raises(InputError, match="give the grid"):
        compute_indicator("water_conservation", arrays)
    with pytest.raises(InputError, match="shape"):
        compute_indicator("water_conservation", {**arrays, "aet": np.ones((2, 2))}, grid=grid)


@pytest.mark.parametrize(
    ("change", "message", "message_zh"),
    [
        ({"drop": "lulc"}, "needs the input 'lulc'", "需要输入"),
        ({"ndvi": 1.5}, "outside the plausible range", "超出合理范围"),
        ({"lulc": 99}, "not in the land-cover table", "不在土地覆被参数表中"),
        ({"soil_erodibility": 0.5}, "outside the plausible range", "超出合理范围"),
        ({"extra": "npp"}, "takes no input 'npp'", "没有输入"),
    ],
)
def test_cli_bad_input_is_bilingual_exit_2(tmp_path: Path, change: dict, message: str, message_zh: str) -> None:
    inputs = olinda_soil_inputs(tmp_path)
    if "drop" in change:
        del inputs[change["drop"]]
    elif "extra" in change:
        inputs[change["extra"]] = inputs["ndvi"]
    else:
        (name, value), = change.items()
        with rasterio.open(inputs[name]) as ds:
            prof, shape = ds.profile, ds.shape
        arr = np.full(shape, 0.5 if name == "ndvi" else 1.0, dtype=np.float32) if name != "soil_erodibility" else np.full(shape, 0.03, dtype=np.float32)
        arr[5, 5] = value
        with rasterio.open(inputs[name], "w", **prof) as dst:
            dst.write(arr, 1)
    args = ["compute", "soil_retention", "-o", str(tmp_path / "x.tif")]
    for name, path in inputs.items():
        args += ["--input", f"{name}={path}"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert message in text and message_zh in text
    assert not (tmp_path / "x.soil_retained.tif").exists()


def test_cli_malformed_pairs_and_table_method(tmp_path: Path) -> None:
    r = CliRunner().invoke(_cli(), ["compute", "soil_retention", "-o", "x.tif", "--input", "dem"])
    assert r.exit_code == 2 and "KEY=VALUE" in r.output
    r = CliRunner().invoke(_cli(), ["compute", "soil_retention", "-o", "x.tif", "--param", "zhang_z=abc"])
    assert r.exit_code == 2 and "not a number" in r.output
    from qingshan.indicators import registry

    table_ids = [s.id for s in registry() if s.method().kind == "table"]
    with pytest.raises(InputError, match="statistics tables"):
        compute_indicator(table_ids[0], {})


def test_option_values_and_output_names() -> None:
    assert parse_value("MFD") == "MFD" and parse_value("1.1") == 1.1 and parse_value("false") is False
    assert parse_value('["forest", "shrub"]') == ["forest", "shrub"]
    paths = output_paths("o/x.tif", ["a", "b"], ["ls"])
    assert paths == {"a": Path("o/x.a.tif"), "b": Path("o/x.b.tif"), "ls": Path("o/x.ls.tif")}
    assert output_paths("x.tif", ["a"]) == {"a": Path("x.tif")}


def test_reused_intermediates_equal_the_quantity_functions(water_inputs: dict[str, Path], tmp_path: Path) -> None:
    """compute_indicator reuses AET / LS; the components equal a direct call of the method."""
    from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
    from qingshan.engine.compute import DEFAULT_LANDCOVER, DEFAULT_PARAMS
    from qingshan.io.rasters import read_aligned
    from qingshan.quantities.soil import soil_retention_rusle
    from qingshan.quantities.water import water_conservation_budyko

    pset = ParamSet(ParameterTable.from_csv(DEFAULT_PARAMS), LandcoverTable.from_csv(DEFAULT_LANDCOVER), {})
    res = compute_indicator("water_conservation", water_inputs, method="budyko")
    arrays = {k: read_aligned(v, k, res.grid) for k, v in water_inputs.items()}
    direct = water_conservation_budyko(arrays, pset, res.grid)
    assert np.array_equal(direct["water_conservation"], res.layers["water_conservation"])
    soil_in = olinda_soil_inputs(tmp_path, 0.4)
    res = compute_indicator("soil_retention", soil_in, options={"flow_algorithm": "MFD"})
    arrays = {k: read_aligned(v, k, res.grid) for k, v in soil_in.items()}
    pset = ParamSet(pset.scalars, pset.landcover, {"flow_algorithm": "MFD"})
    direct = soil_retention_rusle(arrays, pset, res.grid)
    for comp, arr in direct.items():
        assert np.array_equal(arr, res.layers[comp], equal_nan=True)


def test_blocks_give_the_whole_grid_layers_totals_and_files(tmp_path: Path) -> None:
    """The same engine on blocks of 4 and 7 cells (edge blocks of 3 × 5 …) and on the whole grid as one block:
    the same per-pixel layers, intermediates, totals (to 1e-12) and COGs; ``keep_layers=False`` keeps no array."""
    rng = np.random.default_rng(3)
    shape = (23, 19)
    precip = rng.uniform(800, 2000, shape)
    precip[0, 0] = -9999.0  # nodata
    inputs = {
        "precip": write(tmp_path / "p.tif", precip),
        "pet": write(tmp_path / "et0.tif", rng.uniform(600, 1400, shape)),
        "lulc": write(tmp_path / "lulc.tif", rng.choice([1.0, 4.0, 10.0, 12.0], shape), nodata=255),
        "root_depth": write(tmp_path / "depth.tif", rng.uniform(300, 3000, shape)),
        "pawc": write(tmp_path / "pawc.tif", rng.uniform(0.05, 0.3, shape)),
    }
    whole = compute_indicator("water_conservation", inputs, method="budyko", output=tmp_path / "whole" / "wc.tif")
    assert whole.totals["water_conservation"][0] > 0 and np.isnan(whole.layers["water_conservation"][0, 0])
    for block_size, keep in ((4, True), (7, False)):
        res = compute_indicator("water_conservation", inputs, method="budyko", block_size=block_size,
                                keep_layers=keep, output=tmp_path / f"b{block_size}" / "wc.tif")
        assert res.totals.keys() == whole.totals.keys()
        for comp, (total, unit) in whole.totals.items():
            assert res.totals[comp] == (pytest.approx(total, rel=1e-12), unit)
        if keep:
            for name, arr in {**whole.layers, **whole.intermediates}.items():
                got = res.layers.get(name, res.intermediates.get(name))
                np.testing.assert_allclose(got, arr, rtol=1e-12, equal_nan=True, err_msg=name)
        else:
            assert res.layers == {} and res.intermediates == {}
        assert [p.name for p in res.files] == [p.name for p in whole.files]
        for mine, ref in zip(res.files, whole.files, strict=True):
            np.testing.assert_allclose(read(mine), read(ref), rtol=1e-12, equal_nan=True, err_msg=mine.name)
            with rasterio.open(mine) as ds, rasterio.open(ref) as rds:
                assert ds.tags(1) == rds.tags(1) and ds.tags() == rds.tags() and "scope" not in ds.tags()
        assert sorted(p.name for p in (tmp_path / f"b{block_size}").iterdir()) == sorted(p.name for p in res.files)
