"""Bounded inputs: the size limits of the service and the CLI, and the checks that enforce them.

Every input that a user (or an attacker) controls is bounded *before* the expensive step: the
request body before it is read, a zip (XLSX, zipped Shapefile) before it is extracted, a raster
from its header before a band is read, a JSON body before it is parsed into objects. A limit hit
raises :class:`LimitExceededError` (HTTP 413) or :class:`~qingshan.core.errors.InputError`
(HTTP 422) with a message in both languages that names the limit and how to split or simplify.

The defaults fit a provincial deployment (Jiangxi: 100 counties, ≈1 600 townships, 30 m rasters
of ≈20 000 × 18 000 cells). Each can be changed with an environment variable
``QINGSHAN_LIMIT_<NAME>`` (e.g. ``QINGSHAN_LIMIT_FORM_ROWS=100000``) or, for the web service,
``Settings(limits=Limits(...))``. Service guards, not science parameters.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qingshan.core.errors import InputError

__all__ = [
    "ENV_PREFIX",
    "LimitExceededError",
    "Limits",
    "check_bytes",
    "check_form_rows",
    "check_json_depth",
    "check_parcel_vertices",
    "check_raster_file",
    "check_raster_size",
    "check_zip",
    "clip",
    "current_limits",
    "geojson_vertices",
    "json_depth",
    "mib",
]

ENV_PREFIX = "QINGSHAN_LIMIT_"
MiB = 2**20


class LimitExceededError(InputError):
    """An input is larger than a configured limit (HTTP 413); the message says which and how to split."""

    code = "limit_exceeded"


@dataclass(frozen=True)
class Limits:
    """Size limits (all positive integers; ``QINGSHAN_LIMIT_<FIELD>`` overrides each default)."""

    request_bytes: int = 210 * MiB
    """Largest request body (any route); the largest file plus room for the form fields."""
    json_bytes: int = 20 * MiB
    """Largest JSON request body (a GeoJSON parcel of ≈ 500 000 vertices)."""
    json_depth: int = 32
    """Deepest nesting of arrays/objects in a JSON body (a GeoJSON FeatureCollection needs 7)."""
    upload_bytes: int = 200 * MiB
    """Largest uploaded raster (GeoTIFF); larger rasters belong on a file server."""
    form_bytes: int = 20 * MiB
    """Largest uploaded XLSX form (compressed)."""
    zip_bytes: int = 100 * MiB
    """Largest total decompressed size of the members of an XLSX or zip, from its directory."""
    zip_members: int = 1_000
    """Most members of an XLSX or zip (a form template has about 12)."""
    form_rows: int = 50_000
    """Most data rows of one form (every township × every item of a group fits)."""
    cell_chars: int = 2_000
    """Longest text of one form cell."""
    form_errors: int = 1_000
    """Most cell errors kept for one upload (the rest are counted in one last entry)."""
    raster_cells: int = 500_000_000
    """Most cells (width × height × bands) of a raster read whole (≈ 4 GB as float64)."""
    parcel_vertices: int = 100_000
    """Most vertices of a parcel polygon."""
    parcel_bytes: int = 20 * MiB
    """Largest uploaded parcel file (GeoJSON, GeoPackage, zipped Shapefile)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Limits:
        """Defaults, overridden by ``QINGSHAN_LIMIT_<FIELD>`` variables (e.g. ``QINGSHAN_LIMIT_FORM_ROWS``)."""
        env = os.environ if environ is None else environ
        values: dict[str, int] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None or not raw.strip():
                continue
            try:
                values[f.name] = int(raw.strip().replace("_", ""))
            except ValueError:
                raise InputError(
                    f"{ENV_PREFIX}{f.name.upper()}={raw!r} is not a whole number",
                    f"环境变量 {ENV_PREFIX}{f.name.upper()}={raw!r} 不是整数", field=ENV_PREFIX + f.name.upper(),
                    fix="Give a positive whole number (bytes, rows, cells …) or unset the variable.",
                    fix_zh="请设置为正整数（字节数、行数、像元数等），或删除该环境变量。") from None
        return cls(**values)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            if int(getattr(self, f.name)) <= 0:
                raise InputError(f"Limit {f.name} must be positive", f"限值 {f.name} 必须为正数", field=f.name,
                                 fix="Give a positive whole number.", fix_zh="请设置为正整数。")

    def table(self) -> list[tuple[str, int, str]]:
        """(name, value, environment variable) of every limit, for docs and the CLI."""
        return [(f.name, int(getattr(self, f.name)), ENV_PREFIX + f.name.upper()) for f in dataclasses.fields(self)]


