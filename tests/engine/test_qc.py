"""Quality-control report (质量控制), explicit exclusions and missing data (issue 7 items 6 and 9).

The two-year run: the example's 2019 inputs, and for 2020 the same rasters with precipitation
×1.5 and the same statistics with the tourism revenue ×2 (a +100 % jump of recreation).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import rasterio
from rich.console import Console

from qingshan.core.errors import ConfigError, InputError
from qingshan.core.notices import Notice, notice
from qingshan.engine.config import load_config
from qingshan.engine.export import QC_SHEET, summary_table
from qingshan.engine.run import account
from qingshan.indicators import registry

PROVINCE = "360000"
LUSHAN = "360483"  # the only county with a tourism revenue


def _set_exclude(cfg: Path, entries: list[dict[str, str]] | None) -> Path:
    """Replace the config's top-level ``exclude`` line (written first by the test config writer)."""
    lines = [ln for ln in cfg.read_text(encoding="utf-8").splitlines() if not ln.startswith("exclude = ")]
    if entries:
        items = ", ".join(f'{{id = "{e["id"]}", reason = "{e["reason"]}"}}' for e in entries)
        lines.insert(0, f"exclude = [{items}]")
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def _two_year_inputs(example_dir: Path, folder: Path) -> dict[str, str]:
    """Rasters of 2019 and 2020 (precipitation ×1.5 in 2020) and statistics of both years."""
    folder.mkdir(parents=True, exist_ok=True)
    for var in ("precip", "aet"):
        src = example_dir / f"approx_{var}_2019.tif"
        shutil.copy(src, folder / f"{var}_2019.tif")
        with rasterio.open(src) as ds:
            prof, arr = ds.profile, ds.read(1)
        if var == "precip":
            arr = np.where(arr == prof.get("nodata"), arr, arr * 1.5).astype(arr.dtype)
        with rasterio.open(folder / f"{var}_2020.tif", "w", **prof) as out:
            out.write(arr, 1)
    stats = pd.read_csv(example_dir / "approx_statistics_2019.csv", dtype=str)
    later = stats.copy()
    later["year"] = "2020"
    tour = later["item"] == "tourism_revenue"
    later.loc[tour, "value"] = (later.loc[tour, "value"].astype(float) * 2).astype(str)
    pd.concat([stats, later]).to_csv(folder / "statistics.csv", index=False)
    return {"precip": str(folder / "precip_{year}.tif"), "aet": str(folder / "aet_{year}.tif")}


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory, write_config, example_dir: Path, monkeypatch_module):  # type: ignore[no-untyped-def]
    """A 2019–2020 run with a notice raised inside a quantity function."""
    import qingshan.quantities.cultural as cultural

    real = cultural.recreation_spending

    def noisy(**kw: Any) -> pd.DataFrame:
        notice(Notice("test.notice", f"recreation checked {kw['year']}", f"已检查休闲旅游 {kw['year']}", year=kw["year"]))
        return real(**kw)

    monkeypatch_module.setattr(cultural, "recreation_spending", noisy)
    d = tmp_path_factory.mktemp("qc_two_years")
    inputs = _two_year_inputs(example_dir, d / "in")
    cfg = write_config(d, run={"years": [2019, 2020]}, inputs=inputs, tables={"statistics": str(d / "in" / "statistics.csv")})
    return account(load_config(cfg))


@pytest.fixture(scope="module")
def monkeypatch_module():  # type: ignore[no-untyped-def]
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


# ----------------------------------------------------------------------------- report content
def test_qc_report_lists_computed_excluded_unverified(two_years) -> None:  # type: ignore[no-untyped-def]
    qc = two_years.provenance["qc"]
    assert "forestry_products" not in qc["computed"] and "agricultural_products" in qc["computed"]
    assert {"id": "forestry_products", "reason": "no county forestry output statistics in the example 示例无县级林业产品统计"} in qc["excluded"]
    assert set(qc["computed"]) == set(two_years.provenance["methods"])
    # an [R] parameter the plan's methods read: ndvi_soil (soil retention and carbon, certainty R in params_science.csv)
    ndvi_soil = [u for u in qc["unverified"] if u["key"] == "ndvi_soil"]
    assert ndvi_soil == [{"kind": "parameter", "key": "ndvi_soil", "value": 0.05, "unit": "1",
                          "source": ndvi_soil[0]["source"], "certainty": "R"}]
    # a verified parameter is not listed
    prm = two_years.provenance["parameters"]
    assert all(prm[u["key"]]["certainty"] == "R" for u in qc["unverified"] if u["kind"] == "parameter")
    assert qc["status"] == "warnings"


