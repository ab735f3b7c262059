"""Per-cell layers written window by window, then converted to Cloud-Optimized GeoTIFFs.

The block-wise engine never holds a whole raster: each block's per-cell quantities are written
into one tiled, uncompressed float64 GeoTIFF per layer (``<stem>.part.tif``) with a windowed write,
and when every block has been written each file is converted to a COG with GDAL's COG driver
(``rasterio.shutil.copy``; the creation options of :class:`CogSettings`), written beside its
destination and renamed when complete. The COGs have the profile, tags and band description of
:func:`qingshan.io.rasters.write_cog`, so a layer is the same file whatever the block size.

GDAL datasets are not safe to write from several threads or processes: one
:class:`BlockLayerWriter` lives in one process (the Dask client) and receives the block arrays in
order. The uncompressed intermediate keeps windowed writes cheap when blocks do not line up with
the 256-cell tiles (a partly written tile is read back and completed, not appended again).

On a ``dask.distributed`` cluster the arrays do not travel to the client: each worker writes its
block's layers into a file of its own (:func:`write_block_file`, a band per layer) in a folder the
client can read, and hands the writer only the file's name (:meth:`BlockLayerWriter.write_file`);
:meth:`~BlockLayerWriter.finish` mosaics each layer's bands with a VRT and converts that, so the COGs
are the same files as when the client wrote every block.

Example
-------
>>> w = BlockLayerWriter(folder, grid)                                     # doctest: +SKIP
>>> for window, arr in blocks:                                             # doctest: +SKIP
...     w.write("carbon_sequestration.co2.2019", window, arr, units="tCO2 per cell per year",
...             description="carbon_sequestration/co2 2019")
>>> paths = w.finish()   # [folder / "carbon_sequestration.co2.2019.tif"]  # doctest: +SKIP
"""

from __future__ import annotations

import os
import socket
import tempfile
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import numpy as np
import rasterio
import rasterio.shutil

from qingshan.core.codeversion import SameCode
from qingshan.core.errors import ConfigError, InputError, QingshanError, StorageError, storage_error
from qingshan.core.grid import Grid
from qingshan.core.window import Window
from qingshan.io.rasters import (
    ACCOUNTED_SCOPE,
    crs_for_write,
    follow_umask,
    set_band_metadata,
    write_cog,
    writing,
)

__all__ = [
    "TILE",
    "BlockLayerWriter",
    "CogSettings",
    "FinishInBackground",
    "Stopped",
    "cog_options",
    "cog_settings",
    "convert_mosaic",
    "exclusive_output",
    "not_shared",
    "overview_factors",
    "to_cog",
    "using_cog_settings",
    "write_block_file",
]

TILE = 256
"""Tile side of the intermediate GeoTIFF and of the COG [cells] (as ``write_cog``)."""

CONVERT_AT_ONCE = 2
"""Layers converted to COGs at the same time by :meth:`BlockLayerWriter.finish`."""

Overviews = Literal["auto", "always", "never"]
OverviewResampling = Literal["average", "nearest"]
CellType = Literal["float64", "float32"]


