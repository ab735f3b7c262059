"""The accounts workbook written cell by cell with XlsxWriter reads as the pandas + openpyxl one did.

The workbook used to be written with pandas ``to_excel`` and styled cell by cell with openpyxl (about 4 s for a
99-county run, on the critical path of every accounting). These checks pin what a reader saw then: sheet names
and order, cell positions and values (floats not rounded, missing values empty, ±inf as text), fonts, fills,
borders, number formats on numbers only, frozen panes and widths fitted from the shown text.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from qingshan.engine.export import PROVENANCE_SHEET, QC_SHEET, _write_xlsx
from qingshan.engine.workbook import HEAD_ROWS, SHARE_FORMAT, VALUE_FORMAT, display_width
from qingshan.indicators import registry

HEADER = HEAD_ROWS + 1  # 1-based row of every table's header
REGIONS = [("360000", "江西省", "province"), ("360102", "东湖区", "county"), ("360103", "西湖区", "county")]
LINES = [("water_supply", "domestic", "provisioning", "wetland", "m3"),
         ("water_conservation", "total", "regulating", "forest.bamboo", "m3"),
         ("recreation", "visits", "cultural", "forest", "visits")]
PRICES = [2400.0, np.nan, np.inf]  # a missing price (empty cell) and an infinite one (text "inf", as pandas wrote)


def _results() -> pd.DataFrame:
    reg = registry()
    rows = []
    for i, (code, name, level) in enumerate(REGIONS):
        for j, (ind, comp, cat, eco, unit) in enumerate(LINES):
            value = 123_456_789.125 * (i + 1) + 1_000.5 * j  # exact in binary; more digits than the 2 shown
            rows.append({"region_code": code, "region_name": name, "level": level, "year": 2019,
                         "indicator_zh": reg.get(ind).name_zh, "indicator": ind, "component": comp, "ecosystem": eco,
                         "quantity": 3.0e6 + j, "unit": unit, "category": cat, "price": PRICES[j],
                         "price_unit": "" if j == 2 else "元/m3", "value": value, "value_comparable": value * 0.5})
    return pd.DataFrame(rows)


PROVENANCE = {"run_id": "run-1", "content_hash": "abc", "seconds": 1.25, "example": True,
              "parameters": {"p.a": {"value": 0.3, "unit": "t/ha", "source": "https://example.org/a", "certainty": "high"},
                             "p.b": [2.5, "元/t"]},
              "prices": [{"price_key": "water", "value": 3, "unit": "元/m3"}],
              "methods": {"water_supply": "market value"},
              "qc": {"status": "ok", "computed": ["water_supply", "recreation"]}}


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    path = tmp_path_factory.mktemp("wb") / "gep_accounts.xlsx"
    _write_xlsx(_results(), path, base_year=2019, provenance=PROVENANCE)
    return openpyxl.load_workbook(path)


def _ws(book: openpyxl.Workbook, name: str) -> Worksheet:
    ws = book[name]
    assert isinstance(ws, Worksheet)
    return ws


def _widths(ws: Worksheet) -> dict[int, float]:
    """Fitted width of each 1-based column (a ``<col>`` element may span equal neighbours)."""
    return {c: d.width for d in ws.column_dimensions.values() if d.customWidth for c in range(d.min, d.max + 1)}


def _read_back(value: object) -> object:
    """What a reader finds for ``value``: missing values and empty text as empty cells, ±inf as text (pandas'
    ``inf_rep``), numbers equal (an integral float may read back as an int)."""
    if value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _fitted(shown: list[str]) -> float:
    return min(60, max(8, max(display_width(s) for s in shown) + 2))


TABLES = {"GEP总表 360000 2019": "C4", "价值量 Value 2019 亿元": "D4", "可比价 2019价 2019": "D4",
          "实物量 Physical 2019": "D4", "生态系统 Ecosystem 2019": "C4", "生态系统细分 Subtype 2019": "C4",
          "明细 Detail": "F4"}


def test_sheet_names_and_order(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == [*TABLES, QC_SHEET, PROVENANCE_SHEET]


@pytest.mark.parametrize("name", list(TABLES))
def test_table_sheets_title_note_header_and_panes(book: openpyxl.Workbook, name: str) -> None:
    ws = _ws(book, name)
    title, note = ws["A1"], ws["A2"]
    assert isinstance(title.value, str) and title.font.b and title.font.sz == 14
    assert isinstance(note.value, str) and note.font.i and note.font.sz == 9 and note.font.color.rgb.endswith("555555")
    header = list(ws[HEADER])
    assert header and all(c.value for c in header)
    for cell in header:
        assert cell.font.b and cell.font.sz == 11
        assert cell.fill.patternType == "solid" and cell.fill.fgColor.rgb.endswith("E2EFDA")
        assert cell.border.bottom.style == "thin" and cell.alignment.wrap_text and cell.alignment.vertical == "center"
    assert ws.freeze_panes == TABLES[name]
    for row in ws.iter_rows(min_row=HEADER + 1):  # formats on numbers only; data cells plain
        for cell in row:
            assert not cell.font.b and cell.fill.patternType is None
            if not isinstance(cell.value, int | float):
                assert cell.number_format == "General", (name, cell.coordinate)


def test_detail_mirrors_the_results_exactly(book: openpyxl.Workbook) -> None:
    res = _results()
    ws = _ws(book, "明细 Detail")
    assert [c.value for c in ws[HEADER]] == list(res.columns)
    rows = list(ws.iter_rows(min_row=HEADER + 1, values_only=True))
    assert len(rows) == len(res)
    for got, want in zip(rows, res.itertuples(index=False), strict=True):
        assert list(got) == [_read_back(w) for w in want]
    fmt = {c.value: ws.cell(row=HEADER + 1, column=c.column).number_format for c in ws[HEADER]}
    assert fmt["year"] == "0" and fmt["value"] == fmt["quantity"] == fmt["value_comparable"] == VALUE_FORMAT
    assert fmt["region_code"] == fmt["indicator"] == "General"
    price = next(c.column for c in ws[HEADER] if c.value == "price")
    assert [ws.cell(row=HEADER + 1 + j, column=price).number_format for j in range(3)] == [VALUE_FORMAT, "General",
                                                                                           "General"]


def test_detail_widths_fitted_from_the_shown_text(book: openpyxl.Workbook) -> None:
    res = _results()
    ws = _ws(book, "明细 Detail")
    widths = _widths(ws)
    for j, col in enumerate(res.columns, 1):
        values = res[col].tolist()
        if col in ("quantity", "value", "value_comparable", "price"):
            shown = [f"{v:,.2f}" if math.isfinite(v) else ("" if math.isnan(v) else "inf") for v in values]
        else:
            shown = [str(v) for v in values]
        assert widths[j] == _fitted([col, *shown]), col


def test_summary_numbers_formats_and_exact_gep(book: openpyxl.Workbook) -> None:
    ws = _ws(book, "GEP总表 360000 2019")
    header = [c.value for c in ws[HEADER]]
    value, share = header.index("价值量 Value") + 1, header.index("占总比 Share of GEP") + 1
    last = ws.max_row
    assert ws.cell(row=last, column=1).value == "生态产品总值 GEP"
    res = _results()
    gep = res.loc[res["region_code"] == "360000", "value"].sum() / 1e8
    assert ws.cell(row=last, column=value).value == float(f"{gep:.16g}")  # stored, not rounded to the 2 shown
    assert ws.cell(row=last, column=value).number_format == VALUE_FORMAT
    assert ws.cell(row=last, column=share).number_format == SHARE_FORMAT
    widths = _widths(ws)
    col = [ws.cell(row=r, column=value).value for r in range(HEADER + 1, last + 1)]
    assert widths[value] == _fitted(["价值量 Value", *(f"{v:,.2f}" for v in col if v is not None)])
    assert widths[2] >= display_width("指标 Indicator")


def test_qc_sheet_header_on_row_one(book: openpyxl.Workbook) -> None:
    ws = _ws(book, QC_SHEET)
    assert [c.value for c in ws[1]] == ["部分 Section", "项目 Item", "说明 Detail"]
    assert all(c.font.b and c.fill.fgColor.rgb.endswith("E2EFDA") and c.alignment.wrap_text for c in ws[1])
    assert ws["A2"].value == "状态 Status" and ws["B2"].value == "ok" and ws["C2"].value is None
    assert ws.freeze_panes == "A2"


def test_provenance_rows_blocks_and_styles(book: openpyxl.Workbook) -> None:
    ws = _ws(book, PROVENANCE_SHEET)
    assert ws["A1"].font.b and ws["A1"].font.sz == 14
    assert ws["A2"].font.i and ws["A2"].font.sz == 9
    assert ws["A4"].value == "运行 Run" and ws["A4"].font.b and ws["A4"].font.sz == 12
    assert [ws["A5"].value, ws["B5"].value] == ["项目 Key", "值 Value"]
    assert ws["A5"].font.b and ws["A5"].fill.fgColor.rgb.endswith("E2EFDA") and ws["A5"].border.bottom.style == "thin"
    assert not ws["A5"].alignment.wrap_text  # the blocks' headers are not wrapped
    rows = list(ws.iter_rows(min_row=6, values_only=True))
    kv = {r[0]: r[1] for r in rows if r[0]}
    assert kv["运行编号 Run id"] == "run-1" and kv["用时 Seconds"] == 1.25 and kv["示例数据 Example data"] is True
    start = next(i for i, r in enumerate(rows) if r[0] == "参数 Parameter")
    assert rows[start + 1][:5] == ("p.a", 0.3, "t/ha", "https://example.org/a", "high")  # a URL stays text
    assert rows[start + 2][:3] == ("p.b", 2.5, "元/t")
    assert ws.cell(row=6 + start + 1, column=2).number_format == "General"  # parameters as typed in
    assert ws.freeze_panes == "B1"
    shown = [str(v) for r in ws.iter_rows(min_row=4, max_col=1, values_only=True) for v in r if v is not None]
    assert _widths(ws)[1] == _fitted(shown)


def test_no_file_when_writing_fails(tmp_path: Path) -> None:
    """The workbook is written once complete: an error leaves no half-written file behind."""
    res = _results().assign(region_code=lambda d: d["region_code"].str.replace("360000", "36/0000"))
    path = tmp_path / "gep_accounts.xlsx"
    with pytest.raises(Exception, match="Invalid Excel character"):  # '/' is not allowed in a sheet name
        _write_xlsx(res, path, base_year=2019, provenance=PROVENANCE)
    assert not path.exists()


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    """Found while moving to XlsxWriter: openpyxl stored a region name beginning with ``=`` as a formula, which
    Excel evaluates on opening (formula injection from an uploaded region file). It is text now."""
    results = _results()
    results.loc[results["region_code"] == "360103", "region_name"] = '=HYPERLINK("http://x.invalid","西湖区")'
    path = tmp_path / "gep_accounts.xlsx"
    _write_xlsx(results, path, base_year=2019, provenance=PROVENANCE)
    cells = [c for ws in openpyxl.load_workbook(path).worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)