def test_qc_report_collects_notices(two_years) -> None:  # type: ignore[no-untyped-def]
    codes = [(n["code"], n.get("year")) for n in two_years.provenance["qc"]["notices"]]
    assert ("test.notice", 2019) in codes and ("test.notice", 2020) in codes
    assert ("qc.partial_coverage", 2019) in codes  # recreation: one county of 100
    assert ("qc.example_data", None) in codes
    assert two_years.provenance["example"] is True


def test_qc_report_year_on_year_jump(two_years) -> None:  # type: ignore[no-untyped-def]
    qc = two_years.provenance["qc"]
    rec = [j for j in qc["jumps"] if j["indicator"] == "recreation" and j["region"] == LUSHAN]
    assert len(rec) == 1
    assert rec[0]["from_year"] == 2019 and rec[0]["to_year"] == 2020 and rec[0]["against"] == "this run"
    res = two_years.results
    v = res[(res["indicator"] == "recreation") & (res["region_code"] == LUSHAN)].groupby("year")["value"].sum()
    assert rec[0]["change_pct"] == pytest.approx(round(100 * (v[2020] - v[2019]) / v[2019], 1))
    assert rec[0]["change_pct"] == pytest.approx(100.0, abs=0.2)  # revenue doubled; deflation does not touch reported values
    # water conservation grew with precipitation ×1.5
    assert any(j["indicator"] == "water_conservation" and j["region"] == PROVINCE for j in qc["jumps"])
    # agriculture: same statistics in both years, no jump
    assert not any(j["indicator"] == "agricultural_products" for j in qc["jumps"])
    assert all(abs(j["change_pct"]) > qc["jump_threshold_pct"] for j in qc["jumps"])


def test_qc_class_shares(two_years) -> None:  # type: ignore[no-untyped-def]
    shares = two_years.provenance["qc"]["class_shares"][PROVINCE]
    res = two_years.results
    for year in (2019, 2020):
        sub = res[(res["region_code"] == PROVINCE) & (res["year"] == year)]
        total = sub["value"].sum()
        expected = 100 * sub.loc[sub["category"] == "regulating", "value"].sum() / total
        assert shares[str(year)]["regulating"] == pytest.approx(expected, abs=0.01)
        assert sum(shares[str(year)].values()) == pytest.approx(100.0, abs=0.05)


def test_qc_sheet_and_report_files(two_years) -> None:  # type: ignore[no-untyped-def]
    out = two_years.output_dir
    wb = openpyxl.load_workbook(out / "gep_accounts.xlsx", read_only=True)
    assert QC_SHEET in wb.sheetnames
    rows = list(wb[QC_SHEET].iter_rows(values_only=True))
    assert rows[0] == ("部分 Section", "项目 Item", "说明 Detail")
    sections = {r[0] for r in rows[1:]}
    assert {"状态 Status", "已核算 Computed", "已排除 Excluded", "未核实 Unverified parameter"} <= sections
    assert ("已排除 Excluded", "fishery_products", "no county fishery output statistics in the example 示例无县级渔业产品统计") in rows
    assert any(r[0].startswith("年际变化") and r[1] == f"recreation {LUSHAN}" for r in rows)
    assert (out / "qc_report.json").is_file()
    md = (out / "qc_report.md").read_text(encoding="utf-8")
    assert "质量控制报告" in md and "fishery_products" in md


