"""``ls_formula = "invest"``: Qingshan's port of InVEST 3.20.2 SDR's terrain chain and LS factor,
checked against small arrays InVEST itself produced (tests/data/invest_ref/SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qingshan.core.grid import Grid
from qingshan.engine.compute import compute_indicator
from qingshan.kernels.routing import (
    fill_pits_invest,
    flow_accumulation_invest,
    slope_percent_invest,
)
from qingshan.kernels.soil import ls_factor_invest

REF = Path(__file__).resolve().parents[1] / "data" / "invest_ref"
CASES = ("steep", "olinda_coast", "olinda_seanodata")


def load(case: str) -> dict[str, np.ndarray]:
    with np.load(REF / f"{case}.npz") as z:
        return {k: z[k] for k in z.files}


def same(a: np.ndarray, b: np.ndarray, rtol: float) -> bool:
    return bool(np.array_equal(np.isnan(a), np.isnan(b)) and np.allclose(a, b, rtol=rtol, atol=0, equal_nan=True))


@pytest.mark.parametrize("case", CASES)
def test_pit_filling_matches_invest(case: str) -> None:
    r = load(case)
    assert np.isnan(r["dem"]).any() == (case == "olinda_seanodata")
    filled = fill_pits_invest(r["dem"].astype(np.float64))
    assert same(filled, r["pit_filled_dem_d8"], 0) and same(filled, r["pit_filled_dem_mfd"], 0)


@pytest.mark.parametrize("case", CASES)
def test_slope_matches_invest(case: str) -> None:
    r = load(case)
    cs = float(r["cell_size"])
    assert same(slope_percent_invest(r["pit_filled_dem_d8"], cs, cs), r["slope_d8"], 1e-7)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("algo", ["d8", "mfd"])
def test_flow_accumulation_matches_invest(case: str, algo: str) -> None:
    r = load(case)
    fa = flow_accumulation_invest(r[f"pit_filled_dem_{algo}"], algo.upper())
    assert same(fa, r[f"flow_accumulation_{algo}"], 1e-9)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("algo", ["d8", "mfd"])
def test_ls_chain_matches_invest_end_to_end(case: str, algo: str) -> None:
    """DEM → compute_indicator(ls_formula="invest") → LS equals InVEST's ls.tif."""
    r = load(case)
    cs = float(r["cell_size"])
    shape = r["dem"].shape
    grid = Grid.from_crs("EPSG:32650", Affine(cs, 0, 0, 0, -cs, 0), *shape)
    one = np.ones(shape)
    res = compute_indicator(
        "soil_retention",
        {"dem": r["dem"].astype(np.float64), "lulc": one, "ndvi": one * 0.5, "rain_erosivity": one * 5000,
         "soil_erodibility": one * 0.03},
        grid=grid, options={"ls_formula": "invest", "flow_algorithm": algo.upper()},
    )
    assert same(res.intermediates["ls"], r[f"ls_{algo}"], 1e-6)


def test_ls_invest_by_hand_for_a_lone_cell() -> None:
    # FA = 1 (nothing upslope), slope 5 %, w = 30 m:
    #   θ = atan(0.05) = 0.0499584 rad, sinθ = 0.0499376, x = sinθ + cosθ = 1.0486900
    #   m = 0.4 (3.5 < 5 ≤ 5), L = (w / (22.13·x))^m = (30 / 23.207509)^0.4 = 1.2926851^0.4 = 1.1081463
    #   S = 10.8·sinθ + 0.03 = 0.5693263 (slope < 9 %)   →   LS = 0.6308968 (m is float32 in InVEST)
    ls = ls_factor_invest(np.array([5.0]), np.array([1.0]), 30.0)
    assert ls[0] == pytest.approx(0.6308968, rel=2e-6)
    # steep branch, slope 20 %: m = β/(1+β), S = 16.8 sinθ − 0.5; L is capped at l_max
    ls_cap = ls_factor_invest(np.array([20.0]), np.array([1e9]), 30.0, l_max=2.0)
    theta = np.arctan(0.2)
    assert ls_cap[0] == pytest.approx(2.0 * (16.8 * np.sin(theta) - 0.5), rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, (9, 8), elements=st.floats(0, 50, allow_nan=False)), st.sampled_from(["D8", "MFD"]))
def test_accumulation_conserves_cells_and_is_at_least_one(z: np.ndarray, algo: str) -> None:
    filled = fill_pits_invest(z)
    assert np.all(filled >= z)
    fa = flow_accumulation_invest(filled, algo)
    assert np.all(fa >= 1.0 - 1e-9)
    # every cell's unit leaves the grid once: Σ over edge outflow = cell count (D8: exact)
    assert fa.max() <= z.size + 1e-6


def test_unknown_ls_formula_is_a_bilingual_error() -> None:
    grid = Grid.from_crs("EPSG:32650", Affine(30, 0, 0, 0, -30, 0), 3, 3)
    one = np.ones((3, 3))
    with pytest.raises(Exception, match="Unknown ls_formula") as err:
        compute_indicator("soil_retention", {"dem": one, "lulc": one, "ndvi": one * 0.5, "rain_erosivity": one}, grid=grid,
                          options={"ls_formula": "saga"})
    assert "未知的 ls_formula" in str(err.value)
