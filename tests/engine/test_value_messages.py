"""Messages of ``qingshan value`` name the file and the row: unknown component, price unit that cannot value."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.core.errors import UnitsError
from qingshan.engine.valuation import value_rows
from qingshan.valuation.prices import PriceTable

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "baiyangdian_2011"
Q_HEADER = "region_code,region_name,year,indicator,component,ecosystem,quantity,unit\n"
P_HEADER = "price_key,value,unit,price_year,region,source\n"


def _run(tmp_path: Path, quantities: str, prices: str | None = None):  # type: ignore[no-untyped-def]
    q = tmp_path / "q.csv"
    q.write_text(Q_HEADER + quantities, encoding="utf-8")
    p = GOLDEN / "prices.csv"
    if prices is not None:
        p = tmp_path / "prices.csv"
        p.write_text(P_HEADER + prices, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["value", str(q), "--prices", str(p), "--profile", "rcees", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and not out.exists()
    return " ".join(result.output.split())


def test_unknown_component_names_file_row_and_region(tmp_path: Path) -> None:
    text = _run(tmp_path, "130632,Anxin,2011,water_supply,raw_water,wetland,1,亿m³\n"
                          "130632,Anxin,2011,water_supply,holy_water,wetland,1,亿m³\n")
    assert "q.csv" in text and "Row 3" in text and "130632" in text and "holy_water" in text
    assert "Known components" in text and "第 3 行" in text


def test_price_unit_that_cannot_value_names_price_row_and_quantity_row(tmp_path: Path) -> None:
    text = _run(tmp_path, "130632,Anxin,2011,water_supply,raw_water,wetland,1,亿m³\n",
                "water_price.raw_water,0.5,元/t,2011,*,test\n")
    assert "prices.csv" in text and "row 2 of" in text and "water_price.raw_water" in text
    assert "130632" in text and "water_supply/raw_water" in text and "元/t" in text
    assert "Fix:" in text and "修正方法" in text and "第 2 行" in text


def test_value_rows_unit_error_carries_price_file() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "prices.csv"
        p.write_text(P_HEADER + "water_price.raw_water,0.5,元/kWh,2011,*,t\n", encoding="utf-8")
        table = PriceTable.from_csv(p)
    rows = pd.DataFrame([{"region_code": "130632", "year": 2011, "indicator": "water_supply", "component": "raw_water",
                          "ecosystem": "wetland", "quantity": 5.0, "unit": "m3"}])
    with pytest.raises(UnitsError) as info:
        value_rows(rows, prices=table, regions=None, base_year=2011, deflator=None)
    exc = info.value
    assert exc.file == str(p) and exc.field == "unit" and "row 2" in exc.en and exc.zh and "m3" in exc.fix


def test_a_price_in_the_wrong_unit_is_refused(tmp_path: Path) -> None:
    """``qingshan value`` did not check the price bounds ``account`` checks: raw water at 500 元/m³ (a 元/t figure
    typed ×1 000, or 万元 read as 元) valued the quantities without a word."""
    text = _run(tmp_path, "130632,Anxin,2011,water_supply,raw_water,wetland,1,亿m³\n",
                "water_price.raw_water,500,元/m3,2011,*,test\n")
    assert "prices.csv" in text and "water_price.raw_water" in text and "修正方法" in text
