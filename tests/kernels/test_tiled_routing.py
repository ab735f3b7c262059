"""Tiled routing (Barnes 2016/2017 style) gives the whole-grid kernels' results across tile edges.

Default run: 200² grids cut into 32- and 37-cell tiles (49 / 36 tiles), with depressions, flats
and nodata holes crossing tile edges, both chains (InVEST-compatible and pyflwdir/Freeman), D8
and MFD, plus hypothesis-generated DEMs. ``-m heavy``: the same identities on a 4200² grid.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_science import FOREST, science_params, utm_grid
from qingshan.core.errors import InputError
from qingshan.core.params import ParamSet
from qingshan.engine.derived_cache import (
    DerivedCache,
    content_key,
    flow_accumulation_cached,
    ls_factor_cached,
    ls_settings,
)
from qingshan.kernels import routing as R
from qingshan.kernels import tiled_routing as T
from qingshan.quantities.routing_tiles import ls_factor_tiled, memmap_alloc, read_dem_memmap
from qingshan.quantities.soil import ls_factor, soil_retention_layers

CELL = 30.0


def rugged_dem(n: int, seed: int, *, holes: bool = True) -> np.ndarray:
    """Float32-valued terrain with many pits and flats, a plateau and a deep bowl across tiles."""
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 6, size=(n, n)).astype(np.float64)
    yy, xx = np.mgrid[0:n, 0:n]
    z += (yy + xx) // (n // 8)
    z[n // 5 : n // 5 + n // 4, n // 5 : n // 5 + 2 * n // 5] = 3.0  # plateau over several tiles
    bowl = np.hypot(yy - 0.6 * n, xx - 0.6 * n) < n / 7
    z[bowl] -= 20.0  # depression crossing tile corners, filled to one flat lake
    if holes:
        z[rng.random((n, n)) < 0.01] = np.nan
        z[int(0.75 * n) : int(0.8 * n), n // 20 : int(0.3 * n)] = np.nan
    return z.astype(np.float32).astype(np.float64)


@pytest.fixture(scope="module", params=[(0, 32), (1, 37)], ids=["tile32", "tile37"])
def case(request):
    seed, tile = request.param
    return rugged_dem(200, seed), tile


def naive_tiles(fn, arr: np.ndarray, tile: int) -> np.ndarray:
    """A whole-grid kernel run on each tile with a one-cell halo: what tiling without exchange gives."""
    out = np.empty(arr.shape, dtype=np.asarray(fn(arr[:3, :3])).dtype)
    for r0, r1, c0, c1 in T.tiles(arr.shape, tile):
        win = T._window(arr, r0, r1, c0, c1, 1, np.nan)
        out[r0:r1, c0:c1] = fn(win)[1:-1, 1:-1]
    return out


# --- the grids really exercise cross-tile depressions and flats -------------------------------


def test_naive_tiling_is_wrong_on_these_grids(case):
    dem, tile = case
    filled = R.fill_pits_invest(dem)
    assert not np.array_equal(naive_tiles(R.fill_pits_invest, dem, tile), filled, equal_nan=True)
    assert not np.array_equal(naive_tiles(R.d8_directions_invest, filled, tile), R.d8_directions_invest(filled))


# --- filling ---------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["invest", "pyflwdir"])
def test_tiled_fill_is_bit_identical(case, flavour):
    dem, tile = case
    out = np.empty_like(dem)
    T.tiled_fill(dem, out, tile, flavour=flavour)
    ref = R.fill_pits_invest(dem) if flavour == "invest" else R.fill_dem(dem)[0]
    assert np.array_equal(out, ref, equal_nan=True)
    assert np.nansum(ref - dem) > 0  # something was filled


def test_pyflwdir_flavour_needs_float32_elevations():
    dem = rugged_dem(40, 0, holes=False) + 1e-9
    with pytest.raises(T.NotFloat32Error, match="float32"):
        T.tiled_fill(dem, np.empty_like(dem), 16, flavour="pyflwdir")
    with pytest.raises(InputError) as err:
        ls_factor(dem, _params(routing_tile_size=16), utm_grid(dem.shape, CELL))
    assert err.value.field == "routing_tile_size" and "float32" in err.value.fix


# --- directions ------------------------------------------------------------------------------


def test_tiled_d8_invest_is_bit_identical(case):
    dem, tile = case
    filled = R.fill_pits_invest(dem)
    out = np.empty(dem.shape, np.int8)
    T.tiled_d8_invest(filled, out, tile)
    assert np.array_equal(out, R.d8_directions_invest(filled))


def test_tiled_mfd_weights_invest_are_bit_identical(case):
    dem, tile = case
    filled = R.fill_pits_invest(dem)
    out = np.empty((*dem.shape, 8), np.uint8)
    T.tiled_mfd_weights_invest(filled, out, tile)
    assert np.array_equal(out, R.mfd_weights_invest(filled))


def test_tiled_d8_steepest_descent_is_bit_identical(case):
    dem, tile = case
    filled, flood = T.tiled_rusle_routing(dem, tile)
    ref_filled, ref_flood = R.fill_dem(dem)
    codes = np.empty(dem.shape, np.uint8)
    T.tiled_d8_codes(filled, flood, CELL, CELL, codes, tile)
    assert np.array_equal(codes, R.d8_directions(ref_filled, ref_flood, CELL, CELL))


# --- accumulation ----------------------------------------------------------------------------


def test_rusle_d8_receivers_are_the_one_hot_shares_receivers(case):
    """The default chain's D8 receivers, computed directly, are what the (h, w, 8) shares gave."""
    dem, _ = case
    filled, flood = T.tiled_rusle_routing(dem, 64)
    dx = dy = np.full(dem.shape[0], CELL)
    for r0, r1, c0, c1 in [(0, 64, 0, 64), (60, 131, 17, 200), (150, 200, 0, 200)]:
        win = T._rusle_window(filled, flood, dx, dy, r0, r1, c0, c1)
        want = T._receivers_of(T._rusle_fractions(*win, 1.1, True))
        got = T._rusle_d8_receivers(*win)
        assert np.array_equal(got, want) and (got == -1).any() and (got >= 0).sum() > 0.9 * got.size


