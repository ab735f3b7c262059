"""``qingshan change`` and ``qingshan compensate`` on a hand-built store (the cube of test_change)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app


@pytest.fixture
def store(use_store: SimpleNamespace) -> str:
    return str(use_store.url)


RUN = "00000000-0000-4000-8000-00000000c4a7"


def test_change_prints_growth_and_effects_and_writes_both_tables(store: str, tmp_path: Path) -> None:
    out = tmp_path / "change.xlsx"
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["change", RUN, "--from", "2018", "--to", "2019", "--store", store, "-o", str(out)])
    assert r.exit_code == 0, r.output
    assert "+26.67 %" in r.output  # 900 → 1140 at current prices
    assert "+22.22 %" in r.output  # 900 → 1100 at comparable prices
    eff = pd.read_excel(out, sheet_name="因素分解 Decomposition")
    top = eff[(eff["region_code"] == "P") & (eff["indicator"] == "GEP")].iloc[0]
    assert top["quantity_effect"] + top["price_effect"] == pytest.approx(2.4e8)
    assert top["quantity_effect"] == pytest.approx(1.3004691e8, rel=1e-6)


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
    # 10 001 fen × 8.4/11.4 = 7369.05 → 7369; × 3/11.4 = 2631.84 → 2632 (largest remainder)
    assert t["amount_fen"].to_dict() == {"A": 7369, "B": 2632}
    assert "100.01" in r.output
