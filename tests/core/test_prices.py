"""Price lookup: region → ancestor → '*' precedence, year policies, deflation, unit checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from qingshan.core.errors import InputError, MissingPriceError
from qingshan.valuation.prices import Deflator, PriceRow, PriceTable

HEADER = "price_key,value,unit,price_year,region,source\n"


def _table(tmp_path: Path, body: str, **kwargs) -> PriceTable:  # type: ignore[no-untyped-def]
    p = tmp_path / "prices.csv"
    p.write_text(HEADER + body, encoding="utf-8")
    return PriceTable.from_csv(p, **kwargs)


def test_exact_year(tmp_path: Path) -> None:
    t = _table(tmp_path, "water,0.5,元/m3,2018,*,a\nwater,0.6,元/m3,2019,*,b\nwater,0.7,元/m3,2020,*,c\n")
    rp = t.resolve("water", 2019, "360102")
    assert rp.value == 0.6
    assert rp.unit == "元/m3"
    assert rp.factor == 1.0
    assert rp.row.source == "b"
    assert rp.row.region == "*"


def test_region_ancestor_wildcard_precedence(tmp_path: Path) -> None:
    t = _table(
        tmp_path,
        "k,1,元/t,2019,*,any\n"
        "k,2,元/t,2019,360000,province\n"
        "k,3,元/t,2019,360100,city\n"
        "k,4,元/t,2019,360102,county\n",
    )
    chain = ["360100", "360000"]
    assert t.resolve("k", 2019, "360102", chain).value == 4  # own row
    assert t.resolve("k", 2019, "360103", chain).value == 3  # nearest ancestor
    assert t.resolve("k", 2019, "360203", ["360200", "360000"]).value == 2  # farther ancestor
    assert t.resolve("k", 2019, "350102", ["350100", "350000"]).value == 1  # '*'
    assert t.resolve("k", 2019, "360103", chain).row.region == "360100"


def test_deflate_uses_latest_earlier_year(tmp_path: Path) -> None:
    deflator = Deflator(index={2015: 100.0, 2017: 110.0, 2019: 121.0}, source="test CPI")
    t = _table(tmp_path, "k,10,元/t,2015,*,old\nk,12,元/t,2017,*,newer\nk,99,元/t,2021,*,later\n",
               deflator=deflator, policy="deflate")
    rp = t.resolve("k", 2019, "360102")
    # latest earlier price year is 2017: 12 × 121 / 110 = 13.2
    assert rp.value == pytest.approx(13.2, rel=1e-12)
    assert rp.factor == pytest.approx(1.1, rel=1e-12)
    assert rp.row.price_year == 2017
    assert "2017" in rp.note


def test_exact_policy_missing_year(tmp_path: Path) -> None:
    deflator = Deflator(index={2015: 100.0, 2019: 120.0}, source="test CPI")
    t = _table(tmp_path, "carbon_price,1320,元/tC,2015,*,s\n", deflator=deflator, policy="exact")
    with pytest.raises(MissingPriceError) as info:
        t.resolve("carbon_price", 2019, "360102")
    exc = info.value
    assert exc.field == "carbon_price"
    assert "carbon_price" in str(exc)
    assert "2019" in exc.en
    assert exc.zh
    assert Path(exc.file).name == "prices.csv"


def test_unknown_key(tmp_path: Path) -> None:
    t = _table(tmp_path, "k,1,元/t,2019,*,s\n")
    with pytest.raises(MissingPriceError) as info:
        t.resolve("nope", 2019, "360102")
    assert info.value.field == "nope"


def test_deflate_without_deflator_is_an_error() -> None:
    t = PriceTable(rows=(PriceRow("k", 1.0, "元/t", 2015, "*", "s"),), deflator=None, policy="deflate")
    with pytest.raises(MissingPriceError):
        t.resolve("k", 2019, "360102")


def test_non_currency_price_unit(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _table(tmp_path, "k,1,t/m3,2019,*,s\n")
    exc = info.value
    assert exc.field == "unit"
    assert "t/m3" in exc.en
    assert exc.zh
    assert Path(exc.file).name == "prices.csv"
