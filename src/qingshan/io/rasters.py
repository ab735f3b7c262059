"""Reading, validating and aligning input rasters; writing Cloud-Optimized GeoTIFFs.

Inputs are checked for a CRS, a nodata value, and a plausible value range (from the canonical
variables) before any computation, and are aligned to the accounting grid: categorical rasters
(land cover) with nearest-neighbour, continuous ones bilinearly.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
import rasterio
import rasterio.crs
import rasterio.io
from rasterio.enums import Resampling
from rasterio.warp import reproject

from qingshan.core.crs import crs_facts
from qingshan.core.errors import GridMismatchError, InputError, StorageError, storage_error
from qingshan.core.grid import Grid
from qingshan.core.limits import check_raster_size
from qingshan.core.variables import VARIABLES, Variable

__all__ = ["ACCOUNTED_SCOPE", "COG_DTYPE", "crs_for_write", "follow_umask", "grid_of", "offer_whole_read", "read_aligned", "scratch_name",
           "set_band_metadata", "sharing_whole_reads", "take_whole_read", "write_cog", "writing"]

_WHOLE_READS: dict[tuple[str, int, int, int], np.ndarray] | None = None


@contextmanager
def writing(path: str | Path) -> Iterator[None]:
    """Within: an operating-system error (disk full, read-only or missing folder; GDAL's write errors alike)
    becomes a bilingual :class:`~qingshan.core.errors.StorageError` naming ``path`` and its disk's free space."""
    try:
        yield
    except StorageError:
        raise
    except OSError as exc:
        raise storage_error(path, exc) from exc


@contextmanager
def sharing_whole_reads() -> Iterator[None]:
    """Within: a raster the plausibility check read whole (float64, nodata → NaN) is handed to the first read of
    the whole of the same, unchanged file by the blocks (:func:`qingshan.engine.blocks.read_window`): one read
    and decode instead of two, the same array. Outside, nothing is kept. ``qingshan compute`` runs inside
    (at 1000², 5 inputs: ~0.06 s of CPU less); what was not taken is dropped on leaving."""
    global _WHOLE_READS
    before, _WHOLE_READS = _WHOLE_READS, {}
    try:
        yield
    finally:
        _WHOLE_READS = before


def _file_key(path: str | Path) -> tuple[str, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.path.realpath(path), st.st_ino, st.st_size, st.st_mtime_ns)


def offer_whole_read(path: str | Path, values: np.ndarray) -> None:
    """Keep ``values``, the whole of band 1 of ``path`` as float64 with nodata → NaN, for :func:`take_whole_read`
    (only inside :func:`sharing_whole_reads`; the caller no longer uses ``values``)."""
    shared = _WHOLE_READS
    key = _file_key(path)
    if shared is not None and key is not None:
        shared[key] = values


def take_whole_read(path: str | Path) -> np.ndarray | None:
    """The array :func:`offer_whole_read` kept for ``path`` if the file is unchanged since (given once), else None."""
    shared = _WHOLE_READS
    if not shared:
        return None
    key = _file_key(path)
    return None if key is None else shared.pop(key, None)


def grid_of(path: str | Path) -> Grid:
    """The grid of a raster file (errors if it has no CRS)."""
    with _open(path) as ds:
        _require_crs(ds, path)
        return Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)


def _dask_worker() -> str | None:
    """The address of the ``dask.distributed`` worker this code runs on, or None (not on a worker)."""
    if "distributed" not in sys.modules:
        return None
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def _open(path: str | Path) -> rasterio.DatasetReader:
    p = Path(path)
    if not p.is_file():
        worker = _dask_worker()
        if worker is not None:  # the client found it: this worker does not share its storage
            raise InputError(
                f"Raster not visible on the dask worker {worker}: {p}",
                f"计算节点 {worker} 上看不到栅格文件：{p}",
                file=p,
                fix="Every dask worker must read the inputs and the data dir at the same paths as the machine that "
                    "starts the run (shared storage, e.g. NFS); or use the scheduler 'threads'.",
                fix_zh="每个计算节点都须以与发起核算的机器相同的路径读取输入数据和数据目录（共享存储，如 NFS）；"
                       "或改用 'threads' 调度器。",
            )
        raise InputError(
            f"Raster not found: {p}",
            f"找不到栅格文件：{p}",
            file=p,
            fix="Check the path in the config's [inputs] section.",
            fix_zh="请检查配置文件 [inputs] 中的路径。",
        )
    try:
        return rasterio.open(p)
    except rasterio.errors.RasterioIOError as exc:
        raise InputError(
            f"Cannot open raster {p}: {exc}",
            f"无法打开栅格文件 {p}",
            file=p,
            fix="Give a GeoTIFF (or another GDAL-readable raster).",
            fix_zh="请提供 GeoTIFF 或其他 GDAL 可读的栅格。",
        ) from exc


