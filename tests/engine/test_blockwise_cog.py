"""The engine writes the same per-cell COGs whatever its block size, window by window.

Reference: ``account`` (block size 1024: the whole grid as one block) on the embedded Jiangxi
example (130 × 120 cells of 0.05°, one year, 2019), whose ``rasters/`` holds one float64 COG per
raster component. Block sizes 7 (19 × 18 = 342 blocks, none aligned with the 256-cell tiles) and
64 (3 × 2 = 6 blocks): same files, values equal to 1e-12.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.window import Window, block_windows
from qingshan.engine import blocks
from qingshan.engine import blockwise as bw
from qingshan.engine import run as R
from qingshan.engine.config import RunConfig, load_config
from qingshan.engine.parcel import value_parcel
from qingshan.io.cog import BlockLayerWriter, CogSettings, using_cog_settings
from qingshan.store import repo
from qingshan.store.db import open_store

YEAR = 2019
SHAPE = (130, 120)
COUNTY = "360124"  # 进贤县 (as tests/dashboard/test_parcel_api.py): lake, cropland, forest
# soil retention's layers (its LS routed once before the blocks, a derived input)
SOIL = {"soil_retention.soil_retained", "soil_retention.sediment_reduction", "soil_retention.nitrogen_retained",
        "soil_retention.phosphorus_retained"}


def _config(write_config: Any, directory: Path) -> RunConfig:
    return load_config(write_config(directory))


def _layers(out_dir: Path) -> dict[str, Path]:
    """``indicator.component`` → COG path of the run's 2019 rasters."""
    return {p.name[: -len(f".{YEAR}.tif")]: p for p in sorted((out_dir / "rasters").glob(f"*.{YEAR}.tif"))}


@pytest.fixture(scope="module", params=[(7, "grid"), (64, "block")], ids=["block7", "block64"])
def dask_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, write_config: Any) -> R.RunOutcome:
    """The whole example profile through ``account_blockwise`` (7-cell blocks slice the whole-grid weights: faster)."""
    block_size, weights = request.param
    cfg = _config(write_config, tmp_path_factory.mktemp(f"bw_cog_{block_size}"))
    return bw.account_blockwise(cfg, block_size=block_size, weights=weights)


