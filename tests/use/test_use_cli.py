"""``qingshan change`` and ``qingshan compensate`` on a hand-built store (the cube of test_change)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store import repo
from qingshan.store.db import open_store, sqlite_url

RUN = "00000000-0000-4000-8000-00000000c4a7"


def _rows() -> pd.DataFrame:
    leaf = [("A", 2018, 100, 600, 600), ("A", 2019, 120, 840, 800), ("B", 2018, 50, 300, 300), ("B", 2019, 50, 300, 300)]
    rows = []
    for region, year, q, v, vc in leaf:
        rows.append({"region_code": region, "year": year, "indicator": "water_conservation", "category": "regulating",
                     "component": "water_conservation", "ecosystem": "forest", "quantity": q, "unit": "m3",
                     "price": v / q, "price_unit": "CNY m-3", "value": v, "value_comparable": vc})
    df = pd.DataFrame(rows)
    top = df.groupby(["year", "indicator", "category", "component", "ecosystem", "unit", "price_unit"],
                     as_index=False)[["quantity", "value", "value_comparable"]].sum().assign(region_code="P", price=None)
    return pd.concat([df, top], ignore_index=True)[repo.RESULT_COLUMNS]


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = sqlite_url(tmp_path / "use.sqlite")
    f = open_store(url)
    repo.start_run(f, run_id=RUN, name="two years", profile="rcees", years=[2018, 2019], base_year=2018,
                   config={}, code_version="test")
    regions = [{"code": "P", "name": "省", "level": "province", "parent": None, "area_km2": 30.0, "geometry": None},
               {"code": "A", "name": "甲县", "level": "county", "parent": "P", "area_km2": 10.0, "geometry": None},
               {"code": "B", "name": "乙县", "level": "county", "parent": "P", "area_km2": 20.0, "geometry": None}]
    repo.finish_run_succeeded(f, RUN, results=_rows(), regions=regions, provenance={}, output_dir=None,
                              content_hash="1" * 64)
    return url


def test_change_prints_growth_and_effects_and_writes_both_tables(store: str, tmp_path: Path) -> None:
    out = tmp_path / "change.xlsx"
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["change", RUN, "--from", "2018", "--to", "2019", "--store", store, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "+26.67 %" in r.output  # 900 → 1140 at current prices
    assert "+22.22 %" in r.output  # 900 → 1100 at comparable prices
    eff = pd.read_excel(out, sheet_name="因素分解 Decomposition")
    top = eff[(eff["region_code"] == "P") & (eff["indicator"] == "GEP")].iloc[0]
    assert top["quantity_effect"] + top["price_effect"] == pytest.approx(240.0)
    assert top["quantity_effect"] == pytest.approx(130.04691, abs=1e-4)


def test_change_of_an_unknown_year_is_a_bilingual_error(store: str) -> None:
    r = CliRunner().invoke(app, ["change", RUN, "--from", "2015", "--store", store])
    assert r.exit_code == 2
    assert "no year 2015" in r.output
    assert "没有 2015 年" in r.output


def test_compensate_splits_the_fund_to_the_fen(store: str, tmp_path: Path) -> None:
    rule = tmp_path / "rule.toml"
    rule.write_text('rule = "gep_stock"\nlevel = "county"\nsource = "test"\n', encoding="utf-8")
    out = tmp_path / "alloc.csv"
    r = CliRunner().invoke(app, ["compensate", RUN, "--fund", "100.01", "--rule", str(rule), "--year", "2019",
                                 "--store", store, "-o", str(out)])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out, dtype={"region_code": str}).set_index("region_code")
    # 10 001 fen × 840/1140 = 7369.05 → 7369; × 300/1140 = 2631.84 → 2632 (largest remainder)
    assert t["amount_fen"].to_dict() == {"A": 7369, "B": 2632}
    assert "100.01" in r.output