def test_mfd_fractions_kernel_equals_the_numpy_form_bit_for_bit():
    """The compiled shares (asked for again on every perimeter-exchange re-run) are the numpy
    form's: float weights over their sum where it is positive, times the neighbour's validity."""
    rng = np.random.default_rng(11)
    w = rng.integers(0, 256, size=(37, 29, 8)).astype(np.uint8)
    w[rng.random((37, 29)) < 0.2] = 0  # cells sending nothing
    w[..., 3] = np.where(rng.random((37, 29)) < 0.5, 0, w[..., 3])
    vw = rng.random((39, 31)) < 0.85  # haloed validity window
    wf = w.astype(np.float64)
    tot = wf.sum(axis=2, keepdims=True)
    nbr = np.stack([vw[1 + T._PG_DR[k]: 1 + T._PG_DR[k] + 37, 1 + T._PG_DC[k]: 1 + T._PG_DC[k] + 29]
                    for k in range(8)], axis=2).astype(np.float64)
    ref = np.divide(wf, tot, out=np.zeros_like(wf), where=tot > 0) * nbr
    got = T._mfd_fractions(w, vw)
    assert got.dtype == np.float64 and np.array_equal(got.view(np.int64), ref.view(np.int64))  # same bits, +0.0 too



def test_sparse_mfd_reruns_give_the_dense_reruns_bits(case):
    """The perimeter exchange re-runs a tile for each bit of inflow (hundreds of times under MFD):
    the sparse re-run (shares from the uint8 weights, only the cells reached) gives exactly the
    dense re-run's sums, so tiling MFD is no less reproducible for being faster."""
    dem, tile = case
    filled = R.fill_pits_invest(dem)
    valid = np.isfinite(filled)
    wts = R.mfd_weights_invest(filled)

    def shares(r0, r1, c0, c1):
        return wts[r0:r1, c0:c1], T._window(valid, r0, r1, c0, c1, 1, False)

    def fractions(r0, r1, c0, c1):
        return T._mfd_fractions(*shares(r0, r1, c0, c1))

    dense, sparse = np.empty(dem.shape), np.empty(dem.shape)
    passes = T.tiled_accumulate(dem.shape, valid, T._ones, fractions, dense, tile)
    assert T.tiled_accumulate(dem.shape, valid, T._ones, fractions, sparse, tile, shares_u8=shares) == passes
    assert passes > 3 * len(list(T.tiles(dem.shape, tile)))  # re-runs happened
    assert np.array_equal(dense.view(np.int64), sparse.view(np.int64))


