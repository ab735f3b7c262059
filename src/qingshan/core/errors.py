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
    "ArtifactIntegrityError",
    "ConfigError",
    "GridMismatchError",
    "InputError",
    "MissingParameterError",
    "MissingPriceError",
    "QingshanError",
    "RegionError",
    "StorageError",
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


class StorageError(QingshanError, OSError):
    """An output could not be written: the disk is full, or the folder is read-only or gone. Not the
    input's fault, and nothing half-written is kept (:func:`storage_error` builds one that says which)."""

    code = "storage_error"


class ArtifactIntegrityError(QingshanError):
    """A sealed run file no longer matches the size and SHA-256 recorded when its run was sealed (edited, replaced,
    or a symbolic link): it is not served nor read. Not the request's fault (HTTP 409)."""

    code = "artifact_integrity"


def storage_error(path: str | Path, exc: BaseException) -> StorageError:
    """A :class:`StorageError` for a failed write of ``path``, saying how much room its disk has left."""
    import shutil

    folder = Path(path).parent
    try:
        free_mb = shutil.disk_usage(folder).free / 2**20
        room, room_zh = f"{free_mb:,.0f} MB free on its disk", f"所在磁盘剩余 {free_mb:,.0f} MB"
    except OSError:
        room, room_zh = "its folder cannot be reached", "其所在文件夹无法访问"
    causes = [exc, exc.__cause__, exc.__context__]  # GDAL: "Write failed. See previous exception for details."
    said = [str(e).splitlines()[0] for e in causes if e is not None and str(e) and "previous exception" not in str(e)]
    reason = said[0] if said else str(exc) or type(exc).__name__
    return StorageError(
        f"Could not write {Path(path).name} ({room}): {reason}",
        f"无法写入 {Path(path).name}（{room_zh}）：{reason}",
        file=path,
        fix="Free disk space, or write to another folder (one that exists and can be written); nothing of the "
            "failed write was kept, so run the command again.",
        fix_zh="请清理磁盘空间，或改写到其他（存在且可写的）文件夹；失败的写入未留下任何文件，请重新运行命令。",
    )
