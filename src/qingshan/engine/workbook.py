"""Layout and styling of the accounts workbook (``gep_accounts.xlsx``), as an accountant hands it in.

Every table sheet has a title on row 1, a line with the region, year, price base and unit on row 2 and its
header on row 3 (``HEAD_ROWS`` rows above the header); the header is frozen, columns are as wide as their
content (CJK characters count double) and numbers carry formats. Formats only: no stored value is rounded.

Written cell by cell with XlsxWriter (rows and columns 0-based here, as XlsxWriter counts them); the values
are those pandas ``to_excel`` wrote before (missing values empty, ±inf as text ``inf``/``-inf``).
"""

from __future__ import annotations

import math
import numbers
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from qingshan.core.errors import ConfigError

__all__ = ["HEAD_ROWS", "QTY_FORMAT", "SHARE_FORMAT", "VALUE_FORMAT", "WORKBOOK_UNITS", "Book", "Sheet",
           "cell_value", "display_width", "number_format_for", "workbook_unit", "write_rows", "write_table"]

WORKBOOK_UNITS: dict[str, float] = {"亿元": 1e8, "万元": 1e4}  # CNY per unit of the value tables
UNIT_EN = {"亿元": "10^8 CNY", "万元": "10^4 CNY"}
HEAD_ROWS = 2  # title and note rows above each table's header
VALUE_FORMAT = "#,##0.00"
QTY_FORMAT = "#,##0.00"
SHARE_FORMAT = '0.00"%"'  # shares are stored as percent numbers (e.g. 42.5), shown with a % sign
INT_FORMAT = "0"
MAX_WIDTH = 60
_WIDTH_SAMPLE = 2000  # rows looked at to fit a column's width
_PIXELS_PER_CHAR = 7  # XlsxWriter's Calibri 11 digit width: 7·w pixels are recorded as width w

_TITLE = {"bold": True, "font_size": 14}
_NOTE = {"italic": True, "font_size": 9}
_HEADER = {"bold": True, "pattern": 1, "bg_color": "#E2EFDA", "bottom": 1}  # solid fill, thin bottom border
_SECTION = {"bold": True, "font_size": 12}

Cell = str | int | float | bool | None


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
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _shown(value: Cell, number_format: str) -> str:
    """The text Excel shows for ``value`` under ``number_format`` (two decimals and separators, or as is)."""
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool) and "0.00" in number_format:
        return f"{value:,.2f}"
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


