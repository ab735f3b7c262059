"""SEEA EA tables from stored runs (issue 10, Build item 1).

One two-year accounting of the Jiangxi example per module: 2019 as embedded; 2020 the same inputs
except the land cover, where the forest cells lying wholly inside one county (彭泽县 360430) become
cropland. Everything else (extent balance, change matrix, supply = use = GEP, asset reconciliation,
the mapping's coverage, CLI, API) reads that run.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pytest
import rasterio
from rasterio.features import geometry_mask
from scipy.ndimage import binary_erosion

import qingshan
from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.indicators import registry
from qingshan.store.db import open_store
from qingshan.use.seea import seea_tables
from qingshan.use.seea.accounts import asset_account
from qingshan.use.seea.data import AssetParameters, services_map

EXAMPLE = Path(qingshan.__file__).parent / "data" / "examples" / "jiangxi"
COUNTY = "360430"  # 彭泽县 (九江市 360400)
CITY, PROVINCE = "360400", "360000"
FOREST = (1, 2, 3, 4, 5, 8)  # IGBP classes the example's land-cover table books as forest
CROPLAND = 12


def _converted_lulc(src: Path, dst: Path) -> float:
    """Write 2020 land cover (forest → cropland wholly inside COUNTY); return the converted area [km²]."""
    leaves = gpd.read_file(EXAMPLE / "jiangxi_county_tianditu.geojson")
    county = leaves[leaves["district_adcode"].astype(str) == COUNTY]
    with rasterio.open(src) as ds:
        prof, lulc = ds.profile, ds.read(1)
        grid = Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)
        inside = geometry_mask(county.to_crs(ds.crs).geometry, out_shape=lulc.shape, transform=ds.transform, invert=True)
    whole = binary_erosion(inside, structure=np.ones((3, 3), bool))  # cells whose neighbours' centres are inside too
    hit = whole & np.isin(lulc, FOREST)
    with rasterio.open(dst, "w", **prof) as out:
        out.write(np.where(hit, CROPLAND, lulc).astype(lulc.dtype), 1)
    return float((grid.cell_area() / 1e6)[hit].sum())


@pytest.fixture(scope="module")
def seea_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account

    tmp = tmp_path_factory.mktemp("seea_run")
    shutil.copy(EXAMPLE / "lulc_modis_igbp_2019.tif", tmp / "lulc_2019.tif")
    converted = _converted_lulc(EXAMPLE / "lulc_modis_igbp_2019.tif", tmp / "lulc_2020.tif")
    for var in ("precip", "aet"):
        for year in (2019, 2020):
            shutil.copy(EXAMPLE / f"approx_{var}_2019.tif", tmp / f"{var}_{year}.tif")
    stats = pd.read_csv(EXAMPLE / "approx_statistics_2019.csv", dtype=str)
    pd.concat([stats, stats.assign(year="2020")]).to_csv(tmp / "statistics.csv", index=False)
    cfg = load_config(EXAMPLE / "jiangxi-2019.toml")
    inputs = {**cfg.inputs, "lulc": str(tmp / "lulc_{year}.tif"), "precip": str(tmp / "precip_{year}.tif"),
              "aet": str(tmp / "aet_{year}.tif")}
    cfg = cfg.model_copy(update={
        "run": cfg.run.model_copy(update={"output": tmp / "out", "years": [2019, 2020]}),
        "inputs": inputs,
        "tables": cfg.tables.model_copy(update={"statistics": tmp / "statistics.csv"}),
        "options": {**cfg.options, "seea_soil_loss": True},
    })
    url = f"sqlite:///{tmp / 'store.sqlite'}"
    outcome = account(cfg, store_url=url)
    factory = open_store(url)
    data_dir = tmp / "qingshan-data"
    tables = seea_tables(factory, outcome.run_id, data_dir=data_dir)
    return SimpleNamespace(run_id=outcome.run_id, url=url, factory=factory, data_dir=data_dir, tables=tables,
                           converted_km2=converted, results=outcome.results, folder=outcome.artifacts_dir, config=cfg,
                           regions=outcome.regions)


# ----------------------------------------------------------------------------- extent
def test_extent_account_balances_at_every_level(seea_run: SimpleNamespace) -> None:
    ext = seea_run.tables.tables["extent_account"]
    assert {COUNTY, CITY, PROVINCE} <= set(ext["region_code"])
    assert ext["region_code"].nunique() == 112  # 100 counties + 11 cities + the province
    lhs = ext["opening_km2"] + ext["additions_km2"] - ext["reductions_km2"]
    np.testing.assert_allclose(lhs, ext["closing_km2"], rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ext["closing_km2"] - ext["opening_km2"], ext["net_change_km2"], atol=1e-9)
    province = ext[(ext["region_code"] == PROVINCE) & (ext["ecosystem"] == "total")].iloc[0]
    assert 166_000 < province["opening_km2"] < 168_000  # Jiangxi: 166 900 km²


def test_extent_change_is_the_converted_forest_of_one_county(seea_run: SimpleNamespace) -> None:
    ext = seea_run.tables.tables["extent_account"].set_index(["region_code", "ecosystem"])
    assert seea_run.converted_km2 > 50
    for code in (COUNTY, CITY, PROVINCE):
        assert ext.loc[(code, "forest"), "reductions_km2"] == pytest.approx(seea_run.converted_km2, rel=1e-9)
        assert ext.loc[(code, "cropland"), "additions_km2"] == pytest.approx(seea_run.converted_km2, rel=1e-9)
        assert ext.loc[(code, "total"), "net_change_km2"] == pytest.approx(0.0, abs=1e-6)
    others = ext.drop(index=[COUNTY, CITY, PROVINCE], level=0)
    assert (others["additions_km2"] == 0).all() and (others["reductions_km2"] == 0).all()


def test_change_matrix_sums_are_opening_and_closing_extents(seea_run: SimpleNamespace) -> None:
    m = seea_run.tables.tables["extent_change_matrix"]
    ext = seea_run.tables.tables["extent_account"]
    ext = ext[ext["ecosystem"] != "total"].set_index(["region_code", "ecosystem"])
    rows = m.groupby(["region_code", "ecosystem_from"])["area_km2"].sum()
    cols = m.groupby(["region_code", "ecosystem_to"])["area_km2"].sum()
    np.testing.assert_allclose(rows.reindex(ext.index).fillna(0), ext["opening_km2"], rtol=1e-12)
    np.testing.assert_allclose(cols.reindex(ext.index).fillna(0), ext["closing_km2"], rtol=1e-12)
    # and they are the run's own sealed extents of each year (rolled up from the leaves)
    sealed = pd.read_csv(seea_run.folder / "seea" / "extent.csv", dtype={"region_code": str})
    for year, col in ((2019, "opening_km2"), (2020, "closing_km2")):
        leaf = sealed[sealed["year"] == year].set_index(["region_code", "ecosystem"])["area_km2"]
        np.testing.assert_allclose(leaf.sort_index(), ext[col].reindex(leaf.index).sort_index(), rtol=1e-12)
        assert ext.xs(PROVINCE, level=0)[col].sum() == pytest.approx(leaf.sum(), rel=1e-12)


def test_against_another_run_gives_the_same_accounts(seea_run: SimpleNamespace) -> None:
    other = seea_tables(seea_run.factory, seea_run.run_id, against=seea_run.run_id, from_year=2019,
                        data_dir=seea_run.data_dir)
    pd.testing.assert_frame_equal(other.tables["extent_account"], seea_run.tables.tables["extent_account"])
    pd.testing.assert_frame_equal(other.tables["asset_account"], seea_run.tables.tables["asset_account"])


def test_run_without_seea_basis_says_rerun(seea_run: SimpleNamespace, tmp_path: Path) -> None:
    from qingshan.store.artifacts import remove_tree

    copy = tmp_path / "data"
    shutil.copytree(seea_run.data_dir, copy)
    remove_tree(copy / "runs" / seea_run.run_id / "seea")
    with pytest.raises(InputError) as err:
        seea_tables(seea_run.factory, seea_run.run_id, data_dir=copy)
    assert "Re-run" in err.value.fix and "重新运行" in err.value.fix_zh
    assert "SEEA basis" in str(err.value) and "SEEA 基础数据" in err.value.zh


def test_altered_seea_basis_is_refused(seea_run: SimpleNamespace, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(seea_run.data_dir, copy)
    ecosystem = copy / "runs" / seea_run.run_id / "seea" / "ecosystem.2020.tif"
    ecosystem.chmod(0o644)
    ecosystem.write_bytes(ecosystem.read_bytes() + b"\0")
    with pytest.raises(InputError) as err:
        seea_tables(seea_run.factory, seea_run.run_id, data_dir=copy)
    assert "differs from the file sealed" in str(err.value) and "封存时不一致" in err.value.zh


# ----------------------------------------------------------------------------- condition
def test_condition_index_is_value_over_reference(seea_run: SimpleNamespace) -> None:
    c = seea_run.tables.tables["condition_account"]
    assert {"ndvi", "vegetation_cover", "soil_loss_rate"} <= set(c["indicator"])
    np.testing.assert_allclose(c["closing_ratio"], c["closing_value"] / c["reference_level"], rtol=1e-12)
    hi, lo = c[c["direction"] == "higher"], c[c["direction"] == "lower"]
    np.testing.assert_allclose(hi["closing_index"], np.minimum(1, hi["closing_ratio"]), rtol=1e-12)
    np.testing.assert_allclose(lo["closing_index"], np.where(lo["closing_value"] <= lo["reference_level"], 1,
                                                             lo["reference_level"] / lo["closing_value"]), rtol=1e-12)
    assert set(lo["indicator"]) == {"soil_loss_rate"}
    assert c["closing_index"].between(0, 1).all()  # finite, normalised (forest soil loss is 0: C = 0 above 78.3 % cover)
    assert (hi["closing_ratio"] > 1).any()  # the ratio keeps what the index caps
    sealed = pd.read_csv(seea_run.folder / "seea" / "condition.csv", dtype={"region_code": str})
    leaf = sealed[(sealed["year"] == 2020) & (sealed["indicator"] == "ndvi") & (sealed["ecosystem"] == "forest")]
    prov = c[(c["region_code"] == PROVINCE) & (c["indicator"] == "ndvi") & (c["ecosystem"] == "forest")].iloc[0]
    assert prov["closing_value"] == pytest.approx(leaf["weighted_sum"].sum() / leaf["area_km2"].sum(), rel=1e-12)
    assert 0.5 < prov["closing_value"] < 0.95


# ----------------------------------------------------------------------------- services
def test_supply_equals_use_equals_gep(seea_run: SimpleNamespace) -> None:
    t = seea_run.tables.tables
    for kind in ("physical", "monetary"):
        s, u = t[f"supply_{kind}"], t[f"use_{kind}"]
        np.testing.assert_allclose(s["total"], u["total"], rtol=1e-12)
        eco_cols = [c for c in s.columns if c not in ("seea_class", "seea_service", "seea_service_zh", "indicator",
                                                       "component", "unit", "total")]
        np.testing.assert_allclose(s[eco_cols].sum(axis=1), s["total"], rtol=1e-12)
    res = seea_run.results
    gep = res[(res["region_code"] == PROVINCE) & (res["year"] == 2020)]["value"].sum()
    assert t["supply_monetary"]["total"].sum() == pytest.approx(gep, rel=1e-12)
    assert t["use_monetary"]["total"].sum() == pytest.approx(gep, rel=1e-12)
    assert t["not_included"].empty  # the Jiangxi profile has no not-applicable indicator


def test_every_indicator_of_every_profile_is_mapped_or_not_applicable() -> None:
    m = services_map()
    reg = registry()
    ids = set(reg.specs) | {e.indicator for p in reg.profile_ids() for e in reg.profile(p).entries}
    for ind in sorted(ids):
        rows = m[m["indicator"] == ind]
        assert not rows.empty, f"{ind} has no row in data/seea/services_map.csv"
        if "*" not in set(rows["component"]):
            comps = {c.id for c in reg.get(ind).components}
            assert comps <= set(rows["component"]), f"{ind}: components {comps - set(rows['component'])} unmapped"
        assert rows["source"].str.len().gt(10).all()
        na = rows[rows["status"] == "not_applicable"]
        assert na["note"].str.len().gt(10).all(), f"{ind}: not_applicable needs its reason"
    assert set(m["indicator"]) <= ids, "mapping rows for unknown indicators"


# ----------------------------------------------------------------------------- assets
def test_asset_account_reconciles(seea_run: SimpleNamespace) -> None:
    a = seea_run.tables.tables["asset_account"]
    np.testing.assert_allclose(a["opening_value"] + a["change_extent"] + a["change_condition_and_other"],
                               a["closing_value"], rtol=1e-12)
    f = seea_run.tables.parameters.annuity_factor()
    np.testing.assert_allclose(a["closing_value"], a["closing_flow"] * f, rtol=1e-12)
    county = a[a["region_code"] == COUNTY].set_index("ecosystem")
    assert county.loc["forest", "change_extent"] < 0 < county.loc["cropland", "change_extent"]
    prov = a[a["region_code"] == PROVINCE].set_index("ecosystem")
    assert prov.loc["total", "closing_value"] == pytest.approx(prov.drop(index="total")["closing_value"].sum(), rel=1e-12)


def test_npv_hand_computed() -> None:
    p = AssetParameters(discount_rate=0.05, asset_life=3, table=pd.DataFrame())
    assert p.annuity_factor() == pytest.approx(1 / 1.05 + 1 / 1.05**2 + 1 / 1.05**3, rel=1e-14)  # 2.7232480
    assert AssetParameters(0.0, 7, pd.DataFrame()).annuity_factor() == 7
    flows0 = pd.DataFrame({"region_code": ["R", "R"], "ecosystem": ["forest", "wetland"], "value": [100.0, 50.0]})
    flows1 = pd.DataFrame({"region_code": ["R", "R"], "ecosystem": ["forest", "wetland"], "value": [120.0, 40.0]})
    extent = pd.DataFrame({"region_code": ["R", "R"], "ecosystem": ["forest", "wetland"],
                           "opening_km2": [10.0, 5.0], "closing_km2": [12.0, 5.0]})
    a = asset_account(flows0, flows1, extent, p).set_index("ecosystem")
    af = 2.723248029596157
    assert a.loc["forest", "opening_value"] == pytest.approx(100 * af)   # 272.3248
    assert a.loc["forest", "change_extent"] == pytest.approx(100 * af / 10 * 2)  # 54.4650: value/km² × Δ extent
    assert a.loc["forest", "change_condition_and_other"] == pytest.approx(0.0, abs=1e-9)  # flow ∝ area
    assert a.loc["wetland", "change_extent"] == 0
    assert a.loc["wetland", "change_condition_and_other"] == pytest.approx(-10 * af)
    assert a.loc["total", "closing_value"] == pytest.approx(160 * af)


# ----------------------------------------------------------------------------- CLI and API
def test_cli_writes_csv_and_xlsx(seea_run: SimpleNamespace, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qingshan.cli import app

    out = tmp_path / "seea"
    res = CliRunner().invoke(app, ["seea", seea_run.run_id, "-o", str(out), "--store", seea_run.url,
                                   "--region", COUNTY], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "Supply total" in res.output and "Extent account" in res.output
    ext = pd.read_csv(out / "extent_account.csv", dtype={"region_code": str}, encoding="utf-8-sig")
    pd.testing.assert_frame_equal(ext, seea_run.tables.tables["extent_account"], check_dtype=False)
    wb = openpyxl.load_workbook(out / "seea_accounts.xlsx", read_only=True)
    assert {"Extent 面积账户", "Change matrix 变化矩阵", "Supply money 价值供给", "Assets 资产账户"} <= set(wb.sheetnames)
    bad = CliRunner().invoke(app, ["seea", seea_run.run_id, "-o", str(out), "--store", seea_run.url, "--to", "2031"])
    assert bad.exit_code != 0 and "2031" in bad.output and "Traceback" not in bad.output


def test_api_json_and_xlsx_public_when_published(seea_run: SimpleNamespace) -> None:
    from fastapi.testclient import TestClient

    from qingshan.api.app import create_app
    from qingshan.api.settings import Settings
    from qingshan.platform import jobs
    from qingshan.platform.audit import Actor

    with TestClient(create_app(Settings(store_url=seea_run.url))) as client:
        assert client.get(f"/api/runs/{seea_run.run_id}/seea").status_code == 404  # not published: not public
        for action in ("approve", "publish"):
            jobs.set_publication(seea_run.factory, Actor("seea-tests", "accountant"), seea_run.run_id, action,
                                 acknowledge_qc=True)
        r = client.get(f"/api/runs/{seea_run.run_id}/seea", params={"region": CITY})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["meta"]["region"] == CITY and body["meta"]["opening"].endswith("/2019")
        sup = pd.DataFrame(body["tables"]["supply_monetary"])
        use = pd.DataFrame(body["tables"]["use_monetary"])
        assert sup["total"].sum() == pytest.approx(use["total"].sum(), rel=1e-12)
        x = client.get(f"/api/runs/{seea_run.run_id}/seea", params={"format": "xlsx"})
        assert x.status_code == 200 and x.content[:2] == b"PK"
        assert client.get(f"/api/runs/{seea_run.run_id}/seea", params={"to": 2031}).status_code in (400, 404, 422)


# ----------------------------------------------------------------------------- the basis, block by block
def _whole_grid_weights_refused(monkeypatch: pytest.MonkeyPatch, block: int) -> list[tuple[int, int]]:
    """Make every ``zone_weights`` of more than ``block``² cells fail; return the grid shapes asked for."""
    import qingshan.aggregate.zonal as zonal
    import qingshan.engine.extent as extent

    real, shapes = zonal.zone_weights, []

    def guarded(regions: object, grid: Grid) -> object:
        shapes.append(grid.shape)
        assert grid.height <= block and grid.width <= block, f"whole-grid coverage matrix built for {grid.shape}"
        return real(regions, grid)  # type: ignore[arg-type]

    monkeypatch.setattr(zonal, "zone_weights", guarded)
    monkeypatch.setattr(extent, "zone_weights", guarded)
    return shapes


def _basis(seea_run: SimpleNamespace, folder: Path, block: int) -> Path:
    from qingshan.engine.extent import write_seea_basis

    cfg = seea_run.config
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"block_size": block})})
    folder.mkdir()
    write_seea_basis(folder, seea_run.regions, cfg)
    return folder / "seea"


def test_seea_basis_in_blocks_is_the_one_block_basis(seea_run: SimpleNamespace, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 32² (5 × 4 blocks of the 130 × 120 grid, none aligned with the 256-cell tiles) give the
    extent, condition (NDVI, vegetation cover, soil loss rate) and ecosystem rasters of the run's own
    basis, written as one block (block_size 1024 > grid); no coverage matrix larger than a block is built."""
    shapes = _whole_grid_weights_refused(monkeypatch, 32)
    blocks = _basis(seea_run, tmp_path / "b32", 32)
    assert len(shapes) == 2 * 5 * 4  # two years, 20 blocks each
    whole = seea_run.folder / "seea"
    for name, values in (("extent.csv", ["area_km2"]), ("condition.csv", ["weighted_sum", "area_km2"])):
        a = pd.read_csv(whole / name, dtype={"region_code": str})
        b = pd.read_csv(blocks / name, dtype={"region_code": str})
        keys = [c for c in a.columns if c not in values]
        pd.testing.assert_frame_equal(a[keys], b[keys])
        np.testing.assert_allclose(b[values].to_numpy(), a[values].to_numpy(), rtol=1e-9, atol=0)
    cond = pd.read_csv(blocks / "condition.csv")
    assert set(cond["indicator"]) == {"ndvi", "vegetation_cover", "soil_loss_rate"}
    ext = pd.read_csv(blocks / "extent.csv")
    assert 166_000 < ext[ext["year"] == 2019]["area_km2"].sum() < 168_000
    for year in (2019, 2020):
        with rasterio.open(whole / f"ecosystem.{year}.tif") as a, rasterio.open(blocks / f"ecosystem.{year}.tif") as b:
            np.testing.assert_array_equal(b.read(1), a.read(1))
            assert (b.profile, b.tags(1), b.descriptions) == (a.profile, a.tags(1), a.descriptions)
    assert not list(blocks.glob("*.part.tif"))


