"""One error hierarchy for Qingshan; every message says what is wrong, where, and how to fix it.

Each error carries an English and a Chinese sentence, the file and field concerned and a fix.
``str(err)`` renders both languages so a CLI user or a log reader sees them together; the API
serialises :meth:`QingshanError.to_dict`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "GridMismatchError",
    "InputError",
    "MissingParameterError",
    "MissingPriceError",
    "QingshanError",
    "RegionError",
    "UnitsError",
    "UnknownIndicatorError",
]


@dataclass
class QingshanError(Exception):
    """Base class of every error Qingshan raises on purpose.

    Parameters
    ----------
    en, zh : the message in English and in Chinese.
    file : the file (or table) concerned, if any.
    field : the field, column, key or cell concerned, if any.
    fix : what the user should do, in English; ``fix_zh`` in Chinese.
    """

    en: str
    zh: str = ""
    file: str | Path | None = None
    field: str | None = None
    fix: str = ""
    fix_zh: str = ""
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    code = "qingshan_error"

    def __post_init__(self) -> None:
        super().__init__(self.en)

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.field:
            where.append(f"field '{self.field}'")
        loc = f" [{', '.join(where)}]" if where else ""
        lines = [f"{self.en}{loc}"]
        if self.fix:
            lines.append(f"  Fix: {self.fix}")
        if self.zh:
            lines.append(f"{self.zh}{loc}")
        if self.fix_zh:
            lines.append(f"  修正方法：{self.fix_zh}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form used by the API and the run log."""
        return {
            "error": self.code,
            "message_en": self.en,
            "message_zh": self.zh,
            "file": str(self.file) if self.file is not None else None,
            "field": self.field,
            "fix": self.fix,
            "fix_zh": self.fix_zh,
        }


class ConfigError(QingshanError, ValueError):
    """The run configuration (TOML) is malformed or refers to something that does not exist."""

    code = "config_error"


class InputError(QingshanError, ValueError):
    """An input dataset (raster, table, boundary file) is missing, unreadable or implausible."""

    code = "input_error"


class GridMismatchError(InputError):
    """Rasters that must share one grid do not, and the run was told not to resample."""

    code = "grid_mismatch"


class UnitsError(QingshanError, ValueError):
    """A unit string cannot be parsed, or two units cannot be converted into each other."""

    code = "units_error"


class MissingPriceError(QingshanError, LookupError):
    """No price row for a key, accounting year and region."""

    code = "missing_price"


class MissingParameterError(QingshanError, LookupError):
    """No parameter row (or land-cover table row) that an indicator needs."""

    code = "missing_parameter"


class UnknownIndicatorError(QingshanError, LookupError):
    """An indicator id, component or profile that the catalogue does not know."""

    code = "unknown_indicator"


class RegionError(QingshanError, ValueError):
    """Administrative regions are inconsistent: unknown, duplicate or orphan codes."""

    code = "region_error"
