"""The engine's blocks: reading windows, validating them, and the one loop over the blocks of a grid.

:func:`map_blocks` runs a block task on every :class:`~qingshan.core.window.Window` of a grid — on
Dask's threaded scheduler (default), a pool of worker processes, or a ``dask.distributed`` cluster
(:func:`open_scheduler`) — and sums the :class:`BlockPartial` results (in a tree of tasks, or in
window order while an ``on_block`` callback writes each block's layers). A grid of one block is
computed directly, without a task graph. An accounting's block task is
:func:`qingshan.engine.blockwise.block_partial`; ``qingshan compute``'s is
:func:`qingshan.engine.compute.indicator_block`. Both read their inputs with :func:`read_window`
(raster windows, warped onto the grid when needed, or slices of arrays) and check them with
:func:`validate_block`; notices raised in a block travel back in its result.

This module imports neither pandas, geopandas nor Dask at import time (Dask when blocks are more
than one), so that a single-indicator command starts quickly.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from qingshan.core.codeversion import SameCode
from qingshan.core.errors import ConfigError, GridMismatchError, QingshanError
from qingshan.core.grid import Grid
from qingshan.core.limits import check_raster_size
from qingshan.core.notices import Notice
from qingshan.core.params import ParamSet
from qingshan.core.spec import MethodSpec
from qingshan.core.variables import VARIABLES
from qingshan.core.window import Window, block_windows
from qingshan.io.rasters import _open, _require_crs, check_range, take_whole_read

__all__ = [
    "AHEAD_PER_THREAD",
    "DEFAULT_BLOCK_SIZE",
    "FAN_IN",
    "LOCAL_SCHEDULERS",
    "SCHEDULER_TIMEOUT",
    "ArraySource",
    "BlockPartial",
    "InputSource",
    "OnBlock",
    "ProcessPool",
    "Source",
    "check_coverage",
    "is_blockwise",
    "map_blocks",
    "open_scheduler",
    "read_window",
    "sources_on_grid",
    "validate_block",
]


DEFAULT_BLOCK_SIZE = 1024
"""Side of a block [cells]: 1024² float64 cells are 8 MiB per layer."""


FAN_IN = 8
"""Partial totals summed per reduction task."""


AHEAD_PER_THREAD = 2
"""Blocks computed ahead of the COG writer per worker thread: bounds the block results held at once."""


OnBlock = Callable[[Window, "BlockPartial"], None]


def is_blockwise(method: MethodSpec) -> bool:
    """True when ``method`` can be computed block by block (element-wise raster method)."""
    return method.kind == "raster" and method.blockwise


@dataclass(frozen=True)
class InputSource:
    """One raster input of one year, and how its windows are read onto the accounting grid."""

    name: str
    path: Path
    warp: bool = False  # True: read through a WarpedVRT onto the grid (off-grid raster)


@dataclass(frozen=True, eq=False)
class ArraySource:
    """An input given as an array already on the accounting grid (``compute_indicator``): windows are slices.

    ``derived``: a layer the engine computed from the inputs (the LS factor of soil retention,
    :func:`qingshan.engine.derived_cache.ls_source`), not a user's input: not range-checked. A
    ``numpy.memmap`` (a cached layer on disk) is pickled as its file, not its values, so a worker
    process maps the same file instead of receiving a copy of the grid; its pages are released from
    this process after each window read (:func:`qingshan.io.memmaps.release_pages`), so reading
    every block does not hold the whole layer in memory.
    """

    name: str
    values: np.ndarray
    derived: bool = False

    @property
    def path(self) -> str:
        """How errors name it."""
        return f"<array {self.name}>"

    def __reduce__(self) -> tuple[Any, ...]:
        from qingshan.io.memmaps import memmap_spec, open_memmap_spec

        spec = memmap_spec(self.values)
        if spec is None:
            return (ArraySource, (self.name, self.values, self.derived))
        return (_array_source_from_file, (self.name, spec, self.derived, open_memmap_spec))


def _array_source_from_file(name: str, spec: Any, derived: bool, opener: Callable[[Any], np.ndarray]) -> ArraySource:
    return ArraySource(name, opener(spec), derived)


Source = InputSource | ArraySource


def sources_on_grid(paths: Mapping[str, Path], grid: Grid, *, resample: bool) -> dict[str, InputSource]:
    """:func:`input_sources` for named raster files (``resample``: warp off-grid rasters, else an error)."""
    out = {}
    for name in sorted(paths):
        path = Path(paths[name])
        with _open(path) as ds:
            _require_crs(ds, path)
            check_raster_size(ds.width, ds.height, ds.count, file=path)  # the service's guard, as read_aligned
            src = Grid.from_crs(ds.crs.to_wkt(), ds.transform, ds.height, ds.width)
        if not src.same_as(grid) and not resample:
            raise GridMismatchError(
                f"Raster '{name}' is on a different grid from the accounting grid ({src.shape} vs {grid.shape})",
                f"栅格 '{name}' 与核算格网不一致",
                file=path,
                field=name,
                fix="Resample it to the reference grid (gdalwarp -tr/-te, or rio warp --like), or set [grid] resample = true.",
                fix_zh="请先将其重采样对齐到参考格网（gdalwarp 或 rio warp --like），或在配置文件 [grid] 中设置 resample = true。",
            )
        out[name] = InputSource(name, path, warp=not src.same_as(grid))
    return out


def read_window(source: Source, grid: Grid, window: Window) -> np.ndarray:
    """Read ``window`` of the accounting grid from one input as float64 (nodata → NaN).

    On-grid rasters are read with a rasterio window read; off-grid ones through a ``WarpedVRT``
    on the accounting grid (nearest for categorical variables, bilinear otherwise, as
    :func:`qingshan.io.rasters.read_aligned`). Only the window's cells are read. An
    :class:`ArraySource` gives a float64 copy of the window's slice.
    """
    if isinstance(source, ArraySource):
        out = np.array(source.values[window.slices()], dtype=np.float64)
        if isinstance(source.values, np.memmap):
            from qingshan.io.memmaps import release_pages

            release_pages(source.values)
        return out
    with _open(source.path) as ds:
        nodata = ds.nodata
        if not source.warp:
            if window.row_off == window.col_off == 0 and (window.height, window.width) == ds.shape:
                whole = take_whole_read(source.path)  # the plausibility check's read, when shared
                if whole is not None:
                    return whole
            data = ds.read(1, window=window.to_rasterio()).astype(np.float64)
            if nodata is not None:
                data[data == nodata] = np.nan
            return data
        categorical = VARIABLES[source.name].categorical
        with WarpedVRT(
            ds,
            crs=grid.crs_wkt,
            transform=grid.transform,
            width=grid.width,
            height=grid.height,
            resampling=Resampling.nearest if categorical else Resampling.bilinear,
            src_nodata=nodata,
            nodata=np.nan,
            dtype="float64",
        ) as vrt:
            return np.asarray(vrt.read(1, window=window.to_rasterio()), dtype=np.float64)


@dataclass
class BlockPartial:
    """Totals of some blocks: ``indicator.component`` → (n_regions, n_ecosystems), and valid-cell counts."""

    totals: dict[str, np.ndarray] = field(default_factory=dict)
    finite: dict[str, int] = field(default_factory=dict)
    cells: int = 0
    layers: dict[str, np.ndarray] = field(default_factory=dict)  # one block's per-cell values; not summed
    notices: list[Notice] = field(default_factory=list)  # raised while computing these blocks (kept once each)
    layer_file: str | None = None  # one block's per-cell values written by a worker (a band per key of layer_keys)
    layer_keys: tuple[str, ...] = ()

    def add(self, other: BlockPartial) -> BlockPartial:
        """Add ``other``'s totals, counts and notices into this partial (in place) and return it (layers are not kept)."""
        for key, arr in other.totals.items():
            if key in self.totals:
                self.totals[key] = self.totals[key] + arr
            else:
                self.totals[key] = arr.copy()
        for key, n in other.finite.items():
            self.finite[key] = self.finite.get(key, 0) + n
        self.cells += other.cells
        self.notices.extend(n for n in other.notices if n not in self.notices)
        return self


