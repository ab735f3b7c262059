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
    ours = upslope_area(dem, cell, dx_m=90.0, dy_m=90.0, algorithm="D8")
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


def _pyflwdir_accuflux(d8: np.ndarray, data: np.ndarray) -> np.ndarray:
    from affine import Affine

    flw = pyflwdir.from_array(d8, ftype="d8", check_ftype=False, transform=Affine.identity(), latlon=False)
    return flw.accuflux(data, nodata=np.nan)


def _tricky_dem(seed: int, shape: tuple[int, int] = (48, 57)) -> np.ndarray:
    """Ties everywhere (whole metres), values that are not float32, ±0.0, negative heights and nodata holes."""
    from qingshan.kernels.routing import _NODATA

    rng = np.random.default_rng(seed)
    z = np.round(rng.random(shape) * 5.0) + rng.choice([0.0, 0.1, 1.0 / 3.0], shape)
    if seed % 2:
        z -= 2.5
    z[5:9, 5:12] = -0.0
    z[9:11, 5:12] = 0.0
    z[rng.random(shape) < 0.05] = _NODATA
    z[20:24, 30:40] = _NODATA  # a hole: its rim drains into it
    return z


@pytest.mark.parametrize("seed", range(12))
def test_flood_fill_is_pyflwdirs_fill_depressions_bit_for_bit(seed):
    from qingshan.kernels.routing import _NODATA, flood_fill

    z = _tricky_dem(seed)
    want_filled, want_d8 = pyflwdir.dem.fill_depressions(z, nodata=_NODATA, outlets="edge")
    got_filled, got_d8 = flood_fill(z, _NODATA)
    assert np.array_equal(got_d8, want_d8)
    assert np.array_equal(got_filled, want_filled)
    assert (got_filled > z).any() and (got_d8 == 247).any()  # depressions were filled, holes kept


def test_flood_fill_and_accumulation_are_pyflwdirs_on_a_real_dem(olinda):
    from qingshan.kernels.routing import _NODATA, accuflux_d8, flood_fill

    dem, _ = olinda
    z = np.where(np.isfinite(dem), dem, _NODATA)
    want_filled, want_d8 = pyflwdir.dem.fill_depressions(z, nodata=_NODATA, outlets="edge")
    got_filled, got_d8 = flood_fill(z, _NODATA)
    assert np.array_equal(got_d8, want_d8) and np.array_equal(got_filled, want_filled)
    valid = z != _NODATA
    d8 = d8_directions(np.where(valid, got_filled, np.nan), got_d8, 90.0, 90.0)
    data = np.where(valid, 8100.0 + np.random.default_rng(1).random(z.shape), 0.0)  # sums that round by order
    assert np.array_equal(accuflux_d8(d8, data), _pyflwdir_accuflux(d8, data))


@pytest.mark.parametrize("seed", range(6))
def test_accuflux_d8_adds_in_pyflwdirs_order_bit_for_bit(seed):
    import math

    from qingshan.kernels.routing import _NODATA, accuflux_d8, flood_fill

    z = _tricky_dem(seed)
    valid = z != _NODATA
    filled, flood = flood_fill(z, _NODATA)
    d8 = d8_directions(np.where(valid, filled, np.nan), flood, 30.0, 30.0)
    data = np.where(valid, np.random.default_rng(seed).lognormal(0.0, 3.0, z.shape), 0.0)
    got = accuflux_d8(d8, data)
    assert np.array_equal(got, _pyflwdir_accuflux(d8, data))
    # the order is what is tested: added exactly rounded, some of the largest sums differ in their last bits
    largest = np.argsort(np.where(valid, got, 0.0), axis=None)[-10:]
    exact = [math.fsum(data[_upstream_cells(d8, np.unravel_index(i, got.shape))]) for i in largest]
    assert np.allclose(got.ravel()[largest], exact, rtol=1e-12) and not np.array_equal(got.ravel()[largest], exact)


def _upstream_cells(d8: np.ndarray, cell: tuple[int, ...]) -> np.ndarray:
    """Mask of the cells whose D8 path passes through ``cell`` (itself included)."""
    from qingshan.kernels.routing import _CODES, _DC, _DR

    nr, nc = d8.shape
    mask = np.zeros(d8.shape, dtype=bool)
    stack = [tuple(int(i) for i in cell)]
    while stack:
        r, c = stack.pop()
        mask[r, c] = True
        for k in range(8):  # neighbours (r - dr, c - dc) draining in direction k into (r, c)
            rr, cc = r - int(_DR[k]), c - int(_DC[k])
            if 0 <= rr < nr and 0 <= cc < nc and not mask[rr, cc] and d8[rr, cc] == _CODES[k]:
                stack.append((rr, cc))
    return mask


def test_the_default_chain_routes_without_importing_pyflwdir():
    """pyflwdir's import costs 1–2 s of every run that routes; its fill and accumulation are reproduced here."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from qingshan.kernels.routing import upslope_area\n"
        "z = np.add.outer(np.arange(30.0), np.arange(20.0)); z[10:14, 5:9] = 0.0\n"
        "for algo in ('D8', 'MFD'):\n"
        "    a = upslope_area(z, np.full(z.shape, 900.0), dx_m=30.0, dy_m=30.0, algorithm=algo)\n"
        "    assert np.isfinite(a).all() and a.max() > 900.0\n"
        "print(sorted(m for m in sys.modules if 'flwdir' in m))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize(
    "name",
    ["1x1", "1xN", "Nx1", "all_nodata", "one_valid", "flat", "beyond_float32", "subnormal_and_signed_zeros"],
)
def test_flood_fill_is_pyflwdirs_on_degenerate_grids(name):
    from qingshan.kernels.routing import _NODATA, flood_fill

    z = {
        "1x1": np.array([[5.0]]),
        "1xN": np.array([[3.0, 1.0, 2.0, 2.0, 5.0]]),
        "Nx1": np.array([[3.0], [1.0], [2.0], [0.5]]),
        "all_nodata": np.full((3, 4), _NODATA),
        "one_valid": np.where(np.arange(9).reshape(3, 3) == 4, 7.0, _NODATA),
        "flat": np.zeros((6, 7)),
        "beyond_float32": np.array([[1e39, -1e39, 3.0], [2.0, 1e30, 1.0], [np.inf, 5.0, -np.inf]]),
        "subnormal_and_signed_zeros": np.array([[1e-45, -1e-45, 0.0], [-0.0, 1e-40, 2.0], [3.0, 1e-45, 1.0]]),
    }[name]
    want = pyflwdir.dem.fill_depressions(z.copy(), nodata=_NODATA, outlets="edge")
    got = flood_fill(z.copy(), _NODATA)
    assert np.array_equal(got[0], want[0], equal_nan=True) and np.array_equal(got[1], want[1])


def test_flood_fill_refuses_nan_elevations():
    from qingshan.kernels.routing import flood_fill

    with pytest.raises(ValueError, match="NaN"):
        flood_fill(np.array([[1.0, np.nan], [2.0, 3.0]]))