def test_change_matrix_block_by_block_is_the_whole_grid_crosstab(seea_run: SimpleNamespace,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The extent change matrix of ``seea_tables`` reads the two ecosystem COGs window by window: the same
    crosstab as the whole rasters with the whole grid's weights, and no coverage matrix larger than a block."""
    from qingshan.aggregate.zonal import zone_weights
    from qingshan.engine.extent import block_crosstab, crosstab, read_ecosystem

    folder = seea_run.folder / "seea"
    (eco0, grid), (eco1, _) = read_ecosystem(folder / "ecosystem.2019.tif"), read_ecosystem(folder / "ecosystem.2020.tif")
    want = crosstab(eco0, eco1, zone_weights(seea_run.regions, grid), grid.cell_area() / 1e6)
    assert (want["ecosystem_from"] != want["ecosystem_to"]).any()  # the converted forest
    _whole_grid_weights_refused(monkeypatch, 48)
    got = block_crosstab(folder / "ecosystem.2019.tif", folder / "ecosystem.2020.tif", seea_run.regions, grid,
                         block_size=48)
    keys = ["region_code", "ecosystem_from", "ecosystem_to"]
    pd.testing.assert_frame_equal(got[keys], want[keys])
    np.testing.assert_allclose(got["area_km2"], want["area_km2"], rtol=1e-9, atol=0)


def test_seea_basis_on_a_cluster_runs_its_blocks_on_the_workers(seea_run: SimpleNamespace, tmp_path: Path) -> None:
    """Issue 11 (one code path on threads or a cluster): with the run's ``dask.distributed`` client the basis's
    blocks are computed by the workers (they used to run on the client's threads whatever the run's scheduler),
    and give the same extent, condition and ecosystem rasters."""
    distributed = pytest.importorskip("dask.distributed")
    from qingshan.engine.extent import write_seea_basis

    cfg = seea_run.config
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"block_size": 32})})
    folder = tmp_path / "cluster"
    folder.mkdir()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client, distributed.get_task_stream(client) as stream:
        write_seea_basis(folder, seea_run.regions, cfg, client=client)
    blocks = [t for t in stream.data if "_basis_block" in str(t["key"])]
    assert len(blocks) == 2 * 5 * 4 and len({t["worker"] for t in blocks}) == 2
    whole = seea_run.folder / "seea"
    for name, values in (("extent.csv", ["area_km2"]), ("condition.csv", ["weighted_sum", "area_km2"])):
        a = pd.read_csv(whole / name, dtype={"region_code": str})
        b = pd.read_csv(folder / "seea" / name, dtype={"region_code": str})
        keys = [c for c in a.columns if c not in values]
        pd.testing.assert_frame_equal(a[keys], b[keys])
        np.testing.assert_allclose(b[values].to_numpy(), a[values].to_numpy(), rtol=1e-9, atol=0)
    for year in (2019, 2020):
        with rasterio.open(whole / f"ecosystem.{year}.tif") as a, \
                rasterio.open(folder / "seea" / f"ecosystem.{year}.tif") as b:
            np.testing.assert_array_equal(b.read(1), a.read(1))


def test_the_basis_is_written_beside_the_exports_and_its_error_is_raised(seea_run: SimpleNamespace, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """write_artifacts writes the SEEA basis while the exports are written (two threads), and a failing basis
    still fails the run's artifacts once the exports have ended (nothing left running)."""
    import threading

    from qingshan.engine import extent
    from qingshan.engine.run import write_artifacts

    seen: dict[str, object] = {}
    gate = threading.Barrier(2, timeout=30)  # passes only if the exports and the basis are under way together

    def basis(*_a: object, **_k: object) -> None:
        seen["basis"] = threading.current_thread().name
        gate.wait()
        raise InputError("basis failed", "基础数据失败", field="lulc", fix="x", fix_zh="x")

    import qingshan.engine.export as export

    def exports(*_a: object, **_k: object) -> None:
        seen["exports"] = threading.current_thread().name
        gate.wait()

    monkeypatch.setattr(extent, "write_seea_basis", basis)
    monkeypatch.setattr(export, "export_all", exports)
    with pytest.raises(InputError, match="basis failed"):
        write_artifacts(tmp_path, seea_run.results, seea_run.regions, {}, None, seea_run.config, {}, "r")
    assert seen["basis"] != seen["exports"]