def _derived(source: Source) -> bool:
    return isinstance(source, ArraySource) and source.derived


def _merge(*parts: BlockPartial) -> BlockPartial:
    out = BlockPartial()
    for p in parts:
        out.add(p)
    return out


def validate_block(inputs: Mapping[str, np.ndarray], sources: Mapping[str, Source], params: ParamSet) -> dict[str, int]:
    """Range and land-cover checks of ``load_inputs`` on one block; returns valid cells per input."""
    finite = {}
    for name, arr in inputs.items():
        n = int(np.count_nonzero(np.isfinite(arr)))
        finite[name] = n
        if _derived(sources[name]):  # computed by the engine from checked inputs (LS from the DEM)
            continue
        if n:  # an all-nodata block is normal (sea, outside the province); checked over all blocks
            check_range(arr, VARIABLES[name], sources[name].path)
    if "lulc" in inputs and params.landcover is not None:
        lulc = inputs["lulc"]
        params.landcover.check_codes(lulc[np.isfinite(lulc)].astype(np.int64), raster=str(sources["lulc"].path))
    return finite


def _tree_sum(parts: list[Any], merge: Callable[..., BlockPartial] = _merge) -> Any:
    """Delayed sum of delayed partials, ``FAN_IN`` at a time (memory stays bounded)."""
    import dask

    while len(parts) > 1:
        parts = [dask.delayed(merge, pure=True)(*parts[i : i + FAN_IN]) for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def map_blocks(grid: Grid, task: Callable[..., BlockPartial], shared: Sequence[Any], *, args: Sequence[Any] = (),
               block_size: int | tuple[int, int] = DEFAULT_BLOCK_SIZE, client: Any = None,
               on_block: OnBlock | None = None, low_priority: bool = False) -> BlockPartial:
    """Run ``task(window, grid, *shared, keep_layers, *args)`` on every block of ``grid`` and sum the partials.

    The engine's one loop over blocks, for an accounting (:func:`block_partial`) and for one indicator
    (:func:`qingshan.engine.compute.compute_indicator`). ``shared`` objects enter the graph once
    (scattered to every worker once with a ``distributed.Client``). With ``on_block``, each block's
    result (``keep_layers=True``) is handed to it in window order (:func:`_stream_blocks`);
    without it, the partials are summed in a tree of tasks. ``client``: see :func:`blockwise_totals`.
    ``low_priority`` (with ``on_block``, on local threads): compute at :func:`lower_priority`, for work done
    beside a run's own blocks (:class:`~qingshan.engine.extent.BasisInBackground`).
    """
    if isinstance(client, str) and client not in ("threads", "synchronous"):  # an address, or "processes": a pool
        with open_scheduler(client) as c:
            return map_blocks(grid, task, shared, args=args, block_size=block_size, client=c, on_block=on_block,
                              low_priority=low_priority)
    windows = list(block_windows(grid.shape, block_size))
    local = local_scheduler(client)
    if local is not None and len(windows) == 1:  # the whole grid as one block: no task graph (nor Dask import)
        part = task(windows[0], grid, *shared, on_block is not None, *args)
        if on_block is not None:
            on_block(windows[0], part)
        return part
    import dask

    merge: Callable[..., BlockPartial] = _merge
    if local is not None:  # shared objects enter the graph once, not once per block
        d_shared = [dask.delayed(x, pure=True, traverse=False) for x in shared]
    else:  # sent to every worker once, before the blocks; a task runs only on a worker with this code
        _prepare(client)
        d_shared = client.scatter(list(shared), broadcast=True)
        task, merge = SameCode.of(task), SameCode.of(_merge)
    keep = on_block is not None
    tasks = [dask.delayed(task, pure=True)(w, grid, *d_shared, keep, *args) for w in windows]
    if on_block is not None:
        return _stream_blocks(windows, tasks, client, on_block, low_priority)
    total = _tree_sum(tasks, merge)
    if local is not None:
        (result,) = dask.compute(total, **_compute_options(client))
        return result
    return client.compute(total).result()


LOW_PRIORITY_NICE = 10
"""Niceness added to threads of background work (Linux): the run's own threads come first, it takes the rest."""


def lower_priority() -> None:
    """Lower the calling thread's CPU priority by :data:`LOW_PRIORITY_NICE` (Linux schedules threads one by one;
    elsewhere nothing is changed). For work beside a run's critical path: the SEEA basis while one thread routes
    flow for LS (:class:`~qingshan.engine.extent.BasisInBackground`)."""
    if sys.platform.startswith("linux"):
        with suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOW_PRIORITY_NICE)


