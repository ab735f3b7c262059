"""The faster soil-retention kernels give the same numbers, to the bit (issue 11: ≥10× InVEST).

Each rewritten kernel is held to the formulation it replaced (kept here as the reference) on
random grids with nodata, flats and closed depressions. Start-up: the InVEST chain does not
import pyflwdir (1-2 s), which only the default chain uses.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from qingshan.kernels.soil import INVEST_M_SLOPES_PCT, INVEST_M_VALUES, ls_factor_invest


def _reference_ls(slope_percent: np.ndarray, fa: np.ndarray, cell_size_m: float | np.ndarray,
                  l_max: float = 122.0) -> np.ndarray:
    """The former whole-grid numpy ``ls_factor_invest`` (InVEST sdr.py:1136-1267)."""
    sp = np.asarray(slope_percent, dtype=np.float32)
    fa = np.asarray(fa, dtype=np.float64)
    w = np.asarray(cell_size_m, dtype=np.float64)
    area = w * w
    f32 = np.float32
    with np.errstate(invalid="ignore"):
        a = np.sqrt((fa - 1.0) * area)
        theta = np.arctan(sp / f32(100))
        sin_t = np.sin(theta)
        x = np.fabs(sin_t) + np.fabs(np.cos(theta))
        s = np.where(sp < 9, f32(10.8) * sin_t + f32(0.03), f32(16.8) * sin_t - f32(0.5))
        beta = (sin_t / f32(0.0896)) / (f32(3) * sin_t ** f32(0.8) + f32(0.56))
        idx = np.digitize(np.where(np.isnan(sp), 0, sp), np.array(INVEST_M_SLOPES_PCT), right=True)
        m_tab = np.array((*INVEST_M_VALUES, 0.0), dtype=np.float32)[np.minimum(idx, 4)]
        m = np.where(sp > INVEST_M_SLOPES_PCT[-1], beta / (1 + beta), m_tab).astype(np.float32)
        l_fac = ((a + area) ** (m + 1) - a ** (m + 1)) / (w ** (m + 2) * x**m * 22.13**m)
    l_fac = np.minimum(l_fac, l_max)
    return np.where(np.isnan(sp) | np.isnan(fa), np.nan, l_fac * s)


def _slope_and_fa(rng: np.random.Generator, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    sp = rng.choice([0.0, 1.0, 3.5, 5.0, 9.0, 12.0], size=shape) * (rng.random(shape) < 0.3)
    sp = np.where(sp > 0, sp, rng.gamma(1.5, 6.0, shape)).astype(np.float32).astype(np.float64)
    fa = np.floor(rng.pareto(1.2, shape) * 3) + 1.0
    sp[rng.random(shape) < 0.05] = np.nan
    fa[rng.random(shape) < 0.05] = np.nan
    return sp, fa


@pytest.mark.parametrize("shape", [(1, 1), (7, 9), (33, 5), (130, 70)])
def test_ls_factor_invest_equals_the_numpy_formulation(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    sp, fa = _slope_and_fa(rng, shape)
    w = np.linspace(25.0, 31.0, shape[0])[:, None]  # per row, as geographic grids
    for cell in (w, 30.0):
        got = ls_factor_invest(sp, fa, cell, l_max=40.0)
        assert got.dtype == np.float64 and got.shape == shape
        assert np.array_equal(got, _reference_ls(sp, fa, cell, 40.0), equal_nan=True)


def test_ls_factor_invest_on_windows_and_one_dimensional_input() -> None:
    rng = np.random.default_rng(3)
    sp, fa = _slope_and_fa(rng, (120, 90))
    w = np.full((120, 1), 30.0)
    win = (slice(10, 110), slice(5, 80))  # non-contiguous views, as the tiled driver passes
    got = ls_factor_invest(sp[win], fa[win], w[10:110])
    assert np.array_equal(got, _reference_ls(sp[win], fa[win], w[10:110]), equal_nan=True)
    assert np.array_equal(ls_factor_invest(sp[0], fa[0], 30.0), _reference_ls(sp[0], fa[0], 30.0), equal_nan=True)


def test_invest_chain_does_not_import_pyflwdir() -> None:
    """The finding: ``kernels.routing`` imported pyflwdir at the top (1-2 s) for every chain."""
    probe = """
