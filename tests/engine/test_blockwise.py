"""The block-wise (Dask) engine gives the numpy engine's numbers without reading whole rasters.

Reference: the whole-grid numpy computation (``helpers_engine.reference_leaf``, the numpy engine of
0.x), and ``account`` (block size 1024: the whole grid as one block) on the
embedded Jiangxi example (130 × 120 cells of 0.05°). Block sizes 7 and 32 are odd on purpose (edge
blocks of 4 × 1 … cells); 1000 is one block holding the whole grid.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import rasterio
import rasterio.io
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers_engine import reference_leaf
from qingshan.core.errors import ConfigError, GridMismatchError, InputError
from qingshan.core.grid import Grid
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.core.variables import VARIABLES
from qingshan.core.window import Window, block_grid, block_windows
from qingshan.engine import blockwise as bw
from qingshan.engine import run as R
from qingshan.engine.compute import DEFAULT_LANDCOVER, DEFAULT_PARAMS
from qingshan.engine.config import RunConfig, load_config
from qingshan.indicators import registry

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]
JIANGXI_SHAPE = (130, 120)


# ----------------------------------------------------------------------------- helpers
def _config(write_config: Any, directory: Path, **overrides: dict[str, Any]) -> RunConfig:
    return load_config(write_config(directory, **overrides))


def _blockwise_plan(cfg: RunConfig) -> R.Plan:
    """The example's raster methods (soil retention included) — no table methods."""
    p = R.plan(cfg)
    return R.Plan(p.profile, tuple((s, m) for s, m in p.items if bw.is_blockwise(m)))


def _numpy_leaf(cfg: RunConfig, p: R.Plan) -> pd.DataFrame:
    return reference_leaf(cfg, p)


def _blockwise_leaf(cfg: RunConfig, p: R.Plan, **kw: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    tables = R.load_tables(cfg, p)
    regions = R.load_regions(cfg)
    leaf, _, facts = bw.compute_blockwise(cfg, p, tables, regions, **kw)
    return leaf, facts


def assert_same_rows(expected: pd.DataFrame, got: pd.DataFrame, rtol: float = 1e-9) -> None:
    """Same (region, year, indicator, component, ecosystem) keys, quantities equal to ``rtol``."""
    m = expected.merge(got, on=KEYS, how="outer", suffixes=("_np", "_bw"), indicator=True)
    assert (m["_merge"] == "both").all(), m[m["_merge"] != "both"].head()
    assert (m["unit_np"] == m["unit_bw"]).all()
    np.testing.assert_allclose(m["quantity_bw"], m["quantity_np"], rtol=rtol, atol=0)


@pytest.fixture(scope="module")
def jiangxi(tmp_path_factory: pytest.TempPathFactory, write_config: Any) -> tuple[RunConfig, R.Plan, pd.DataFrame]:
    """Example config, its block-wise plan and the numpy engine's leaf rows for that plan."""
    cfg = _config(write_config, tmp_path_factory.mktemp("bw"))
    p = _blockwise_plan(cfg)
    return cfg, p, _numpy_leaf(cfg, p)


# ----------------------------------------------------------------------------- windows
@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 40), w=st.integers(1, 40), bh=st.integers(1, 50), bwid=st.integers(1, 50))
def test_block_windows_cover_every_cell_once(h: int, w: int, bh: int, bwid: int) -> None:
    count = np.zeros((h, w), dtype=int)
    flat = []
    for win in block_windows((h, w), (bh, bwid)):
        assert win.height <= bh and win.width <= bwid
        count[win.slices()] += 1
        flat.append(win.flat_indices(w))
        whole = np.arange(h * w).reshape(h, w)
        np.testing.assert_array_equal(whole[win.slices()].reshape(-1), win.flat_indices(w))
    assert (count == 1).all()
    np.testing.assert_array_equal(np.sort(np.concatenate(flat)), np.arange(h * w))


