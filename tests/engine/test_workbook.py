"""The accounts workbook as an accountant hands it in (issue 9, item 2).

Finding: every cell ``General``, values like 108059583799.9971, no title, unit base or price-base note,
provenance as JSON in cells. The example's workbook now has titles, a unit and price-base line, number
formats, frozen headers, fitted widths and a provenance sheet with one row per parameter and price.
"""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from qingshan.core.errors import ConfigError
from qingshan.engine.export import PROVENANCE_SHEET, export_tables
from qingshan.engine.workbook import HEAD_ROWS, display_width, workbook_unit

PROVINCE = "360000"


@pytest.fixture(scope="module")
def book(example_run) -> openpyxl.Workbook:  # type: ignore[no-untyped-def]
    return openpyxl.load_workbook(example_run.output_dir / "gep_accounts.xlsx")


def _sheet(book: openpyxl.Workbook, prefix: str) -> Worksheet:
    ws = book[next(s for s in book.sheetnames if s.startswith(prefix))]
    assert isinstance(ws, Worksheet)
    return ws


def _header(ws: Worksheet) -> list[object]:
    return [c.value for c in ws[HEAD_ROWS + 1]]


def test_summary_has_title_unit_and_price_base(book, example_run) -> None:  # type: ignore[no-untyped-def]
    ws = _sheet(book, f"GEP总表 {PROVINCE} 2019")
    assert ws["A1"].value == "江西省 2019 年生态产品总值核算表 (GEP summary)"
    note = str(ws["A2"].value)
    assert "江西省" in note and "2019" in note and "亿元" in note and "当年价" in note
    assert f"{example_run.provenance.get('base_year', 2019)} prices" in note
    header = _header(ws)
    assert "单位 Unit" in header and not any("亿元" in str(h) for h in header)  # the unit is in the note line


def test_value_cells_have_formats_not_general(book, example_run) -> None:  # type: ignore[no-untyped-def]
    ws = _sheet(book, f"GEP总表 {PROVINCE} 2019")
    header = _header(ws)
    col = header.index("价值量 Value") + 1
    cells = [r[0] for r in ws.iter_rows(min_row=HEAD_ROWS + 2, min_col=col, max_col=col) if r[0].value is not None]
    assert cells and all(c.number_format == "#,##0.00" for c in cells)
    share = header.index("占总比 Share of GEP") + 1
    assert ws.cell(row=HEAD_ROWS + 2, column=share).number_format == '0.00"%"'
    # formats only: the stored GEP is the exact sum of the results, in 亿元
    res = example_run.results
    gep = res.loc[(res["region_code"] == PROVINCE) & (res["year"] == 2019), "value"].sum()
    last = list(ws.iter_rows(min_row=HEAD_ROWS + 2, values_only=True))[-1]
    assert last[0] == "生态产品总值 GEP" and last[col - 1] == pytest.approx(gep / 1e8, rel=1e-12)
    value = _sheet(book, "价值量 Value 2019")
    gep_col = _header(value).index("GEP") + 1
    assert value.cell(row=HEAD_ROWS + 2, column=gep_col).number_format == "#,##0.00"
    detail = book["明细 Detail"]  # the finding: 108059583799.9971 in a General cell
    cny = _header(detail).index("value") + 1
    assert detail.cell(row=HEAD_ROWS + 2, column=cny).number_format == "#,##0.00"
    assert "元 CNY" in str(detail["A2"].value)


def test_every_table_sheet_is_frozen_and_fitted(book) -> None:  # type: ignore[no-untyped-def]
    for ws in book.worksheets:
        assert ws.freeze_panes, ws.title
        widths = [d.width for d in ws.column_dimensions.values() if d.width]
        assert widths and max(widths) > 8, ws.title
    ws = _sheet(book, f"GEP总表 {PROVINCE} 2019")
    assert ws.freeze_panes == f"C{HEAD_ROWS + 2}"  # header rows and the category/indicator columns stay in view
    indicator = max(display_width(str(c.value)) for c in ws["B"] if c.row > HEAD_ROWS and c.value)
    assert ws.column_dimensions["B"].width >= indicator  # CJK characters counted double


