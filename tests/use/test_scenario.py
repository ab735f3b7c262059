"""Scenarios (issue 10.3): a run whose inputs differ from a base run, and the difference by indicator,
region and ecosystem, per cell and per region.

The base is a small cut of the embedded Jiangxi example (two cities, five counties, 63 × 25 cells),
accounted once per module; each scenario is a run of its own on it.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.features import geometry_mask
from rasterio.windows import Window, from_bounds

import qingshan
import qingshan.indicators
from qingshan.core.errors import ConfigError, InputError
from qingshan.store import artifacts
from qingshan.store.db import open_store
from qingshan.use.runs import load_run
from qingshan.use.scenario import (
    check_base_inputs,
    compare_runs,
    difference_tables,
    load_scenario,
    run_scenario,
)

DATA = Path(qingshan.__file__).parent / "data"
CITIES = [360500, 360600]  # 新余市, 鹰潭市
COUNTY = "360681"  # 贵溪市: has forest cells wholly inside it
FOREST, CROPLAND = [1, 2, 3, 4, 5, 8], 12  # MODIS IGBP classes the land-cover table books as forest; cropland


def _cut_example(root: Path) -> Path:
    """A config of the Jiangxi example restricted to CITIES (regions, statistics, rasters clipped)."""
    import tomllib

    ex = DATA / "examples" / "jiangxi"
    cfg = tomllib.loads((ex / "jiangxi-2019.toml").read_text(encoding="utf-8"))
    g = gpd.read_file(ex / "jiangxi_county_tianditu.geojson")
    g = g[g["city_adcode"].isin(CITIES)]
    g.to_file(root / "regions.geojson", driver="GeoJSON")
    codes = {str(c) for col in ("district_adcode", "city_adcode", "province_adcode") for c in g[col]}
    st = pd.read_csv(ex / "approx_statistics_2019.csv", dtype={"region_code": str})
    st[st["region_code"].isin(codes)].to_csv(root / "statistics.csv", index=False)
    inputs = {}
    for name, rel in cfg["inputs"].items():
        src_path = ex / rel.replace("{year}", "2019")
        with rasterio.open(src_path) as src:
            w = from_bounds(*g.total_bounds, src.transform).round_offsets().round_lengths()
            w = Window(w.col_off - 1, w.row_off - 1, w.width + 3, w.height + 3)
            prof = {**src.profile, "width": int(w.width), "height": int(w.height), "transform": src.window_transform(w),
                    "tiled": False}
            prof.pop("blockxsize", None)
            prof.pop("blockysize", None)
            with rasterio.open(root / src_path.name, "w", **prof) as dst:
                dst.write(src.read(window=w))
        inputs[name] = str(root / src_path.name).replace("2019", "{year}") if "{year}" in rel else str(root / src_path.name)
    shutil.copytree(DATA / "tables", root / "tables")
    tables = {k: ([str(root / "tables" / Path(x).name) for x in v] if isinstance(v, list) else str(root / "tables" / Path(v).name))
              for k, v in cfg["tables"].items()}
    tables["statistics"] = str(root / "statistics.csv")
    cfg["exclude"] = [*cfg.get("exclude", []), {"id": "flood_regulation", "reason": "no reservoir statistics in the cut"}]
    cfg["run"].update(output=str(root / "out"), store=f"sqlite:///{root / 'store.sqlite'}")
    cfg["regions"]["file"] = str(root / "regions.geojson")
    cfg["inputs"], cfg["tables"] = inputs, tables
    path = root / "config.toml"
    path.write_text(_toml(cfg), encoding="utf-8")
    return path


def _toml(data: dict[str, Any]) -> str:
    """TOML of a run config (top-level list of inline tables, then one level of tables)."""
    import json

    def val(v: Any) -> str:
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return json.dumps(v, ensure_ascii=False)

    top = [f"{k} = {val(v)}" for k, v in data.items() if not isinstance(v, dict)]
    sections = [f"[{k}]\n" + "\n".join(f'"{n}" = {val(x)}' for n, x in v.items()) for k, v in data.items() if isinstance(v, dict)]
    return "\n".join(top) + "\n\n" + "\n\n".join(sections) + "\n"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from qingshan.engine.blockwise import account_blockwise
    from qingshan.engine.config import load_config

    root = tmp_path_factory.mktemp("scenario_base")
    cfg = load_config(_cut_example(root))  # the engine `account` runs (block-wise; the scenario recomputes with it)
    outcome = account_blockwise(cfg, block_size=16)  # 8 blocks, not the config's: the scenario must use the run's
    url = f"sqlite:///{root / 'store.sqlite'}"
    return SimpleNamespace(root=root, url=url, factory=open_store(url), run_id=outcome.run_id,
                           lulc=root / "lulc_modis_igbp_2019.tif", regions=root / "regions.geojson")


def _forest_to_cropland(base: SimpleNamespace, dest: Path) -> int:
    """The base land cover with the forest cells lying wholly inside COUNTY turned to cropland; cells changed."""
    g = gpd.read_file(base.regions)
    poly = g[g["district_adcode"].astype(str) == COUNTY].geometry
    with rasterio.open(base.lulc) as r:
        lulc, prof = r.read(1), r.profile
        half_diagonal = 0.75 * abs(r.transform.a) * np.sqrt(2)  # a cell centre this deep inside: the cell is inside
        inside = ~geometry_mask([p.buffer(-half_diagonal) for p in poly], out_shape=lulc.shape, transform=r.transform)
    change = inside & np.isin(lulc, FOREST)
    with rasterio.open(dest, "w", **prof) as w:
        w.write(np.where(change, CROPLAND, lulc).astype(lulc.dtype), 1)
    return int(change.sum())


def _scenario(base: SimpleNamespace, tmp: Path, text: str, **kw: Any) -> SimpleNamespace:
    cfg = tmp / "scenario.toml"
    cfg.write_text(text, encoding="utf-8")
    out = run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp / "run", **kw)
    tables, regions, files = compare_runs(base.factory, base.url, base.run_id, out.run_id, tmp / "difference")
    return SimpleNamespace(outcome=out, tables=tables, files=files, run=load_run(base.factory, out.run_id)[0],
                           regions=regions, dir=tmp / "difference")


def _raster_diffs(sc: SimpleNamespace) -> dict[str, np.ndarray]:
    out = {}
    for f in sorted((sc.dir / "rasters").glob("diff.*.tif")):
        with rasterio.open(f) as r:
            out[f.name] = r.read(1, masked=True).filled(np.nan)
    return out


def test_scenario_equal_to_base_is_zero_everywhere(base: SimpleNamespace, tmp_path: Path) -> None:
    """Every indicator recomputed from the same inputs: every table and every per-cell difference is exactly 0."""
    sc = _scenario(base, tmp_path, '[scenario]\nname = "all recomputed"\nrecompute = ["*"]\n')
    assert set(sc.outcome.recomputed) == set(sc.run.provenance["methods"])  # all recomputed, none copied
    for name, table in sc.tables.items():
        assert len(table) > 0, name
        assert (table["difference"] == 0).all(), table[table["difference"] != 0]
        assert table["base"].equals(table["scenario"])
    diffs = _raster_diffs(sc)
    assert len(diffs) >= 10
    for name, arr in diffs.items():
        assert np.isfinite(arr).any() and np.nanmax(np.abs(arr)) == 0.0, name


def test_cli_scenario_of_an_identical_land_cover(base: SimpleNamespace, tmp_path: Path) -> None:
    """`qingshan scenario`: a land cover with the base's content changes nothing, so nothing is recomputed."""
    from typer.testing import CliRunner

    from qingshan.cli import app

    shutil.copyfile(base.lulc, tmp_path / "same.tif")
    (tmp_path / "same.toml").write_text('[inputs]\nlulc = "same.tif"\n', encoding="utf-8")
    r = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["scenario", base.run_id, str(tmp_path / "same.toml"), "-o", str(tmp_path / "out"), "--store", base.url])
    assert r.exit_code == 0, r.output
    assert "recomputed 重算" not in r.output and "copied from the base 沿用基准: agricultural_products" in r.output
    assert "Regions whose GEP changes 总值变化的区域: 0" in r.output
    table = pd.read_csv(tmp_path / "out" / "difference" / "difference_indicator.csv")
    assert len(table) > 0 and (table["difference"] == 0).all()
    assert (tmp_path / "out" / "run" / "gep_accounts.xlsx").is_file()
    r = CliRunner().invoke(app, ["scenario", base.run_id, str(tmp_path / "nope.toml"), "--store", base.url])
    assert r.exit_code != 0 and "找不到情景配置文件" in r.output and "Traceback" not in r.output