def test_block_windows_rejects_empty_blocks() -> None:
    with pytest.raises(ValueError, match="block_size"):
        list(block_windows((10, 10), 0))
    with pytest.raises(ValueError, match="invalid window"):
        Window(0, 0, 0, 3)


def test_block_grid_cell_areas_are_the_whole_grids() -> None:
    # projected 30 m grid: every cell 30 × 30 = 900 m2, in a block too
    utm = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), 50, 40)
    sub = block_grid(utm, Window(7, 9, 11, 13))
    assert sub.transform.c == 500000 + 9 * 30 and sub.transform.f == 3300000 - 7 * 30
    np.testing.assert_array_equal(sub.cell_area(), np.full((11, 13), 900.0))
    # geographic 0.05° grid (Jiangxi): a block's rows are the whole grid's rows 64..127
    geo = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 113.0, 0, -0.05, 30.5), *JIANGXI_SHAPE)
    win = Window(64, 56, 64, 64)
    np.testing.assert_allclose(block_grid(geo, win).cell_area(), geo.cell_area()[win.slices()], rtol=1e-12)
    with pytest.raises(ValueError, match="outside"):
        block_grid(geo, Window(100, 0, 31, 1))


# ----------------------------------------------------------------------------- which methods are block-wise
def _synthetic_inputs(rng: np.random.Generator, shape: tuple[int, int], codes: list[int]) -> dict[str, np.ndarray]:
    """Every canonical variable, uniform in a plausible part of its range, a few NaN cells."""
    out = {}
    for name, var in VARIABLES.items():
        if name == "lulc":
            arr = rng.choice(codes, size=shape).astype(float)
        else:
            lo = max(var.valid_min, 0.0) if name != "ndvi" else -0.2
            hi = min(var.valid_max, 3000.0)
            arr = rng.uniform(lo, hi, size=shape)
        arr[rng.random(shape) < 0.05] = np.nan
        out[name] = arr
    out["pawc"] = rng.uniform(0.05, 0.3, size=shape)
    out["ndvi"] = np.clip(out["ndvi"], -0.2, 0.95)
    return out


BLOCKWISE_METHODS = [(s, m) for s in registry() for m in s.methods if bw.is_blockwise(m)]


def test_every_raster_method_is_blockwise() -> None:
    """One engine: every raster method runs block by block; RUSLE's routing is the derived input ``ls``."""
    from qingshan.engine.derived_cache import needs_ls

    raster = {f"{s.id}/{m.id}" for s in registry() for m in s.methods if m.kind == "raster"}
    assert raster == {f"{s.id}/{m.id}" for s, m in BLOCKWISE_METHODS}
    assert {m.function for _, m in BLOCKWISE_METHODS} == bw.BLOCKWISE_FUNCTIONS
    assert {f"{s.id}/{m.id}" for s, m in BLOCKWISE_METHODS if needs_ls(m)} == {"soil_retention/rusle", "soil_fertility/rusle"}


