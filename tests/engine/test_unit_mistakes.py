"""Unit mistakes of a data officer in the tables that a run took silently (GEP wrong, no QC notice).

Each case is a copy of one table of the Jiangxi example with one unit mistake; found by running
``qingshan account`` on the copy (issue: attack-units). With the code as found, each run below
succeeded with the same QC notices as the example:

- tourism revenue 元 or 万元 written under the example's unit 亿元: recreation × 10⁸ or × 10⁴
  (GEP × 1.2 million or × 1 200);
- tourism revenue 亿元 written under 万元: recreation ÷ 10 000 (GEP −12 %);
- lake area in hm² or 亩 written under km²: flood regulation × 7.8 or × 45 (GEP +6.5 % or +42 %), with only
  the lake-larger-than-region *warning* the example's Poyang Lake already gives;
- emissions 万t written under t: air and water purification ÷ 10 000;
- rice 万t written under t: agricultural products ÷ 10 000.

The reverse mistakes (rice t under 万t, population persons under 万人) were already refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qingshan.core.errors import InputError
from qingshan.core.notices import collecting
from qingshan.engine.config import load_config
from qingshan.engine.run import account, check_statistics, load_regions, load_tables, plan

STATS = "approx_statistics_2019.csv"


def _copy_with(src: Path, dst: Path, edit: Callable[[dict[str, str]], None]) -> Path:
    """``dst``: a copy of the CSV table ``src`` with ``edit`` applied to each row (a dict, changed in place)."""
    rows = list(csv.DictReader(io.StringIO(src.read_text(encoding="utf-8-sig"))))
    for r in rows:
        edit(r)
    buf = io.StringIO()
    w = csv.DictWriter(buf, list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    dst.write_text(buf.getvalue(), encoding="utf-8")
    return dst


def _edit_statistics(example_dir: Path, dst: Path, item: str, value: Callable[[float], float],
                     unit: str | None = None) -> Path:
    """Copy of the example's statistics with every row of ``item`` (or ``item*``) changed."""
    def edit(r: dict[str, str]) -> None:
        if r["item"] == item or (item.endswith("*") and r["item"].startswith(item[:-1])):
            r["value"] = repr(value(float(r["value"])))
            if unit is not None:
                r["unit"] = unit

    return _copy_with(example_dir / STATS, dst, edit)


def _assert_no_trace(directory: Path) -> None:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(f"sqlite:///{directory / 'store.sqlite'}")
    assert repo.list_runs(factory, status="succeeded") == []
    assert not (directory / "out").exists()


def _rejected(tmp_path: Path, write_config: Any, bad: Path) -> InputError:
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    with pytest.raises(InputError) as info:
        account(load_config(cfg))
    exc = info.value
    assert Path(str(exc.file)).name == bad.name and exc.field == "value"
    assert exc.zh and exc.fix and exc.fix_zh and "statistics_bounds_accept" in exc.fix
    _assert_no_trace(tmp_path)
    return exc


def _notices(tmp_path: Path, write_config: Any, stats: Path) -> list[Any]:
    cfg = load_config(write_config(tmp_path, tables={"statistics": str(stats)}))
    tables, regions = load_tables(cfg, plan(cfg)), load_regions(cfg)
    with collecting() as notes:
        check_statistics(tables, regions)
    return [n for n in notes if n.code == "statistics_bounds"]


@pytest.mark.parametrize(("factor", "side"), [(1e8, "above"), (1e4, "above"), (1e-4, "below")])
def test_tourism_revenue_in_the_wrong_money_unit_is_refused(factor: float, side: str, tmp_path: Path,
                                                            write_config: Any, example_dir: Path) -> None:
    """元 (× 10⁸) or 万元 (× 10⁴) typed under 亿元, and 亿元 typed under 万元 (÷ 10 000)."""
    bad = _edit_statistics(example_dir, tmp_path / "stats_tourism.csv", "tourism_revenue", lambda v: v * factor)
    exc = _rejected(tmp_path, write_config, bad)
    assert "tourism_revenue" in exc.en and f"{side} the plausible" in exc.en and "tourism_revenue" in exc.zh
    assert ("per person" in exc.en and "/人" in exc.zh) or ("per km² of region" in exc.en and "/km²" in exc.zh)


