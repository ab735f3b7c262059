"""Prices of a later year are deflated back to the accounting year under ``year_policy = "deflate"``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.core.errors import MissingPriceError
from qingshan.engine.valuation import value_rows
from qingshan.valuation.prices import Deflator, PriceRow, PriceTable

HEADER = "price_key,value,unit,price_year,region,source\n"


def test_later_price_is_deflated_back_by_hand() -> None:
    deflator = Deflator(index={2018: 110.0, 2019: 121.0}, source="test CPI")
    t = PriceTable(rows=(PriceRow("k", 12.0, "元/t", 2019, "*", "s"),), deflator=deflator, policy="deflate")
    rp = t.resolve("k", 2018, "360102")
    # 12 元/t at 2019 prices × 110 / 121 = 10.909090… 元/t at 2018 prices
    assert rp.value == pytest.approx(12.0 * 110.0 / 121.0, rel=1e-12)
    assert rp.value == pytest.approx(10.90909090909, rel=1e-10)
    assert rp.factor == pytest.approx(10.0 / 11.0, rel=1e-12)
    assert rp.row.price_year == 2019
    assert "2019" in rp.note and "2018" in rp.note


def test_earlier_price_still_preferred_over_later() -> None:
    deflator = Deflator(index={2017: 100.0, 2018: 110.0, 2019: 121.0}, source="test CPI")
    rows = (PriceRow("k", 10.0, "元/t", 2017, "*", "a"), PriceRow("k", 50.0, "元/t", 2019, "*", "b"))
    rp = PriceTable(rows=rows, deflator=deflator).resolve("k", 2018, "1")
    assert rp.row.price_year == 2017
    assert rp.value == pytest.approx(11.0)


def test_value_rows_record_price_year_target_year_and_factor() -> None:
    deflator = Deflator(index={2018: 110.0, 2019: 121.0}, source="test CPI")
    t = PriceTable(rows=(PriceRow("water_price.raw_water", 0.55, "元/m3", 2019, "*", "s"),), deflator=deflator)
    rows = pd.DataFrame([{"region_code": "130632", "year": 2018, "indicator": "water_supply", "component": "raw_water",
                          "ecosystem": "wetland", "quantity": 1000.0, "unit": "m3"}])
    valued, used = value_rows(rows, prices=t, regions=None, base_year=2018, deflator=deflator)
    # 1000 m3 × 0.55 元/m3 × 110/121 = 500 元
    assert valued["value"].iloc[0] == pytest.approx(500.0, rel=1e-12)
    assert len(used) == 1
    rec = used[0]
    assert rec["price_year"] == 2019
    assert rec["target_year"] == 2018
    assert rec["factor"] == pytest.approx(110.0 / 121.0, rel=1e-12)


def test_missing_deflator_row_names_the_years() -> None:
    deflator = Deflator(index={2019: 121.0}, source="test CPI", path="cpi.csv")
    t = PriceTable(rows=(PriceRow("k", 12.0, "元/t", 2019, "*", "s"),), deflator=deflator, path="prices.csv")
    with pytest.raises(MissingPriceError) as info:
        t.resolve("k", 2018, "1")
    exc = info.value
    assert "2018" in exc.en and "2019" in exc.en and "'k'" in exc.en
    assert "2018" in exc.fix and "cpi.csv" in exc.fix
    assert exc.file == "cpi.csv"
    assert "2018" in exc.zh


def test_no_deflator_message_does_not_ask_for_what_is_set() -> None:
    t = PriceTable(rows=(PriceRow("k", 12.0, "元/t", 2019, "*", "s"),), deflator=None, policy="deflate")
    with pytest.raises(MissingPriceError) as info:
        t.resolve("k", 2018, "1")
    assert "year_policy" not in info.value.fix
    assert "deflator" in info.value.fix


def test_cli_value_2018_with_2019_prices(tmp_path: Path) -> None:
    """The finding: a 2018 accounting with 2019 prices failed although the policy is 'deflate'."""
    from qingshan.cli import app

    q = tmp_path / "q.csv"
    q.write_text("region_code,region_name,year,indicator,component,ecosystem,quantity,unit\n"
                 "130632,Anxin,2018,water_supply,raw_water,wetland,1,亿m³\n", encoding="utf-8")
    prices = tmp_path / "prices.csv"
    prices.write_text(HEADER + "water_price.raw_water,0.605,元/m3,2019,*,test\n", encoding="utf-8")
    defl = tmp_path / "cpi.csv"
    defl.write_text("year,index,source\n2018,110,t\n2019,121,t\n", encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["value", str(q), "--prices", str(prices), "--profile", "rcees",
                                      "--deflator", str(defl), "-o", str(out)])
    assert result.exit_code == 0, result.output
    res = pd.read_csv(out / "results.csv", encoding="utf-8-sig")
    # 1e8 m3 × 0.605 × 110/121 = 0.55e8 元
    assert res["value"].sum() == pytest.approx(0.55e8, rel=1e-9)
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["prices"][0]["price_year"] == 2019 and prov["prices"][0]["target_year"] == 2018
