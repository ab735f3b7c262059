"""Reading the small CSV tables users edit (parameters, prices, land cover, statistics).

Every reader names the file and the column in its errors, and says how to fix them. One parser
(:func:`read_csv_rows`, Python's ``csv`` module) reads every table: as rows of text for the readers on a
command's start-up path (parameters, land cover: no pandas import), or as a DataFrame
(:func:`read_csv_table`) for the others.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qingshan.core.errors import InputError
from qingshan.core.notices import Notice, notice

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ENCODINGS", "FORMULA_START", "CsvRows", "decode_table_text", "parse_bounds", "read_csv_rows", "read_csv_table", "require_columns"]

ENCODINGS = ("UTF-8", "UTF-16 (with BOM)", "GB18030/GBK")
"""Encodings a CSV table may be saved in, tried in this order (Excel on Chinese Windows saves GBK)."""

FORMULA_START = ("=", "+", "-", "@")
"""First characters that make Excel, WPS and LibreOffice read a CSV cell as a formula (OWASP "CSV injection";
its tab and carriage return are stripped from the names checked against this). Names that users give and that
reach the exported tables (region names, usernames) may not begin with one."""


@dataclass(frozen=True)
class CsvRows:
    """A CSV table as text: the header (names stripped) and one tuple of cells per data row."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def records(self) -> list[dict[str, str]]:
        """One ``{column: cell}`` dict per row."""
        return [dict(zip(self.columns, r, strict=True)) for r in self.rows]

    def column(self, name: str) -> list[str]:
        """The cells of one column."""
        j = self.columns.index(name)
        return [r[j] for r in self.rows]