LOCAL_SCHEDULERS = ("threads", "processes", "synchronous")
"""Dask's schedulers in this process (threads), in local worker processes, or one task at a time."""


SCHEDULER_TIMEOUT = 10.0
"""Seconds to wait for a ``dask.distributed`` scheduler to answer before the run fails."""


@dataclass(frozen=True)
class ProcessPool:
    """Dask's ``"processes"`` scheduler with one pool of worker processes for a whole run (a new pool
    per ``dask.compute`` call would start and import everything again for every batch of blocks)."""

    pool: Any  # concurrent.futures.ProcessPoolExecutor


def local_scheduler(client: Any) -> str | None:
    """The name of a local Dask scheduler (what :func:`open_scheduler` yields for one), or None for a
    ``dask.distributed`` client."""
    if client is None:
        return "threads"
    if isinstance(client, ProcessPool):
        return "processes"
    return client if isinstance(client, str) else None


def _compute_options(client: Any) -> dict[str, Any]:
    """Keyword arguments of ``dask.compute`` for a local scheduler."""
    if isinstance(client, ProcessPool):
        return {"scheduler": "processes", "pool": client.pool}
    import dask.local
    import dask.threaded

    # the scheduler function, not its name: for a name, dask imports distributed (~0.4 s) to look for a Client
    return {"scheduler": dask.local.get_sync if local_scheduler(client) == "synchronous" else dask.threaded.get}