# ----------------------------------------------------------------------------- same files as the numpy engine
def test_rasters_equal_numpy_engine_cell_for_cell(example_run: R.RunOutcome, dask_run: R.RunOutcome) -> None:
    expected, got = _layers(example_run.output_dir), _layers(dask_run.output_dir)
    assert len(expected) >= 10 and set(expected) >= SOIL
    assert set(got) == set(expected)
    assert sorted(p.name for p in (dask_run.output_dir / "rasters").iterdir()) == \
        sorted(p.name for p in (example_run.output_dir / "rasters").iterdir())  # no intermediate left over
    for name, path in expected.items():
        with rasterio.open(path) as ref, rasterio.open(got[name]) as ds:
            a, b = ref.read(1), ds.read(1)
            assert np.isfinite(a).sum() > 0, name
            np.testing.assert_array_equal(np.isnan(b), np.isnan(a), err_msg=name)
            np.testing.assert_allclose(b, a, rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
            assert ds.tags(1) == ref.tags(1) and ds.descriptions == ref.descriptions, name
            assert ds.tags(1)["units"].endswith("per cell per year")
            assert ds.transform == ref.transform and ds.crs == ref.crs and ds.shape == SHAPE
            assert ds.dtypes == ("float64",) and np.isnan(ds.nodata)


def test_outputs_are_valid_cogs(dask_run: R.RunOutcome) -> None:
    for name, path in _layers(dask_run.output_dir).items():
        with rasterio.open(path) as ds:
            assert ds.driver == "GTiff", name
            assert ds.profile["tiled"] and ds.block_shapes == [(256, 256)], name
            assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG", name  # GDAL's COG layout marker
            assert ds.compression is not None and ds.compression.name.lower() == "zstd"  # io.cog.CogSettings


def test_run_provenance_and_no_staging_folder_left(dask_run: R.RunOutcome) -> None:
    assert dask_run.provenance["engine"]["engine"] == "dask-blockwise"
    engine = dask_run.provenance["engine"]
    assert "whole_grid_methods" not in engine and "soil_retention/rusle" in engine["blockwise_methods"]
    assert engine["derived_cache"]["layers"] == ["ls"]  # LS routed or reused once per DEM (provenance)
    assert engine["derived_cache"]["hits"] + engine["derived_cache"]["misses"] == 1
    leftovers = [p.name for p in dask_run.output_dir.parent.iterdir() if p.name.startswith(".")]
    assert leftovers in ([], [f".{dask_run.output_dir.name}.lock"])  # the export lock (store.artifacts.export_copy) only


# ----------------------------------------------------------------------------- parcel valuation
def test_parcel_valuation_of_a_county_on_a_dask_run(dask_run: R.RunOutcome) -> None:
    """The county polygon gives the county's quantity of every raster component within 1 %."""
    factory = open_store(f"sqlite:///{dask_run.output_dir.parent / 'store.sqlite'}")
    run = repo.get_run(factory, dask_run.run_id)
    assert run is not None
    counties = gpd.read_file(dask_run.output_dir / "regions.gpkg", layer="county").to_crs("EPSG:4326")
    county = counties.loc[counties["code"] == COUNTY, "geometry"].iloc[0]
    results = repo.read_results(factory, run.id, year=YEAR)
    val = value_parcel(county, output_dir=run.output_dir, config=run.config, methods=run.provenance["methods"],
                       regions=repo.read_regions(factory, run.id, with_geometry=True), results=results, year=YEAR,
                       caps=run.provenance.get("emission_caps") or [])
    raster = val.rows[val.rows["basis"] == "raster"]
    got = raster.groupby(["indicator", "component"])["quantity"].sum()
    mine = results[results["region_code"] == COUNTY]
    expected = mine.groupby(["indicator", "component"])["quantity"].sum()
    layers = {tuple(k.split(".", 1)) for k in _layers(dask_run.output_dir)}
    checked = [k for k in expected.index if k in layers and expected[k] > 0]
    assert len(checked) >= 10 and ("water_conservation", "water_conservation") in checked
    for key in checked:
        assert got[key] == pytest.approx(expected[key], rel=0.01), key


# ----------------------------------------------------------------------------- memory: windows only
def test_writer_receives_block_windows_only(write_config: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every layer, soil retention's included (LS is a derived input), arrives as windows of ≤ 32 × 32 cells
    covering the grid once."""
    windows: dict[str, list[Window]] = {}
    whole: list[str] = []
    write, write_whole = BlockLayerWriter.write, BlockLayerWriter.write_whole

    def spy(self: BlockLayerWriter, stem: str, window: Window, values: np.ndarray, **kw: Any) -> None:
        assert values.shape == window.shape and values.dtype == np.float64
        windows.setdefault(stem, []).append(window)
        write(self, stem, window, values, **kw)

    def spy_whole(self: BlockLayerWriter, stem: str, values: np.ndarray, **kw: Any) -> None:
        whole.append(stem)
        write_whole(self, stem, values, **kw)

    monkeypatch.setattr(BlockLayerWriter, "write", spy)
    monkeypatch.setattr(BlockLayerWriter, "write_whole", spy_whole)
    out = bw.account_blockwise(_config(write_config, tmp_path), block_size=32)
    assert whole == []  # one path for every layer
    assert len(windows) == len(_layers(out.output_dir))
    assert {stem.rsplit(".", 1)[0] for stem in windows} >= set(SOIL)
    for stem, wins in windows.items():
        assert all(w.height <= 32 and w.width <= 32 for w in wins), stem
        count = np.zeros(SHAPE, dtype=int)
        for w in wins:
            count[w.slices()] += 1
        assert (count == 1).all(), stem  # 5 × 4 = 20 blocks, each cell written once
        assert len(wins) == 20


def test_writer_never_allocates_a_whole_raster(tmp_path: Path) -> None:
    """1000 × 1200 float64 (9.6 MB) written in 128-cell blocks: Python's peak stays near one block.

    numpy reports its allocations to tracemalloc; one 128² float64 block is 131 kB (written as it
    is), so the peak while writing and converting must stay far below the 9.6 MB raster.
    """
    grid = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), 1000, 1200)
    rng = np.random.default_rng(5)
    tracemalloc.start()
    try:
        writer = BlockLayerWriter(tmp_path, grid)
        for w in block_windows(grid.shape, 128):
            block = rng.uniform(0, 100, w.shape)
            block[0, 0] = np.nan
            writer.write("x.q.2019", w, block, units="t per cell per year", description="x/q 2019")
        with using_cog_settings(CogSettings(overviews="always")):  # the default builds none below 8192 cells
            (path,) = writer.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000, peak  # bytes; the whole raster is 9 600 000 in float64
    with rasterio.open(path) as ds:
        assert ds.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and ds.overviews(1) == [2, 4, 8]  # 1200 → 600 → 300 → 150 ≤ 256
        assert ds.shape == (1000, 1200) and ds.tags(1)["units"] == "t per cell per year"
        assert np.isnan(ds.read(1, window=((128, 129), (256, 257)))[0, 0])  # first cell of the block at (128, 256)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.q.2019.tif"]


def test_writer_values_round_trip_and_bad_window(tmp_path: Path) -> None:
    grid = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 113.0, 0, -0.05, 30.5), 10, 9)
    values = np.arange(90, dtype=float).reshape(10, 9) / 7.0
    values[4, 4] = np.nan
    writer = BlockLayerWriter(tmp_path, grid)
    for w in block_windows(grid.shape, (3, 4)):
        writer.write("a.b.2019", w, values[w.slices()], units="m3 per cell per year", description="a/b 2019")
    with pytest.raises(ValueError, match="does not fit"):
        writer.write("a.b.2019", Window(8, 8, 3, 3), np.zeros((3, 3)), units="", description="")
    (path,) = writer.finish()
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(ds.read(1), values)  # NaN where NaN
        assert ds.descriptions == ("a/b 2019",)


def _write_then_fail(folder: Path, grid: Grid) -> None:
    with BlockLayerWriter(folder, grid) as writer:
        writer.write_whole("s.t.2019", np.ones((10, 9)), units="t per cell per year", description="s/t 2019")
        writer.write("a.b.2019", Window(0, 0, 3, 3), np.ones((3, 3)), units="t per cell per year", description="a/b")
        names = sorted(p.name for p in folder.iterdir())
        assert names[1:] == ["s.t.2019.tif"] and names[0].startswith(".a.b.2019.") and names[0].endswith(".part.tif")
        raise RuntimeError("a block failed")


def test_writer_abort_leaves_nothing(tmp_path: Path) -> None:
    grid = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 113.0, 0, -0.05, 30.5), 10, 9)
    with pytest.raises(RuntimeError, match="a block failed"):
        _write_then_fail(tmp_path, grid)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("at_once", [1, 2])
def test_a_failed_conversion_in_finish_is_raised_and_abort_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at_once: int
) -> None:
    """Layers are converted two at a time: one failing conversion is raised after the others end, and
    leaving the ``with`` block deletes every COG and intermediate (serial conversion alike)."""
    import qingshan.io.cog as cog

    grid = Grid.from_crs("EPSG:4326", Affine(0.05, 0, 113.0, 0, -0.05, 30.5), 10, 9)
    real = cog.to_cog

    def flaky(src: str | Path, dst: str | Path, *, scratch: bool = False) -> Path:
        if "c.fails" in str(src):
            raise OSError("disk full")
        return real(src, dst, scratch=scratch)

    monkeypatch.setattr(cog, "to_cog", flaky)
    monkeypatch.setattr(cog, "CONVERT_AT_ONCE", at_once)
    def write_four_then_finish() -> None:
        with BlockLayerWriter(tmp_path, grid) as writer:
            for stem in ("a.ok", "b.ok", "c.fails", "d.ok"):
                writer.write(stem, Window(0, 0, 10, 9), np.full((10, 9), 2.0), units="t", description=stem)
            writer.finish()

    with pytest.raises(OSError, match="disk full"):
        write_four_then_finish()
    assert list(tmp_path.iterdir()) == []
    with BlockLayerWriter(tmp_path, grid) as writer:  # and without the failure, the four COGs in order
        for stem in ("a.ok", "b.ok", "c.ok", "d.ok"):
            writer.write(stem, Window(0, 0, 10, 9), np.full((10, 9), 2.0), units="t", description=stem)
        got = writer.finish()
    assert [p.name for p in got] == ["a.ok.tif", "b.ok.tif", "c.ok.tif", "d.ok.tif"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in got]


def test_failed_run_leaves_no_staging_folder(write_config: Any, tmp_path: Path) -> None:
    """An unknown land-cover code in one block: the error as before, no COG or staging folder left."""
    cfg0 = _config(write_config, tmp_path / "ok")
    with rasterio.open(cfg0.input_path("lulc", YEAR)) as ds:
        lulc, profile = ds.read(1), ds.profile
    lulc[120, 2] = 77  # not an IGBP code, in the last row of blocks
    bad = tmp_path / "lulc_bad.tif"
    with rasterio.open(bad, "w", **profile) as out:
        out.write(lulc, 1)
    run_dir = tmp_path / "bad"
    cfg = load_config(write_config(run_dir, inputs={"lulc": str(bad)}))
    with pytest.raises(InputError, match=r"\[77\]"):
        bw.account_blockwise(cfg, block_size=64)
    left = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*"))
    cached = [p for p in left if p.startswith("qingshan-data/cache")]  # LS, routed before the blocks: complete entries
    assert {Path(p).suffix for p in cached if p.count("/") == 3} <= {".npy", ".json"}
    assert not [p for p in cached if Path(p).name.startswith(".")]  # no scratch folder or partial file
    assert [p for p in left if p not in cached] == ["config.toml", "qingshan-data", "qingshan-data/runs"]


def test_rasters_off_writes_none(write_config: Any, tmp_path: Path) -> None:
    out = bw.account_blockwise(_config(write_config, tmp_path), block_size=1000, rasters=False)
    assert not list(out.output_dir.glob("rasters/*"))


# ----------------------------------------------------------------------------- dask.distributed
def test_local_cluster_blocks_are_written_by_the_workers(example_run: R.RunOutcome, write_config: Any,
                                                         tmp_path: Path) -> None:
    """Blocks computed on two workers (soil retention's reading the derived LS) write their layers into block files
    the client's writer mosaics (the arrays do not travel back): the same COGs, and no block file left."""
    distributed = pytest.importorskip("dask.distributed")
    cfg = _config(write_config, tmp_path)
    p0 = R.plan(cfg)
    p = R.Plan(p0.profile, tuple((s, m) for s, m in p0.items if bw.is_blockwise(m)))
    tables, regions = R.load_tables(cfg, p), R.load_regions(cfg)
    folder = tmp_path / "cogs"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        _, _, facts = bw.compute_blockwise(cfg, p, tables, regions, block_size=32, client=client, rasters=folder)
    assert facts["blocks"] == 20 and facts["scheduler"] != "threads"
    expected = _layers(example_run.output_dir)
    got = {p.name[: -len(f".{YEAR}.tif")]: p for p in folder.glob("*.tif")}
    assert set(got) == set(expected) >= SOIL and not list(folder.glob("*.part.tif"))  # soil too: LS is a derived input
    assert not [p for p in folder.rglob("*") if p.is_file() and p.suffix != ".tif"]
    assert not [p for p in (folder / ".blocks").rglob("*") if p.is_file()]
    for name, path in got.items():
        with rasterio.open(path) as ds, rasterio.open(expected[name]) as ref:
            np.testing.assert_allclose(ds.read(1), ref.read(1), rtol=1e-12, atol=0, equal_nan=True, err_msg=name)


def test_a_whole_account_on_a_cluster_is_the_threads_account(example_run: R.RunOutcome, write_config: Any,
                                                             tmp_path: Path) -> None:
    """``account(..., scheduler=Client)`` end to end: the indicator blocks, the conversion of their layers to COGs
    and the SEEA basis's blocks run on the workers (the basis used to run on the client's threads), and the result rows, the COGs and the SEEA files are
    the threads run's (one block: sums in another order, hence the tolerances)."""
    distributed = pytest.importorskip("dask.distributed")
    cfg = _config(write_config, tmp_path)
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"block_size": 64})})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client, distributed.get_task_stream(client) as stream:
        out = R.account(cfg, scheduler=client)
    ran = {name: {t["worker"] for t in stream.data if name in str(t["key"])} for name in ("block_to_file", "_basis_block")}
    assert all(len(workers) == 2 for workers in ran.values()), ran
    routed = [t for t in stream.data if "_route_ls" in str(t["key"])]  # the LS routing too: once, on a worker
    assert len(routed) == 1, [str(t["key"]) for t in stream.data][:20]
    assert out.provenance["engine"]["derived_cache"] == {"layers": ["ls"], "hits": 0, "misses": 1}
    converted = [t for t in stream.data if "convert_mosaic" in str(t["key"])]  # COGs compressed on the workers
    keys = ["region_code", "year", "indicator", "component", "ecosystem"]
    a, b = (r.results.sort_values(keys).reset_index(drop=True) for r in (example_run, out))
    pd.testing.assert_frame_equal(a[keys], b[keys])
    np.testing.assert_allclose(b["value"].to_numpy(float), a["value"].to_numpy(float), rtol=1e-12, atol=0)
    got, want = _layers(out.output_dir), _layers(example_run.output_dir)
    assert set(got) == set(want) >= SOIL and len(converted) == len(want)
    for name in want:  # the same layers (some cells' last digits depend on the block: shares of block sums)
        with rasterio.open(got[name]) as x, rasterio.open(want[name]) as y:
            px, py = ({k: v for k, v in ds.profile.items() if k != "nodata"} for ds in (x, y))  # NaN ≠ NaN
            assert np.isnan(x.nodata) and np.isnan(y.nodata)
            assert (px, x.tags(), x.tags(1), x.descriptions, x.units) == (py, y.tags(), y.tags(1), y.descriptions, y.units)
            np.testing.assert_allclose(x.read(1), y.read(1), rtol=1e-12, atol=0, equal_nan=True, err_msg=name)
    for name, values in (("extent.csv", ["area_km2"]), ("condition.csv", ["weighted_sum", "area_km2"])):
        x, y = (pd.read_csv(r.output_dir / "seea" / name, dtype={"region_code": str}) for r in (out, example_run))
        same = [c for c in y.columns if c not in values]
        pd.testing.assert_frame_equal(x[same], y[same])
        np.testing.assert_allclose(x[values].to_numpy(), y[values].to_numpy(), rtol=1e-9, atol=0)  # block sums
    with rasterio.open(out.output_dir / "seea" / f"ecosystem.{YEAR}.tif") as x, \
            rasterio.open(example_run.output_dir / "seea" / f"ecosystem.{YEAR}.tif") as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_block_files_the_client_cannot_see_are_a_bilingual_storage_error(write_config: Any, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers on other machines without the data dir on shared storage write their block files where this
    process cannot see them (here: not at all): the run fails saying so in both languages, and no raster or
    staging folder is left."""
    distributed = pytest.importorskip("dask.distributed")
    from qingshan.core.errors import StorageError

    monkeypatch.setattr(bw, "write_block_file", lambda path, *a, **k: path)  # "written" on another disk
    cfg = _config(write_config, tmp_path)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client, pytest.raises(StorageError) as err:
        R.account(cfg, scheduler=client)
    assert "not visible" in err.value.en and "共享的存储" in err.value.fix_zh and "data_dir" in err.value.fix
    from qingshan.store import artifacts

    data = artifacts.data_dir_for(R.store_url_of(cfg, None), cfg.run.data_dir)
    assert data.is_dir() and not list(data.rglob("*.tif")), "rasters left behind"


def test_in_flight_blocks_are_bounded_and_computed_while_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """With threads, at most AHEAD_PER_THREAD × threads block results exist at a time, they are handed over in
    window order, and later blocks are computed while an earlier one is being written (a pipeline, not batches)."""
    import threading

    import dask

    monkeypatch.setattr(dask.system, "CPU_COUNT", 2)
    windows = list(block_windows((10, 10), 3))  # 4 × 4 = 16 blocks
    lock = threading.Lock()
    alive = [0, 0]  # results started and not yet handed over; the most at once
    writing_first = threading.Event()
    overlapped: list[bool] = []

    def task(i: int, w: Window) -> bw.BlockPartial:
        with lock:
            alive[0] += 1
            alive[1] = max(alive)
        if i == 2:  # started before block 0 is handed over; waits for its writing to begin
            overlapped.append(writing_first.wait(timeout=10))
        return bw.BlockPartial(cells=w.size)

    def on_block(w: Window, part: bw.BlockPartial) -> None:
        if w == windows[0]:
            writing_first.set()
        with lock:
            alive[0] -= 1
        seen.append(w)

    tasks = [dask.delayed(task)(i, w) for i, w in enumerate(windows)]
    seen: list[Window] = []
    total = blocks._stream_blocks(windows, tasks, None, on_block)
    assert seen == windows and total.cells == 100
    assert alive[1] <= 4  # 2 per thread × 2 threads
    assert overlapped == [True]


def test_a_failing_block_stops_the_stream_and_is_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error in one block is raised; the blocks after it are not handed over."""
    import dask

    monkeypatch.setattr(dask.system, "CPU_COUNT", 2)
    windows = list(block_windows((10, 10), 3))

    def task(i: int, w: Window) -> bw.BlockPartial:
        if i == 5:
            raise InputError("bad block", "坏块", field="lulc")
        return bw.BlockPartial(cells=w.size)

    seen: list[Window] = []
    tasks = [dask.delayed(task)(i, w) for i, w in enumerate(windows)]
    with pytest.raises(InputError, match="bad block"):
        blocks._stream_blocks(windows, tasks, None, lambda w, part: seen.append(w))
    assert seen == windows[:5]


def test_blockwise_run_seals_the_same_artifacts_as_account(dask_run: R.RunOutcome, example_run: R.RunOutcome) -> None:
    """Both engines use one mechanism: a read-only <data dir>/runs/<run id>/ with the same files."""
    def names(o: R.RunOutcome) -> list[str]:
        assert o.artifacts_dir is not None
        return sorted(p.relative_to(o.artifacts_dir).as_posix() for p in o.artifacts_dir.rglob("*") if p.is_file())

    assert names(dask_run) == names(example_run)
    assert dask_run.artifacts_dir is not None and dask_run.artifacts_dir.name == dask_run.run_id
    assert not [p.name for p in dask_run.artifacts_dir.parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_ls_routed_on_a_worker_brings_its_notices_and_cache_counts_back(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a cluster the LS factor is routed on a worker (``_ls_layer``): a notice raised there reaches the run's
    collector (else it would be lost in the worker), the derived cache's hits and misses are counted in the run,
    and this process maps the worker's cached file; a file the client cannot see is a bilingual storage error."""
    distributed = pytest.importorskip("dask.distributed")
    from qingshan.core.errors import StorageError
    from qingshan.core.notices import Notice, collecting, notice
    from qingshan.engine.derived_cache import DerivedCache

    layer = tmp_path / "cache" / "ls.npy"
    layer.parent.mkdir()
    np.save(layer, np.arange(12.0).reshape(3, 4))

    def fake_ls_source(dem: Any, grid: Any, params: Any, cache: DerivedCache, *, block_size: Any) -> blocks.ArraySource:
        cache.misses += 1
        notice(Notice("dem_warped", "DEM warped in float64: routed whole", "DEM 以 float64 重采样：整体汇流"))
        return blocks.ArraySource("ls", np.load(layer, mmap_mode="r"), derived=True)

    monkeypatch.setattr(bw, "ls_source", fake_ls_source)
    cache = DerivedCache(tmp_path / "cache")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client, collecting() as found:
        ls = bw._ls_layer(None, None, None, cache, block_size=2, client=client)  # type: ignore[arg-type]
        assert [n.code for n in found] == ["dem_warped"] and (cache.hits, cache.misses) == (0, 1)
        assert isinstance(ls.values, np.memmap) and ls.derived
        np.testing.assert_array_equal(ls.values, np.arange(12.0).reshape(3, 4))
        gone = tmp_path / "elsewhere.npy"
        np.save(gone, np.zeros(2))

        def unseen(*args: Any, **kwargs: Any) -> blocks.ArraySource:
            arr = np.load(gone, mmap_mode="r")
            gone.unlink()  # as if written on a worker's own disk
            return blocks.ArraySource("ls", arr, derived=True)

        monkeypatch.setattr(bw, "ls_source", unseen)
        with pytest.raises(StorageError) as info:
            bw._ls_layer(None, None, None, cache, block_size=2, client=client)  # type: ignore[arg-type]
    assert "not visible" in info.value.en and info.value.zh
