"""One engine: soil retention and soil fertility (RUSLE) run block by block on the derived LS layer.

LS is routed once per DEM and LS settings before the blocks (``engine.derived_cache.ls_source``),
whole or tile by tile, and reused by content hash; the numbers equal the whole-grid computation
(``soil_retention_layers`` on whole arrays) whatever the block size and routing tile.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.engine import blockwise as bw
from qingshan.engine import run as R
from qingshan.engine.blocks import ArraySource
from qingshan.engine.compute import DEFAULT_LANDCOVER, DEFAULT_PARAMS, compute_indicator
from qingshan.engine.config import load_config
from qingshan.engine.derived_cache import DerivedCache, ls_source, routing_tile
from qingshan.quantities import soil

SHAPE = (40, 36)
GRID = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), *SHAPE)


def _inputs(seed: int = 5) -> dict[str, np.ndarray]:
    """A hillslope with pits, flats and nodata crossing 16-cell tiles; float32-exact elevations."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]]
    dem = 400.0 - 3.0 * yy - 2.0 * xx + 6.0 * np.sin(xx / 4.0) * np.cos(yy / 5.0) + rng.uniform(0, 3, SHAPE)
    dem[14:20, 10:22] = 330.0  # a flat crossing a tile edge
    dem[25:28, 28:31] = 250.0  # a pit
    dem = dem.astype(np.float32).astype(np.float64)
    dem[0:3, 0:2] = np.nan
    lulc = rng.choice([1.0, 6.0, 10.0, 12.0], size=SHAPE)
    lulc[38:, 30:] = np.nan
    return {
        "dem": dem,
        "lulc": lulc,
        "ndvi": rng.uniform(0.1, 0.9, SHAPE),
        "rain_erosivity": rng.uniform(2000, 6000, SHAPE),
        "soil_erodibility": rng.uniform(0.01, 0.05, SHAPE),
    }


def _params(**options: Any) -> ParamSet:
    return ParamSet(ParameterTable.from_csv(DEFAULT_PARAMS), LandcoverTable.from_csv(DEFAULT_LANDCOVER), options)