def _require_crs(ds: rasterio.DatasetReader, path: str | Path) -> None:
    if ds.crs is None:
        raise InputError(
            f"Raster {Path(path).name} has no coordinate reference system (CRS)",
            f"栅格 {Path(path).name} 没有坐标参考系（CRS）",
            file=path,
            field="crs",
            fix="Assign the CRS, e.g. `gdal_edit.py -a_srs EPSG:4326 FILE` or rio edit-info --crs EPSG:4326.",
            fix_zh="请为栅格设置坐标系，例如 `gdal_edit.py -a_srs EPSG:4326 文件`。",
        )


def read_aligned(
    path: str | Path,
    variable: str,
    grid: Grid,
    *,
    allow_resample: bool = True,
) -> np.ndarray:
    """Read one band of ``path`` onto ``grid`` as float64 (nodata → NaN), then validate range.

    Parameters
    ----------
    path : raster file.
    variable : canonical variable name (``precip``, ``lulc`` …), for resampling and range checks.
    grid : the accounting grid.
    allow_resample : if False, a raster on another grid is an error instead of being resampled.
    """
    var = VARIABLES[variable]
    with _open(path) as ds:
        _require_crs(ds, path)
        src_grid = Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)
        nodata = ds.nodata
        check_raster_size(ds.width, ds.height, ds.count, file=path)  # header first: no huge allocation
        data = ds.read(1, masked=False).astype(np.float64)
        if nodata is not None:
            data[data == nodata] = np.nan
        if src_grid.same_as(grid):
            out = data
        elif not allow_resample:
            raise GridMismatchError(
                f"Raster '{variable}' is on a different grid from the accounting grid "
                f"({src_grid.shape} vs {grid.shape})",
                f"栅格 '{variable}' 与核算格网不一致",
                file=path,
                field=variable,
                fix="Resample it to the reference grid, or set [grid] resample = true in the config.",
                fix_zh="请将其重采样到参考格网，或在配置文件 [grid] 中设置 resample = true。",
            )
        else:
            out = np.full(grid.shape, np.nan)
            reproject(
                source=data,
                destination=out,
                src_transform=ds.transform,
                src_crs=ds.crs,
                src_nodata=np.nan,
                dst_transform=grid.transform,
                dst_crs=grid.crs_wkt,
                dst_nodata=np.nan,
                resampling=Resampling.nearest if var.categorical else Resampling.bilinear,
            )
    check_range(out, var, path)
    return out


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    """(min, max) of the finite values, (NaN, NaN) if there are none.

    ``np.fmin``/``np.fmax`` skip NaN in one pass without copying the finite values out; only an array
    holding ±inf takes the copying path (infinite cells are nodata, as NaN).
    """
    if values.size == 0:
        return np.nan, np.nan
    lo, hi = float(np.fmin.reduce(values, axis=None)), float(np.fmax.reduce(values, axis=None))
    if np.isinf(lo) or np.isinf(hi):
        finite = values[np.isfinite(values)]
        return (float(finite.min()), float(finite.max())) if finite.size else (np.nan, np.nan)
    return lo, hi


def check_range(values: np.ndarray, var: Variable, path: str | Path) -> None:
    """Raise :class:`InputError` when finite values fall outside the variable's valid range."""
    lo, hi = _finite_range(values)
    if np.isnan(lo):
        raise InputError(
            f"Raster '{var.name}' has no valid cells on the accounting grid",
            f"栅格 '{var.name}' 在核算范围内没有有效像元",
            file=path,
            field=var.name,
            fix="Check that the raster covers the regions and that its nodata value is right.",
            fix_zh="请确认栅格覆盖核算区域且无数据值设置正确。",
        )
    if lo < var.valid_min or hi > var.valid_max:
        bad = lo if lo < var.valid_min else hi
        raise InputError(
            f"Raster '{var.name}' has value {bad:g} outside the plausible range "
            f"[{var.valid_min:g}, {var.valid_max:g}] {var.units}",
            f"栅格 '{var.name}'（{var.name_zh}）含有超出合理范围 [{var.valid_min:g}, {var.valid_max:g}] {var.units} 的值 {bad:g}",
            file=path,
            field=var.name,
            fix=f"Check the units (expected {var.units}) and the nodata value of the raster.",
            fix_zh=f"请检查单位（应为 {var.units}）和无数据值设置。",
        )