@dataclass(frozen=True)
class CogSettings:
    """How every COG is written (:func:`qingshan.io.rasters.write_cog` and :func:`to_cog`); always lossless.

    Chosen for speed, measured with ``bench/bench_cog_write.py`` (docs/benchmarks.md): ZSTD level 1 with
    the floating-point predictor writes a float64 layer about 2× faster than DEFLATE level 6 at the
    same size, and GDAL compresses tiles on all cores. Overviews cost about as much as the full-resolution
    write again and nothing in Qingshan reads them (viewers such as QGIS do, on large layers): ``auto``
    builds them only for layers longer than ``overview_min_side`` cells on a side.

    Environment overrides (read when a file is written): ``QINGSHAN_COG_OVERVIEWS`` (auto, always, never),
    ``QINGSHAN_COG_OVERVIEW_RESAMPLING`` (average, nearest), ``QINGSHAN_COG_COMPRESS`` (zstd, deflate, lzw, none),
    ``QINGSHAN_COG_THREADS`` (a number or ALL_CPUS).

    ``dtype``: cells are float64 (the default, and always for an accounting run, whose rasters must add up to
    its tables); ``qingshan compute --dtype float32`` writes float32 layers, as InVEST does — half the bytes
    to compress and write. Totals are computed in float64 before any layer is written, whatever ``dtype``.
    """

    compress: str = "zstd"
    level: int = 1
    predictor: int = 3  # floating point (TIFF predictor 3)
    overviews: Overviews = "auto"
    overview_min_side: int = 8192
    overview_resampling: OverviewResampling = "average"
    threads: str = "ALL_CPUS"
    dtype: CellType = "float64"

    def with_env(self) -> CogSettings:
        """These settings with the ``QINGSHAN_COG_*`` environment overrides applied (checked)."""
        env = os.environ
        ovr = env.get("QINGSHAN_COG_OVERVIEWS", self.overviews).lower()
        comp = env.get("QINGSHAN_COG_COMPRESS", self.compress).lower()
        _check_env("QINGSHAN_COG_OVERVIEWS", ovr, ("auto", "always", "never"))
        _check_env("QINGSHAN_COG_COMPRESS", comp, ("zstd", "deflate", "lzw", "none"))
        resampling = env.get("QINGSHAN_COG_OVERVIEW_RESAMPLING", self.overview_resampling).lower()
        _check_env("QINGSHAN_COG_OVERVIEW_RESAMPLING", resampling, ("average", "nearest"))
        threads = env.get("QINGSHAN_COG_THREADS", self.threads).upper()
        if not threads.isdigit():
            _check_env("QINGSHAN_COG_THREADS", threads, ("ALL_CPUS", "a whole number"))
        return replace(self, overviews=ovr, compress=comp, threads=threads,  # type: ignore[arg-type]
                       overview_resampling=resampling)  # type: ignore[arg-type]

    def wants_overviews(self, shape: tuple[int, int]) -> bool:
        """Whether a layer of ``shape`` (rows, columns) gets internal overviews."""
        if self.overviews == "auto":
            return max(shape) > self.overview_min_side
        return self.overviews == "always"

    def options(self, shape: tuple[int, int]) -> dict[str, Any]:
        """Creation options of GDAL's COG driver (rasterio keywords) for a layer of ``shape``."""
        opts: dict[str, Any] = {"blocksize": TILE, "compress": self.compress, "num_threads": self.threads,
                                "overviews": "auto" if self.wants_overviews(shape) else "none"}
        if opts["overviews"] == "auto":
            opts["overview_resampling"] = self.overview_resampling
        if self.compress != "none":
            opts["predictor"] = self.predictor
        if self.compress in ("zstd", "deflate"):
            opts["level"] = self.level
        return opts


