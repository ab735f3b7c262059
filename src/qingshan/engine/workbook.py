"""Layout and styling of the accounts workbook (``gep_accounts.xlsx``), as an accountant hands it in.

Every table sheet has a title on row 1, a line with the region, year, price base and unit on row 2 and its
header on row 3 (``HEAD_ROWS`` rows above the header); the header is frozen, columns are as wide as their
content (CJK characters count double) and numbers carry formats. Formats only: no stored value is rounded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from qingshan.core.errors import ConfigError

__all__ = ["HEAD_ROWS", "QTY_FORMAT", "SHARE_FORMAT", "VALUE_FORMAT", "WORKBOOK_UNITS", "display_width",
           "style_table", "workbook_unit", "write_rows"]

WORKBOOK_UNITS: dict[str, float] = {"亿元": 1e8, "万元": 1e4}  # CNY per unit of the value tables
UNIT_EN = {"亿元": "10^8 CNY", "万元": "10^4 CNY"}
HEAD_ROWS = 2  # title and note rows above each table's header
VALUE_FORMAT = "#,##0.00"
QTY_FORMAT = "#,##0.00"
SHARE_FORMAT = '0.00"%"'  # shares are stored as percent numbers (e.g. 42.5), shown with a % sign
INT_FORMAT = "0"
MAX_WIDTH = 60
_WIDTH_SAMPLE = 2000  # rows looked at to fit a column's width

_TITLE = Font(bold=True, size=14)
_NOTE = Font(italic=True, size=9, color="555555")
_HEADER = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="E2EFDA")
_HEADER_BORDER = Border(bottom=Side(style="thin"))
_SECTION = Font(bold=True, size=12)


def workbook_unit(options: Mapping[str, Any]) -> str:
    """The unit of the workbook's value tables: option ``workbook_unit`` (亿元 by default, or 万元)."""
    unit = str(options.get("workbook_unit", "亿元"))
    if unit not in WORKBOOK_UNITS:
        raise ConfigError(
            en=f"unknown workbook unit '{unit}'", zh=f"未知的工作簿单位“{unit}”", field="options.workbook_unit",
            fix=f"use one of: {', '.join(WORKBOOK_UNITS)}", fix_zh=f"请使用：{'、'.join(WORKBOOK_UNITS)}")
    return unit


def unit_text(unit: str) -> str:
    """``亿元 (10^8 CNY)``."""
    return f"{unit} ({UNIT_EN[unit]})"


def display_width(text: str) -> int:
    """Width of ``text`` in Excel character widths: wide (CJK) characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value: object, number_format: str) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float):
        if value != value:  # NaN
            return ""
        return f"{value:,.2f}" if "0.00" in number_format else str(value)
    return str(value)


def number_format_for(name: str, values: Iterable[Any]) -> str | None:
    """Format of a column: shares as percent, integers plain, other numbers with 2 decimals and separators."""
    seq = [v for v in values if v is not None]
    if not seq or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in seq):
        return None
    if "Share" in name or "占" in name:
        return SHARE_FORMAT
    if all(isinstance(v, int) or float(v).is_integer() for v in seq) and ("year" in name.lower() or "年" in name):
        return INT_FORMAT
    return VALUE_FORMAT


def style_table(ws: Worksheet, *, title: str | None, note: str | None, header_row: int, key_cols: int,
                formats: Mapping[int, str | None]) -> None:
    """Title, note, bold frozen header, number formats (by 1-based column) and fitted widths."""
    if title is not None:
        ws.cell(row=1, column=1, value=title).font = _TITLE
    if note is not None:
        ws.cell(row=2, column=1, value=note).font = _NOTE
    for cell in ws[header_row]:
        cell.font, cell.fill, cell.border = _HEADER, _HEADER_FILL, _HEADER_BORDER
        cell.alignment = Alignment(wrap_text=True, vertical="center")
    for col, fmt in formats.items():
        if fmt:
            for (cell,) in ws.iter_rows(min_row=header_row + 1, min_col=col, max_col=col):
                if isinstance(cell.value, int | float):
                    cell.number_format = fmt
    fit_widths(ws, header_row)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=key_cols + 1).coordinate


def fit_widths(ws: Worksheet, first_row: int) -> None:
    """Column widths from the shown text of rows ``first_row``… (a sample), capped at ``MAX_WIDTH``."""
    widths: dict[int, int] = {}
    last = min(ws.max_row, first_row + _WIDTH_SAMPLE)
    for row in ws.iter_rows(min_row=first_row, max_row=last):
        for cell in row:
            if cell.value is None:
                continue
            w = display_width(_shown(cell.value, str(cell.number_format)))
            widths[cell.column] = max(widths.get(cell.column, 0), w)
    for col, w in widths.items():
        ws.column_dimensions[get_column_letter(col)].width = min(MAX_WIDTH, max(8, w + 2))


def write_rows(ws: Worksheet, start: int, heading: str, header: list[str], rows: list[list[Any]]) -> int:
    """A titled block of rows at ``start``: heading, header, rows; returns the next free row (after a blank)."""
    ws.cell(row=start, column=1, value=heading).font = _SECTION
    for j, name in enumerate(header, 1):
        cell = ws.cell(row=start + 1, column=j, value=name)
        cell.font, cell.fill, cell.border = _HEADER, _HEADER_FILL, _HEADER_BORDER
    for i, values in enumerate(rows, start + 2):
        for j, v in enumerate(values, 1):
            ws.cell(row=i, column=j, value=v)  # parameters and prices as typed in: General
    return start + 2 + len(rows) + 1