COG_DTYPE = "float64"
"""Per-cell layers are stored as float64: the sum of a region's cells equals its table total to ~1e-15
(float32 would round each cell by ~6e-8 relative)."""


def crs_for_write(grid: Grid) -> rasterio.crs.CRS:
    """The grid's CRS for a GeoTIFF header: by EPSG code where one exists (GeoKeys), else its WKT."""
    code = crs_facts(grid.crs_wkt).epsg
    return rasterio.crs.CRS.from_epsg(code) if code else rasterio.crs.CRS.from_wkt(grid.crs_wkt)


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc/self/status``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(path: str | Path) -> None:
    """Give ``path`` the mode a newly created file gets (0666 & ~umask: 0644 by default).

    ``tempfile.mkstemp`` creates 0600 files; a file written through one and renamed into place
    keeps that mode unless it is changed.
    """
    os.chmod(path, 0o666 & ~_umask())


ACCOUNTED_SCOPE = "cells of the accounted regions only: NaN (nodata) outside every leaf region and where land cover is nodata"
"""``scope`` tag of the per-cell layers of a run (masked as the tables count cells)."""


def set_band_metadata(ds: rasterio.io.DatasetWriter, *, units: str, description: str, scope: str | None = None) -> None:
    """Unit, description and tags of band 1 (GDAL band metadata, read by QGIS/gdalinfo); ``scope`` as a dataset tag."""
    ds.set_band_unit(1, units)
    ds.set_band_description(1, description)
    ds.update_tags(1, units=units, description=description)
    if scope:
        ds.update_tags(scope=scope)


def write_cog(path: str | Path, values: np.ndarray, grid: Grid, *, units: str, description: str,
              scope: str | None = None) -> None:
    """Write ``values`` as a single-band float64 Cloud-Optimized GeoTIFF, atomically.

    The file is written beside its destination and renamed when complete, so a reader never
    sees a half-written raster; it then has the mode the umask gives new files (0644 by default).
    The band carries ``units`` and ``description`` (GDAL unit type, description and tags); the
    CRS is written with its EPSG code where it has one; ``scope`` (e.g. :data:`ACCOUNTED_SCOPE`)
    says which cells hold values. Compression, overviews and threads: :func:`qingshan.io.cog.cog_options`.
    A failed write (disk full, read-only folder) is a :class:`~qingshan.core.errors.StorageError`; nothing of
    it is left.
    """
    path = Path(path)
    with writing(path):
        _write_cog(path, values, grid, units, description, scope)


def _write_cog(path: Path, values: np.ndarray, grid: Grid, units: str, description: str, scope: str | None) -> None:
    from qingshan.core.window import Window
    from qingshan.io.cog import (  # io.cog builds on this module
        BlockLayerWriter,
        cog_options,
        cog_settings,
    )

    if cog_settings().wants_overviews(values.shape) and path.suffix == ".tif":
        # overviews built in a scratch file, as for a block-wise layer: the same cells, half the driver's cost
        with BlockLayerWriter(path.parent, grid, scope=scope) as writer:
            writer.write(path.stem, Window(0, 0, *values.shape), values, units=units, description=description)
            writer.finish()
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tif", dir=path.parent)
    os.close(fd)
    profile = {
        "driver": "COG",
        "dtype": cog_settings().dtype,  # COG_DTYPE unless `qingshan compute --dtype float32`
        "count": 1,
        "height": grid.height,
        "width": grid.width,
        "crs": crs_for_write(grid),
        "transform": grid.transform,
        "nodata": np.nan,
        **cog_options(values.shape),
    }
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.write(values.astype(profile["dtype"], copy=False), 1)
            set_band_metadata(dst, units=units, description=description, scope=scope)
        follow_umask(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def scratch_name(filename: str | None, default: str = ".tif") -> str:
    """A safe name for a temporary copy of an uploaded file called ``filename``, in a folder of its own: the
    file's own name without folders when that is a plain one (so that validation messages name the user's file),
    else ``upload`` with the file's extension when that is short and plain (GDAL may choose a driver by it), else
    ``upload.tif``. Found: a raster uploaded as ``..`` or with a 300-byte name answered 500, the name naming a file
    on the server."""
    name = PurePosixPath(PureWindowsPath(filename or "").name).name.strip()
    if name not in ("", ".", "..") and len(name.encode()) <= 200 and name.isprintable():
        return name
    suffix = PurePosixPath(name).suffix.lower()
    ok = 1 < len(suffix) <= 8 and suffix[1:].isascii() and suffix[1:].isalnum()
    return "upload" + (suffix if ok else default)