@pytest.mark.parametrize("formula", ["rusle_mccool", "invest"])
@pytest.mark.parametrize("algo", ["D8", "MFD"])
def test_compute_soil_blocks_and_tiles_equal_the_whole_grid(formula: str, algo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 16 cells and a routing tile of 16 on a 40 × 36 grid: the whole grid's layers and totals;
    the quantity functions only ever see blocks (they read LS from the derived input)."""
    arrays = _inputs()
    options = {"ls_formula": formula, "flow_algorithm": algo}
    whole = soil.soil_retention_layers(arrays, _params(**options), GRID)  # routed whole, as before
    seen: list[tuple[int, ...]] = []
    layers = soil.soil_retention_layers

    def spy(inputs: Any, params: Any, grid: Any, **kw: Any) -> Any:
        seen.append(inputs["dem"].shape)
        assert "ls" in inputs  # never routed on a block
        return layers(inputs, params, grid, **kw)

    monkeypatch.setattr(soil, "soil_retention_layers", spy)
    res = compute_indicator("soil_retention", arrays, grid=GRID, block_size=16,
                            options={**options, "routing_tile_size": 16})
    assert seen and max(max(s) for s in seen) <= 16
    for name in ("ls", "rkls", "usle"):
        np.testing.assert_allclose(res.intermediates[name], whole[name], rtol=1e-9, equal_nan=True, err_msg=name)
    q = soil.soil_retained_per_cell(whole, GRID)
    np.testing.assert_allclose(res.layers["soil_retained"], q, rtol=1e-9, equal_nan=True)
    assert res.totals["soil_retained"][0] == pytest.approx(float(np.nansum(q)), rel=1e-9)


def test_compute_soil_fertility_in_blocks_equals_the_whole_grid() -> None:
    arrays = _inputs(9)
    whole = soil.soil_fertility_rusle(arrays, _params(flow_algorithm="MFD"), GRID)
    res = compute_indicator("soil_fertility", arrays, grid=GRID, block_size=13,
                            options={"flow_algorithm": "MFD", "routing_tile_size": 16})
    assert set(res.layers) == set(whole)
    for comp, arr in whole.items():
        np.testing.assert_allclose(res.layers[comp], arr, rtol=1e-9, equal_nan=True, err_msg=comp)


def test_compute_leaves_no_cache_behind(tmp_path: Path) -> None:
    """``qingshan compute`` keeps LS in a temporary folder: the output folder holds only the COGs."""
    out = tmp_path / "out" / "sr.tif"
    compute_indicator("soil_retention", _inputs(), grid=GRID, block_size=16, output=out, keep_layers=False,
                      write_layers=["soil_retained"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["sr.soil_retained.tif"]


def test_compute_sweeps_the_scratch_a_killed_compute_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding: a ``qingshan compute soil_retention`` killed at 10 000² left 3.2 GB in ``/tmp/qingshan-derived-…``,
    and nothing ever removed it (the disk-full of the last stop came from such leftovers). Its temporary LS now
    lives in ``<temp>/qingshan-scratch-<user>/.derived-<host>~<pid>~…``; the next compute removes the folders of
    processes that are gone, never a live one's, and leaves none of its own."""
    import tempfile

    from qingshan.engine.compute import scratch_root
    from qingshan.engine.derived_cache import _owner

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    root = scratch_root()
    host = _owner().split("~")[0]
    killed = root / f".derived-{host}~{2**22 + 17}~x"  # above Linux's largest pid: never alive
    (killed / ".dem-y").mkdir(parents=True)
    (killed / "ls.npy").write_bytes(b"x" * 4096)
    live = Path(tempfile.mkdtemp(prefix=".derived-" + _owner(), dir=root))
    compute_indicator("soil_retention", _inputs(), grid=GRID, block_size=16, output=tmp_path / "out" / "sr.tif",
                      keep_layers=False, write_layers=["soil_retained"])
    assert not killed.exists() and live.exists()
    assert [p.name for p in root.iterdir()] == [live.name]  # its own folder went when it ended


def test_ls_source_reuses_the_cache_and_not_for_another_dem(tmp_path: Path) -> None:
    arrays = _inputs()
    params = _params(routing_tile_size=16)
    cache = DerivedCache(tmp_path / "cache")
    first = ls_source(ArraySource("dem", arrays["dem"]), GRID, params, cache, block_size=16)
    again = ls_source(ArraySource("dem", arrays["dem"].copy()), GRID, params, cache, block_size=7)
    assert (cache.hits, cache.misses) == (1, 1) and again.derived
    np.testing.assert_array_equal(np.asarray(first.values), np.asarray(again.values))
    changed = arrays["dem"].copy()
    changed[20, 20] += 1.0
    ls_source(ArraySource("dem", changed), GRID, params, cache)
    assert (cache.hits, cache.misses) == (1, 2)
    assert not [p for p in (tmp_path / "cache").iterdir() if p.name.startswith(".")]  # no scratch left


def test_throwaway_cache_hashes_nothing_and_gives_the_same_ls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``qingshan compute``'s temporary cache (one command, one DEM) neither hashes the DEM nor checksums its files,
    never finds a layer again, and gives the same LS as a content-keyed cache."""
    import qingshan.engine.derived_cache as dc

    arrays = _inputs()
    params = _params(routing_tile_size=16)
    kept = ls_source(ArraySource("dem", arrays["dem"]), GRID, params, DerivedCache(tmp_path / "kept"), block_size=16)
    hashed: list[str] = []
    monkeypatch.setattr(dc, "_hash_array", lambda h, arr: hashed.append("array"))
    monkeypatch.setattr(dc, "_file_sha256", lambda path: hashed.append(str(path)) or "")
    cache = DerivedCache(tmp_path / "tmp", throwaway=True)
    first = ls_source(ArraySource("dem", arrays["dem"]), GRID, params, cache, block_size=16)
    again = ls_source(ArraySource("dem", arrays["dem"]), GRID, params, cache, block_size=16)
    assert hashed == [] and (cache.hits, cache.misses) == (0, 2)
    np.testing.assert_array_equal(np.asarray(first.values), np.asarray(kept.values))
    np.testing.assert_array_equal(np.asarray(again.values), np.asarray(kept.values))


def test_routing_tile_default_and_override() -> None:
    assert routing_tile(_params(), GRID) is None  # small: routed whole, the in-memory kernels
    assert routing_tile(_params(routing_tile_size=16), GRID) == 16
    big = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), 3000, 3000)
    assert routing_tile(_params(), big) is None  # whole up to 4096² a side (fastest; memory bounded by that size)
    assert routing_tile(_params(flow_algorithm="MFD"), big) is None
    huge = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), 5000, 100)
    assert routing_tile(_params(), huge) == 512  # beyond: tiles of 512
    assert routing_tile(_params(flow_algorithm="MFD"), huge) == 512
    assert routing_tile(_params(flow_algorithm="MFD", routing_tile_size=1024), big) == 1024
    with pytest.raises(InputError, match="routing_tile_size") as err:
        routing_tile(_params(routing_tile_size=3), GRID)
    assert err.value.fix_zh


def test_tiled_default_chain_needs_float32_dem() -> None:
    arrays = _inputs()
    arrays["dem"] = arrays["dem"] + 1e-9  # not float32 values (e.g. a DEM warped bilinearly in float64)
    with pytest.raises(InputError, match="float32") as err:
        compute_indicator("soil_retention", arrays, grid=GRID, block_size=16, options={"routing_tile_size": 16})
    assert "routing_tile_size" in err.value.fix and err.value.fix_zh


# ----------------------------------------------------------------------------- account runs
def _two_years(write_config: Any, tmp_path: Path, dem: Path | None = None, **options: Any) -> Any:
    """The example over 2019 and 2020 (2020's precipitation and AET: copies of 2019's), soil retention only."""
    cfg0 = load_config(write_config(tmp_path / "probe"))
    folder = tmp_path / "inputs"
    folder.mkdir(exist_ok=True)
    inputs = {}
    for name in cfg0.inputs:
        src = cfg0.input_path(name, 2019)
        if "{year}" in cfg0.inputs[name]:
            for year in (2019, 2020):
                shutil.copy(src, folder / src.name.replace("2019", str(year)))
            inputs[name] = str(folder / src.name.replace("2019", "{year}"))
        else:
            inputs[name] = str(src)
    if dem is not None:
        inputs["dem"] = str(dem)
    cfg = load_config(write_config(tmp_path, run={"years": [2019, 2020]}, inputs=inputs,
                                   options={**cfg0.options, **options}))
    p0 = R.plan(cfg)
    p = R.Plan(p0.profile, tuple((s, m) for s, m in p0.items if s.id == "soil_retention"))
    return cfg, p


def _leaf(cfg: Any, p: Any, **kw: Any) -> tuple[Any, dict[str, Any]]:
    tables = R.load_tables(cfg, p)
    regions = R.load_regions(cfg)
    leaf, _, facts = bw.compute_blockwise(cfg, p, tables, regions, **kw)
    return leaf, facts


def test_account_second_year_reuses_ls_and_equals_the_whole_grid(write_config: Any, tmp_path: Path) -> None:
    """Two years, blocks of 32 and routing tiles of 48 on the 130 × 120 example: rows of each year equal the
    whole-grid computation; LS is routed once (a miss) and reused for 2020 (a hit), and again by a later run."""
    from helpers_engine import reference_leaf

    cfg, p = _two_years(write_config, tmp_path / "tiled", routing_tile_size=48, flow_algorithm="MFD")
    got, facts = _leaf(cfg, p, block_size=32, derived=tmp_path / "cache")
    assert facts["derived_cache"] == {"layers": ["ls"], "hits": 1, "misses": 1}
    expected = reference_leaf(*_two_years(write_config, tmp_path / "whole", flow_algorithm="MFD"))  # routed whole
    keys = ["region_code", "year", "indicator", "component", "ecosystem"]
    m = expected.merge(got, on=keys, how="outer", suffixes=("_np", "_bw"), indicator=True)
    assert (m["_merge"] == "both").all() and set(m["year"]) == {2019, 2020}
    np.testing.assert_allclose(m["quantity_bw"], m["quantity_np"], rtol=1e-9)
    _, again = _leaf(cfg, p, block_size=64, derived=tmp_path / "cache")  # a scenario, a draw: same DEM
    assert again["derived_cache"] == {"layers": ["ls"], "hits": 2, "misses": 0}


def test_account_altered_dem_is_routed_again(write_config: Any, tmp_path: Path) -> None:
    cfg, p = _two_years(write_config, tmp_path / "a")
    _leaf(cfg, p, block_size=64, derived=tmp_path / "cache")
    altered = tmp_path / "dem_altered.tif"
    with rasterio.open(cfg.input_path("dem", 2019)) as src:
        profile, z = src.profile, src.read(1)
    z[60, 60] += 5.0
    with rasterio.open(altered, "w", **profile) as dst:
        dst.write(z, 1)
    cfg2, p2 = _two_years(write_config, tmp_path / "b", dem=altered)
    _, facts = _leaf(cfg2, p2, block_size=64, derived=tmp_path / "cache")
    assert facts["derived_cache"]["misses"] == 1 and facts["derived_cache"]["hits"] == 1  # 2019 new, 2020 reused


def test_default_tile_routes_a_float64_dem_whole(caplog: pytest.LogCaptureFixture) -> None:
    """A DEM that is not float32 (e.g. warped bilinearly) on a grid above the whole-grid size (4096 a side): the default chain
    routes it whole, as before, with a warning, instead of failing."""
    grid = Grid.from_crs("EPSG:32650", Affine(30, 0, 500000, 0, -30, 3300000), 8, 4200)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:8, 0:4200]
    arrays = {"dem": 900.0 - 0.2 * xx - 0.7 * yy + rng.uniform(0, 1, (8, 4200)) + 1e-9, "lulc": np.full((8, 4200), 10.0),
              "ndvi": np.full((8, 4200), 0.5), "rain_erosivity": np.full((8, 4200), 4000.0),
              "soil_erodibility": np.full((8, 4200), 0.03)}
    with caplog.at_level("WARNING", logger="qingshan.engine.derived_cache"):
        res = compute_indicator("soil_retention", arrays, grid=grid, block_size=128)
    assert "routed on the whole 8×4200 grid" in caplog.text
    whole = soil.soil_retention_layers(arrays, _params(), grid)
    np.testing.assert_allclose(res.intermediates["ls"], whole["ls"], rtol=0, equal_nan=True)


def test_cached_ls_source_pickles_as_its_file(tmp_path: Path) -> None:
    """Worker processes receive the cached layer's file, not a copy of the grid."""
    import pickle

    src = ls_source(ArraySource("dem", _inputs()["dem"]), GRID, _params(), DerivedCache(tmp_path))
    blob = pickle.dumps(src)
    assert len(blob) < 2_000  # a path and a shape, not 40 × 36 × 8 B
    back = pickle.loads(blob)
    assert back.derived and isinstance(back.values, np.memmap)
    np.testing.assert_array_equal(np.asarray(back.values), np.asarray(src.values))


# ----------------------------------------------------------------------------- heavy: peak RSS of the whole process
def _soil_rasters(folder: Path, size: int) -> dict[str, Path]:
    """Float32 tiled GeoTIFFs of ``size``² (30 m UTM): a rough slope, land cover, NDVI, R and K."""
    from qingshan.core.window import block_windows

    folder.mkdir(parents=True, exist_ok=True)
    profile = {"driver": "GTiff", "height": size, "width": size, "count": 1, "dtype": "float32", "crs": "EPSG:32650",
               "transform": Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3300000.0), "nodata": -9999.0,
               "tiled": True, "blockxsize": 256, "blockysize": 256}
    rng = np.random.default_rng(4)
    paths = {n: folder / f"{n}.tif" for n in ("dem", "lulc", "ndvi", "rain_erosivity", "soil_erodibility")}
    for name, path in paths.items():
        with rasterio.open(path, "w", **profile) as ds:
            for w in block_windows((size, size), 1024):
                yy, xx = np.mgrid[w.row_off : w.row_off + w.height, w.col_off : w.col_off + w.width]
                values = {"dem": 2000.0 - 0.2 * yy - 0.1 * xx + 20 * np.sin(xx / 37.0) * np.cos(yy / 53.0)
                          + rng.uniform(0, 2, w.shape),
                          "lulc": rng.choice([1.0, 10.0, 12.0], w.shape), "ndvi": rng.uniform(0.1, 0.9, w.shape),
                          "rain_erosivity": rng.uniform(2000, 6000, w.shape),
                          "soil_erodibility": rng.uniform(0.01, 0.05, w.shape)}[name]
                ds.write(values.astype("float32"), 1, window=w.to_rasterio())
    return paths