# ----------------------------------------------------------------------------- CLI summary
def test_cli_summary_ranks_each_year_and_shows_qc(two_years) -> None:  # type: ignore[no-untyped-def]
    from qingshan.cli.report import print_summary

    buf = io.StringIO()
    print_summary(two_years, Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert "Top and bottom county 2019" in text and "Top and bottom county 2020" in text
    res, regions = two_years.results, two_years.regions
    leaves = res[res["region_code"].isin(regions.codes_at("county"))]
    per = leaves.groupby(["year", "region_code"])["value"].sum() / 1e8
    top = per[2019].idxmax()
    assert f"{per[2019][top]:,.2f}" in text and f"{per[2020].max():,.2f}" in text
    assert f"{per[2019][top] + per[2020][top]:,.2f}" not in text  # the years are never added together
    assert "质量控制 QC: warnings" in text and "excluded 已排除: forestry_products" in text
    assert "qc_report.md" in text


# ----------------------------------------------------------------------------- exclusions and missing data
def test_missing_data_of_required_indicator_is_an_error(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = _set_exclude(write_config(tmp_path), None)
    with pytest.raises(InputError) as exc:
        account(load_config(cfg))
    err = exc.value
    for ind in ("forestry_products", "livestock_products", "fishery_products"):
        assert ind in err.en and ind in err.zh
    assert "products table" in err.en and "product_price.<item>" in err.en
    assert 'exclude = [{id = "forestry_products", reason = "…"}' in err.fix
    assert not (tmp_path / "out").exists()
    from qingshan.store import repo
    from qingshan.store.db import open_store

    assert repo.list_runs(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")) == []  # nothing recorded


def test_exclude_must_name_an_indicator_of_the_profile(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = _set_exclude(write_config(tmp_path), [{"id": "coastal_protection", "reason": "inland"}])
    with pytest.raises(ConfigError) as exc:
        account(load_config(cfg))
    assert exc.value.field == "exclude[0].id" and "jiangxi-db36-2021" in exc.value.en


def test_exclude_needs_a_reason(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = _set_exclude(write_config(tmp_path), [{"id": "fishery_products", "reason": ""}])
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert exc.value.field == "exclude.0.reason"


def test_national_profile_names_what_it_drops(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    """The national list on the example: recreation and eco-energy lack data (an error, not a silent drop);
    excluded explicitly, the run succeeds and coastal protection and landscape (optional) are reported
    "not computed: no data"."""
    opts = {"options": {"air_purification_components": ["so2", "nox"]}}
    cfg = write_config(tmp_path, run={"profile": "national-2022-trial"}, **opts)
    base = [{"id": "sand_fixation", "reason": "no wind data"}]
    _set_exclude(cfg, base)
    with pytest.raises(InputError) as exc:
        account(load_config(cfg))
    assert "recreation" in exc.value.en and "ecotourism_visits" in exc.value.en
    assert "eco_energy" in exc.value.en and "hydropower_generation" in exc.value.en
    assert "coastal_protection" not in exc.value.en and "landscape_value" not in exc.value.en  # optional

    dropped = [{"id": i, "reason": f"no {i} data in the example"}
               for i in ("forestry_products", "livestock_products", "fishery_products", "eco_energy", "recreation")]
    _set_exclude(cfg, base + dropped)
    out = account(load_config(cfg))
    qc = out.provenance["qc"]
    assert {e["id"] for e in qc["excluded"]} == {"sand_fixation", *(d["id"] for d in dropped)}
    assert {e["id"]: e["reason"] for e in qc["not_computed"]} == {"coastal_protection": "no data", "landscape_value": "no data"}
    assert not {"coastal_protection", "landscape_value", "recreation"} & set(qc["computed"])
    accounted = set(qc["computed"]) | {e["id"] for e in qc["excluded"]} | {e["id"] for e in qc["not_computed"]}
    assert accounted == set(registry().profile("national-2022-trial").indicator_ids)  # every indicator accounted for


def test_previous_run_of_the_store_is_compared(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """A 2020 run after a 2019 run of the same profile and regions in the same store: jumps against it."""
    inputs = _two_year_inputs(example_dir, tmp_path / "in")
    stats = str(tmp_path / "in" / "statistics.csv")
    first = account(load_config(write_config(tmp_path / "a", run={"store": f"sqlite:///{tmp_path / 's.sqlite'}"},
                                             inputs=inputs, tables={"statistics": stats})))
    second = account(load_config(write_config(tmp_path / "b", run={"years": [2020], "base_year": 2020,
                                                                   "store": f"sqlite:///{tmp_path / 's.sqlite'}"},
                                              inputs=inputs, tables={"statistics": stats})))
    jumps = second.provenance["qc"]["jumps"]
    rec = [j for j in jumps if j["indicator"] == "recreation" and j["region"] == LUSHAN]
    assert rec and rec[0]["against"] == f"run {first.run_id}" and rec[0]["from_year"] == 2019
    assert rec[0]["change_pct"] == pytest.approx(100.0, abs=0.2)
    assert first.provenance["qc"]["jumps"] == []  # nothing before it


def test_blockwise_run_has_the_qc_report(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from qingshan.engine.blockwise import account_blockwise

    out = account_blockwise(load_config(write_config(tmp_path)), block_size=256, rasters=False)
    qc = out.provenance["qc"]
    assert {e["id"] for e in qc["excluded"]} == {"forestry_products", "livestock_products", "fishery_products"}
    assert any(n["code"] == "qc.partial_coverage" for n in qc["notices"])


# ----------------------------------------------------------------------------- the summary sheet
def _named(rows: list[tuple[str, str, str, float, str, float]]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["indicator", "category", "component", "quantity", "unit", "value"])
    return df.assign(region_code="R", year=2019, value_comparable=df["value"], ecosystem="wetland")


def test_summary_quantity_is_the_sum_of_the_components() -> None:
    """Water supply 1.36 + 120.00 + 47.48 亿m³ = 168.84 亿m³ (hand sum), not the first component's 1.36."""
    named = _named([
        ("water_supply", "provisioning", "domestic", 1.36e8, "m3", 3.5e8),
        ("water_supply", "provisioning", "industry", 120.00e8, "m3", 4.0e9),
        ("water_supply", "provisioning", "agriculture", 47.48e8, "m3", 3.3e8),
        ("air_purification", "regulating", "so2", 1000.0, "t", 1.2e6),
        ("air_purification", "regulating", "nox", 250.0, "t", 0.3e6),
        ("landscape_value", "cultural", "beneficiary_area", 5e5, "m2", np.nan),
        ("landscape_value", "cultural", "landscape_premium", 2e7, "CNY", 2e7),
    ])
    tab = summary_table(named, "R", 2019).set_index("指标 Indicator")
    water = tab.loc["水资源供给 Freshwater supply"]
    assert water["实物量 Quantity"] == pytest.approx(168.84e8)
    assert water["单位 Unit"] == "m3"
    air = tab.filter(like="Air", axis=0).iloc[0]
    assert air["实物量 Quantity"] == pytest.approx(1250.0) and air["单位 Unit"] == "t"
    land = tab.filter(like="Landscape", axis=0).iloc[0]
    assert np.isnan(land["实物量 Quantity"]) and land["单位 Unit"] == "(several)"


def test_profile_without_any_data_is_an_error_not_a_traceback(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    """Only statistics indicators, none with data: a bilingual error naming them (was 'No objects to concatenate')."""
    prof = tmp_path / "tiny.toml"
    prof.write_text('id = "tiny"\nstatus = "test"\n[[indicators]]\nid = "eco_energy"\noptional = true\n'
                    '[[indicators]]\nid = "coastal_protection"\noptional = true\n', encoding="utf-8")
    cfg = _set_exclude(write_config(tmp_path, run={"profile": str(prof)}), None)
    with pytest.raises(InputError) as exc:
        account(load_config(cfg))
    assert "eco_energy" in exc.value.en and "hydropower_generation" in exc.value.fix
    assert "coastline_protected" in exc.value.fix and exc.value.zh


def test_bad_jump_threshold_is_a_config_error(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, options={"qc_jump_threshold_pct": "lots"})
    with pytest.raises(ConfigError) as exc:
        account(load_config(cfg))
    assert exc.value.field == "options.qc_jump_threshold_pct" and not (tmp_path / "out").exists()