@pytest.mark.parametrize("whole_fill", [True, False], ids=["filled_whole", "filled_in_tiles"])
def test_tiled_accumulation_invest_d8_bit_identical_mfd_to_1e12(case, monkeypatch, whole_fill):
    dem, tile = case
    filled = R.fill_pits_invest(dem)
    if not whole_fill:  # as beyond WHOLE_FILL_CELLS
        monkeypatch.setattr(T, "WHOLE_FILL_CELLS", 0)
        monkeypatch.setattr(T, "_fill_pits_inplace", None)  # not called
    f, d8 = T.tiled_flow_accumulation_invest(dem, "D8", tile)
    assert np.array_equal(f, filled, equal_nan=True)
    assert np.array_equal(d8, R.flow_accumulation_invest(filled, "D8"), equal_nan=True)
    whole = R.flow_accumulation_invest(filled, "MFD")
    _, one_pass = T.tiled_flow_accumulation_invest(dem, "MFD", tile)  # tiled weights, one topological pass
    assert np.array_equal(one_pass, whole, equal_nan=True)
    monkeypatch.setattr(T, "MFD_WHOLE_ACCUMULATION_CELLS", 0)  # the perimeter exchange, as beyond the bound
    _, mfd = T.tiled_flow_accumulation_invest(dem, "MFD", tile)
    np.testing.assert_allclose(mfd, whole, rtol=1e-12)
    assert not np.array_equal(mfd, whole, equal_nan=True)  # the exchange's own order of sums: it did run
    assert np.nanmax(d8) > 4 * tile  # flow crosses several tiles


@pytest.mark.parametrize("algorithm", ["D8", "MFD"])
def test_tiled_upslope_area_equals_whole_grid(case, algorithm):
    dem, tile = case
    area = np.full(dem.shape, CELL * CELL)
    got = T.tiled_upslope_area(dem, area, dx_m=CELL, dy_m=CELL, algorithm=algorithm, tile=tile)
    ref = R.upslope_area(dem, area, dx_m=CELL, dy_m=CELL, algorithm=algorithm)
    np.testing.assert_allclose(got, ref, rtol=1e-12)
    assert np.array_equal(np.isnan(got), np.isnan(ref))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    shape=st.tuples(st.integers(20, 48), st.integers(20, 48)),
    levels=st.integers(2, 6),
    tile=st.integers(5, 17),
    hole_frac=st.sampled_from([0.0, 0.03, 0.15]),
)
def test_hypothesis_dems_route_identically(seed, shape, levels, tile, hole_frac):
    rng = np.random.default_rng(seed)
    dem = rng.integers(0, levels, size=shape).astype(np.float64)  # few levels: many flats and pits
    dem[rng.random(shape) < hole_frac] = np.nan
    filled = R.fill_pits_invest(dem)
    out = np.empty_like(dem)
    T.tiled_fill(dem, out, tile)
    assert np.array_equal(out, filled, equal_nan=True)
    fdir = np.empty(shape, np.int8)
    T.tiled_d8_invest(filled, fdir, tile)
    assert np.array_equal(fdir, R.d8_directions_invest(filled))
    _, acc = T.tiled_flow_accumulation_invest(dem, "D8", tile)
    assert np.array_equal(acc, R.flow_accumulation_invest(filled, "D8"), equal_nan=True)
    pf, flood = T.tiled_rusle_routing(dem, tile)
    ref_f, ref_flood = R.fill_dem(dem)
    assert np.array_equal(pf, ref_f, equal_nan=True)
    codes = np.empty(shape, np.uint8)
    T.tiled_d8_codes(pf, flood, CELL, CELL, codes, tile)
    assert np.array_equal(codes, R.d8_directions(ref_f, ref_flood, CELL, CELL))
    area = np.full(shape, CELL * CELL)
    got = T.tiled_upslope_area(dem, area, dx_m=CELL, dy_m=CELL, algorithm="MFD", tile=tile)
    np.testing.assert_allclose(got, R.upslope_area(dem, area, dx_m=CELL, dy_m=CELL, algorithm="MFD"), rtol=1e-12)


