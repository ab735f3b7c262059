"""The dashboard's browser libraries (MapLibre GL JS, ECharts), built from npm into ``static/vendor/``.

``cd web && npm ci && npm run build`` (run by ``make install``) copies them with their licences and a
``manifest.json``; they are not in git. :func:`require_vendor` raises a bilingual error naming the
fix when they are missing, so the service never serves a dashboard whose map cannot load.
"""

from __future__ import annotations

from pathlib import Path

from qingshan.core.errors import QingshanError

__all__ = ["REQUIRED_FILES", "VENDOR_DIR", "VendorMissingError", "missing_vendor_files", "require_vendor"]

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
REQUIRED_FILES = ("maplibre-gl.js", "maplibre-gl.css", "echarts.min.js", "manifest.json")


class VendorMissingError(QingshanError):
    """The map and chart libraries of the dashboard were not built into the package."""

    code = "vendor_missing"


def missing_vendor_files(directory: Path = VENDOR_DIR) -> list[str]:
    """Names of the required vendor files absent (or empty) in ``directory``."""
    return [n for n in REQUIRED_FILES if not (directory / n).is_file() or (directory / n).stat().st_size == 0]


def require_vendor(directory: Path = VENDOR_DIR) -> None:
    """Raise :class:`VendorMissingError` unless every vendor file is present."""
    missing = missing_vendor_files(directory)
    if missing:
        raise VendorMissingError(
            f"The dashboard's map and chart libraries are missing: {', '.join(missing)}",
            f"仪表盘的地图与图表库缺失：{', '.join(missing)}",
            file=directory,
            field="static/vendor",
            fix="Build them from the npm registry: `cd web && npm ci && npm run build` (or `make install`).",
            fix_zh="请从 npm 仓库构建：`cd web && npm ci && npm run build`（或运行 `make install`）。",
        )