@contextmanager
def open_scheduler(scheduler: Any, *, file: Path | str | None = None) -> Iterator[Any]:
    """Where blocks are computed: ``None``/``"threads"`` (local threads, the default), ``"processes"``
    (one pool of worker processes for the ``with`` block), ``"synchronous"``, a ``dask.distributed.Client`` (used as it is), or a scheduler address such as
    ``tcp://host:8786`` (a client is connected for the ``with`` block and closed after).

    Local scheduler names are read in any case. A string that is not an address is a :class:`ConfigError`
    naming ``run.scheduler`` at once (``file``: the config); so is an address that does not complete dask's
    handshake within :data:`SCHEDULER_TIMEOUT` (+ 5) seconds, a cluster whose workers run other code or that
    has no worker (:mod:`qingshan.engine.cluster`), and a cluster that fails while the ``with`` block runs.
    """
    if isinstance(scheduler, str) and scheduler.strip().lower() in LOCAL_SCHEDULERS:  # "Threads" too
        scheduler = scheduler.strip().lower()
    if scheduler == "processes":
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        import dask.system

        with ProcessPoolExecutor(int(dask.system.CPU_COUNT), mp_context=get_context("spawn")) as pool:
            yield ProcessPool(pool)
        return
    if scheduler is None or scheduler in LOCAL_SCHEDULERS:
        yield None if scheduler in (None, "threads") else scheduler
        return
    if not isinstance(scheduler, str):
        _prepare(scheduler)
        try:
            yield scheduler
        except QingshanError:
            raise
        except Exception as exc:
            _other_code(scheduler, exc)
            raise
        return
    address = _checked_address(scheduler, file)
    client = _connect(address, file)
    try:
        with client:
            _prepare(client)
            yield client
    except QingshanError:
        raise
    except Exception as exc:
        _other_code(client, exc)
        if not _from_the_cluster(exc):
            raise
        raise _cluster_failed(address, exc, file) from None


_ADDRESS = re.compile(r"(tcp|tls|ucx|ws|wss)://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}|inproc://\S+")