def current_limits() -> Limits:
    """The limits of this process (defaults and ``QINGSHAN_LIMIT_*`` variables)."""
    return Limits.from_env()


def mib(n: int) -> str:
    """``n`` bytes as a short text (``20 MiB``, ``512 KiB``)."""
    return f"{n / MiB:.4g} MiB" if n >= MiB else f"{n / 1024:.4g} KiB" if n >= 1024 else f"{n} bytes"


def clip(text: Any, n: int = 100) -> str:
    """``text`` as a string of at most ``n`` characters (``…`` and the full length when cut)."""
    s = str(text)
    return s if len(s) <= n else f"{s[:n]}… ({len(s):,} characters)"


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _too_large(en: str, zh: str, *, name: str, file: str | Path | None, field: str, fix: str, fix_zh: str,
               ) -> LimitExceededError:
    return LimitExceededError(en, zh, file=file, field=field,
                              fix=f"{fix} (Limit {name}: setting {_env(name)}.)",
                              fix_zh=f"{fix_zh}（限值 {name}，可通过 {_env(name)} 调整。）")


# ----------------------------------------------------------------------------- sizes of bodies and files
def check_bytes(size: int, limit: int, *, name: str, file: str | Path | None = None, what: str = "The request body",
                what_zh: str = "请求体", fix: str = "Split the upload into smaller files.",
                fix_zh: str = "请将上传内容拆分为较小的文件。") -> None:
    """Raise :class:`LimitExceededError` when ``size`` bytes exceed ``limit`` (limit ``name``)."""
    if size > limit:
        raise _too_large(f"{what} is larger than {mib(limit)} ({mib(size)})", f"{what_zh}超过 {mib(limit)}（{mib(size)}）",
                         name=name, file=file, field="file" if file else "body", fix=fix, fix_zh=fix_zh)


