"""Result and region rows as plain Python values for a database driver, and the text-length checks of the run
tables — without SQLAlchemy, so that both run writers (:mod:`qingshan.store.repo` through SQLAlchemy Core and
:mod:`qingshan.store.run_writer`'s SQLite writer) share them. ``TEXT_LIMITS`` are the ``String(n)`` lengths of
:mod:`qingshan.store.tables` (a test holds them equal)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import repeat
from typing import Any

import pandas as pd

from qingshan.core.errors import InputError, QingshanError

__all__ = [
    "REGION_COLUMNS", "RESULT_COLUMNS", "TEXT_LIMITS", "check_lengths", "column_values", "no_longer_running",
    "result_records",
]

RESULT_COLUMNS = [
    "region_code", "year", "indicator", "category", "component", "ecosystem",
    "quantity", "unit", "price", "price_unit", "value", "value_comparable",
]
"""The columns of a result row (``results`` without ``id`` and ``run_id``)."""

REGION_COLUMNS = ["code", "name", "level", "parent", "area_km2"]
"""The columns of a run's region (``run_regions`` without ``run_id`` and ``geometry``)."""

TEXT_LIMITS: dict[str, dict[str, int]] = {
    "results": {"region_code": 12, "indicator": 60, "category": 20, "component": 80, "ecosystem": 20, "unit": 40,
                "price_unit": 40},
    "run_regions": {"run_id": 36, "code": 12, "name": 100, "level": 20, "parent": 12},
}
"""Longest text of each ``String(n)`` column (SQLite would store longer text, PostgreSQL not); ``results.run_id``
is the run's own id, not checked per row."""


def column_values(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> dict[str, list[Any]]:
    """The columns of ``frame`` (all, or ``columns``) as lists of plain Python values, missing ones (NaN, None,
    ``pd.NA``) as ``None``: what the database driver stores and what :func:`qingshan.engine.revalue.write_csv`
    formats. One pass per column (``Series.tolist``), no per-row objects."""
    out: dict[str, list[Any]] = {}
    for name in columns if columns is not None else list(frame.columns):
        col = frame[name]
        values = col.tolist()
        if not col.hasnans:  # most columns: nothing missing
            out[name] = values
        elif col.dtype.kind == "f":
            out[name] = [None if v != v else v for v in values]  # v != v: NaN
        else:
            out[name] = [None if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v) else v
                         for v in values]
    return out


def result_records(results: pd.DataFrame | Mapping[str, Sequence[Any]], run_id: str) -> list[tuple[Any, ...]]:
    """Rows ``(run_id, *RESULT_COLUMNS)`` as tuples of plain Python values (NaN → None) from a frame or from its
    :func:`column_values`; text lengths checked column by column (on the distinct values: a few hundred, not one
    per row)."""
    values = column_values(results, RESULT_COLUMNS) if isinstance(results, pd.DataFrame) else results
    for col, limit in TEXT_LIMITS["results"].items():
        too_long = [v for v in set(values[col]) if isinstance(v, str) and len(v) > limit]
        if too_long:
            check_lengths("results", [{col: too_long[0]}])  # raises, naming the value
    n = len(values[RESULT_COLUMNS[0]])
    return list(zip(repeat(run_id, n), *(values[c] for c in RESULT_COLUMNS), strict=True))


def check_lengths(table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Refuse text longer than its column of ``table`` on every backend (SQLite would store it, PostgreSQL not)."""
    limits = TEXT_LIMITS[table]
    for row in rows:
        for col, limit in limits.items():
            value = row.get(col)
            if isinstance(value, str) and len(value) > limit:
                raise InputError(
                    f"Value of '{col}' is longer than {limit} characters: '{value[:40]}…'",
                    f"'{col}' 的值超过 {limit} 个字符：'{value[:40]}…'",
                    field=col,
                    fix=f"Shorten it to at most {limit} characters (ids and units are short codes).",
                    fix_zh=f"请缩短至 {limit} 个字符以内（编号和单位应为简短代码）。",
                )


def no_longer_running(run_id: str, status: object) -> QingshanError:
    """The error of storing a run's results after its lease expired and the run was marked ``status`` meanwhile
    (the repair stands: nothing is stored). One message for both run writers."""
    return QingshanError(
        f"Run '{run_id}' is no longer running (marked {status}, its lease expired): results not stored",
        f"核算记录 '{run_id}' 已不在运行状态（已标记为 {status}，租约过期），结果未保存",
        field="run_id",
        fix="Run the accounting again; keep the process from being suspended while it runs.",
        fix_zh="请重新运行核算，运行期间不要挂起进程。",
    )
