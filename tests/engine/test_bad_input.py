"""Bad input: every case raises a bilingual QingshanError naming file/field and leaves no output.

Each test writes a broken copy of one input of the Jiangxi example into its own ``tmp_path`` and
checks (a) the error class, (b) the file/field it names, (c) English and Chinese text, (d) that no
run was recorded as succeeded and that neither the output folder nor a temporary export folder exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from qingshan.core.errors import (
    ConfigError,
    GridMismatchError,
    InputError,
    MissingPriceError,
    QingshanError,
    RegionError,
    UnitsError,
)
from qingshan.engine.config import load_config
from qingshan.engine.run import account


# ----------------------------------------------------------------------------- helpers
def run_bad(cfg: Path, error: type[QingshanError]) -> QingshanError:
    """Load and run ``cfg``, expecting ``error``; check the generic properties (c) and (d)."""
    with pytest.raises(error) as info:
        account(load_config(cfg))
    exc = info.value
    assert exc.en
    assert exc.zh, "no Chinese message"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in exc.zh)
    text = str(exc)
    assert exc.en in text
    assert exc.zh in text
    if exc.fix:
        assert "Fix:" in text
    assert_no_trace(cfg.parent)
    return exc


def assert_no_trace(directory: Path) -> None:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(f"sqlite:///{directory / 'store.sqlite'}")
    assert repo.list_runs(factory, status="succeeded") == []
    assert not (directory / "out").exists(), "output folder was created"
    assert not list(directory.glob(".out.tmp-*")), "temporary export folder left behind"


def copy_raster(src: Path, dst: Path, *, edit=None, **profile_changes: Any) -> Path:  # type: ignore[no-untyped-def]
    """Copy a single-band raster, optionally editing its array and profile."""
    with rasterio.open(src) as ds:
        arr = ds.read(1)
        profile = ds.profile.copy()
    if edit is not None:
        arr = edit(arr)
    profile.update(height=arr.shape[0], width=arr.shape[1], **profile_changes)
    with rasterio.open(dst, "w", **profile) as out:
        out.write(arr, 1)
    return dst


def _mentions(exc: QingshanError, name: str) -> None:
    assert exc.file is not None
    assert Path(exc.file).name == name
    assert name in str(exc)


# ----------------------------------------------------------------------------- config
def test_malformed_toml(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[run\nyears = [2019]\nprofile = "jiangxi-db36-2021"\n', encoding="utf-8")
    exc = run_bad(cfg, ConfigError)
    _mentions(exc, "config.toml")
    assert "TOML" in exc.en


def test_missing_required_field(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, run={"years": None})
    exc = run_bad(cfg, ConfigError)
    _mentions(exc, "config.toml")
    assert exc.field == "run.years"
    assert "run.years" in str(exc)


# ----------------------------------------------------------------------------- rasters
def test_missing_input_file(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "no_such_precip.tif"
    cfg = write_config(tmp_path, inputs={"precip": str(missing)})
    exc = run_bad(cfg, InputError)
    _mentions(exc, "no_such_precip.tif")


def test_raster_without_crs(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = copy_raster(example_dir / "ndvi_max.tif", tmp_path / "ndvi_nocrs.tif", crs=None)
    with rasterio.open(bad) as ds:
        assert ds.crs is None
    cfg = write_config(tmp_path, inputs={"ndvi": str(bad)})
    exc = run_bad(cfg, InputError)
    _mentions(exc, "ndvi_nocrs.tif")
    assert exc.field == "crs"
    assert "CRS" in str(exc)


def test_grid_mismatch_without_resampling(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    src = example_dir / "dem.tif"
    with rasterio.open(src) as ds:
        coarse = ds.transform @ ds.transform.scale(2, 2)
    bad = copy_raster(src, tmp_path / "dem_coarse.tif", edit=lambda a: a[::2, ::2].copy(), transform=coarse)
    cfg = write_config(tmp_path, grid={"resample": False}, inputs={"dem": str(bad)})
    exc = run_bad(cfg, GridMismatchError)
    _mentions(exc, "dem_coarse.tif")
    assert exc.field == "dem"


def test_grid_mismatch_control_runs_with_resampling_allowed(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    """Control for the case above: the example's own rasters share the grid, so resample=false is fine up to planning."""
    from qingshan.engine.run import load_inputs, load_tables, plan

    cfg = load_config(write_config(tmp_path, grid={"resample": False}))
    p = plan(cfg)
    load_inputs(cfg, p, 2019, load_tables(cfg, p))