import sys
import numpy as np
from qingshan.kernels.routing import fill_pits_invest, flow_accumulation_invest, slope_percent_invest
from qingshan.kernels import tiled_routing
from qingshan.kernels.soil import ls_factor_invest
z = np.add.outer(np.arange(6.0), np.arange(5.0))
f = fill_pits_invest(z)
ls = ls_factor_invest(slope_percent_invest(f, 30.0, 30.0), flow_accumulation_invest(f, "D8"), 30.0)
assert np.isfinite(ls).all()
print("PYFLWDIR" if "pyflwdir" in sys.modules else "CLEAN")
"""
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("CLEAN"), out.stdout


# ---------------------------------------------------------------------------------------------
# InVEST terrain chain: the rewritten numba kernels against the former ones (_reference_kernels)
# ---------------------------------------------------------------------------------------------


def _dem(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """A rough DEM with plateaus (elevations rounded to 1 m), closed pits, nodata holes and a
    nodata border strip."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0 : shape[0], 0 : shape[1]]
    z = 0.05 * r + 0.03 * c + rng.normal(0.0, rng.uniform(0.3, 3.0), shape)
    z = np.round(z) if seed % 2 else np.round(z, 2)
    z[rng.random(shape) < 0.01] -= 5.0  # single-cell pits
    z[rng.random(shape) < 0.03] = np.nan
    if shape[0] > 4:
        z[: shape[0] // 4, :2] = np.nan
    if seed == 2 and z.size > 1:
        z[-1, -1] = np.inf  # not finite: nodata too
    return z


SHAPES = [(1, 1), (2, 9), (17, 23), (60, 45), (300, 270)]


def _filled(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from qingshan.kernels.routing import fill_pits_invest

    f = fill_pits_invest(z)
    return f, np.isfinite(f)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_fill_pits_equals_the_former_kernel(shape: tuple[int, int], seed: int) -> None:
    from tests.kernels._reference_kernels import _fill_pits_kernel

    z = _dem(seed, shape)
    valid = np.isfinite(z)
    want = np.where(valid, _fill_pits_kernel(np.where(valid, z, 0.0), valid), np.nan)
    got, _ = _filled(z)
    assert np.array_equal(got, want, equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_slope_equals_the_former_kernel(shape: tuple[int, int], seed: int) -> None:
    from tests.kernels._reference_kernels import _slope_invest_kernel

    from qingshan.kernels.routing import slope_percent_invest

    f, valid = _filled(_dem(seed, shape))
    dx, dy = np.linspace(28.0, 31.0, shape[0]), np.full(shape[0], 30.0)
    want = _slope_invest_kernel(np.where(valid, f, 0.0), valid, dx, dy).astype(np.float32).astype(np.float64)
    assert np.array_equal(slope_percent_invest(f, dx, dy), want, equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_d8_directions_and_accumulation_equal_the_former_kernels(shape: tuple[int, int], seed: int) -> None:
    from tests.kernels._reference_kernels import _accumulate_d8_kernel
    from tests.kernels._reference_kernels import _d8_invest_kernel as old_d8

    from qingshan.kernels.routing import (
        _d8_invest_kernel,
        d8_directions_invest,
        flow_accumulation_invest,
    )

    f, valid = _filled(_dem(seed, shape))
    z0 = np.where(valid, f, 0.0)
    fdir = old_d8(z0, valid, 256, 0, 0, float(f.size))
    assert np.array_equal(d8_directions_invest(f), fdir)
    # windows of tiled routing: small blocks anchored off the window's origin
    assert np.array_equal(_d8_invest_kernel(z0, valid, 8, 3, 5, 99.0), old_d8(z0, valid, 8, 3, 5, 99.0))
    acc, done = _accumulate_d8_kernel(fdir, valid)
    assert done == valid.sum()
    assert np.array_equal(flow_accumulation_invest(f, "D8"), np.where(valid, acc, np.nan), equal_nan=True)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("shape", SHAPES)
def test_mfd_weights_and_accumulation_equal_the_former_kernels(shape: tuple[int, int], seed: int) -> None:
    """MFD sums are real-valued: equal to the bit means the same order of additions."""
    from tests.kernels._reference_kernels import _accumulate_kernel, _mfd_weights_kernel

    from qingshan.kernels.routing import flow_accumulation_invest, mfd_weights_invest

    f, valid = _filled(_dem(seed, shape))
    w = _mfd_weights_kernel(np.where(valid, f, 0.0), valid, float(f.size))
    assert np.array_equal(mfd_weights_invest(f), w)
    acc, done = _accumulate_kernel(w, valid)
    assert done == valid.sum()
    assert np.array_equal(flow_accumulation_invest(f, "MFD"), np.where(valid, acc, np.nan), equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Default chain: numpy formulas in row blocks, steepest descent on parallel rows
# ---------------------------------------------------------------------------------------------


def _reference_slope_radians(dem: np.ndarray, dx: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """The former whole-grid ``slope_radians`` (Horn 1981)."""
    from qingshan.kernels.routing import _pad_linear

    z = np.asarray(dem, dtype=np.float64)
    dx, dy = dx[:, None], dy[:, None]
    pad = _pad_linear(z)

    def nb(dr: int, dc: int) -> np.ndarray:
        v = pad[1 + dr : 1 + dr + z.shape[0], 1 + dc : 1 + dc + z.shape[1]]
        opp = pad[1 - dr : 1 - dr + z.shape[0], 1 - dc : 1 - dc + z.shape[1]]
        return np.where(np.isnan(v), np.where(np.isnan(opp), z, 2.0 * z - opp), v)

    a, b, c = nb(-1, -1), nb(-1, 0), nb(-1, 1)
    d, f = nb(0, -1), nb(0, 1)
    g, h, i = nb(1, -1), nb(1, 0), nb(1, 1)
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8.0 * dx)
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8.0 * dy)
    return np.where(np.isnan(z), np.nan, np.arctan(np.hypot(dzdx, dzdy)))


@pytest.mark.parametrize("shape", [(1, 5), (3, 3), (70, 41)])
def test_default_chain_formulas_equal_the_whole_grid_numpy(shape: tuple[int, int]) -> None:
    from qingshan.kernels.routing import slope_radians
    from qingshan.kernels.soil import length_factor, slope_factor_mccool

    z = _dem(0, shape)
    dx, dy = np.linspace(28.0, 31.0, shape[0]), np.full(shape[0], 30.0)
    theta = slope_radians(z, dx, dy)
    assert np.array_equal(theta, _reference_slope_radians(z, dx, dy), equal_nan=True)
    s = np.sin(theta)
    b1, b2 = np.deg2rad(5.0), np.deg2rad(10.0)
    want_s = np.where(theta < b1, 10.8 * s + 0.03, np.where(theta < b2, 16.8 * s - 0.5, 21.91 * s - 0.96))
    assert np.array_equal(slope_factor_mccool(theta), np.where(np.isnan(theta), np.nan, want_s), equal_nan=True)
    sp, lam = 100.0 * np.tan(theta), np.abs(np.nan_to_num(z)) + 30.0
    m = np.select([sp < 1.0, sp < 3.0, sp < 9.0], [0.2, 0.3, 0.4], default=0.5)
    want_l = np.where(np.isnan(sp), np.nan, np.power(lam / 22.13, m))
    assert np.array_equal(length_factor(lam, sp), want_l, equal_nan=True)


def test_default_d8_on_parallel_rows_equals_serial() -> None:
    from numba import njit

    from qingshan.kernels.routing import _d8_kernel, _per_row, d8_directions, fill_dem

    filled, flood = fill_dem(_dem(1, (90, 64)))
    valid = np.isfinite(filled)
    dx = _per_row(np.linspace(28.0, 31.0, 90), 90)
    serial = njit(_d8_kernel.py_func)(np.where(valid, filled, 0.0), valid, flood, dx, dx)
    assert np.array_equal(d8_directions(filled, flood, dx, dx), serial)