def test_forest_to_cropland_in_one_county(base: SimpleNamespace, tmp_path: Path) -> None:
    """Only the indicators reading the land cover change, only in the county and its ancestors."""
    assert _forest_to_cropland(base, tmp_path / "plan.tif") > 5
    sc = _scenario(base, tmp_path, f'[scenario]\nbase = "{base.run_id}"\nname = "贵溪 forest → cropland"\n'
                                   '[inputs]\nlulc = "plan.tif"\n')
    prov = sc.run.provenance["scenario"]
    assert prov["base_run"] == base.run_id and list(prov["changed"]["inputs"]) == ["lulc"]
    assert set(prov["copied_from_base"]) == {"agricultural_products", "recreation"}  # table methods: statistics only
    assert "water_conservation" in prov["recomputed"] and not prov["changed"]["parameters"]
    hashes = sc.run.provenance["input_hashes"]  # the files the scenario stands on: the plan, not the base land cover
    assert str(tmp_path / "plan.tif") in hashes and str(base.lulc) not in hashes

    ind = sc.tables["indicator"]
    touched = {COUNTY, "360600", "360000"}  # the county, its city, the province
    outside = ind[~ind["region_code"].isin(touched)]
    assert len(outside) > 0 and (outside["difference"] == 0).all()
    copied = ind[ind["indicator"].isin(prov["copied_from_base"])]
    assert (copied["difference"] == 0).all()
    for code in touched:
        gep = ind[(ind["region_code"] == code) & (ind["indicator"] == "GEP")].iloc[0]
        assert gep["difference"] < 0 and gep["percent"] == pytest.approx(100 * gep["difference"] / gep["base"])
    wc = ind[(ind["region_code"] == COUNTY) & (ind["indicator"] == "water_conservation")].iloc[0]
    assert wc["difference"] < 0
    # by ecosystem: the county's cropland gains, its forest loses; elsewhere nothing moves
    eco = sc.tables["ecosystem"].set_index(["region_code", "ecosystem"])["difference"]
    assert eco[(COUNTY, "cropland")] > 0 > eco[(COUNTY, "forest")]
    assert (sc.tables["ecosystem"].loc[~sc.tables["ecosystem"]["region_code"].isin(touched), "difference"] == 0).all()
    # per cell: nonzero only inside the county
    g = gpd.read_file(base.regions)
    with rasterio.open(base.lulc) as r:
        county = ~geometry_mask(g[g["district_adcode"].astype(str) == COUNTY].geometry, out_shape=r.shape,
                                transform=r.transform, all_touched=True)
    diffs = _raster_diffs(sc)
    wc_cells = diffs["diff.water_conservation.water_conservation.2019.tif"]
    assert np.nanmin(wc_cells) < 0
    for name, arr in diffs.items():
        assert not np.any(np.nan_to_num(arr)[~county]), name
    # the regional GeoPackage: the county's GEP difference in 亿元, zero for a county outside
    gpkg = gpd.read_file(sc.dir / "difference.gpkg", layer="county").set_index("code")
    gep = ind[(ind["region_code"] == COUNTY) & (ind["indicator"] == "GEP")]["difference"].iloc[0]
    assert gpkg.loc[COUNTY, "diff_gep_2019_yi"] == pytest.approx(gep / 1e8)
    assert gpkg.loc["360502", "diff_gep_2019_yi"] == 0
    assert {"difference.xlsx", "difference_indicator.csv", "difference_ecosystem.csv", "difference_component.csv"} <= {
        f.name for f in sc.files}