def _check_env(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(
            f"Environment variable {name}={value!r} is not one of {', '.join(allowed)}",
            f"环境变量 {name}={value!r} 无效，应为 {'、'.join(allowed)} 之一",
            field=name,
            fix=f"Set {name} to one of {', '.join(allowed)}, or unset it.",
            fix_zh=f"请将 {name} 设为 {'、'.join(allowed)} 之一，或删除该变量。",
        )


_current = CogSettings()


def cog_settings() -> CogSettings:
    """The settings in force (see :func:`using_cog_settings`), with the environment overrides."""
    return _current.with_env()


def cog_options(shape: tuple[int, int]) -> dict[str, Any]:
    """Creation options for a layer of ``shape`` under the settings in force."""
    return cog_settings().options(shape)


@contextmanager
def using_cog_settings(settings: CogSettings) -> Iterator[CogSettings]:
    """Write COGs with ``settings`` inside the ``with`` block (this process; not thread-local)."""
    global _current
    before, _current = _current, settings
    try:
        yield settings
    finally:
        _current = before


def overview_factors(shape: tuple[int, int]) -> list[int]:
    """The overview levels GDAL's COG driver gives a layer of ``shape`` (rows, columns): doubled while the
    longer side divided by the level (rounded down) is still more than one :data:`TILE`; 700 cells → [2, 4],
    1025 → [2, 4], 9000 → [2, 4, …, 64] (``tests/engine/test_cog_writer.py`` checks it against the driver)."""
    factors: list[int] = []
    factor = 1
    while max(shape) // factor > TILE:
        factor *= 2
        factors.append(factor)
    return factors


def _build_overviews(path: str | Path, shape: tuple[int, int], settings: CogSettings) -> None:
    """Overviews inside the scratch GeoTIFF ``path`` (GDAL's BuildOverviews, on ``settings.threads``): the COG
    driver then copies them as they are. About half its own cost, which builds them in a temporary file from
    the compressed full-resolution tiles (``docs/benchmarks.md``, sixth pass)."""
    from rasterio.enums import Resampling

    with rasterio.Env(GDAL_NUM_THREADS=settings.threads), rasterio.open(path, "r+") as ds:
        ds.build_overviews(overview_factors(shape), Resampling[settings.overview_resampling])


def _part_profile(grid: Grid) -> dict[str, Any]:
    """Tiled, uncompressed GeoTIFF (cells of :attr:`CogSettings.dtype`) on ``grid`` with NaN nodata (the intermediate)."""
    return {
        "driver": "GTiff",
        "dtype": cog_settings().dtype,
        "count": 1,
        "height": grid.height,
        "width": grid.width,
        "crs": crs_for_write(grid),
        "transform": grid.transform,
        "nodata": np.nan,
        **_part_profile_options(),
    }


def _part_profile_options() -> dict[str, Any]:
    """Creation options of the intermediate GeoTIFF (:func:`_part_profile` without the grid and cell type)."""
    return {"tiled": True, "blockxsize": TILE, "blockysize": TILE, "BIGTIFF": "IF_SAFER", "SPARSE_OK": True}


def not_shared(path: str | Path, what: str, what_zh: str) -> StorageError:
    """The error for ``what`` at ``path``, written by a dask worker, that this process cannot see (the workers do
    not share the data dir with it)."""
    return StorageError(
        f"The {what} {path} a dask worker wrote is not visible to this process",
        f"计算节点写出的{what_zh} {path} 在本机不可见",
        file=path,
        fix="On a dask.distributed cluster, put the data dir ([run] data_dir) on storage that every worker and "
            "this machine share (NFS or similar), or run with scheduler 'threads'.",
        fix_zh="使用 dask.distributed 集群时，请将数据目录（[run] data_dir）放在所有计算节点与本机共享的存储上"
               "（如 NFS），或改用 'threads' 调度器。",
    )


def write_block_file(path: str | Path, grid: Grid, window: Window, layers: Mapping[str, np.ndarray],
                     dtype: CellType) -> Path:
    """One block's layers in one GeoTIFF at ``path``: band *i* is the *i*-th of ``layers`` (its key as the
    band's description), on the block's own grid (``window`` of ``grid``), tiled and uncompressed, cells of
    ``dtype`` with NaN nodata. Written under a temporary name beside ``path`` and renamed: a reader never sees
    half a block. ``path``'s folder is not created: the run creates it and deletes it when it ends, so a block
    still running on a worker after that cannot leave a file behind. A failed write (the folder gone included)
    is a :class:`~qingshan.core.errors.StorageError` and leaves nothing."""
    from qingshan.core.window import block_grid

    path = Path(path)
    bgrid = block_grid(grid, window)
    profile = {**_part_profile(bgrid), "dtype": dtype, "count": len(layers), "interleave": "band"}
    with writing(path):  # the folder must exist: a block still running after its run was stopped writes nothing
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        try:
            with rasterio.open(tmp, "w", **profile) as ds:
                for band, (key, values) in enumerate(layers.items(), start=1):
                    if values.shape != window.shape:
                        raise ValueError(f"{key}: block of shape {values.shape} does not fit window {window}")
                    ds.write(values.astype(dtype, copy=False)[np.newaxis], [band])
                    ds.set_band_description(band, key)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path


def _mosaic_vrt(path: Path, grid: Grid, dtype: str, sources: list[tuple[Window, Path, int]], *, units: str,
                description: str, scope: str | None) -> Path:
    """A VRT at ``path`` of ``grid`` whose cells are band ``b`` of each block file at its window (NaN where no
    block was written), with the band metadata :func:`~qingshan.io.rasters.set_band_metadata` gives a layer."""
    root = ET.Element("VRTDataset", rasterXSize=str(grid.width), rasterYSize=str(grid.height))
    ET.SubElement(root, "SRS").text = crs_for_write(grid).to_string()
    ET.SubElement(root, "GeoTransform").text = ", ".join(repr(float(v)) for v in grid.transform.to_gdal())
    if scope:
        ET.SubElement(ET.SubElement(root, "Metadata"), "MDI", key="scope").text = scope
    vrt_type = {"float64": "Float64", "float32": "Float32"}[dtype]
    band = ET.SubElement(root, "VRTRasterBand", dataType=vrt_type, band="1")
    meta = ET.SubElement(band, "Metadata")
    ET.SubElement(meta, "MDI", key="description").text = description
    ET.SubElement(meta, "MDI", key="units").text = units
    ET.SubElement(band, "Description").text = description
    ET.SubElement(band, "NoDataValue").text = "nan"
    ET.SubElement(band, "UnitType").text = units
    for window, file, b in sources:
        src = ET.SubElement(band, "SimpleSource")
        ET.SubElement(src, "SourceFilename", relativeToVRT="0").text = str(file)
        ET.SubElement(src, "SourceBand").text = str(b)
        w, h = str(window.width), str(window.height)
        ET.SubElement(src, "SrcRect", xOff="0", yOff="0", xSize=w, ySize=h)
        ET.SubElement(src, "DstRect", xOff=str(window.col_off), yOff=str(window.row_off), xSize=w, ySize=h)
    ET.ElementTree(root).write(path, encoding="utf-8")
    return path


def to_cog(src: str | Path, dst: str | Path, *, scratch: bool = False, settings: CogSettings | None = None) -> Path:
    """Convert the GeoTIFF ``src`` to a COG at ``dst``, atomically (temp file beside ``dst``, then rename).

    GDAL streams the copy tile by tile; tags, band description and nodata are copied. ``scratch``: ``src``
    is this process's own intermediate, which may be changed — the overviews a layer gets are built into it
    first, then copied (:func:`_build_overviews`); otherwise the COG driver builds them (overviews ``src``
    already has are used as they are). ``settings``: default the settings in force (:func:`cog_settings`).
    """
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tif", dir=dst.parent)
    os.close(fd)
    try:
        with rasterio.open(src) as ds:
            shape, has_overviews = ds.shape, bool(ds.overviews(1))
        settings = settings or cog_settings()
        if scratch and settings.wants_overviews(shape) and not has_overviews:
            _build_overviews(src, shape, settings)
        rasterio.shutil.copy(str(src), tmp, driver="COG", **settings.options(shape))
        follow_umask(tmp)
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dst


_HOST = socket.gethostname().replace(".", "_").replace("-", "_") or "host"


def _sweep_dead_parts(folder: Path) -> None:
    """Delete the scratch files that writers on this host left when they were killed (``kill -9``): those whose
    process no longer runs. Files of other hosts (a shared folder) and of running processes are left alone."""
    for part in folder.glob(f".*.{_HOST}-*.part.tif"):
        try:
            pid = int(part.name.rsplit(".part.tif", 1)[0].rsplit(".", 1)[1].split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, PermissionError):
            continue  # not ours to judge, or alive under another user
        except ProcessLookupError:
            part.unlink(missing_ok=True)


@contextmanager
def exclusive_output(path: str | Path) -> Iterator[None]:
    """Within: this process is the only Qingshan command writing the outputs named after ``path`` (``OUT.tif``,
    ``OUT.<layer>.tif``). A second one is refused at once with a bilingual :class:`InputError` instead of the two
    interleaving their files.

    The lock is an advisory ``flock`` on ``.<name>.lock`` beside ``path``: it ends with the process however it
    ends (``kill -9`` included), and the file is removed on leaving. A lock taken on a file another process has
    just removed is taken again on the new one (the file's inode is checked after locking). Folders it had to
    create for the lock file are removed on leaving if they are still empty.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock
        yield
        return
    path = Path(path)
    lock = path.parent / f".{path.name}.lock"
    created = [d for d in (path.parent, *path.parent.parents) if not d.exists()]  # removed again if left empty
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        with writing(lock):
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise InputError(
                f"Another Qingshan command is writing {path.name} (and its layers) in {path.parent} right now",
                f"另一个青山命令正在 {path.parent} 中写入 {path.name}（及其图层）",
                file=path,
                field="output",
                fix="Wait for it to finish, or give this command another output (-o).",
                fix_zh="请等待其完成，或为本命令指定其他输出路径（-o）。",
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # locked a file its holder removed on leaving: lock the current one
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # while still holding it: a waiting opener sees the inode change
        os.close(fd)
        for folder in created:  # a command refused for bad input leaves no output folder behind
            try:
                folder.rmdir()
            except OSError:
                break  # not empty: the outputs, or another command's


def convert_mosaic(vrt: str | Path, part: str | Path, dst: str | Path, settings: CogSettings, shape: tuple[int, int]) -> str:
    """The COG ``dst`` of a layer whose blocks are files (the VRT ``vrt`` of :class:`BlockLayerWriter`), with
    ``settings``; a layer that gets overviews is first copied into the intermediate ``part``, so that they are
    built as for any other layer. One task on a ``dask.distributed`` worker (it reads the block files and writes
    ``dst`` on the shared data dir), or called in the writer's process. Returns ``dst``."""
    if not settings.wants_overviews(shape):
        return str(to_cog(vrt, dst, settings=settings))
    profile = {"dtype": settings.dtype, "nodata": np.nan, **_part_profile_options()}
    try:
        rasterio.shutil.copy(str(vrt), str(part), driver="GTiff", **profile)
        return str(to_cog(part, dst, scratch=True, settings=settings))
    finally:
        Path(part).unlink(missing_ok=True)


class Stopped(Exception):
    """A conversion not started because the run stopped (:meth:`BlockLayerWriter.finish`'s ``stop``)."""


class BlockLayerWriter:
    """Per-cell layers of one grid, written block by block into ``folder/<stem>.tif`` COGs.

    Parameters
    ----------
    folder : where the COGs (and, until :meth:`finish`, the intermediates) are written.
    grid : the accounting grid every layer is on.
    scope : the ``scope`` dataset tag of every layer (default :data:`~qingshan.io.rasters.ACCOUNTED_SCOPE`).

    Call :meth:`write` once per block and layer (windows may come in any order and need not
    line up with tiles; each cell should be written once), :meth:`write_whole` for a layer
    computed on the whole grid, then :meth:`finish`. :meth:`abort` (or leaving a ``with`` block
    on an error) closes and deletes everything not yet finished.
    """

    def __init__(self, folder: str | Path, grid: Grid, *, scope: str | None = ACCOUNTED_SCOPE) -> None:
        self.folder = Path(folder)
        self.scope = scope  # dataset tag saying which cells hold values (None: no tag, as ``qingshan compute``)
        with writing(self.folder):
            self.folder.mkdir(parents=True, exist_ok=True)
        # this writer's own scratch files: two writers into one folder never share one (found: two `qingshan
        # compute -o out/q.tif` at once wrote into the same q.part.tif, and one printed its total beside an
        # all-NaN q.tif); the host and process id let a later writer remove what a killed one left
        self._token = f"{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _sweep_dead_parts(self.folder)
        self.grid = grid
        self._open: dict[str, Any] = {}  # stem → open rasterio dataset (intermediate)
        self._files: dict[str, list[tuple[Window, Path, int]]] = {}  # stem → (window, block file, band)
        self._file_tags: dict[str, tuple[str, str]] = {}  # stem → (units, description) of a layer in block files
        self._done: list[Path] = []

    def _dataset(self, stem: str, units: str, description: str) -> Any:
        ds = self._open.get(stem)
        if ds is None:
            ds = rasterio.open(self._part(stem), "w", **_part_profile(self.grid))
            set_band_metadata(ds, units=units, description=description, scope=self.scope)
            self._open[stem] = ds
        return ds

    def _part(self, stem: str) -> Path:
        return self.folder / f".{stem}.{self._token}.part.tif"

    def write(self, stem: str, window: Window, values: np.ndarray, *, units: str, description: str) -> None:
        """Write one block of layer ``stem`` (float64 on disk unless the settings say float32; NaN = nodata).

        ``units`` and ``description`` are set when the layer's first block arrives.
        """
        if values.shape != window.shape or not window.within(self.grid.shape):
            raise ValueError(f"{stem}: block of shape {values.shape} does not fit window {window} of grid {self.grid.shape}")
        with writing(self.folder / f"{stem}.tif"):  # disk full, folder gone: a StorageError (the caller aborts)
            ds = self._dataset(stem, units, description)
            # a (1, h, w) view with a band list: rasterio stacks a 2-D array into a new 3-D copy first
            ds.write(values.astype(ds.dtypes[0], copy=False)[np.newaxis], [1], window=window.to_rasterio())

    def write_file(self, window: Window, path: str | Path, layers: Mapping[str, tuple[str, str]]) -> None:
        """The layers of one block already on disk, in ``path`` (:func:`write_block_file`): band *i* is the *i*-th
        of ``layers``, stem → (units, description). The file becomes this writer's: :meth:`finish` and
        :meth:`abort` delete it."""
        if not window.within(self.grid.shape):
            raise ValueError(f"{path}: window {window} is outside the grid {self.grid.shape}")
        for band, (stem, tags) in enumerate(layers.items(), start=1):
            if stem in self._open:
                raise ValueError(f"{stem}: blocks written both as arrays and as files")
            self._files.setdefault(stem, []).append((window, Path(path), band))
            self._file_tags[stem] = tags

    def write_whole(self, stem: str, values: np.ndarray, *, units: str, description: str) -> None:
        """A layer already computed on the whole grid (not block-wise): written as a COG directly."""
        path = self.folder / f"{stem}.tif"
        write_cog(path, values, self.grid, units=units, description=description, scope=self.scope)
        self._done.append(path)

    def finish(self, client: Any = None, *, stop: threading.Event | None = None) -> list[Path]:
        """Close every layer, convert it to ``folder/<stem>.tif`` (COG) and delete the intermediate.

        Layers are converted :data:`CONVERT_AT_ONCE` at a time (GDAL releases the GIL; each copy also
        compresses its tiles on all cores): one copy alone leaves the CPUs idle while it reads its source
        and writes its tiles (about 30 % faster on 2 cores, ``docs/benchmarks.md``). ``client``: a
        ``dask.distributed`` client whose workers convert the layers written as block files (one task per
        layer, as many at a time as the cluster has threads, at least :data:`CONVERT_AT_ONCE`). ``stop``: once set,
        no further layer is started and :class:`Stopped` is raised (the layers being converted are finished first).
        """
        stems = sorted(set(self._open) | set(self._files))
        for stem in self._open:
            with writing(self.folder / f"{stem}.tif"):  # closing flushes the last tiles
                self._open[stem].close()  # stays listed until converted: abort() deletes what is left

        def convert(stem: str) -> Path | BaseException:  # an error is returned: the finished COGs are recorded first
            if stop is not None and stop.is_set():
                return Stopped(stem)
            try:
                done = self._convert(stem, client)
                self._part(stem).unlink(missing_ok=True)
                self._vrt(stem).unlink(missing_ok=True)
                return done
            except BaseException as exc:
                return exc

        results: list[Path | BaseException] = []
        at_once = CONVERT_AT_ONCE if client is None else max(CONVERT_AT_ONCE, sum(client.nthreads().values()))
        if len(stems) > 1 and at_once > 1:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(min(at_once, len(stems)), thread_name_prefix="cog") as pool:
                results = list(pool.map(convert, stems))
        else:
            for stem in stems:
                results.append(convert(stem))
                if isinstance(results[-1], BaseException):
                    break
        for stem, res in zip(stems, results, strict=False):
            if isinstance(res, Path):
                self._open.pop(stem, None)
                self._done.append(res)
        if all(isinstance(res, Path) for res in results) and len(results) == len(stems):
            self._drop_block_files()
        for stem, res in zip(stems, results, strict=False):
            if isinstance(res, OSError) and not isinstance(res, QingshanError):
                raise storage_error(self.folder / f"{stem}.tif", res) from res
            if isinstance(res, BaseException):
                raise res
        return sorted(self._done)

    def _vrt(self, stem: str) -> Path:
        return self.folder / f".{stem}.{self._token}.vrt"

    def _convert(self, stem: str, client: Any = None) -> Path:
        """``folder/<stem>.tif`` from the stem's intermediate, or from the VRT of its block files
        (:func:`convert_mosaic`: on a worker of ``client`` when given, else here)."""
        dst = self.folder / f"{stem}.tif"
        if stem not in self._files:
            return to_cog(self._part(stem), dst, scratch=True)
        units, description = self._file_tags[stem]
        settings = cog_settings()
        with writing(dst):
            vrt = _mosaic_vrt(self._vrt(stem), self.grid, settings.dtype, self._files[stem], units=units,
                              description=description, scope=self.scope)
            args = (str(vrt), str(self._part(stem)), str(dst), settings, self.grid.shape)
            if client is None:
                return Path(convert_mosaic(*args))
            done = Path(client.submit(SameCode.of(convert_mosaic), *args, pure=False).result())
        if not done.is_file():
            raise not_shared(done, "COG", " COG 文件")
        return done

    def _drop_block_files(self) -> None:
        for path in {p for sources in self._files.values() for _, p, _ in sources}:
            path.unlink(missing_ok=True)
        for stem in self._files:
            self._vrt(stem).unlink(missing_ok=True)
        self._files.clear()

    def abort(self) -> None:
        """Close and delete every intermediate, block file and COG written so far."""
        for stem in list(self._open):
            self._open.pop(stem).close()
            self._part(stem).unlink(missing_ok=True)
        for stem in self._files:
            self._part(stem).unlink(missing_ok=True)
        self._drop_block_files()
        for path in self._done:
            path.unlink(missing_ok=True)
        self._done.clear()

    def __enter__(self) -> BlockLayerWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if exc_type is not None:
            self.abort()


class FinishInBackground:
    """The :meth:`BlockLayerWriter.finish` of each writer handed in, one after the other in a background thread,
    while the caller goes on (the next year's blocks, the valuation and the exports).

    GDAL compresses with the GIL released, while what follows the blocks is mostly Python on one core: side by
    side rather than one after the other. A writer whose conversion fails is aborted (as leaving its ``with``
    block on an error does). :meth:`result` waits for every conversion and raises the first error;
    :meth:`stop` starts no further layer and waits for those being converted: call it before deleting the folder.
    ``client``: as for :meth:`BlockLayerWriter.finish`.
    """

    def __init__(self, client: Any = None) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.client = client
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="cog-finish")
        self._pending: list[tuple[BlockLayerWriter, Any]] = []  # writers and the futures of their finish, in order

    def submit(self, writer: BlockLayerWriter) -> None:
        """Convert ``writer``'s layers once those submitted before are converted."""
        import contextvars

        def finish() -> list[Path]:
            try:
                return writer.finish(client=self.client, stop=self._stop)
            except BaseException:
                writer.abort()
                raise

        self._pending.append((writer, self._pool.submit(contextvars.copy_context().run, finish)))

    def raise_failed(self) -> None:
        """Raise the error of the first conversion that has already failed (without waiting for the others): a
        multi-year run checks before each year's blocks, so that a failed conversion stops it at once rather
        than after every later year is computed."""
        for _, future in self._pending:
            if future.done() and not future.cancelled() and future.exception() is not None:
                future.result()

    def result(self) -> list[Path]:
        """The COGs of every writer submitted, once all are converted; the first error is raised."""
        return sorted(path for _, future in self._pending for path in future.result())

    def stop(self) -> None:
        """No further layer is started; returns when the conversions under way have ended."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        for writer, future in self._pending:
            if future.cancelled():  # never started: its intermediates are still open
                writer.abort()