@pytest.mark.heavy
def test_heavy_soil_compute_peak_rss_does_not_grow_with_the_grid(tmp_path: Path) -> None:
    """``qingshan compute soil_retention`` (D8, default chain, every layer written) in a child process at
    1500² and 3000²: the child's peak RSS (``ru_maxrss``) hardly grows with four times the cells (whole-grid
    routing needed ~1.7 GB at 3000²). Run: ``PYTHONPATH=src .venv/bin/python -m pytest
    tests/engine/test_derived_ls.py -m heavy -q -s``."""
    import resource
    import subprocess
    import sys

    peaks = []
    for size in (1500, 3000):
        paths = _soil_rasters(tmp_path / f"in{size}", size)
        args = [sys.executable, "-c", "from qingshan.cli import main; main()", "compute", "soil_retention",
                "-o", str(tmp_path / f"out{size}" / "sr.tif"), *[a for n, p in paths.items() for a in ("--input", f"{n}={p}")]]
        subprocess.run(args, check=True, capture_output=True)
        peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)  # max over the children so far [MiB]
    sys.stdout.write(f"\npeak RSS of qingshan compute soil_retention: {peaks[0]:.0f} MiB at 1500², "
                     f"max {peaks[1]:.0f} MiB up to 3000²\n")
    assert peaks[1] < 1.3 * peaks[0] + 64  # not 4× (a whole-grid computation's growth)