@pytest.mark.parametrize(("spec", "method"), BLOCKWISE_METHODS, ids=[f"{s.id}/{m.id}" for s, m in BLOCKWISE_METHODS])
def test_blockwise_method_is_chunk_invariant(spec: Any, method: Any) -> None:
    """Each listed function, run on 9 × 11 blocks of a block grid, equals the whole-grid result
    (RUSLE given the whole grid's LS, as the engine gives it)."""
    from qingshan.engine.derived_cache import needs_ls
    from qingshan.quantities.soil import ls_factor

    rng = np.random.default_rng(7)
    landcover = LandcoverTable.from_csv(DEFAULT_LANDCOVER)
    params = ParamSet(ParameterTable.from_csv(DEFAULT_PARAMS), landcover, {})
    codes = [1, 2, 6, 10, 11, 12, 13, 0]  # forest, shrub, grassland, wetland, cropland, urban, water
    if method.id == "per_type":  # transpiration_heat is empty in the shipped table (verification §3): test values
        table = landcover.table.assign(transpiration_heat=[str(100.0 + c) for c in landcover.codes])
        params = ParamSet(params.scalars, LandcoverTable(table, landcover.units, landcover.sources, landcover.path), {})
    grid = Grid.from_crs("EPSG:4326", Affine(0.01, 0, 115.0, 0, -0.01, 28.0), 30, 25)
    inputs = _synthetic_inputs(rng, grid.shape, codes)
    if needs_ls(method):  # routing over the whole DEM: the engine's derived input, sliced per block as the others
        inputs["ls"] = ls_factor(inputs["dem"], params, grid)
    fn = method.load()
    whole = fn(inputs=inputs, params=params, grid=grid)
    pieced = {k: np.full(grid.shape, -1.0) for k in whole}
    for win in block_windows(grid.shape, (9, 11)):
        part = fn(inputs={k: v[win.slices()] for k, v in inputs.items()}, params=params, grid=block_grid(grid, win))
        for k, arr in part.items():
            pieced[k][win.slices()] = arr
    for k in whole:
        assert np.isfinite(whole[k]).sum() > 0
        np.testing.assert_allclose(pieced[k], whole[k], rtol=1e-12, equal_nan=True, err_msg=k)


def test_routing_is_not_chunk_invariant() -> None:
    """Soil retention on blocks without the derived LS differs from the whole grid: flow accumulation
    crosses blocks (why the engine routes LS once, before the blocks)."""
    rng = np.random.default_rng(3)
    spec = registry().get("soil_retention")
    fn = spec.method("rusle").load()
    landcover = LandcoverTable.from_csv(DEFAULT_LANDCOVER)
    params = ParamSet(ParameterTable.from_csv(DEFAULT_PARAMS), landcover, {})
    grid = Grid.from_crs("EPSG:32650", Affine(90, 0, 500000, 0, -90, 3300000), 24, 24)
    yy, xx = np.mgrid[0:24, 0:24]
    inputs = {
        "dem": 500.0 - 8.0 * yy - 3.0 * xx + rng.uniform(0, 2, (24, 24)),  # a tilted plane, lowest at the bottom right
        "lulc": np.full((24, 24), 10.0),
        "ndvi": np.full((24, 24), 0.5),
        "rain_erosivity": np.full((24, 24), 4000.0),
        "soil_erodibility": np.full((24, 24), 0.03),
    }
    whole = fn(inputs=inputs, params=params, grid=grid)
    comp = next(iter(whole))
    win = Window(12, 12, 12, 12)  # the downslope quarter, cut off from the water above it
    part = fn(inputs={k: v[win.slices()] for k, v in inputs.items()}, params=params, grid=block_grid(grid, win))
    assert not np.allclose(part[comp], whole[comp][win.slices()], rtol=1e-6)


# ----------------------------------------------------------------------------- the example, block size by block size
@pytest.mark.parametrize(("block_size", "weights"), [(7, "grid"), (32, "grid"), (32, "block"), (1000, "block")])
def test_leaf_rows_equal_numpy_engine(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], block_size: int, weights: str) -> None:
    """Coverage weights sliced from the whole-grid matrix ("grid") or computed per block ("block")."""
    cfg, p, expected = jiangxi
    got, facts = _blockwise_leaf(cfg, p, block_size=block_size, weights=weights)
    assert_same_rows(expected, got)
    assert facts["weights"] == weights
    # 130 × 120 in 7-cell blocks: ceil(130/7) × ceil(120/7) = 19 × 18 = 342 blocks
    assert facts["blocks"] == {7: 342, 32: 20, 1000: 1}[block_size]
    assert "whole_grid_methods" not in facts  # one engine
    assert set(expected["indicator"]) >= {"water_conservation", "carbon_sequestration", "climate_regulation", "negative_ions"}


def test_unknown_weights_mode_is_an_error(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame]) -> None:
    cfg, p, _ = jiangxi
    with pytest.raises(ConfigError, match="weights mode") as err:
        _blockwise_leaf(cfg, p, weights="cells")
    assert err.value.fix_zh