def test_physical_sheet_has_units_in_their_own_column(book) -> None:  # type: ignore[no-untyped-def]
    ws = _sheet(book, "实物量 Physical 2019")
    header = _header(ws)
    assert header[:3] == ["指标 Indicator", "组分 Component", "单位 Unit"]
    assert not any("[" in str(h) for h in header)
    assert "江西省 360000" in header


def test_provenance_sheet_has_a_row_per_parameter_and_price(book, example_run) -> None:  # type: ignore[no-untyped-def]
    ws = book[PROVENANCE_SHEET]
    rows = list(ws.iter_rows(values_only=True))
    cells = {r[0]: r[1] for r in rows if r and r[0]}
    assert cells["运行编号 Run id"] == example_run.run_id
    assert cells["内容哈希 Content hash"] == example_run.provenance["content_hash"]
    params = example_run.provenance["parameters"]
    start = next(i for i, r in enumerate(rows) if r[0] == "参数 Parameter")
    assert rows[start][:5] == ("参数 Parameter", "值 Value", "单位 Unit", "来源 Source", "可信度 Certainty")
    table = {r[0]: r[1:5] for r in rows[start + 1:start + 1 + len(params)]}
    assert set(table) == set(params)
    for key, p in params.items():
        assert table[key] == (p["value"], p["unit"], p["source"], p["certainty"])
    prices = next(i for i, r in enumerate(rows) if r[0] == "price_key")
    assert rows[prices + 1][0] == example_run.provenance["prices"][0]["price_key"]
    assert not any(isinstance(v, str) and v.startswith(("{", "[{")) for r in rows for v in r)  # no JSON in cells


def test_workbook_unit_wan_yuan_scales_values_only(tmp_path: Path) -> None:
    """1.5e8 元 = 15 000 万元 (= 1.5 亿元): the value tables follow the option, quantities do not."""
    results = pd.DataFrame({"region_code": ["R"], "region_name": ["某县"], "year": [2019], "indicator": ["water_supply"],
                            "category": ["provisioning"], "component": ["domestic"], "ecosystem": ["wetland"],
                            "quantity": [3.0e6], "unit": ["m3"], "value": [1.5e8], "value_comparable": [1.5e8]})
    export_tables(results, None, tmp_path, base_year=2019, provenance={"run_id": "x"}, unit="万元")
    ws = openpyxl.load_workbook(tmp_path / "gep_accounts.xlsx")["GEP总表 R 2019"]
    assert "万元" in str(ws["A2"].value)
    header = _header(ws)  # type: ignore[arg-type]
    row = [c.value for c in ws[HEAD_ROWS + 2]]
    assert row[header.index("价值量 Value")] == pytest.approx(15_000.0)
    assert row[header.index("实物量 Quantity")] == pytest.approx(3.0e6)
    assert workbook_unit({}) == "亿元"
    with pytest.raises(ConfigError, match="workbook unit"):
        workbook_unit({"workbook_unit": "元"})


def test_workbook_unit_option_is_checked_when_the_config_is_read(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from qingshan.engine.config import load_config

    with pytest.raises(ConfigError, match="workbook_unit"):
        load_config(write_config(tmp_path, options={"workbook_unit": "元"}))


def test_run_with_workbook_unit_wan_yuan(tmp_path: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account

    out = account(load_config(write_config(tmp_path, options={"workbook_unit": "万元"})))
    ws = openpyxl.load_workbook(out.output_dir / "gep_accounts.xlsx")[f"GEP总表 {PROVINCE} 2019"]
    assert "万元" in str(ws["A2"].value) and "亿元" not in str(ws["A2"].value)
    res = out.results
    gep = res.loc[(res["region_code"] == PROVINCE) & (res["year"] == 2019), "value"].sum()
    last = list(ws.iter_rows(min_row=HEAD_ROWS + 2, values_only=True))[-1]
    assert last[0] == "生态产品总值 GEP" and last[4] == pytest.approx(gep / 1e4, rel=1e-12)
