"""Reading the small CSV tables users edit (parameters, prices, land cover, statistics).

Every reader names the file and the column in its errors, and says how to fix them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from qingshan.core.errors import InputError

__all__ = ["read_csv_table", "require_columns"]


def read_csv_table(path: str | Path, required: Sequence[str], *, what: str, what_zh: str) -> pd.DataFrame:
    """Read a UTF-8 (with or without BOM) CSV and check its required columns.

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
    try:
        df = pd.read_csv(p, encoding="utf-8-sig", dtype=str, keep_default_na=False, comment=None)
    except Exception as exc:
        raise InputError(
            f"Cannot read {what} {p}: {exc}",
            f"无法读取{what_zh} {p}",
            file=p,
            fix="Save the table as UTF-8 CSV with a header row.",
            fix_zh="请将表格保存为带表头的 UTF-8 CSV 文件。",
        ) from exc
    df.columns = [c.strip() for c in df.columns]
    require_columns(df, required, path=p, what=what, what_zh=what_zh)
    return df


def require_columns(
    df: pd.DataFrame, required: Iterable[str], *, path: str | Path, what: str, what_zh: str
) -> None:
    """Raise :class:`InputError` naming the first missing column."""
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


def parse_float(text: str, *, path: str | Path, field: str, row: int, what_zh: str) -> float:
    """Parse a number from a table cell; the error names file, row and column."""
    try:
        return float(str(text).replace(",", "").strip())
    except ValueError as exc:
        raise InputError(
            f"Row {row}: '{text}' in column '{field}' is not a number",
            f"{what_zh}第 {row} 行 '{field}' 列的值 '{text}' 不是数字",
            file=path,
            field=field,
            fix="Write a plain number (use the unit column for 万/亿).",
            fix_zh="请填写数字（万、亿等倍数写在单位列中）。",
        ) from exc