def test_no_input_is_read_whole(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of an input raster is a window of at most 32 × 32 cells; each cell is read once (the DEM twice).

    Besides, the plausibility check reads a bounded sample of each input (at most
    ``SAMPLE_CELLS``; the example's 15 600 cells whole)."""
    from qingshan.io import plausibility

    cfg, p, _ = jiangxi
    reads: list[tuple[str, Any]] = []
    sampled: dict[str, int] = {}
    original = rasterio.io.DatasetReader.read
    sample = plausibility.sample_values

    def spy(self: Any, *args: Any, **kw: Any) -> Any:
        reads.append((Path(self.name).name, kw.get("window")))
        return original(self, *args, **kw)

    def spy_sample(ds: Any) -> Any:
        n = len(reads)
        values = sample(ds)
        del reads[n:]  # the sample's own reads, bounded by SAMPLE_CELLS
        sampled[Path(ds.name).name] = values.size
        return values

    def no_whole_read(*args: Any, **kw: Any) -> None:
        raise AssertionError("read_aligned called by a block-wise method")

    monkeypatch.setattr(rasterio.io.DatasetReader, "read", spy)
    monkeypatch.setattr(plausibility, "sample_values", spy_sample)
    monkeypatch.setattr(R, "read_aligned", no_whole_read)
    _blockwise_leaf(cfg, p, block_size=32)
    inputs = {cfg.input_path(n, 2019).name for n in cfg.inputs}
    assert sampled and set(sampled) <= inputs and all(n <= plausibility.SAMPLE_CELLS for n in sampled.values())
    mine = [(name, w) for name, w in reads if name in inputs]
    assert mine, "the spy saw no input reads"
    assert all(w is not None and w.height <= 32 and w.width <= 32 for _, w in mine)
    cells: dict[str, int] = {}
    for name, w in mine:
        cells[name] = cells.get(name, 0) + int(w.height * w.width)
    # 130 × 120 = 15 600 cells of each input, every one read exactly once; the DEM twice (once for
    # the LS factor routed before the blocks, once by the blocks, for soil retention's valid cells)
    assert cells.pop("dem.tif") == 2 * 15_600
    assert cells == dict.fromkeys(cells, 15_600) and len(cells) >= 4


def test_routing_method_runs_in_blocks(write_config: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Soil retention runs block by block on the derived LS (routed once, logged): rows equal the whole-grid ones."""
    cfg = _config(write_config, tmp_path)
    p0 = R.plan(cfg)
    p = R.Plan(p0.profile, tuple((s, m) for s, m in p0.items if s.id in ("soil_retention", "carbon_sequestration")))
    with caplog.at_level(logging.INFO, logger="qingshan.engine.blockwise"):
        got, facts = _blockwise_leaf(cfg, p, block_size=50, derived=tmp_path / "cache")
    assert "soil_retention/rusle" in facts["blockwise_methods"]
    assert facts["derived_cache"] == {"layers": ["ls"], "hits": 0, "misses": 1}
    assert "LS factor ready" in caplog.text
    assert_same_rows(_numpy_leaf(cfg, p), got)


def test_account_blockwise_equals_account(example_run: Any, write_config: Any, tmp_path: Path) -> None:
    """Whole profile (tables, caps, soil, valuation, roll-up): same results table as ``account``."""
    out = bw.account_blockwise(_config(write_config, tmp_path), block_size=45)
    keys = ["region_code", *KEYS[1:]]
    m = example_run.results.merge(out.results, on=keys, how="outer", suffixes=("_np", "_bw"), indicator=True)
    assert (m["_merge"] == "both").all()
    for col in ("quantity", "value", "value_comparable"):
        np.testing.assert_allclose(m[f"{col}_bw"], m[f"{col}_np"], rtol=1e-9, equal_nan=True, err_msg=col)
    assert out.provenance["engine"]["blockwise_methods"] and out.provenance["engine"]["blocks"] == 9
    assert out.provenance["content_hash"] == example_run.provenance["content_hash"]
    assert sorted(p.name for p in out.output_dir.glob("rasters/*.tif")) == \
        sorted(p.name for p in example_run.output_dir.glob("rasters/*.tif"))  # the same per-cell COGs


# ----------------------------------------------------------------------------- off-grid and bad inputs
def _write_like(src: Path, dst: Path, data: np.ndarray, **profile: Any) -> Path:
    with rasterio.open(src) as ds:
        prof = ds.profile | profile | {"height": data.shape[0], "width": data.shape[1]}
    with rasterio.open(dst, "w", **prof) as out:
        out.write(data.astype(prof["dtype"]), 1)
    return dst


def _read(path: str | Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def test_off_grid_input_is_warped_per_window(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], write_config: Any, tmp_path: Path) -> None:
    """A 0.1° precipitation raster shifted by 0.03° is resampled per window like read_aligned does."""
    cfg0, _, _ = jiangxi
    precip = _read(cfg0.input_path("precip", 2019))[::2, ::2]  # 65 × 60 cells of 0.1°
    coarse = _write_like(cfg0.input_path("precip", 2019), tmp_path / "precip_coarse.tif", precip,
                         transform=Affine(0.1, 0, 112.97, 0, -0.1, 30.53))
    cfg = _config(write_config, tmp_path / "cfg", inputs={"precip": str(coarse)})
    p0 = R.plan(cfg)
    p = R.Plan(p0.profile, tuple((s, m) for s, m in p0.items if s.id == "water_conservation"))
    got, _ = _blockwise_leaf(cfg, p, block_size=17)
    assert_same_rows(_numpy_leaf(cfg, p), got)
    strict = _config(write_config, tmp_path / "strict", inputs={"precip": str(coarse)}, grid={"resample": False})
    with pytest.raises(GridMismatchError) as err:
        _blockwise_leaf(strict, p, block_size=17)
    assert err.value.field == "precip" and "重采样" in err.value.fix_zh


def test_out_of_range_cell_in_one_block_is_an_error(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], write_config: Any, tmp_path: Path) -> None:
    cfg0, p, _ = jiangxi
    precip = _read(cfg0.input_path("precip", 2019)).copy()
    precip[100, 100] = 20_000.0  # mm: above the 12 000 mm plausible maximum
    bad = _write_like(cfg0.input_path("precip", 2019), tmp_path / "precip_bad.tif", precip)
    cfg = _config(write_config, tmp_path / "cfg", inputs={"precip": str(bad)})
    with pytest.raises(InputError) as err:
        _blockwise_leaf(cfg, p, block_size=32)
    assert err.value.field == "precip" and "20000" in err.value.en and "12000" in err.value.en


def test_input_without_valid_cells_is_an_error(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], write_config: Any, tmp_path: Path) -> None:
    cfg0, p, _ = jiangxi
    src = cfg0.input_path("aet", 2019)
    empty = _write_like(src, tmp_path / "aet_empty.tif", np.full(JIANGXI_SHAPE, -9999.0))
    cfg = _config(write_config, tmp_path / "cfg", inputs={"aet": str(empty)})
    with pytest.raises(InputError) as err:
        _blockwise_leaf(cfg, p, block_size=64)
    assert err.value.field == "aet" and "没有有效像元" in err.value.zh


def test_unknown_landcover_code_is_an_error(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], write_config: Any, tmp_path: Path) -> None:
    cfg0, p, _ = jiangxi
    lulc = _read(cfg0.input_path("lulc", 2019)).copy()
    lulc[3, 117] = 77  # not an IGBP code
    bad = _write_like(cfg0.input_path("lulc", 2019), tmp_path / "lulc_bad.tif", lulc)
    cfg = _config(write_config, tmp_path / "cfg", inputs={"lulc": str(bad)})
    with pytest.raises(InputError, match=r"\[77\]"):
        _blockwise_leaf(cfg, p, block_size=32)


# ----------------------------------------------------------------------------- dask.distributed
@pytest.fixture(scope="module")
def client() -> Any:
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as c:
        yield c


def test_local_cluster_two_workers(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], client: Any) -> None:
    from dask.distributed import get_task_stream

    cfg, p, expected = jiangxi
    with get_task_stream(client) as stream:
        got, facts = _blockwise_leaf(cfg, p, block_size=32, client=client)
    assert_same_rows(expected, got)
    assert facts["scheduler"] != "threads"
    blocks = [t for t in stream.data if str(t["key"]).startswith("('block_partial") or "block_partial" in str(t["key"])]
    assert len(blocks) == 20  # 130 × 120 in 32-cell blocks: 5 × 4
    assert len({t["worker"] for t in blocks}) == 2


def test_errors_cross_the_cluster_in_both_languages(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], write_config: Any,
                                                    tmp_path: Path, client: Any) -> None:
    cfg0, p, _ = jiangxi
    lulc = _read(cfg0.input_path("lulc", 2019)).copy()
    lulc[120, 2] = 99
    bad = _write_like(cfg0.input_path("lulc", 2019), tmp_path / "lulc_bad.tif", lulc)
    cfg = _config(write_config, tmp_path / "cfg", inputs={"lulc": str(bad)})
    with pytest.raises(InputError) as err:
        _blockwise_leaf(cfg, p, block_size=32, client=client)
    assert "[99]" in err.value.en and "土地覆被" in err.value.zh and err.value.fix_zh


# ----------------------------------------------------------------------------- one engine: notices, scheduler option
def _noisy_climate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Climate regulation (block-wise) raises a notice in every block it computes."""
    import qingshan.quantities.climate as climate
    from qingshan.core.notices import Notice, notice

    original = climate.climate_et_energy

    def noisy(**kw: Any) -> Any:
        notice(Notice("test.block_notice", "raised in a block", "块内提示", indicator="climate_regulation"))
        return original(**kw)

    monkeypatch.setattr(climate, "climate_et_energy", noisy)


@pytest.mark.parametrize("on_cluster", [False, True], ids=["threads", "cluster"])
def test_notices_raised_in_blocks_reach_the_run(jiangxi: tuple[RunConfig, R.Plan, pd.DataFrame], client: Any,
                                                monkeypatch: pytest.MonkeyPatch, on_cluster: bool) -> None:
    """The run's notice collector is a ContextVar: Dask's threaded scheduler copies it into its
    threads, but dask.distributed workers (and the "processes" scheduler) do not see it. The engine
    returns each block's notices and raises them again in the run (kept once)."""
    from qingshan.core.notices import collecting

    cfg, p, _ = jiangxi
    _noisy_climate(monkeypatch)
    with collecting() as found:
        _blockwise_leaf(cfg, p, block_size=32, client=client if on_cluster else None)
    assert [n.code for n in found].count("test.block_notice") == 1


def test_account_on_a_cluster_via_the_scheduler_option(example_run: Any, write_config: Any, tmp_path: Path,
                                                       client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``account(scheduler="tcp://…")``: the blocks run on a two-worker dask.distributed cluster, the
    results equal the whole-grid run's, and a notice raised in a block is in the QC report."""
    _noisy_climate(monkeypatch)
    address = client.scheduler.address
    out = R.account(_config(write_config, tmp_path), scheduler=address, block_size=45, rasters=False)
    assert out.provenance["engine"]["scheduler"] == address and out.provenance["engine"]["blocks"] == 9
    assert [n["code"] for n in out.provenance["qc"]["notices"]].count("test.block_notice") == 1
    keys = ["region_code", *KEYS[1:]]
    m = example_run.results.merge(out.results, on=keys, how="outer", suffixes=("_np", "_bw"), indicator=True)
    assert (m["_merge"] == "both").all()
    np.testing.assert_allclose(m["value_bw"], m["value_np"], rtol=1e-9, equal_nan=True)