# --- LS factor wiring and the out-of-core driver ----------------------------------------------


def _params(**options: object) -> ParamSet:
    return science_params(options=options)


@pytest.mark.parametrize("formula", ["rusle_mccool", "invest"])
@pytest.mark.parametrize("algorithm", ["D8", "MFD"])
def test_ls_factor_routing_tile_size_gives_the_whole_grid_result(formula, algorithm):
    dem = rugged_dem(120, 3) * 3.0
    grid = utm_grid(dem.shape, CELL)
    base = ls_factor(dem, _params(ls_formula=formula, flow_algorithm=algorithm), grid)
    tiled = ls_factor(dem, _params(ls_formula=formula, flow_algorithm=algorithm, routing_tile_size=33), grid)
    if algorithm == "D8":
        assert np.array_equal(tiled, base, equal_nan=True)
    else:
        np.testing.assert_allclose(tiled, base, rtol=1e-12)


@pytest.mark.parametrize("bad", ["abc", 4, -1])
def test_routing_tile_size_must_be_a_sensible_whole_number(bad):
    dem = rugged_dem(40, 0)
    with pytest.raises(InputError) as err:
        ls_factor(dem, _params(routing_tile_size=bad), utm_grid(dem.shape, CELL))
    assert err.value.field == "routing_tile_size"