def test_unaffected_indicator_is_not_recomputed(base: SimpleNamespace, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A parameter only climate regulation reads: the other indicators' functions are never called."""
    import qingshan.quantities.carbon as carbon
    import qingshan.quantities.water as water

    def boom(**_kw: Any) -> None:
        raise AssertionError("an unaffected indicator was recomputed")

    monkeypatch.setattr(water, "water_conservation_balance", boom)
    monkeypatch.setattr(carbon, "carbon_nep", boom)
    old = load_run(base.factory, base.run_id)[0].provenance["parameters"]["latent_heat"]["value"]
    sc = _scenario(base, tmp_path, f"[parameters]\nlatent_heat = {old * 1.1}\n")
    assert list(sc.outcome.recomputed) == ["climate_regulation"]
    prov = sc.run.provenance["scenario"]
    assert prov["changed"]["parameters"] == {"latent_heat": {"base": old, "scenario": old * 1.1}}
    assert "water_conservation" in prov["copied_from_base"]
    ind = sc.tables["indicator"]
    assert (ind.loc[ind["indicator"] != "climate_regulation", "difference"].drop(
        ind.index[ind["indicator"] == "GEP"]) == 0).all()
    cr = ind[(ind["indicator"] == "climate_regulation") & (ind["difference"] != 0)]
    assert len(cr) > 0
    # the copied indicators' per-cell rasters are in the scenario run, equal to the base's
    diffs = _raster_diffs(sc)
    assert np.nanmax(np.abs(diffs["diff.water_conservation.water_conservation.2019.tif"])) == 0


def test_base_input_changed_on_disk_is_refused(base: SimpleNamespace, tmp_path: Path) -> None:
    """A file the base run read, edited since: the scenario is refused, naming the file, in both languages."""
    stats = base.root / "statistics.csv"
    original = stats.read_bytes()
    (tmp_path / "s.toml").write_text("[parameters]\nlatent_heat = 2300\n", encoding="utf-8")
    try:
        stats.write_bytes(original + b"\n")
        with pytest.raises(InputError) as e:
            run_scenario(base.factory, base.url, base.run_id, load_scenario(tmp_path / "s.toml"), output=tmp_path / "o")
    finally:
        stats.write_bytes(original)
    assert e.value.file == str(stats) and str(stats) in e.value.en and str(stats) in e.value.zh
    assert "changed since it ran" in e.value.en and "已被修改" in e.value.zh
    run = load_run(base.factory, base.run_id)[0]  # a removed file too
    gone = SimpleNamespace(id=run.id, provenance={"input_hashes": {str(tmp_path / "gone.tif"): "0" * 64}})
    with pytest.raises(InputError, match="is gone"):
        check_base_inputs(gone)
    assert check_base_inputs(run) == run.provenance["input_hashes"]  # restored: accepted


def test_scenario_config_errors_name_the_field(base: SimpleNamespace, tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text('[parameters]\nno_such_parameter = 1\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp_path / "o")
    assert e.value.field == "parameters.no_such_parameter" and e.value.file == cfg.resolve()
    cfg.write_text('[inputs]\nlandcover = "x.tif"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp_path / "o")
    assert e.value.field == "inputs.landcover"
    cfg.write_text('[scenario]\nbase = "another-run"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp_path / "o")
    assert e.value.field == "scenario.base"
    cfg.write_text('[scenario]\nrecompute = ["gdp"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp_path / "o")
    assert e.value.field == "scenario.recompute" and "jiangxi-db36-2021" in e.value.en
    cfg.write_text('[inputs]\nlulc = "missing.tif"\n', encoding="utf-8")
    with pytest.raises(InputError) as e:
        run_scenario(base.factory, base.url, base.run_id, load_scenario(cfg), output=tmp_path / "o")
    assert e.value.field == "inputs.lulc" and "missing.tif" in e.value.en


def test_api_scenario_job_and_difference(base: SimpleNamespace, tmp_path: Path) -> None:
    """POST /api/scenarios (accountant) queues a job; the worker runs it; GET …/difference serves the table."""
    from fastapi.testclient import TestClient

    from qingshan.api.app import create_app
    from qingshan.api.settings import Settings
    from qingshan.platform.accounts import create_user
    from qingshan.platform.jobs import run_worker

    create_user(base.factory, "scn-accountant", "scenario-口令-123", "accountant")
    create_user(base.factory, "scn-viewer", "scenario-口令-123", "viewer")
    inputs = artifacts.find_data_dir(base.url) / "scenario-inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    _forest_to_cropland(base, inputs / "plan_2030.tif")
    with TestClient(create_app(Settings(store_url=base.url))) as client:
        def login(user: str) -> dict[str, str]:
            r = client.post("/api/auth/login", json={"username": user, "password": "scenario-口令-123"})
            client.cookies.clear()
            return {"Authorization": f"Bearer {r.json()['token']}"}

        acc, sub = login("scn-accountant"), login("scn-viewer")
        body = {"base_run": base.run_id, "name": "API plan", "inputs": {"lulc": "plan_2030.tif"}}
        assert client.post("/api/scenarios", json=body, headers=sub).status_code == 403
        bad = client.post("/api/scenarios", json={**body, "inputs": {"lulc": "../../etc/passwd"}}, headers=acc)
        assert bad.status_code == 422 and "scenario-inputs" in bad.json()["fix"] + bad.json()["message_en"]
        assert bad.json()["message_zh"]
        bad = client.post("/api/scenarios", json={**body, "parameters": {"nope": 1.0}}, headers=acc)
        assert bad.status_code == 422 and bad.json()["field"] == "parameters.nope"
        r = client.post("/api/scenarios", json=body, headers=acc)
        assert r.status_code == 202, r.text
        assert r.json()["kind"] == "scenario" and r.json()["status"] == "queued"
        assert run_worker(base.url, once=True, output_root=tmp_path / "jobs") == 1
        job = client.get(f"/api/jobs/{r.json()['id']}", headers=acc).json()
        assert job["status"] == "succeeded", job["error"]
        d = client.get(f"/api/scenarios/{job['run_id']}/difference", params={"region": COUNTY}, headers=acc)
        assert d.status_code == 200, d.text
        out = d.json()
        assert out["base_run"] == base.run_id and "water_conservation" in out["recomputed"]
        gep = next(x for x in out["rows"] if x["indicator"] == "GEP")
        assert gep["difference"] < 0 and gep["region_code"] == COUNTY
        csv = client.get(f"/api/scenarios/{job['run_id']}/difference", params={"table": "ecosystem", "format": "csv"},
                         headers=acc)
        assert csv.status_code == 200 and csv.text.startswith("region_code,region_name,level,year,ecosystem,base")
        assert client.get(f"/api/scenarios/{base.run_id}/difference", headers=acc).status_code == 422


# ----------------------------------------------------------------------------- what the registry declares
def _recording_params() -> tuple[Any, set[str]]:
    from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
    from qingshan.engine.compute import DEFAULT_LANDCOVER, DEFAULT_PARAMS

    seen: set[str] = set()

    class Recording(ParameterTable):
        def get(self, key: str, unit: str) -> float:
            seen.add(key)
            return super().get(key, unit)

    base = ParameterTable.from_csv(DEFAULT_PARAMS)
    lc = LandcoverTable.from_csv(DEFAULT_LANDCOVER)  # per_type reads transpiration_heat, empty in the shipped table
    lc = LandcoverTable(lc.table.assign(transpiration_heat=[str(100.0 + c) for c in lc.codes]), lc.units, lc.sources, lc.path)
    return ParamSet(Recording(params=base.params, path=base.path), lc, {}), seen


def _synthetic_inputs(rng: np.random.Generator, shape: tuple[int, int], codes: list[int]) -> dict[str, np.ndarray]:
    """Every canonical variable, uniform in a plausible part of its range (as tests/engine/test_blockwise.py)."""
    from qingshan.core.variables import VARIABLES

    out = {}
    for name, var in VARIABLES.items():
        lo, hi = (max(var.valid_min, 0.0), min(var.valid_max, 3000.0)) if name != "ndvi" else (-0.2, 0.95)
        out[name] = rng.choice(codes, size=shape).astype(float) if name == "lulc" else rng.uniform(lo, hi, size=shape)
    out["pawc"] = rng.uniform(0.05, 0.3, size=shape)
    return out


def _declared(spec: Any, method: Any) -> set[str]:
    return {r.key for r in method.params if not r.per_class} | {r.key for c in spec.components for r in c.value_factors}


def _variants(method: Any, full: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """All inputs; the required ones only; and all but each optional one (fallbacks read parameters)."""
    required = {k: v for k, v in full.items() if k in method.inputs}
    return [full, required, *({k: v for k, v in full.items() if k != o} for o in method.optional_inputs)]


RASTER_METHODS = [(s, m) for s in qingshan.indicators.registry() for m in s.methods if m.kind == "raster"]


@pytest.mark.parametrize(("spec", "method"), RASTER_METHODS, ids=[f"{s.id}/{m.id}" for s, m in RASTER_METHODS])
def test_raster_methods_read_only_declared_parameters(spec: Any, method: Any) -> None:
    """A scenario recomputes an indicator when a parameter its method declares changes: so a method must read
    no undeclared scalar parameter (else a changed value would be silently copied from the base run)."""
    from affine import Affine

    from qingshan.core.grid import Grid
    params, seen = _recording_params()
    grid = Grid.from_crs("EPSG:4326", Affine(0.01, 0, 115.0, 0, -0.01, 28.0), 12, 10)
    ran = 0
    for inputs in _variants(method, _synthetic_inputs(np.random.default_rng(7), grid.shape, [1, 2, 6, 10, 11, 12, 13, 0])):
        try:
            method.load()(inputs=inputs, params=params, grid=grid)
            ran += 1
        except InputError:  # an input this variant left out is needed
            continue
    assert ran >= 1
    assert seen <= _declared(spec, method), f"undeclared parameters read: {sorted(seen - _declared(spec, method))}"


def test_every_raster_method_reads_the_land_cover() -> None:
    """The engine splits by ecosystem from the land cover only when the plan reads it: a scenario recomputing a
    subset of the indicators then splits them as the base run did."""
    assert all("lulc" in m.inputs for _, m in RASTER_METHODS)


def test_flood_registers_read_only_declared_parameters() -> None:
    """The table method reading parameters (flood storage from registers) declares them."""
    from qingshan.quantities.statistics import flood_from_registers

    spec = qingshan.indicators.registry().get("flood_regulation")
    params, seen = _recording_params()
    stats = pd.DataFrame({"region_code": [COUNTY] * 3, "year": [2019] * 3,
                          "item": ["reservoir_total_storage", "lake_area", "marsh_area"], "value": [1e6, 2.0, 3e5],
                          "unit": ["m3", "km2", "m2"], "source": ["test"] * 3})
    rows = flood_from_registers(tables={"statistics": stats}, params=params, regions={COUNTY}, year=2019,  # type: ignore[arg-type]
                                indicator="flood_regulation")
    assert len(rows) == 3 and seen
    assert seen <= _declared(spec, spec.method("storage_components"))


def test_difference_of_reordered_equal_rows_is_exactly_zero(base: SimpleNamespace) -> None:
    """Float addition is not associative: the same rows in another order must still give a difference of exactly 0."""
    _, cube, regions = load_run(base.factory, base.run_id)
    shuffled = cube.sample(frac=1.0, random_state=3).reset_index(drop=True)
    for name, table in difference_tables(cube, shuffled, regions).items():
        assert (table["difference"] == 0).all(), (name, table[table["difference"] != 0])