# ----------------------------------------------------------------------------- zip and XLSX
def check_zip(content: bytes, limits: Limits, *, filename: str | None = None, kind: str = "XLSX") -> None:
    """Check a zip (an XLSX is one) from its central directory, before anything is extracted.

    The member count and the sum of the members' declared sizes must stay within
    ``zip_members`` and ``zip_bytes``; Python's zipfile never yields more than a member's declared
    size, so the declared sum bounds what a reader decompresses. Not a zip: nothing to check
    (the reader reports it).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as z:
            infos = z.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return
    if len(infos) > limits.zip_members:
        raise _too_large(f"The {kind} file holds {len(infos):,} members, more than the {limits.zip_members:,} allowed",
                         f"{kind} 文件包含 {len(infos):,} 个成员，超过上限 {limits.zip_members:,}",
                         name="zip_members", file=filename, field="file",
                         fix="Use the form template as downloaded, or split the archive.",
                         fix_zh="请使用下载的报表模板，或拆分压缩包。")
    total = sum(max(i.file_size, 0) for i in infos)
    if total > limits.zip_bytes:
        raise _too_large(
            f"The {kind} file expands to {mib(total)}, more than the {mib(limits.zip_bytes)} allowed "
            f"(compressed: {mib(len(content))})",
            f"{kind} 文件解压后为 {mib(total)}，超过上限 {mib(limits.zip_bytes)}（压缩后 {mib(len(content))}）",
            name="zip_bytes", file=filename, field="file",
            fix="Split the data into several forms (e.g. one per city) and remove long texts or embedded objects.",
            fix_zh="请将数据拆分为多张报表（如每个市一张），并删除过长的文本或嵌入对象。")


def check_form_rows(n: int, limits: Limits, *, filename: str | None = None) -> None:
    """Raise when a form has more than ``form_rows`` data rows."""
    if n > limits.form_rows:
        raise _too_large(f"The form has more than {limits.form_rows:,} data rows",
                         f"报表数据行超过 {limits.form_rows:,} 行", name="form_rows", file=filename, field="form",
                         fix="Split it into several uploads (e.g. one per city or one per group of items).",
                         fix_zh="请拆分为多次上传（如每个市一份，或按项目分组）。")


# ----------------------------------------------------------------------------- rasters
def check_raster_size(width: int, height: int, bands: int, limits: Limits | None = None, *,
                      file: str | Path | None = None) -> None:
    """Raise :class:`LimitExceededError` when a raster's header claims more than ``raster_cells`` cells
    (width × height × bands), before any band is read."""
    limits = limits or current_limits()
    cells = int(width) * int(height) * max(int(bands), 1)
    if cells > limits.raster_cells:
        name = Path(str(file)).name if file is not None else None
        raise _too_large(
            f"The raster is {width:,} × {height:,} cells × {bands} band(s) = {cells:,}, more than the "
            f"{limits.raster_cells:,} allowed",
            f"栅格为 {width:,} × {height:,} 像元 × {bands} 个波段 = {cells:,}，超过上限 {limits.raster_cells:,}",
            name="raster_cells", file=name, field="raster",
            fix="Clip the raster to the accounting area, use a coarser resolution or keep only the band needed.",
            fix_zh="请将栅格裁剪到核算范围、降低分辨率或只保留所需波段。")


def check_raster_file(path: str | Path, limits: Limits | None = None, *, filename: str | None = None) -> None:
    """Open ``path`` (header only) and apply :func:`check_raster_size`; unreadable files pass
    (the reader reports them)."""
    import rasterio

    try:
        with rasterio.open(path) as ds:
            width, height, bands = ds.width, ds.height, ds.count
    except Exception:  # GDAL raises several types; the raster reader reports them
        return
    check_raster_size(width, height, bands, limits, file=filename or Path(path).name)


# ----------------------------------------------------------------------------- JSON and GeoJSON
_OPEN = np.zeros(256, dtype=np.int8)
_OPEN[[ord("["), ord("{")]] = 1
_OPEN[[ord("]"), ord("}")]] = -1


def json_depth(body: bytes) -> int:
    """Deepest nesting of arrays and objects in a JSON text, without parsing it (brackets inside
    strings are ignored). Linear and vectorised: safe on any input."""
    if b'"' in body:
        body = _strip_strings(body)
    steps = _OPEN[np.frombuffer(body, dtype=np.uint8)]
    steps = steps[steps != 0]
    return int(np.cumsum(steps, dtype=np.int64).max()) if steps.size else 0


def _strip_strings(body: bytes) -> bytes:
    import re

    return re.sub(rb'"[^"\\]*(?:\\.[^"\\]*)*(?:"|$)', b'""', body)


def check_json_depth(body: bytes, limits: Limits) -> None:
    """Raise :class:`InputError` (HTTP 422) when a JSON body nests deeper than ``json_depth``."""
    depth = json_depth(body)
    if depth > limits.json_depth:
        raise InputError(f"The JSON body nests {depth} levels deep, more than the {limits.json_depth} allowed",
                         f"JSON 请求体嵌套 {depth} 层，超过上限 {limits.json_depth} 层", field="body",
                         fix=f"Send a flatter document (GeoJSON needs at most 7 levels). "
                             f"(Limit json_depth: setting {_env('json_depth')}.)",
                         fix_zh=f"请提交层级更少的文档（GeoJSON 最多需要 7 层）。"
                                f"（限值 json_depth，可通过 {_env('json_depth')} 调整。）")


def geojson_vertices(obj: Any) -> int:
    """Number of positions in the ``coordinates`` of a GeoJSON object (iterative; any input)."""
    n, stack = 0, [obj]
    while stack:
        o = stack.pop()
        if isinstance(o, Mapping):
            stack.extend(o.get(k) for k in ("coordinates", "geometry", "geometries", "features") if k in o)
        elif isinstance(o, list):
            if o and all(isinstance(x, int | float) for x in o):
                n += 1
            else:
                stack.extend(o)
    return n


def check_parcel_vertices(n: int, limits: Limits, *, file: str | None = None) -> None:
    """Raise :class:`LimitExceededError` when a parcel has more than ``parcel_vertices`` vertices."""
    if n > limits.parcel_vertices:
        raise _too_large(f"The parcel has {n:,} vertices, more than the {limits.parcel_vertices:,} allowed",
                         f"地块有 {n:,} 个顶点，超过上限 {limits.parcel_vertices:,}", name="parcel_vertices",
                         file=file, field="parcel",
                         fix="Simplify the polygon (e.g. ST_Simplify / mapshaper to a 5 m tolerance) or split it.",
                         fix_zh="请简化多边形（如以 5 米容差简化）或将其拆分。")
