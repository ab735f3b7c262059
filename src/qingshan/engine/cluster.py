"""What the engine asks of a ``dask.distributed`` cluster's workers before it sends them blocks.

Imported only when a run uses a ``distributed.Client`` (it imports ``distributed``).

**Found (issue 11):** one ``dask worker`` computed an accounting's blocks at half the speed of one local
thread (3000², 8 indicators: 10.5 s against 5.7 s for a worker started with ``--no-nanny``). A nanny starts
its worker process with ``MALLOC_TRIM_THRESHOLD_=65536`` (``distributed.nanny.pre-spawn-environ``). Setting
that variable switches off glibc's adaptive ``mmap`` threshold: every array above 128 KiB — every layer of a
block, 8 MiB at 1024² — is then a fresh ``mmap`` whose pages fault in one by one and go back to the system
when it is freed, so every element-wise numpy step of every block pays its page faults again.

:class:`BlockMemory` restores, in each worker process, the state glibc's adaptive rule reaches in a local
run (``mallopt``: ``M_MMAP_THRESHOLD`` 32 MiB, its ceiling on 64-bit; ``M_TRIM_THRESHOLD`` twice that):
block-sized arrays are reused from the heap. A worker keeps at most that much freed memory per malloc
arena; blocks larger than 32 MiB per layer are mapped and returned as before.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
import weakref
from typing import Any

from distributed import WorkerPlugin

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "BlockMemory", "keep_block_memory", "prepare_workers"]

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
    """Register :class:`BlockMemory` on ``client``'s cluster, once per client (the plugin stays with the
    scheduler: workers that join or restart later set it up too)."""
    if client in _PREPARED:
        return
    client.register_plugin(BlockMemory(), name=BlockMemory.name)
    _PREPARED.add(client)