def cell_value(value: object) -> Cell:
    """``value`` as a cell holds it (as pandas ``to_excel`` wrote it): missing → None (an empty cell), numpy
    scalars → Python numbers, ±inf → text ``inf``/``-inf``, anything else but text, numbers and booleans → text."""
    if value is None or isinstance(value, str | int):  # text, integers and booleans as they are
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _non_finite(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        f = float(value)
        return f if math.isfinite(f) else _non_finite(f)
    if pd.api.types.is_scalar(value) and pd.isna(value):  # pd.NA, pd.NaT
        return None
    return str(value)


def _non_finite(value: float) -> str | None:
    """NaN → None (an empty cell), ±inf → ``inf``/``-inf`` (pandas' ``inf_rep``)."""
    if math.isnan(value):
        return None
    return "inf" if value > 0 else "-inf"


class Book:
    """An XlsxWriter workbook at ``path`` with the accounts workbook's formats; a context manager that writes
    the file when its block ends without an error."""

    def __init__(self, path: Path) -> None:
        self._xl = Workbook(str(path), {"in_memory": True})
        add = self._xl.add_format
        self.title: Format = add(_TITLE)
        self.note: Format = add({**_NOTE, "font_color": "#555555"})
        self.plain_note: Format = add(_NOTE)
        self.header: Format = add({**_HEADER, "text_wrap": True, "valign": "vcenter"})
        self.block_header: Format = add(_HEADER)
        self.section: Format = add(_SECTION)
        self._numbers: dict[str, Format] = {}

    def sheet(self, name: str, *, widths_from: int) -> Sheet:
        """A new sheet named ``name`` (cut to Excel's 31 characters), widths fitted from row ``widths_from`` on."""
        return Sheet(self, self._xl.add_worksheet(name[:31]), widths_from)

    def number(self, number_format: str) -> Format:
        """The cell format holding only ``number_format`` (one per workbook)."""
        if number_format not in self._numbers:
            self._numbers[number_format] = self._xl.add_format({"num_format": number_format})
        return self._numbers[number_format]

    def __enter__(self) -> Book:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        """Write the file, only when the block completed: no half-written workbook."""
        if exc_type is None:
            self._xl.close()


class Sheet:
    """A worksheet being written; remembers the widest shown text per column over rows ``widths_from`` to
    ``widths_from + _WIDTH_SAMPLE`` (a sample)."""

    def __init__(self, book: Book, ws: Worksheet, widths_from: int) -> None:
        self.book, self.ws = book, ws
        self._sample = (widths_from, widths_from + _WIDTH_SAMPLE + 1)  # rows [from, to)
        self._widths: dict[int, int] = {}

    def put(self, row: int, col: int, value: object, fmt: Format | None = None, *,
            number_format: str | None = None) -> None:
        """One cell: see ``column``."""
        self.column(row, col, [value], fmt, number_format=number_format)

    def column(self, row: int, col: int, values: Sequence[object], fmt: Format | None = None, *,
               number_format: str | None = None) -> None:
        """``values`` (see ``cell_value``) down column ``col`` from ``row`` on: numbers and booleans in
        ``number_format`` if given, other cells in ``fmt``; None and empty text leave a cell empty (as openpyxl
        stored them)."""
        cells = [cell_value(v) for v in values]
        num = self.book.number(number_format) if number_format else fmt
        ws = self.ws
        for r, v in enumerate(cells, row):
            if isinstance(v, str):
                if v:
                    ws.write_string(r, col, v, fmt)
            elif isinstance(v, bool):
                ws.write_boolean(r, col, v, num)
            elif v is not None:
                ws.write_number(r, col, v, num)
        shown = number_format or "General"
        sample = cells[max(0, self._sample[0] - row):max(0, self._sample[1] - row)]
        widths = [display_width(_shown(v, shown)) for v in sample if v is not None]
        if widths:
            self._widths[col] = max(self._widths.get(col, 0), *widths)

    def finish(self, *, freeze_row: int, freeze_col: int) -> None:
        """Set the fitted widths (capped at ``MAX_WIDTH``, at least 8, 2 to spare) and freeze the rows above
        ``freeze_row`` and the columns left of ``freeze_col``."""
        for col, w in self._widths.items():
            self.ws.set_column_pixels(col, col, _PIXELS_PER_CHAR * min(MAX_WIDTH, max(8, w + 2)))
        self.ws.freeze_panes(freeze_row, freeze_col)


def write_table(book: Book, name: str, df: pd.DataFrame, *, title: str | None, note: str | None, header: int,
                key_cols: int, formats: Sequence[str | None] = ()) -> None:
    """A table sheet: ``title`` and ``note`` on rows 0 and 1, ``df``'s column names on row ``header`` (frozen
    with the first ``key_cols`` columns), its rows below; numbers of column ``j`` in ``formats[j]``."""
    sheet = book.sheet(name, widths_from=header)
    if title is not None:
        sheet.put(0, 0, title, book.title)
    if note is not None:
        sheet.put(1, 0, note, book.note)
    for col, label in enumerate(df.columns):
        sheet.put(header, col, label, book.header)
        sheet.column(header + 1, col, df.iloc[:, col].tolist(), number_format=formats[col] if formats else None)
    sheet.finish(freeze_row=header + 1, freeze_col=key_cols)


def write_rows(sheet: Sheet, start: int, heading: str, header: list[str], rows: list[list[Any]]) -> int:
    """A titled block of rows at ``start``: heading, header, rows; returns the next free row (after a blank)."""
    sheet.put(start, 0, heading, sheet.book.section)
    for j, name in enumerate(header):
        sheet.put(start + 1, j, name, sheet.book.block_header)
    for i, values in enumerate(rows, start + 2):
        for j, v in enumerate(values):
            sheet.put(i, j, v)  # parameters and prices as typed in: General
    return start + 2 + len(rows) + 1
