"""CSV tables: GBK/GB18030 (Excel on Chinese Windows) is detected and read with a notice; strict numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from qingshan.core.errors import InputError
from qingshan.core.notices import collecting
from qingshan.core.params import ParameterTable
from qingshan.core.tables import parse_float, read_csv_table
from qingshan.valuation.prices import Deflator, PriceTable

PRICES = "price_key,value,unit,price_year,region,source\nwater,0.6,元/m3,2019,*,江西省发改委 水价\n"


def test_gbk_price_table_is_read_with_a_notice(tmp_path: Path) -> None:
    p = tmp_path / "prices.csv"
    p.write_bytes(PRICES.encode("gbk"))
    with pytest.raises(UnicodeDecodeError):
        p.read_bytes().decode("utf-8")  # the finding: this used to be reported as a decoding error
    with collecting() as notes:
        t = PriceTable.from_csv(p)
    assert t.rows[0].unit == "元/m3"
    assert t.rows[0].source == "江西省发改委 水价"
    assert [n.code for n in notes] == ["table_encoding"]
    assert "GB18030/GBK" in notes[0].en and notes[0].zh and notes[0].file == str(p)


def test_gbk_parameter_and_deflator_tables(tmp_path: Path) -> None:
    params = tmp_path / "params.csv"
    params.write_bytes("param_key,value,unit,source\nk,0.5,1,来源：文献\n".encode("gb18030"))
    assert ParameterTable.from_csv(params).describe("k").source == "来源：文献"
    defl = tmp_path / "cpi.csv"
    defl.write_bytes("year,index,source\n2019,100,国家统计局\n".encode("gbk"))
    assert Deflator.from_csv(defl).source == "国家统计局"


def test_utf8_with_bom_gives_no_notice(tmp_path: Path) -> None:
    p = tmp_path / "prices.csv"
    p.write_bytes(PRICES.encode("utf-8-sig"))
    with collecting() as notes:
        PriceTable.from_csv(p)
    assert notes == []


def test_undecodable_file_names_the_encodings_tried(tmp_path: Path) -> None:
    p = tmp_path / "prices.csv"
    p.write_bytes(b"price_key,value\n" + bytes(range(128, 256)) * 8)
    with pytest.raises(InputError) as info:
        read_csv_table(p, ["price_key"], what="price table", what_zh="价格表")
    exc = info.value
    assert "UTF-8" in exc.en and "GB18030" in exc.en
    assert "CSV UTF-8" in exc.fix and "UTF-8" in exc.fix_zh
    assert Path(str(exc.file)).name == "prices.csv"


@pytest.mark.parametrize(
    ("cell", "words"),
    [("inf", "inf/NaN"), ("NaN", "inf/NaN"), ("-Infinity", "inf/NaN"), ("", "empty"),
     ("1,234", "thousands separator"), ("abc", "not a number")],
)
def test_parse_float_rejects(cell: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        parse_float(cell, path="t.csv", field="value", row=7, what_zh="统计数据表")
    exc = info.value
    assert words in exc.en and "Row 7" in exc.en and exc.field == "value" and exc.file == "t.csv"
    assert "第 7 行" in exc.zh and exc.fix and exc.fix_zh


def test_parse_float_thousands_fix_says_what_to_write() -> None:
    with pytest.raises(InputError) as info:
        parse_float("1,234", path="t.csv", field="value", row=2, what_zh="表")
    assert "'1234'" in info.value.fix


def test_parse_float_accepts_plain_numbers() -> None:
    assert parse_float(" 1234.5 ", path="t", field="v", row=2, what_zh="表") == 1234.5
    assert parse_float("1e3", path="t", field="v", row=2, what_zh="表") == 1000.0


def test_every_shipped_table_reads_as_pandas_read_it() -> None:
    """One parser (the csv module) for every table: the shipped tables give the cells pandas gave."""
    import pandas as pd

    from qingshan.core.tables import decode_table_text

    folder = Path(__file__).resolve().parents[2] / "src" / "qingshan" / "data" / "tables"
    tables = sorted(folder.glob("*.csv"))
    assert len(tables) > 3
    for path in tables:
        ours = read_csv_table(path, [], what="table", what_zh="表")
        text = decode_table_text(path, what="table", what_zh="表")
        import io

        theirs = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, comment=None)
        theirs.columns = [c.strip() for c in theirs.columns]
        pd.testing.assert_frame_equal(ours, theirs, check_dtype=False, obj=path.name)


def test_csv_rows_edge_cases(tmp_path: Path) -> None:
    from qingshan.core.tables import read_csv_rows

    p = tmp_path / "t.csv"
    p.write_text(" a ,b,a\r\n1,2,3\r\n\r\n4\r\n\"5,5\",6,7\r\n", encoding="utf-8")
    rows = read_csv_rows(p, ["a", "b"], what="table", what_zh="表")
    assert rows.columns == ("a", "b", "a.1")  # names stripped, a repeated name numbered as pandas does
    assert rows.rows == (("1", "2", "3"), ("4", "", ""), ("5,5", "6", "7"))  # blank line skipped, short row padded
    p.write_text("a,b\n1,2,3\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_csv_rows(p, ["a"], what="table", what_zh="表")
    assert "Expected 2 fields in line 2, saw 3" in str(err.value) and str(err.value.file) == str(p)
    p.write_text("\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="Cannot read table"):
        read_csv_rows(p, ["a"], what="table", what_zh="表")
    p.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_csv_rows(p, ["a", "c"], what="table", what_zh="表")
    assert err.value.field == "c"
