"""Exact zonal weights on a tiny projected grid, and roll-up of children to parents."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from shapely.geometry import box

from qingshan.aggregate.regions import Region, RegionSet
from qingshan.aggregate.zonal import roll_up, zone_weights
from qingshan.core.grid import Grid

X0, Y0, CELL = 500_000.0, 3_000_040.0, 10.0  # UTM 50N, 4 × 4 cells of 10 m
CRS = "EPSG:32650"


def _grid() -> Grid:
    return Grid.from_crs(CRS, Affine(CELL, 0.0, X0, 0.0, -CELL, Y0), 4, 4)


def _regions(polygons: dict[str, object]) -> RegionSet:
    regions = {
        "360000": Region("360000", "省", "province", None),
        "360100": Region("360100", "市", "city", "360000"),
    }
    for code in polygons:
        regions[code] = Region(code, f"县{code}", "county", "360100")
    leaves = gpd.GeoDataFrame({"code": list(polygons), "name": [f"县{c}" for c in polygons]},
                              geometry=list(polygons.values()), crs=CRS)
    return RegionSet(regions=regions, leaves=leaves)


def _split_regions() -> RegionSet:
    # A covers columns 0 and half of column 1; B covers the rest: together the whole grid.
    a = box(X0, Y0 - 40, X0 + 15, Y0)
    b = box(X0 + 15, Y0 - 40, X0 + 40, Y0)
    return _regions({"360101": a, "360102": b})


def test_totals_equal_rectangle_areas() -> None:
    grid = _grid()
    regions = _split_regions()
    w = zone_weights(regions, grid)
    assert w.codes == ("360101", "360102")
    area = np.ones(grid.shape) * grid.cell_area()
    assert np.allclose(grid.cell_area(), CELL * CELL)
    totals = w.totals(area)
    assert totals[0] == 15 * 40  # m2, exactly
    assert totals[1] == 25 * 40
    assert totals.sum() == 40 * 40


def test_split_cell_counted_once() -> None:
    grid = _grid()
    w = zone_weights(_split_regions(), grid)
    colsum = np.asarray(w.matrix.sum(axis=0)).ravel().reshape(grid.shape)
    assert np.array_equal(colsum, np.ones(grid.shape))
    split = w.matrix[:, 1].toarray().ravel()  # cell (row 0, col 1)
    assert split.tolist() == [0.5, 0.5]
    one = np.zeros(grid.shape)
    one[2, 1] = 7.0
    assert w.totals(one).sum() == 7.0
    assert w.totals(one).tolist() == [3.5, 3.5]


def test_overlapping_zones_normalised() -> None:
    """Overlapping polygons (slivers) never count a cell more than once."""
    grid = _grid()
    regions = _regions({"360101": box(X0, Y0 - 40, X0 + 25, Y0), "360102": box(X0 + 15, Y0 - 40, X0 + 40, Y0)})
    w = zone_weights(regions, grid)
    colsum = np.asarray(w.matrix.sum(axis=0)).ravel()
    assert colsum.max() == pytest.approx(1.0, abs=1e-12)
    assert w.totals(np.ones(grid.shape)).sum() == pytest.approx(16.0, abs=1e-12)


def test_totals_by_ecosystem() -> None:
    grid = _grid()
    w = zone_weights(_split_regions(), grid)
    eco = np.zeros(grid.shape, dtype=np.int16)
    eco[:, 2:] = 1
    by = w.totals_by_ecosystem(np.ones(grid.shape), eco)
    assert by.sum(axis=1) == pytest.approx(w.totals(np.ones(grid.shape)))
    assert by[0, 1] == 0.0  # A lies in columns 0–1.5 only
    assert by[1, 0] == pytest.approx(2.0)  # half of column 1


def test_roll_up_sums_children() -> None:
    regions = _split_regions()
    leaf = pd.DataFrame({
        "region_code": ["360101", "360102", "360101", "360102"],
        "year": [2019, 2019, 2019, 2019],
        "indicator": ["water_conservation"] * 2 + ["carbon_sequestration"] * 2,
        "quantity": [1.5, 2.25, 10.0, 0.0],
        "value": [3.0, 4.0, np.nan, 5.0],
    })
    out = roll_up(leaf, regions, keys=["year", "indicator"], value_cols=["quantity", "value"])
    assert len(out) == len(leaf) + 2 + 2
    for parent in ("360100", "360000"):
        p = out[out["region_code"] == parent].set_index("indicator")
        assert p.loc["water_conservation", "quantity"] == 3.75
        assert p.loc["water_conservation", "value"] == 7.0
        assert p.loc["carbon_sequestration", "quantity"] == 10.0
        assert p.loc["carbon_sequestration", "value"] == 5.0
    kids = out[out["region_code"].isin(["360101", "360102"])]
    pd.testing.assert_frame_equal(kids.reset_index(drop=True), leaf)


def _masked_form(weights: object, values: np.ndarray, eco: np.ndarray, n_types: int) -> np.ndarray:
    """The former split: one masked copy and one sparse product per type."""
    flat, e = np.nan_to_num(values.reshape(-1), nan=0.0), eco.reshape(-1)
    out = np.zeros((weights.shape[0], n_types))  # type: ignore[attr-defined]
    for k in range(n_types):
        out[:, k] = weights @ np.where(e == k, flat, 0.0)  # type: ignore[operator]
    return out


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_ecosystem_split_gives_the_masked_sums_bit_for_bit(fmt: str) -> None:
    import scipy.sparse as sp

    from qingshan.aggregate.zonal import EcosystemSplit
    from qingshan.core.params import ECOSYSTEMS

    rng = np.random.default_rng(7)
    n_regions, n_cells = 5, 40_000
    w = sp.random(n_regions, n_cells, density=0.3, random_state=3, format=fmt) * 0.7
    values = rng.lognormal(0.0, 3.0, n_cells) * rng.choice([-1.0, 1.0], n_cells)  # sums that round differently by order
    values[rng.random(n_cells) < 0.05] = np.nan
    values[:3] = [np.inf, -np.inf, np.nan]
    eco = rng.integers(-1, len(ECOSYSTEMS) + 1, n_cells)  # −1 and len(ECOSYSTEMS): cells of no type
    eco[10:20] = 255
    got = EcosystemSplit.of(w, eco).totals(values)
    want = _masked_form(w, values, eco, len(ECOSYSTEMS))
    assert got.shape == (n_regions, len(ECOSYSTEMS))
    assert np.array_equal(got, want)  # bit for bit (inf and -inf become ±max, as nan_to_num)
    # the order matters: the exactly rounded sums of the same products differ in their last bits, so the test can fail
    dense, flat = w.toarray(), np.nan_to_num(values, nan=0.0)
    exact = np.array([[math.fsum(dense[r] * np.where(eco == k, flat, 0.0)) for k in range(len(ECOSYSTEMS))]
                      for r in range(n_regions)])
    assert np.allclose(got, exact, rtol=1e-12) and not np.array_equal(got, exact)


def test_ecosystem_split_leaves_out_cells_of_no_type_and_empty_weights() -> None:
    import scipy.sparse as sp

    from qingshan.aggregate.zonal import EcosystemSplit

    w = sp.csr_matrix(np.array([[1.0, 0.5, 1.0, 1.0], [0.0, 0.5, 0.0, 0.0]]))
    split = EcosystemSplit.of(w, np.array([0, 1, -1, 255]), n_types=3)
    assert split.totals(np.array([1.0, 2.0, 4.0, 8.0])).tolist() == [[1.0, 1.0, 0.0], [0.0, 1.0, 0.0]]
    empty = EcosystemSplit.of(sp.csr_matrix((2, 4)), np.zeros(4, dtype=int), n_types=3)
    assert empty.totals(np.ones(4)).tolist() == [[0.0] * 3] * 2
    with pytest.raises(ValueError, match="cells"):
        EcosystemSplit.of(w, np.zeros(3, dtype=int))
