"""``qingshan compute --dtype float32``: float32 layers (as InVEST writes), totals still from float64 cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.io.cog import cog_settings


def _write(path: Path, values: np.ndarray, nodata: float) -> str:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype="float32", crs="EPSG:32650", nodata=nodata,
                       transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)) as dst:
        dst.write(values.astype(np.float32), 1)
    return str(path)


def _run(tmp_path: Path, out: str, *extra: str) -> str:
    rng = np.random.default_rng(3)
    shape = (5, 7)
    inputs = {"precip": rng.uniform(1200, 1900, shape), "pet": rng.uniform(700, 1200, shape),
              "lulc": np.where(rng.random(shape) < 0.5, 1.0, 10.0), "root_depth": rng.uniform(500, 3000, shape),
              "pawc": rng.uniform(0.05, 0.2, shape)}
    args = ["compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / out), *extra]
    for name, arr in inputs.items():
        args += ["--input", f"{name}={_write(tmp_path / f'{name}.tif', arr, 255 if name == 'lulc' else -9999.0)}"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.output


def test_float32_layers_round_the_float64_ones_and_totals_do_not_change(tmp_path: Path) -> None:
    out64 = _run(tmp_path, "d.tif")
    out32 = _run(tmp_path, "f.tif", "--dtype", "float32")
    total = [line for line in out64.splitlines() if "total" in line]
    assert total and total == [line for line in out32.splitlines() if "total" in line]  # computed in float64
    for layer in ("", ".aet", ".wyield"):
        with rasterio.open(tmp_path / f"d{layer}.tif") as a, rasterio.open(tmp_path / f"f{layer}.tif") as b:
            assert a.dtypes[0] == "float64" and b.dtypes[0] == "float32"
            assert b.tags(1) == a.tags(1) and b.descriptions == a.descriptions
            np.testing.assert_array_equal(b.read(1), a.read(1).astype(np.float32))
    assert cog_settings().dtype == "float64"  # the setting ends with the command


def test_unknown_dtype_is_a_bilingual_error(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["compute", "water_conservation", "-o", str(tmp_path / "x.tif"),
                                   "--input", "precip=p.tif", "--dtype", "int16"])
    assert res.exit_code == 2 and "float64 or float32" in res.output and "像元类型" in res.output
    assert not (tmp_path / "x.tif").exists()
