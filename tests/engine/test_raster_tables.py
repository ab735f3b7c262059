"""The exported per-cell rasters agree with the tables (issue 7, build item 4).

Found: the COGs covered the whole bounding rectangle — 70 % of the soil retained in the COG lay
outside Jiangxi — so a parcel or a GIS sum disagreed with the accounts. Now every layer is NaN
outside the accounted regions, and for every region at every level (county, city, province)
Σ(cell value × coverage fraction) equals the region's table total to 1e-9 relative, on the numpy
engine and on the block-wise engine (``[run] engine = "dask"``). The coverage of a city or the
province is the sum of its counties' coverage (the accounting's own definition: parents are sums
of their leaves).

Capped components (air and water purification: ``Q = min(capacity, emissions)`` per region, see
``engine/caps.py``) keep the per-cell *capacity*: a cell shared by two counties with different cap
factors cannot carry both. Their raster sums equal the capacity in the run's cap report, and the
table wherever no cap applies.

Bands carry units and descriptions, the CRS its EPSG code where one exists, and files the mode
the umask gives (0644 by default; they were 0600).
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.aggregate.zonal import zone_weights
from qingshan.core.grid import Grid
from qingshan.engine import run as R
from qingshan.engine.config import load_config
from qingshan.io.cog import BlockLayerWriter
from qingshan.io.rasters import write_cog

YEAR = 2019
REL = 1e-9


@pytest.fixture(scope="module")
def dask_run(tmp_path_factory: pytest.TempPathFactory, write_config: Any) -> R.RunOutcome:
    """The example through the CLI's engine switch with ``[run] engine = "dask"`` (64-cell blocks)."""
    from qingshan.cli.report import run_with_progress

    cfg = load_config(write_config(tmp_path_factory.mktemp("dask_agree"), run={"engine": "dask", "block_size": 64}))
    return run_with_progress(cfg, None)


@pytest.fixture(scope="module", params=["numpy", "dask"])
def outcome(request: pytest.FixtureRequest, example_run: R.RunOutcome) -> R.RunOutcome:
    return example_run if request.param == "numpy" else request.getfixturevalue("dask_run")


def _layers(out: R.RunOutcome) -> dict[tuple[str, str], Path]:
    paths = sorted((out.output_dir / "rasters").glob(f"*.{YEAR}.tif"))
    return {tuple(p.name[: -len(f".{YEAR}.tif")].split(".", 1)): p for p in paths}  # type: ignore[misc]


def _read(path: Path) -> tuple[np.ndarray, Grid]:
    with rasterio.open(path) as ds:
        assert ds.dtypes == ("float64",), path.name
        return ds.read(1), Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)


def _capped(out: R.RunOutcome) -> dict[tuple[str, str], dict[str, float]]:
    """(indicator, component) → {region: capacity} of the regions the cap report lists."""
    caps: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for row in out.provenance.get("emission_caps") or []:
        if int(row["year"]) == YEAR:
            caps[(row["indicator"], row["component"])][str(row["region_code"])] = float(row["capacity"])
    return caps


def _region_sums(out: R.RunOutcome, values: np.ndarray, weights: Any) -> dict[str, float]:
    """Σ(cell × coverage) for every leaf and every ancestor (its leaves' coverage summed)."""
    leaf = weights.matrix @ np.nan_to_num(values.reshape(-1), nan=0.0)
    sums: dict[str, float] = defaultdict(float)
    for code, v in zip(weights.codes, leaf, strict=True):
        for c in (code, *out.regions.ancestors(code)):
            sums[c] += float(v)
    return sums