def test_out_of_core_driver_reads_windows_and_writes_memmaps(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    dem = rugged_dem(90, 2)
    grid = utm_grid(dem.shape, CELL)
    path = tmp_path / "dem.tif"
    with rasterio.open(
        path, "w", driver="GTiff", width=90, height=90, count=1, dtype="float32", nodata=-9999.0,
        crs="EPSG:32650", transform=grid.transform,
    ) as dst:
        dst.write(np.where(np.isnan(dem), -9999.0, dem).astype(np.float32), 1)
    work = tmp_path / "work"
    work.mkdir()
    mm = read_dem_memmap(path, memmap_alloc(work), block=32)
    assert isinstance(mm, np.memmap) and np.array_equal(mm, dem, equal_nan=True)
    params = _params()
    ls = ls_factor_tiled(mm, params, grid, 32, workdir=work)
    assert isinstance(ls, np.memmap)
    assert np.array_equal(ls, ls_factor(dem, params, grid), equal_nan=True)


# --- derived-layer cache ---------------------------------------------------------------------


def test_cache_reuses_ls_and_invalidates_on_dem_or_setting_change(tmp_path):
    dem = rugged_dem(60, 4)
    grid = utm_grid(dem.shape, CELL)
    cache = DerivedCache(tmp_path)
    params = _params()
    first = ls_factor_cached(dem, params, grid, cache)
    again = ls_factor_cached(dem.copy(), params, grid, cache)
    assert (cache.misses, cache.hits) == (1, 1)
    assert np.array_equal(first, again, equal_nan=True)
    assert np.array_equal(again, ls_factor(dem, params, grid), equal_nan=True)
    # a tiled run reuses the whole-grid entry (same layer)
    ls_factor_cached(dem, _params(routing_tile_size=32), grid, cache)
    assert cache.hits == 2
    # computed tiled into the cache (streamed from memmaps): the same layer
    tiled = ls_factor_cached(dem, _params(routing_tile_size=32), grid, DerivedCache(tmp_path / "t"))
    assert isinstance(tiled, np.memmap) and np.array_equal(tiled, first, equal_nan=True)
    changed = dem.copy()
    changed[10, 10] += 1.0
    ls_factor_cached(changed, params, grid, cache)
    ls_factor_cached(dem, _params(flow_algorithm="MFD"), grid, cache)
    ls_factor_cached(dem, science_params(overrides={"rusle_m_exp_4": 0.45}), grid, cache)
    assert (cache.misses, cache.hits) == (4, 2)
    layers = soil_retention_layers(
        {"dem": dem, "lulc": np.full(dem.shape, float(FOREST)), "ndvi": np.full(dem.shape, 0.5),
         "rain_erosivity": np.full(dem.shape, 3000.0)},
        params, grid, ls=np.asarray(first),
    )
    assert np.array_equal(layers["ls"], np.where(np.isnan(layers["ls"]), np.nan, first), equal_nan=True)


@pytest.mark.parametrize("damage", ["flip_byte", "truncate", "drop_manifest"])
def test_cache_detects_corrupt_or_partial_entries_and_recomputes(tmp_path, damage):
    dem = rugged_dem(50, 5)
    grid = utm_grid(dem.shape, CELL)
    cache = DerivedCache(tmp_path)
    params = _params()
    good = np.array(ls_factor_cached(dem, params, grid, cache))
    key = content_key("ls", {"dem": dem}, grid, ls_settings(params))
    data, manifest = tmp_path / f"{key}.npy", tmp_path / f"{key}.json"
    assert json.loads(manifest.read_text())["name"] == "ls"
    raw = bytearray(data.read_bytes())
    if damage == "flip_byte":
        raw[-5] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "truncate":
        data.write_bytes(bytes(raw[: len(raw) // 2]))
    else:
        manifest.unlink()
    assert cache.load(key) is None
    again = ls_factor_cached(dem, params, grid, cache)
    assert cache.misses == 2
    assert np.array_equal(again, good, equal_nan=True)
    assert cache.load(key) is not None
    assert not list(tmp_path.glob("*.tmp"))


def test_cached_flow_accumulation_tiled_equals_whole_grid(tmp_path):
    dem = rugged_dem(80, 6)
    grid = utm_grid(dem.shape, CELL)
    cache = DerivedCache(tmp_path)
    filled, acc = flow_accumulation_cached(dem, "D8", cache, grid, tile=24)
    assert np.array_equal(acc, R.flow_accumulation_invest(R.fill_pits_invest(dem), "D8"), equal_nan=True)
    f2, a2 = flow_accumulation_cached(dem, "D8", cache, grid)
    assert cache.hits == 2 and np.array_equal(a2, acc, equal_nan=True) and np.array_equal(f2, filled, equal_nan=True)


# --- large grids (pytest -m heavy) -----------------------------------------------------------

HEAVY_N, HEAVY_TILE = 4200, 1024


@pytest.fixture(scope="module")
def heavy_dem():
    """4200² blocky relief (wide flats, deep pits crossing 1024-cell tiles), nodata specks."""
    rng = np.random.default_rng(42)
    coarse = rng.normal(0, 40, size=(HEAVY_N // 50 + 2, HEAVY_N // 50 + 2))
    dem = np.kron(coarse, np.ones((50, 50)))[:HEAVY_N, :HEAVY_N]
    dem += rng.integers(0, 3, size=dem.shape)
    dem[rng.random(dem.shape) < 0.001] = np.nan
    return dem.astype(np.float32).astype(np.float64)


@pytest.mark.heavy
@pytest.mark.timeout(3600)
def test_heavy_invest_chain_identical_across_1024_tiles(heavy_dem, tmp_path, monkeypatch):
    monkeypatch.setattr(T, "WHOLE_FILL_CELLS", 0)  # the tiled fill too, as beyond the bound
    filled = R.fill_pits_invest(heavy_dem)
    f_t, acc_t = T.tiled_flow_accumulation_invest(heavy_dem, "D8", HEAVY_TILE, alloc=memmap_alloc(tmp_path))
    assert np.array_equal(f_t, filled, equal_nan=True)
    assert np.array_equal(acc_t, R.flow_accumulation_invest(filled, "D8"), equal_nan=True)
    fdir = memmap_alloc(tmp_path)(heavy_dem.shape, np.int8)
    T.tiled_d8_invest(filled, fdir, HEAVY_TILE)
    assert np.array_equal(fdir, R.d8_directions_invest(filled))


@pytest.mark.heavy
@pytest.mark.timeout(3600)
def test_heavy_default_chain_identical_across_1024_tiles(heavy_dem, tmp_path):
    alloc = memmap_alloc(tmp_path)
    ref_f, ref_flood = R.fill_dem(heavy_dem)
    pf, flood = T.tiled_rusle_routing(heavy_dem, HEAVY_TILE, alloc=alloc)
    assert np.array_equal(pf, ref_f, equal_nan=True)
    codes = alloc(heavy_dem.shape, np.uint8)
    T.tiled_d8_codes(pf, flood, CELL, CELL, codes, HEAVY_TILE)
    assert np.array_equal(codes, R.d8_directions(ref_f, ref_flood, CELL, CELL))
    area = np.full(heavy_dem.shape, CELL * CELL)
    for algorithm in ("D8", "MFD"):
        got = T.tiled_upslope_area(
            heavy_dem, area, dx_m=CELL, dy_m=CELL, algorithm=algorithm, tile=HEAVY_TILE, alloc=alloc
        )
        ref = R.upslope_area(heavy_dem, area, dx_m=CELL, dy_m=CELL, algorithm=algorithm)
        np.testing.assert_allclose(got, ref, rtol=1e-9)


def test_cached_ls_per_block_gives_the_whole_grid_soil_layers(tmp_path):
    """What a block-wise engine does: LS routed once (tiled, cached), the rest per block."""
    dem = rugged_dem(64, 7, holes=False)
    grid = utm_grid(dem.shape, CELL)
    params = _params(routing_tile_size=20)
    inputs = {
        "dem": dem,
        "lulc": np.full(dem.shape, float(FOREST)),
        "ndvi": np.linspace(0.1, 0.9, dem.size).reshape(dem.shape),
        "rain_erosivity": np.full(dem.shape, 3000.0),
    }
    whole = soil_retention_layers(inputs, _params(), grid)
    ls = ls_factor_cached(dem, params, grid, DerivedCache(tmp_path))
    for rows, cols in ((slice(0, 30), slice(0, 64)), (slice(30, 64), slice(0, 40)), (slice(30, 64), slice(40, 64))):
        block = {k: v[rows, cols] for k, v in inputs.items()}
        part = soil_retention_layers(block, params, grid, ls=np.asarray(ls[rows, cols]))
        for name in ("ls", "rkls", "usle"):
            assert np.array_equal(part[name], whole[name][rows, cols], equal_nan=True), name


@pytest.mark.heavy
@pytest.mark.timeout(3600)
def test_heavy_tiled_ls_memory_is_bounded_by_the_tile_not_the_grid(tmp_path):
    """LS of a 4000² DEM memmap in 512² tiles: Python's peak allocation (tracemalloc; numpy
    reports its buffers to it) stays under ONE grid-sized float64 layer, where the whole-grid
    chain holds about ten. What remains is set by the tile (≈ 40 B per tile cell, MFD shares of
    the last tiles) and the perimeter data (spill graph, D8 exit links: ∝ cells / tile size).
    Not a timing test.

    The terrain is a noisy slope (flats only in filled pits): the plateau pass reads the
    bounding box of each flat crossing a tile edge, so a flat as large as the grid (e.g. the
    integer-noise DEMs above, whose filled flats percolate) needs a window that large."""
    import tracemalloc

    n, tile = 4000, 512
    alloc = memmap_alloc(tmp_path)
    dem = alloc((n, n), np.float64)
    rng = np.random.default_rng(3)
    for r0, r1, c0, c1 in T.tiles((n, n), 500):
        block = rng.random(size=(r1 - r0, c1 - c0)) * 5.0
        block += (np.arange(r0, r1)[:, None] + np.arange(c0, c1)[None, :]) * 0.01
        dem[r0:r1, c0:c1] = block.astype(np.float32)
    grid = utm_grid((n, n), CELL)
    layer_bytes = n * n * 8
    for algorithm in ("D8", "MFD"):
        params = _params(flow_algorithm=algorithm)
        tracemalloc.start()
        ls = ls_factor_tiled(dem, params, grid, tile, workdir=tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert isinstance(ls, np.memmap) and np.isfinite(ls).all()
        assert peak < layer_bytes, (algorithm, peak / 2**20)