def _not_a_scheduler(scheduler: str, file: Path | str | None, reason: str, reason_zh: str) -> ConfigError:
    return ConfigError(
        f"Cannot use the dask.distributed scheduler '{scheduler}': {reason}",
        f"无法使用 dask.distributed 调度器 '{scheduler}'：{reason_zh}",
        file=file,
        field="run.scheduler",
        fix="Start the scheduler and its workers (`dask scheduler`, `dask worker tcp://HOST:8786`) and give its "
            "address as tcp://HOST:PORT; or use 'threads' (the default) or 'processes' to compute on this machine.",
        fix_zh="请先启动调度器和计算节点（`dask scheduler`、`dask worker tcp://主机:8786`），并以 tcp://主机:端口 "
               "的形式给出地址；或使用 'threads'（默认）或 'processes' 在本机计算。",
    )


def _checked_address(scheduler: str, file: Path | str | None) -> str:
    """``scheduler`` if it reads as a scheduler address (``tcp://HOST:PORT``); otherwise a ConfigError at once
    (found: 'not-an-address' and 'Threads' took 22 s to fail, then printed a traceback)."""
    address = scheduler.strip()
    if not _ADDRESS.fullmatch(address):
        raise _not_a_scheduler(scheduler, file, "not an address such as tcp://HOST:PORT, nor one of "
                               + ", ".join(LOCAL_SCHEDULERS), "不是 tcp://主机:端口 形式的地址，也不是 "
                               + "、".join(LOCAL_SCHEDULERS) + " 之一")
    return address


def _connect(address: str, file: Path | str | None) -> Any:
    """A ``distributed.Client`` of ``address``, or a ConfigError within :data:`SCHEDULER_TIMEOUT` + 5 s whatever
    answers there (found: a port served by an HTTP server hung the run for ever; distributed's own timeout
    covers the connection, not a peer that never completes the handshake). A client that failed half-way is
    closed here, not by the garbage collector (which waited 20 s and printed a traceback)."""
    from dask.distributed import Client

    box: dict[str, Any] = {}

    def connect() -> None:
        client = Client.__new__(Client)
        try:
            client.__init__(address, timeout=SCHEDULER_TIMEOUT, set_as_default=False)  # type: ignore[misc]
            box["client"] = client
        except BaseException as exc:
            box["error"] = exc
            with suppress(BaseException):
                client.close(timeout=2)

    thread = threading.Thread(target=connect, name="qingshan-connect", daemon=True)
    thread.start()
    thread.join(SCHEDULER_TIMEOUT + 5)
    if "client" in box:
        return box["client"]
    exc = box.get("error")
    reason = f"{type(exc).__name__}: {exc}" if exc is not None else f"no answer within {SCHEDULER_TIMEOUT + 5:g} s"
    raise _not_a_scheduler(address, file, reason, f"{SCHEDULER_TIMEOUT:g} 秒内无响应或地址无效")


def _other_code(client: Any, exc: BaseException) -> None:
    """Raise :func:`~qingshan.core.codeversion.other_code_error` from ``exc`` when a worker of ``client``'s cluster
    runs other code: a worker of another version that joined during the run fails its first task while unpickling
    it (``AttributeError``, ``ModuleNotFoundError``), before :class:`~qingshan.core.codeversion.SameCode` can name it."""
    from qingshan.engine.cluster import check_code

    try:
        check_code(client)
    except QingshanError as other:
        raise other from exc
    except Exception:  # the cluster itself is gone: the caller says so
        return


def _from_the_cluster(exc: BaseException) -> bool:
    """Whether ``exc`` is the cluster's (a connection closed, a worker or the scheduler gone, a task cancelled)."""
    module = type(exc).__module__ or ""
    return module.startswith(("distributed", "tornado")) or isinstance(exc, TimeoutError)


def _cluster_failed(address: str, exc: BaseException, file: Path | str | None) -> ConfigError:
    return ConfigError(
        f"The dask.distributed cluster {address} failed during the run ({type(exc).__name__}: {str(exc)[:300]}); "
        "nothing of this run was kept",
        f"dask.distributed 集群 {address} 在核算过程中出错（{type(exc).__name__}），本次核算未保留任何结果",
        file=file,
        field="run.scheduler",
        fix="Check that the scheduler and its workers still run, and that every worker reads the inputs and the data "
            "dir at the same paths as this machine (shared storage); their logs say more. Then run again, or use "
            "the scheduler 'threads'.",
        fix_zh="请检查调度器和计算节点是否仍在运行、每个计算节点能否以与本机相同的路径读取输入数据和数据目录（共享存储），"
               "详见其日志；然后重试，或改用 'threads' 调度器。",
    )


