"""Terrain kernels: slope, D8 / MFD upslope area, flow length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyflwdir
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import spearmanr

from qingshan.kernels.routing import (
    d8_directions,
    fill_dem,
    flow_length_from_area,
    mfd_flow_accumulation,
    slope_radians,
    upslope_area,
)

OLINDA = Path(__file__).parents[1] / "data" / "olinda_dem_utm25s.tif"


def plane(shape=(6, 5), dz_row=1.0, dz_col=0.0):
    rows = np.arange(shape[0], dtype=float)[::-1, None] * dz_row
    cols = np.arange(shape[1], dtype=float)[None, :] * dz_col
    return 100.0 + rows + cols


@pytest.fixture(scope="module")
def olinda():
    with rasterio.open(OLINDA) as src:
        return src.read(1).astype(np.float64), src.transform


def test_slope_of_plane_exact_everywhere():
    # z falls 1 m per 30 m row and rises 0.5 m per 30 m column: tanθ = hypot(1, 0.5)/30 = 0.0372678
    theta = slope_radians(plane(dz_col=0.5), 30.0, 30.0)
    np.testing.assert_allclose(np.tan(theta), np.hypot(1.0, 0.5) / 30.0, rtol=1e-12)


def test_slope_per_row_cell_size_and_nan():
    z = plane()
    z[2, 2] = np.nan
    theta = slope_radians(z, np.full(6, 30.0), 60.0)  # dy = 60 m → tanθ = 1/60
    assert np.isnan(theta[2, 2])
    np.testing.assert_allclose(np.tan(theta[0]), 1.0 / 60.0)


def test_d8_area_grows_linearly_downslope():
    # every column drains straight down the rows: row i has (i + 1) cells of 900 m2 upslope
    area = upslope_area(plane(), np.full((6, 5), 900.0), dx_m=30.0, dy_m=30.0, algorithm="D8")
    expected = (np.arange(6)[:, None] + 1) * 900.0 * np.ones((1, 5))
    np.testing.assert_allclose(area, expected)


def test_mfd_on_plane_conserves_area():
    cell = np.full((6, 5), 900.0)
    filled, flood = fill_dem(plane())
    acc, terminal = mfd_flow_accumulation(filled, flood, cell, 30.0, 30.0)
    # everything leaves through the bottom row: 30 cells × 900 m2 = 27 000 m2
    assert terminal[-1].all()
    assert not terminal[:-1].any()
    assert acc[terminal].sum() == pytest.approx(27000.0)
    assert np.all(acc >= 900.0 - 1e-9)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (7, 6), elements=st.floats(0, 50, allow_nan=False)))
def test_mfd_conserves_area_on_random_terrain(z):
    cell = np.full(z.shape, 900.0)
    filled, flood = fill_dem(z)
    acc, terminal = mfd_flow_accumulation(filled, flood, cell, 30.0, 30.0)
    assert acc[terminal].sum() == pytest.approx(cell.sum())
    assert np.all(acc >= cell - 1e-9)


def test_nodata_cells_stay_nan_and_area_is_conserved():
    z = plane()
    z[3, 2] = np.nan
    cell = np.full(z.shape, 900.0)
    for algo in ("D8", "MFD"):
        area = upslope_area(z, cell, dx_m=30.0, dy_m=30.0, algorithm=algo)
        assert np.isnan(area[3, 2])
        assert np.all(area[np.isfinite(z)] >= 900.0)
    filled, flood = fill_dem(z)
    acc, terminal = mfd_flow_accumulation(filled, flood, cell, 30.0, 30.0)
    assert acc[terminal].sum() == pytest.approx(29 * 900.0)


def test_unknown_algorithm_rejected():
    with pytest.raises(ValueError, match="D8"):
        upslope_area(plane(), np.ones((6, 5)), dx_m=1.0, dy_m=1.0, algorithm="Dinf")


def test_flow_length_is_unit_contributing_area():
    # 9000 m2 draining across a 30 m wide cell → λ = 300 m; a lone cell has λ = w
    np.testing.assert_allclose(
        flow_length_from_area(np.array([9000.0, 900.0]), 30.0), [300.0, 30.0]
    )


def test_d8_matches_pyflwdir_on_real_dem(olinda):
    dem, transform = olinda
    cell = np.full(dem.shape, 90.0 * 90.0)
    ours = upslope_area(dem, cell, dx_m=90.0, dy_m=90.0, algorithm="D8", transform=transform)
    ref = pyflwdir.from_dem(dem, transform=transform).upstream_area("m2")
    # same catchment structure: rank correlation high, largest basin within 5 %
    assert spearmanr(ours.ravel(), ref.ravel()).statistic > 0.85
    assert ours.max() == pytest.approx(ref.max(), rel=0.05)
    # every cell's area ends at exactly one pit
    filled, flood = fill_dem(dem)
    pits = d8_directions(filled, flood, 90.0, 90.0) == 0
    assert ours[pits].sum() == pytest.approx(cell.sum())


def test_mfd_on_real_dem_conserves_and_agrees(olinda):
    dem, transform = olinda
    cell = np.full(dem.shape, 8100.0)
    filled, flood = fill_dem(dem)
    acc, terminal = mfd_flow_accumulation(filled, flood, cell, 90.0, 90.0)
    assert acc[terminal].sum() == pytest.approx(cell.sum())
    ref = pyflwdir.from_dem(dem, transform=transform).upstream_area("m2")
    assert spearmanr(acc.ravel(), ref.ravel()).statistic > 0.8


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (6, 7), elements=st.floats(0, 50, allow_nan=False)))
def test_d8_conserves_area_on_random_terrain(z):
    cell = np.full(z.shape, 900.0)
    area = upslope_area(z, cell, dx_m=30.0, dy_m=30.0, algorithm="D8")
    filled, flood = fill_dem(z)
    pits = d8_directions(filled, flood, 30.0, 30.0) == 0
    assert area[pits].sum() == pytest.approx(cell.sum())
    assert np.all(area >= cell - 1e-9)