def test_tourism_revenue_without_population_is_bounded_per_km2(tmp_path: Path, write_config: Any,
                                                             example_dir: Path) -> None:
    bad = _edit_statistics(example_dir, tmp_path / "stats_tourism.csv", "tourism_revenue", lambda v: v * 1e4)
    text = bad.read_text(encoding="utf-8")
    bad.write_text("\n".join(ln for ln in text.splitlines() if ",population," not in ln) + "\n", encoding="utf-8")
    exc = _rejected(tmp_path, write_config, bad)
    assert "tourism_revenue" in exc.en and "per km² of region" in exc.en


@pytest.mark.parametrize("factor", [100.0, 1500.0])  # hm² or 亩 written under km²
def test_lake_area_in_hectares_or_mu_is_refused(factor: float, tmp_path: Path, write_config: Any,
                                               example_dir: Path) -> None:
    bad = _edit_statistics(example_dir, tmp_path / "stats_lake.csv", "lake_area", lambda v: v * factor)
    exc = _rejected(tmp_path, write_config, bad)
    assert "lake_area" in exc.en and "above the plausible 10000" in exc.en and "360428" in exc.en


def test_a_negative_lake_area_is_still_refused(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    """The lake's absolute bound replaces the ``*`` sign rule for lake_area: it keeps its lower 0."""
    bad = _edit_statistics(example_dir, tmp_path / "stats_lake.csv", "lake_area", lambda v: -v)
    assert "below the plausible 0" in _rejected(tmp_path, write_config, bad).en


def test_emissions_in_wan_t_written_under_t_are_a_qc_notice(tmp_path: Path, write_config: Any,
                                                            example_dir: Path) -> None:
    bad = _edit_statistics(example_dir, tmp_path / "stats_emis.csv", "emissions.*", lambda v: v, unit="t")
    notes = [n for n in _notices(tmp_path, write_config, bad) if "emissions." in n.en]
    assert len(notes) == 4 * 100  # four pollutants × 100 counties
    assert all("per person" in n.en and "below the plausible 1e-05" in n.en and "/人" in n.zh for n in notes)


def test_rice_in_wan_t_written_under_t_is_a_qc_notice(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    """Checked per hm² of cropland of the land cover; counties without rice (0) are not judged."""
    from qingshan.aggregate.zonal import zone_weights
    from qingshan.engine.run import check_statistics_landcover, load_inputs

    bad = _edit_statistics(example_dir, tmp_path / "stats_rice.csv", "rice", lambda v: v, unit="t")
    cfg = load_config(write_config(tmp_path, tables={"statistics": str(bad)}))
    p = plan(cfg)
    tables, regions = load_tables(cfg, p), load_regions(cfg)
    grid, arrays, _ = load_inputs(cfg, p, 2019, tables)
    assert tables.params.landcover is not None and tables.statistics is not None
    eco = tables.params.landcover.ecosystem_index(np.where(np.isfinite(arrays["lulc"]), arrays["lulc"], -1).astype(np.int64))
    with collecting() as notes:
        check_statistics_landcover(tables, regions, zone_weights(regions, grid), eco, grid, 2019)
    found = [n for n in notes if n.code == "statistics_bounds"]
    rice = tables.statistics[tables.statistics["item"] == "rice"]
    nonzero = set(rice.loc[rice["value"] > 0, "region_code"].astype(str))
    assert found and {n.region for n in found} <= nonzero
    assert all("per hm² of cropland" in n.en and "below the plausible 0.002" in n.en for n in found)
    assert len(found) >= 0.9 * len(nonzero & set(regions.codes_at(regions.leaf_level)))


def test_example_statistics_give_no_new_notice(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    """The new bounds leave the example as it was: only Poyang Lake's lake-larger-than-region warning."""
    notes = _notices(tmp_path, write_config, example_dir / STATS)
    assert [n.region for n in notes] == ["360428"] and "lake_area" in notes[0].en


# ----------------------------------------------------------------------------- prices and the deflator
def _edit_prices(example_dir: Path, dst: Path, key: str, value: str | None = None, unit: str | None = None) -> Path:
    """Copy of the default price table with the rows of ``key`` changed."""
    def edit(r: dict[str, str]) -> None:
        if r["price_key"] == key:
            r["value"] = value if value is not None else r["value"]
            r["unit"] = unit if unit is not None else r["unit"]

    return _copy_with(example_dir.parent.parent / "tables" / "prices_default.csv", dst, edit)


PRICE_MISTAKES = {
    # with the old code: GEP +726 %, −0.73 %, +3.5 % (water purification × 868), × 1 700 (flood regulation and
    # water conservation × 10 000), each with exit code 0 and no QC notice about it
    "rice_per_kg": ("product_price.rice", None, "元/kg", "above the plausible 50000 元/t"),
    "rice_per_jin_under_t": ("product_price.rice", "1.2", None, "below the plausible 500 元/t"),
    "cod_cost_per_kg": ("pollution_control_cost.cod", None, "元/kg", "above the plausible 200000 元/t"),
    "reservoir_cost_in_yuan_of_wan": ("reservoir_capacity_cost", "61100", None, "above the plausible 200 元/m3"),
}


@pytest.mark.parametrize("case", list(PRICE_MISTAKES))
def test_price_in_the_wrong_unit_is_refused(case: str, tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    key, value, unit, words = PRICE_MISTAKES[case]
    bad = _edit_prices(example_dir, tmp_path / "prices.csv", key, value, unit)
    cfg = write_config(tmp_path, tables={"prices": str(bad)})
    with pytest.raises(InputError) as info:
        account(load_config(cfg))
    exc = info.value
    assert Path(str(exc.file)).name == "prices.csv" and exc.field == "value"
    assert key in exc.en and words in exc.en and "Row " in exc.en
    assert key in exc.zh and "价格表" in exc.zh and "price_bounds_accept" in exc.fix and "price_bounds_accept" in exc.fix_zh
    _assert_no_trace(tmp_path)


def test_accepted_price_is_a_qc_notice(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    bad = _edit_prices(example_dir, tmp_path / "prices.csv", "product_price.rice", "60000")
    cfg = load_config(write_config(tmp_path, tables={"prices": str(bad)},
                                   options={"price_bounds_accept": ["product_price.rice"]}))
    with collecting() as notes:
        load_tables(cfg, plan(cfg))
    found = [n for n in notes if n.code == "price_bounds"]
    assert len(found) == 1 and "product_price.rice" in found[0].en and found[0].file == str(bad)


def test_shipped_prices_lie_within_their_bounds() -> None:
    from qingshan.valuation.price_bounds import PriceBounds, check_price_bounds
    from qingshan.valuation.prices import PriceTable

    tables = Path(__file__).parents[2] / "src" / "qingshan" / "data" / "tables"
    check_price_bounds(PriceTable.from_csv(tables / "prices_default.csv"))
    b = PriceBounds.default()
    assert all(x.source.strip() for x in b.bounds)
    assert b.matching("product_price.rice").key == "product_price.rice"  # type: ignore[union-attr]
    assert b.matching("product_price.tea").key == "product_price.*"  # type: ignore[union-attr]
    assert b.matching("no_such_price") is None


def test_deflator_year_on_another_base_is_refused(tmp_path: Path, write_config: Any, example_dir: Path) -> None:
    """2019 written as 1.4437 (base 1) among years on base 100: every deflated price ÷ 100 with the old code."""
    def edit(r: dict[str, str]) -> None:
        if r["year"] == "2019":
            r["index"] = repr(float(r["index"]) / 100)

    bad = _copy_with(example_dir.parent.parent / "tables" / "deflator_cpi_china.csv", tmp_path / "deflator.csv", edit)
    with pytest.raises(InputError) as info:
        account(load_config(write_config(tmp_path, tables={"deflator": str(bad)})))
    exc = info.value
    assert Path(str(exc.file)).name == "deflator.csv" and exc.field == "index"
    assert "(2018)" in exc.en and "(2019)" in exc.en and "different bases" in exc.en and "不同基期" in exc.zh
    assert "same base" in exc.fix and "同一基期" in exc.fix_zh
    _assert_no_trace(tmp_path)


def test_deflator_on_one_base_of_1_is_accepted(tmp_path: Path) -> None:
    """Only ratios are used: a whole series on base 1 is right (and gives the same prices)."""
    from qingshan.valuation.prices import Deflator

    path = tmp_path / "d.csv"
    path.write_text("year,index,source\n2018,1.0,t\n2019,1.029,t\n2021,1.06,t\n", encoding="utf-8")
    assert Deflator.from_csv(path).ratio(2018, 2019) == pytest.approx(1.029)
    path.write_text("year,index,source\n2018,1.0,t\n2019,0,t\n", encoding="utf-8")
    with pytest.raises(InputError, match="must be positive"):
        Deflator.from_csv(path)


# ----------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(("key", "percent"), [("reservoir_flood_share", 35.0), ("nep_npp_ratio", 50.0),
                                              ("sediment_deposition_ratio", 24.0), ("fpar_max", 95.0)])
def test_share_written_in_percent_is_refused(key: str, percent: float, tmp_path: Path, write_config: Any,
                                            example_dir: Path) -> None:
    """With the old code: flood regulation × 17.7, carbon and oxygen × 100, soil retention × 39.7, exit code 0."""
    def edit(r: dict[str, str]) -> None:
        if r["param_key"] == key:
            r["value"] = f"{percent:g}"

    bad = _copy_with(example_dir.parent.parent / "tables" / "params_science.csv", tmp_path / "params.csv", edit)
    with pytest.raises(InputError) as info:
        account(load_config(write_config(tmp_path, tables={"parameters": [str(bad)]})))
    exc = info.value
    assert Path(str(exc.file)).name == "params.csv" and exc.field == key
    assert key in exc.en and "percent written where a fraction is expected" in exc.en and "百分数" in exc.zh
    assert f"{percent / 100:g}" in exc.fix and f"{percent / 100:g}" in exc.fix_zh
    _assert_no_trace(tmp_path)


def test_share_in_percent_as_a_config_override_names_the_config(tmp_path: Path, write_config: Any) -> None:
    cfg = write_config(tmp_path, parameters={"reservoir_flood_share": 35})
    with pytest.raises(InputError) as info:
        account(load_config(cfg))
    assert Path(str(info.value.file)) == cfg and info.value.field == "parameters.reservoir_flood_share"
    _assert_no_trace(tmp_path)


def test_shipped_parameters_lie_within_their_bounds() -> None:
    from qingshan.core.param_bounds import check_parameter_bounds, parameter_bounds
    from qingshan.core.params import ParameterTable

    tables = Path(__file__).parents[2] / "src" / "qingshan" / "data" / "tables"
    check_parameter_bounds(ParameterTable.from_csv(tables / "params_science.csv"))
    assert all(b.source.strip() for b in parameter_bounds().values())


# ----------------------------------------------------------------------------- number formats
@pytest.mark.parametrize(("cell", "why", "write"), [
    ("0,8071", "decimal comma", "'0.8071'"),  # the old fix said "Write '08071'": 10 000 × the value
    ("12,345.6", "thousands separator", "'12345.6'"),
    ("1,234", "thousands separator or a decimal comma", "'1234' if the comma separates thousands, or '1.234'"),
])
def test_comma_fix_does_not_multiply_the_value(cell: str, why: str, write: str) -> None:
    from qingshan.core.tables import parse_float

    with pytest.raises(InputError) as info:
        parse_float(cell, path="stats.csv", field="value", row=2, what_zh="统计数据表")
    assert why in info.value.en and write in info.value.fix and write.split(" ")[0] in info.value.fix_zh


# ----------------------------------------------------------------------------- rasters
def test_precipitation_with_undeclared_nodata_zero_is_refused(tmp_path: Path, write_config: Any,
                                                              example_dir: Path) -> None:
    """One cell in seven set to 0 (gaps of a station interpolation written as 0, no nodata tag): with the old
    code water conservation and soil retention −14 % (GEP −2.4 %), exit code 0, no notice."""
    import rasterio
    from typer.testing import CliRunner

    from qingshan.cli import app

    src, bad = example_dir / "approx_precip_2019.tif", tmp_path / "precip_gaps.tif"
    with rasterio.open(src) as ds:
        a, profile = ds.read(1), ds.profile.copy()
    a = np.where(np.arange(a.size).reshape(a.shape) % 7 == 0, np.float32(0), a).astype(a.dtype)
    profile.pop("nodata", None)
    with rasterio.open(bad, "w", **profile) as out:
        out.write(a, 1)
    cfg = write_config(tmp_path, inputs={"precip": str(bad)})
    result = CliRunner().invoke(app, ["account", str(cfg)])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "precip_gaps.tif" in text and "exactly 0 mm" in text and "nodata value the file does not declare" in text
    assert "gdal_edit.py -a_nodata 0" in text and "无数据值" in text and "[plausibility]" in text
    _assert_no_trace(tmp_path)
    # the override lets it through (genuinely rainless cells), with a notice for the QC report
    cfg = write_config(tmp_path / "ok", inputs={"precip": str(bad)}, plausibility={"precip": "off"})
    from qingshan.io.plausibility import check_inputs

    with collecting() as notes:
        check_inputs({"precip": bad}, load_config(cfg).plausibility)
    assert any(n.code == "plausibility_override" for n in notes)


def test_ndvi_in_bytes_is_not_explained_as_modis_integers(tmp_path: Path) -> None:
    """NDVI stored as bytes, (NDVI + 1) × 127.5: the old message said "NDVI scaled by 10 000 … A*0.0001",
    a fix that gives NDVI ≈ 0.02 for a forest province."""
    import rasterio
    from affine import Affine

    from qingshan.io.plausibility import check_raster

    path = tmp_path / "ndvi_byte.tif"
    with rasterio.open(path, "w", driver="GTiff", height=20, width=20, count=1, dtype="uint8", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115, 0, -0.05, 29), nodata=0) as ds:
        ds.write(np.linspace(190, 245, 400).astype(np.uint8).reshape(20, 20), 1)
    with pytest.raises(InputError) as info:
        check_raster(path, "ndvi")
    assert "10 000" not in info.value.en and "A*0.0001" not in info.value.fix
    assert "Check the units" in info.value.fix


def test_flood_storage_in_wan_m3_written_under_yi_m3_is_refused(tmp_path: Path, write_config: Any,
                                                                example_dir: Path) -> None:
    """木溪水库 690 万m3 written under 亿m3 (× 10 000): with the old code flood regulation × 10.4 (GEP +9 %), exit 0."""
    rows = (example_dir / STATS).read_text(encoding="utf-8-sig").splitlines()
    bad = tmp_path / "stats_storage.csv"
    bad.write_text("\n".join(ln.replace(",690.0,万m3,", ",690.0,亿m3,") for ln in rows) + "\n", encoding="utf-8")
    assert bad.read_text(encoding="utf-8").count(",690.0,亿m3,") == 1
    exc = _rejected(tmp_path, write_config, bad)
    assert "reservoir_flood_storage" in exc.en and "361127" in exc.en and "above the plausible 1e+07" in exc.en