def test_raster_sums_equal_table_totals_at_every_level(outcome: R.RunOutcome) -> None:
    layers = _layers(outcome)
    assert len(layers) >= 10 and ("soil_retention", "soil_retained") in layers
    table = outcome.results[outcome.results["year"] == YEAR].groupby(["indicator", "component", "region_code"])["quantity"].sum()
    caps = _capped(outcome)
    weights = None
    levels_checked: set[str] = set()
    for (ind, comp), path in layers.items():
        values, grid = _read(path)
        weights = weights or zone_weights(outcome.regions, grid)
        sums = _region_sums(outcome, values, weights)
        capped = caps.get((ind, comp), {})
        leaves_capped = {leaf for leaf in weights.codes
                         if any(c in capped for c in (leaf, *outcome.regions.ancestors(leaf)))}
        for code, got in sums.items():
            if code in capped:  # the raster is the capacity; the table min(capacity, emissions)
                assert got == pytest.approx(capped[code], rel=REL), (ind, comp, code)
                continue
            under = {leaf for leaf in weights.codes if code == leaf or code in outcome.regions.ancestors(leaf)}
            if under <= set(capped):  # a parent of capped counties: the sum of their capacities
                assert got == pytest.approx(sum(capped[c] for c in under), rel=REL), (ind, comp, code)
                continue
            if under & leaves_capped:
                continue  # partly capped below: the table mixes capped and uncapped rows
            expected = float(table.get((ind, comp, code), 0.0))
            assert got == pytest.approx(expected, rel=REL, abs=1e-12 * max(1.0, abs(expected))), (ind, comp, code)
            levels_checked.add(outcome.regions.get(code).level)
    assert levels_checked == {"province", "city", "county"}
    assert caps, "the example caps air and water purification: their capacity sums are checked too"


def test_every_layer_is_nodata_outside_the_regions(outcome: R.RunOutcome) -> None:
    """Was: 70 % of the soil retained in the COG lay outside Jiangxi. Outside every county: NaN only."""
    weights = None
    for (ind, comp), path in _layers(outcome).items():
        values, grid = _read(path)
        weights = weights or zone_weights(outcome.regions, grid)
        outside = (np.asarray(weights.matrix.sum(axis=0)).ravel() == 0).reshape(grid.shape)
        assert outside.sum() > 0.3 * outside.size  # the rectangle around Jiangxi is largely outside it
        assert np.isnan(values[outside]).all(), (ind, comp)
        assert np.nansum(values[~outside]) > 0, (ind, comp)


def test_bands_carry_units_descriptions_and_files_follow_the_umask(outcome: R.RunOutcome) -> None:
    mask = _umask()
    for (ind, comp), path in _layers(outcome).items():
        with rasterio.open(path) as ds:
            unit = R.registry().get(ind).component(comp).unit
            assert ds.units == (f"{unit} per cell per year",), path.name
            assert ds.descriptions == (f"{ind}/{comp} {YEAR}",)
            assert ds.tags(1)["units"] == ds.units[0] and "NaN" in ds.tags()["scope"]
        assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask, path.name


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# ----------------------------------------------------------------------------- writers
@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:32650", "EPSG:4490"])
def test_crs_is_written_with_its_epsg_code(tmp_path: Path, crs: str) -> None:
    grid = Grid.from_crs(crs, Affine(0.05, 0, 115, 0, -0.05, 29) if crs != "EPSG:32650" else
                         Affine(30, 0, 500000, 0, -30, 3300000), 8, 9)
    write_cog(tmp_path / "a.tif", np.ones(grid.shape), grid, units="t per cell per year", description="a/b 2019")
    writer = BlockLayerWriter(tmp_path / "bw", grid)
    writer.write("a.b.2019", _window(grid), np.ones(grid.shape), units="t per cell per year", description="a/b 2019")
    (b,) = writer.finish()
    for path in (tmp_path / "a.tif", b):
        with rasterio.open(path) as ds:
            assert ds.crs.to_epsg() == int(crs.split(":")[1])
            assert "AUTHORITY" in ds.crs.to_wkt() or "ID[" in ds.crs.to_wkt()
            assert ds.units == ("t per cell per year",) and ds.descriptions == ("a/b 2019",)


def _window(grid: Grid) -> Any:
    from qingshan.core.window import Window

    return Window(0, 0, grid.height, grid.width)


def test_cogs_follow_a_stricter_umask(tmp_path: Path) -> None:
    grid = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 115, 0, -0.05, 29), 4, 4)
    old = os.umask(0o027)
    try:
        write_cog(tmp_path / "a.tif", np.ones(grid.shape), grid, units="t", description="a")
        writer = BlockLayerWriter(tmp_path / "bw", grid)
        writer.write("a.b.2019", _window(grid), np.ones(grid.shape), units="t", description="a/b 2019")
        (b,) = writer.finish()
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "a.tif").st_mode & 0o777 == 0o640
    assert os.stat(b).st_mode & 0o777 == 0o640