def read_csv_rows(path: str | Path, required: Sequence[str], *, what: str, what_zh: str) -> CsvRows:
    """Read a CSV (UTF-8 with or without BOM; UTF-16 with BOM or GBK/GB18030 detected, with a notice)
    and check its required columns; every cell as text (no number parsing, empty cells stay ``""``).

    Blank lines are skipped; a row with more cells than the header is an error naming the line; a short
    row's missing cells are empty; a repeated column name gets ``.1``, ``.2`` … (as pandas names them).

    Parameters
    ----------
    path : the CSV file.
    required : columns that must be present.
    what, what_zh : what the table is, for messages ("price table", "价格表").
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"{what.capitalize()} not found: {p}",
            f"找不到{what_zh}：{p}",
            file=p,
            fix="Check the path in the config (relative paths are relative to the config file).",
            fix_zh="请检查配置文件中的路径（相对路径相对于配置文件所在目录）。",
        )
    text = decode_table_text(p, what=what, what_zh=what_zh)
    try:
        table = _parse_csv(text)
    except (csv.Error, ValueError) as exc:
        raise InputError(
            f"Cannot read {what} {p}: {exc}",
            f"无法读取{what_zh} {p}",
            file=p,
            fix="Save the table as UTF-8 CSV with a header row.",
            fix_zh="请将表格保存为带表头的 UTF-8 CSV 文件。",
        ) from exc
    require_columns(table, required, path=p, what=what, what_zh=what_zh)
    return table


def _parse_csv(text: str) -> CsvRows:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next((r for r in reader if r), None)
    if header is None:
        raise ValueError("No columns to parse from file")
    columns = _unique_names([c.strip() for c in header])
    rows = []
    for line in reader:
        if not line:
            continue
        if len(line) > len(columns):
            raise ValueError(f"Expected {len(columns)} fields in line {reader.line_num}, saw {len(line)}")
        rows.append((*line, *([""] * (len(columns) - len(line)))))
    return CsvRows(tuple(columns), tuple(rows))


def _unique_names(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def read_csv_table(path: str | Path, required: Sequence[str], *, what: str, what_zh: str) -> pd.DataFrame:
    """:func:`read_csv_rows` as a DataFrame of text cells (``dtype=str``, empty cells ``""``)."""
    import pandas as pd

    table = read_csv_rows(path, required, what=what, what_zh=what_zh)
    return pd.DataFrame(list(table.rows), columns=list(table.columns), dtype=str)


def require_columns(
    df: pd.DataFrame | CsvRows, required: Iterable[str], *, path: str | Path, what: str, what_zh: str
) -> None:
    """Raise :class:`InputError` naming the first missing column (of a DataFrame or :class:`CsvRows`)."""
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            f"{what.capitalize()} lacks column(s) {', '.join(missing)}",
            f"{what_zh}缺少列：{', '.join(missing)}",
            file=path,
            field=missing[0],
            fix=f"The header must contain: {', '.join(required)}.",
            fix_zh=f"表头必须包含：{', '.join(required)}。",
        )


_THOUSANDS = re.compile(r"[+-]?\d{1,3}([,，]\d{3})+(\.\d*)?")
"""A number with thousands separators (``1,234``, ``12,345.6``)."""
_DECIMAL_COMMA = re.compile(r"[+-]?\d+[,，]\d+")
"""A number with one decimal comma (``0,8071``; ``1,234`` matches both patterns)."""


def parse_float(text: str, *, path: str | Path, field: str, row: int, what_zh: str) -> float:
    """Parse a finite number from a table cell; the error names file, row, column and the fix.

    Empty cells, ``inf``/``NaN`` and commas are rejected, as is anything ``float`` cannot read. The fix
    of a comma depends on its place: ``12,345.6`` a thousands separator (write ``12345.6``), ``0,8071`` a
    decimal comma (write ``0.8071``; dropping it would give a value 10 000 × too large), ``1,234`` either.
    """
    cell = str(text).strip()
    if cell == "":
        why, why_zh, fix, fix_zh = "is empty", "为空", "Fill in the number (write 0 for a true zero), or delete the row.", "请填写数值（确为零时填 0），或删除该行。"
    elif "," in cell or "，" in cell:
        plain = cell.replace(",", "").replace("，", "")
        decimal = cell.replace(",", ".").replace("，", ".")
        if _THOUSANDS.fullmatch(cell) and not _DECIMAL_COMMA.fullmatch(cell):
            why, why_zh = "has a thousands separator", "含千位分隔符"
            fix, fix_zh = f"Write '{plain}' without separators (format the cells as plain numbers in Excel).", f"请写为 '{plain}'，不加分隔符（在 Excel 中将单元格设为常规数字格式）。"
        elif _THOUSANDS.fullmatch(cell):  # 1,234: a thousands separator or a decimal comma
            why, why_zh = "has a comma (a thousands separator or a decimal comma)", "含逗号（千位分隔符或小数逗号）"
            fix = f"Write '{plain}' if the comma separates thousands, or '{decimal}' if it is a decimal comma."
            fix_zh = f"若逗号为千位分隔符，请写为 '{plain}'；若为小数逗号，请写为 '{decimal}'。"
        elif _DECIMAL_COMMA.fullmatch(cell):  # 0,8071: a decimal comma; without it the value would be 10 000 × larger
            why, why_zh = "has a decimal comma", "使用了小数逗号"
            fix, fix_zh = f"Write '{decimal}' with a decimal point.", f"请写为 '{decimal}'，使用小数点。"
        else:
            why, why_zh = "has a comma", "含逗号"
            fix, fix_zh = "Write a plain number with a decimal point and no separators.", "请填写不含分隔符、使用小数点的数字。"
    else:
        try:
            value = float(cell)
        except ValueError:
            value = None
        if value is not None and math.isfinite(value):
            return value
        why, why_zh = ("is not finite (inf/NaN)", "不是有限数值（inf/NaN）") if value is not None else ("is not a number", "不是数字")
        fix, fix_zh = "Write a plain number (use the unit column for 万/亿).", "请填写数字（万、亿等倍数写在单位列中）。"
    raise InputError(
        f"Row {row}: '{text}' in column '{field}' {why}",
        f"{what_zh}第 {row} 行 '{field}' 列的值 '{text}' {why_zh}",
        file=path,
        field=field,
        fix=fix,
        fix_zh=fix_zh,
    )


def parse_bounds(row: Mapping[str, object], *, path: str | Path, line: int, what_zh: str) -> tuple[float | None, float | None]:
    """``(lower, upper)`` of a bounds-table row (statistics, price and parameter bounds): an empty cell is no
    bound, anything else a number (:func:`parse_float`)."""
    lo, hi = (None if str(row[c]).strip() == "" else parse_float(str(row[c]), path=path, field=c, row=line, what_zh=what_zh)
              for c in ("lower", "upper"))
    return lo, hi


def decode_table_text(path: Path, *, what: str, what_zh: str) -> str:
    """Text of a CSV file: UTF-8 (BOM or not), else UTF-16 with a BOM, else GB18030 (a superset of GBK).

    A table that is not UTF-8 is read with a notice naming the encoding detected; a file that
    none of :data:`ENCODINGS` decodes is an error saying which were tried and how to save as UTF-8.
    """
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for codec, label in (("utf-16", "UTF-16"), ("gb18030", "GB18030/GBK")):
        if codec == "utf-16" and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        notice(Notice(
            "table_encoding",
            f"{what.capitalize()} {path.name} is not UTF-8; it was read as {label}",
            f"{what_zh} {path.name} 不是 UTF-8 编码，已按 {label} 读取",
            severity="info", file=str(path),
        ))
        return text.removeprefix("\ufeff")
    raise InputError(
        f"{what.capitalize()} {path.name} is in an unknown text encoding (tried {', '.join(ENCODINGS)}), or is not a CSV file",
        f"{what_zh} {path.name} 的文本编码无法识别（已尝试 {'、'.join(ENCODINGS)}），或不是 CSV 文件",
        file=path,
        fix="Save the table as CSV in UTF-8: in Excel, File → Save As → 'CSV UTF-8 (Comma delimited) (*.csv)'.",
        fix_zh="请将表格保存为 UTF-8 编码的 CSV：在 Excel 中选择 文件 → 另存为 → “CSV UTF-8(逗号分隔)(*.csv)”。",
    )