def test_scratch_of_a_killed_process_is_swept_and_live_ones_kept(tmp_path: Path) -> None:
    """``kill -9`` while routing leaves a scratch folder in the cache; the next run removes it — only this host's,
    only of processes that are gone — and never a live process's folder nor a cache entry."""
    import os
    import subprocess
    import sys
    import tempfile

    from qingshan.engine.derived_cache import _owner, sweep_scratch

    code = ("import os, signal, tempfile; from qingshan.engine.derived_cache import _owner; "
            f"d = tempfile.mkdtemp(prefix='.dem-' + _owner(), dir={str(tmp_path)!r}); "
            "open(os.path.join(d, 'scratch_1.dat'), 'wb').write(b'x' * 4096); os.kill(os.getpid(), signal.SIGKILL)")
    src = str(Path(__file__).resolve().parents[2] / "src")
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": src}, check=False)
    assert r.returncode == -9
    (left,) = [p.name for p in tmp_path.iterdir()]
    assert left.startswith(".dem-")
    live = Path(tempfile.mkdtemp(prefix=".routing-" + _owner(), dir=tmp_path))
    other_host = tmp_path / ".dem-some-other-host~1~abc"
    other_host.mkdir()
    entry = tmp_path / "0123abcd.npy"
    entry.write_bytes(b"")
    assert sweep_scratch(tmp_path) == [left]
    assert live.exists() and other_host.exists() and entry.exists()
    # a routing run sweeps before it starts
    killed = tmp_path / f".dem-{_owner().split('~')[0]}~{2**22 + 17}~x"  # above Linux's largest pid: never alive
    killed.mkdir()
    ls_source(ArraySource("dem", _inputs()["dem"]), GRID, _params(), DerivedCache(tmp_path))
    assert not killed.exists() and live.exists()