def _prepare(client: Any) -> None:
    """A ``distributed.Client``'s workers made ready for blocks (:mod:`qingshan.engine.cluster`), once per client."""
    if hasattr(client, "register_plugin"):
        from qingshan.engine.cluster import prepare_workers

        prepare_workers(client)


def _threads(client: Any) -> int:
    """Worker threads of the scheduler: local CPUs (``client`` None or a local scheduler's name) or the cluster's."""
    local = local_scheduler(client)
    if local is not None:
        import dask.system

        return 1 if local == "synchronous" else int(dask.system.CPU_COUNT)
    return max(1, sum(client.nthreads().values()))


def _stream_blocks(windows: Sequence[Window], tasks: Sequence[Any], client: Any, on_block: OnBlock,
                   low_priority: bool = False) -> BlockPartial:
    """Compute ``tasks`` (one per window), hand each result to ``on_block`` in window order, sum the totals.

    At most ``AHEAD_PER_THREAD × threads`` block results exist at a time. With local threads (the
    default) and with a ``distributed.Client``, that many blocks are in flight and the next one is
    submitted as soon as the oldest has been handed over, so blocks are computed while ``on_block``
    writes (a pipeline); local processes compute in batches of that many. Totals are added in window
    order (deterministic).
    """
    import dask

    total = BlockPartial()
    ahead = AHEAD_PER_THREAD * _threads(client)
    local = local_scheduler(client)
    if local == "threads":
        return _stream_on_threads(windows, tasks, ahead, on_block, low_priority)
    if local is not None:
        for i in range(0, len(tasks), ahead):
            results = dask.compute(*tasks[i : i + ahead], **_compute_options(client))
            for window, part in zip(windows[i : i + ahead], results, strict=True):
                on_block(window, part)
                total.add(part)
        return total
    queue = iter(zip(windows, tasks, strict=True))
    pending: deque[tuple[Window, Any]] = deque((w, client.compute(t)) for w, t in islice(queue, ahead))
    try:
        while pending:
            window, future = pending.popleft()
            part = future.result()
            future.release()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt[0], client.compute(nxt[1])))
            on_block(window, part)
            total.add(part)
    except BaseException:  # an error or Ctrl-C: the blocks not yet started are not started
        with suppress(Exception):
            client.cancel([f for _, f in pending])
        raise
    return total


def _stream_on_threads(windows: Sequence[Window], tasks: Sequence[Any], ahead: int, on_block: OnBlock,
                       low_priority: bool = False) -> BlockPartial:
    """:func:`_stream_blocks` on a pool of local threads: ``ahead`` blocks in flight while the oldest is handed over.

    Each task is computed whole in one pool thread (Dask's synchronous scheduler on its small graph). On an error
    the blocks not yet started are cancelled and the error is raised once the running ones have ended.
    ``low_priority``: the pool's threads run at :func:`lower_priority`.
    """
    from concurrent.futures import ThreadPoolExecutor

    import dask
    import dask.local
    import dask.system

    def one(task: Any) -> BlockPartial:
        (part,) = dask.compute(task, scheduler=dask.local.get_sync)
        return part

    total = BlockPartial()
    queue = iter(zip(windows, tasks, strict=True))
    pool = ThreadPoolExecutor(int(dask.system.CPU_COUNT), thread_name_prefix="block",
                              initializer=lower_priority if low_priority else None)
    try:
        pending = deque((w, pool.submit(one, t)) for w, t in islice(queue, ahead))
        while pending:
            window, future = pending.popleft()
            part = future.result()
            on_block(window, part)
            total.add(part)
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt[0], pool.submit(one, nxt[1])))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return total


def check_coverage(partial: BlockPartial, sources: Mapping[str, Source]) -> None:
    """Raise the ``load_inputs`` error for an input with no valid cell in any block."""
    for name, src in sources.items():
        if partial.finite.get(name, 0) == 0 and not _derived(src):
            check_range(np.array([np.nan]), VARIABLES[name], src.path)