def test_unknown_landcover_code(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    def poke(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[65, 60] = 99
        return a

    bad = copy_raster(example_dir / "lulc_modis_igbp_2019.tif", tmp_path / "lulc_99.tif", edit=poke)
    cfg = write_config(tmp_path, inputs={"lulc": str(bad)})
    exc = run_bad(cfg, InputError)
    assert exc.field == "code"
    assert Path(exc.file).name == "landcover_modis_igbp.csv"
    assert "99" in exc.en
    assert "lulc_99.tif" in str(exc)  # the raster is named in the message


def test_negative_precipitation(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    def negate(a: np.ndarray) -> np.ndarray:
        a = a.copy()
        a[60:66, 55:61] = -50.0
        return a

    bad = copy_raster(example_dir / "approx_precip_2019.tif", tmp_path / "precip_neg.tif", edit=negate)
    cfg = write_config(tmp_path, inputs={"precip": str(bad)})
    exc = run_bad(cfg, InputError)  # range check or the explicit negative check
    _mentions(exc, "precip_neg.tif")
    assert exc.field == "precip"
    assert "-50" in str(exc) or "negative" in str(exc)


# ----------------------------------------------------------------------------- tables and boundaries
def _statistics_copy(example_dir: Path, dst: Path, old: str, new: str) -> Path:
    lines = (example_dir / "approx_statistics_2019.csv").read_text(encoding="utf-8-sig").splitlines()
    assert old in lines[1]
    lines[1] = lines[1].replace(old, new, 1)
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def test_unknown_region_in_statistics(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _statistics_copy(example_dir, tmp_path / "stats_bad_region.csv", "360102,", "369999,")
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    exc = run_bad(cfg, RegionError)
    assert exc.field == "region_code"
    assert "369999" in str(exc)
    assert exc.file is not None


def test_unknown_region_in_statistics_names_the_file(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _statistics_copy(example_dir, tmp_path / "stats_bad_region.csv", "360102,", "369999,")
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    with pytest.raises(RegionError) as info:
        account(load_config(cfg))
    assert info.value.file is not None
    assert Path(info.value.file).name == "stats_bad_region.csv"


def test_duplicate_region_in_boundaries(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    gj = json.loads((example_dir / "jiangxi_county_tianditu.geojson").read_text(encoding="utf-8"))
    first = gj["features"][0]
    gj["features"].append(json.loads(json.dumps(first)))
    bad = tmp_path / "boundaries_dup.geojson"
    bad.write_text(json.dumps(gj, ensure_ascii=False), encoding="utf-8")
    cfg = write_config(tmp_path, regions={"file": str(bad)})
    exc = run_bad(cfg, RegionError)
    _mentions(exc, "boundaries_dup.geojson")
    assert exc.field == "district_adcode"
    assert str(first["properties"]["district_adcode"]) in str(exc)


def test_unparseable_unit_in_statistics(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _statistics_copy(example_dir, tmp_path / "stats_bananas.csv", "万t", "bananas")
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    exc = run_bad(cfg, UnitsError)
    assert "bananas" in str(exc)


def test_unparseable_unit_in_statistics_names_file_and_field(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    bad = _statistics_copy(example_dir, tmp_path / "stats_bananas.csv", "万t", "bananas")
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    with pytest.raises(UnitsError) as info:
        account(load_config(cfg))
    assert info.value.field == "unit"
    assert info.value.file is not None
    assert "stats_bananas.csv" in str(info.value)


def test_missing_price_exact_policy(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import csv

    with (example_dir.parent.parent / "tables" / "prices_default.csv").open(encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    keys = {r["price_key"] for r in rows}
    with_2019 = {r["price_key"] for r in rows if r["price_year"] == "2019"}
    cfg = write_config(tmp_path, prices={"year_policy": "exact"})
    exc = run_bad(cfg, MissingPriceError)
    assert exc.field in keys - with_2019
    assert f"'{exc.field}'" in str(exc)
    assert "2019" in exc.en
    _mentions(exc, "prices_default.csv")


# ----------------------------------------------------------------------------- CLI
def test_cli_account_bad_config_exit_code(tmp_path: Path) -> None:
    from qingshan.cli import app

    bad = tmp_path / "BAD.toml"
    bad.write_text("[run]\nyears = 2019 2020\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["account", str(bad)])
    assert result.exit_code == 2, result.output
    assert "Fix:" in result.output
    assert "修正方法" in result.output
    assert "配置文件不是有效的 TOML" in result.output
    assert "Traceback" not in result.output


def test_cli_error_names_file_and_field(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from qingshan.cli import app

    cfg = write_config(tmp_path, run={"years": None})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    assert result.exit_code == 2, result.output
    assert "run.years" in result.output
    assert "config.toml" in result.output
