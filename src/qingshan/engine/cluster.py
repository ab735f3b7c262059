"""What the engine asks of a ``dask.distributed`` cluster's workers before it sends them blocks.

Imported only when a run uses a ``distributed.Client`` (it imports ``distributed``).

**The same code everywhere.** A worker runs the formulas of the Qingshan installed where it runs. One with
another version (or another checkout) could compute some blocks with other formulas — wrong numbers nobody
would notice — or fail with a traceback while unpickling a task (found: ``ModuleNotFoundError: No module named
'qingshan.engine.cluster'`` from workers of the previous commit). :func:`prepare_workers` therefore compares
every worker's :func:`~qingshan.core.codeversion.code_identity` (version and SHA-256 of the sources) with the
client's before any block is sent, and stops the run with a bilingual :class:`~qingshan.core.errors.ConfigError`
naming the workers that differ. A worker that joins during the run is refused at its first task: every task
sent to a cluster is wrapped in :class:`~qingshan.core.codeversion.SameCode`; one that cannot even unpickle its
task (another version) fails it, and :func:`check_code` then names it (:func:`qingshan.engine.blocks.open_scheduler`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import weakref
from typing import Any

from distributed import WorkerPlugin

from qingshan.core.codeversion import code_identity, other_code_error
from qingshan.core.errors import ConfigError

__all__ = [
    "MMAP_THRESHOLD",
    "TRIM_THRESHOLD",
    "WORKER_TIMEOUT",
    "BlockMemory",
    "check_code",
    "keep_block_memory",
    "prepare_workers",
]

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameter numbers (glibc ``malloc.h``)."""

MMAP_THRESHOLD = 32 * 1024 * 1024
"""[bytes] Allocations at least this large are mapped (glibc's ceiling of the adaptive threshold on 64-bit)."""

TRIM_THRESHOLD = 2 * MMAP_THRESHOLD
"""[bytes] Freed memory at the top of a heap kept before it is returned (glibc's adaptive rule: 2 × the
mmap threshold)."""


def keep_block_memory() -> bool:
    """Set glibc's ``mmap`` and trim thresholds of this process to :data:`MMAP_THRESHOLD` and
    :data:`TRIM_THRESHOLD`; True when set (False off glibc: other allocators are left as they are)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and other C libraries without mallopt
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


class BlockMemory(WorkerPlugin):
    """Worker plugin: :func:`keep_block_memory` in each worker process, now and in workers that join later."""

    name = "qingshan-block-memory"
    idempotent = True

    def setup(self, worker: Any) -> None:
        worker.qingshan_block_memory = keep_block_memory()


_PREPARED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Clients whose cluster has :class:`BlockMemory` (one round trip per client, not per call)."""


def prepare_workers(client: Any) -> None:
    """Check that every worker of ``client``'s cluster runs this code (see module docstring), then register
    :class:`BlockMemory` (it stays with the scheduler: workers that join or restart later set it up too). Once
    per client."""
    if client in _PREPARED:
        return
    _wait_for_a_worker(client)
    check_code(client)
    client.register_plugin(BlockMemory(), name=BlockMemory.name)
    _PREPARED.add(client)


WORKER_TIMEOUT = 30.0
"""Seconds a run waits for a cluster without workers to get one before it stops."""


def check_code(client: Any) -> None:
    """Raise :func:`~qingshan.core.codeversion.other_code_error` unless every worker of ``client``'s cluster runs
    this code (:func:`~qingshan.core.codeversion.code_identity`)."""
    here = code_identity()
    codes: dict[str, Any] = client.run(code_identity, on_error="return")
    differ = {addr: _what_runs(code) for addr, code in codes.items() if _what_runs(code) != here}
    if differ:
        raise other_code_error(differ, here, getattr(getattr(client, "scheduler", None), "address", "?"))


def _what_runs(code: Any) -> tuple[str, str] | str:
    """A worker's answer to :func:`code_identity`: the pair, or what failed there (a worker of another version
    has no such function, one without Qingshan no such module)."""
    if isinstance(code, BaseException):
        return f"{type(code).__name__}: {str(code)[:300]}"
    return tuple(code)


def _wait_for_a_worker(client: Any) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKER_TIMEOUT)
    except TimeoutError:
        address = getattr(getattr(client, "scheduler", None), "address", "?")
        raise ConfigError(
            f"The dask.distributed cluster {address} has no worker (waited {WORKER_TIMEOUT:g} s)",
            f"dask.distributed 集群 {address} 没有计算节点（已等待 {WORKER_TIMEOUT:g} 秒）",
            field="run.scheduler",
            fix="Start workers for it (`dask worker tcp://HOST:8786`) and run again, or use the scheduler 'threads'.",
            fix_zh="请为该调度器启动计算节点（`dask worker tcp://主机:8786`）后重试，或改用 'threads' 调度器。",
        ) from None
