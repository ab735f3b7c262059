"""What the engine asks of a ``dask.distributed`` cluster's workers before it sends them blocks.

Imported only when a run uses a ``distributed.Client`` (it imports ``distributed``).

**The same code everywhere.** A worker runs the formulas of the Qingshan installed where it runs. One with
another version (or another checkout) could compute some blocks with other formulas — wrong numbers nobody
would notice — or fail with a traceback while unpickling a task (found: ``ModuleNotFoundError: No module named
'qingshan.engine.cluster'`` from workers of the previous commit). :func:`prepare_workers` therefore compares
every worker's :func:`code_fingerprint` with the client's before any block is sent, and stops the run with a
bilingual :class:`~qingshan.core.errors.ConfigError` naming the workers that differ. (Workers that join the
cluster during a run are not checked.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hashlib
import sys
import weakref
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin

from qingshan import __version__
from qingshan.core.errors import ConfigError

__all__ = [
    "MMAP_THRESHOLD",
    "TRIM_THRESHOLD",
    "WORKER_TIMEOUT",
    "BlockMemory",
    "code_fingerprint",
    "keep_block_memory",
    "prepare_workers",
    "worker_code",
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


_CODE_SUFFIXES = (".py", ".toml", ".yaml", ".yml", ".json", ".csv")
"""Files of the package whose content can change what is computed (the rasters of the examples cannot)."""


@functools.cache
def code_fingerprint() -> str:
    """SHA-256 of this installation's Qingshan code: every ``.py`` file and table of the package, by relative
    path and content (about 10 ms; remembered per process)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


class BlockMemory(WorkerPlugin):
    """Worker plugin: :func:`keep_block_memory` in each worker process, now and in workers that join later."""

    name = "qingshan-block-memory"
    idempotent = True

    def setup(self, worker: Any) -> None:
        worker.qingshan_block_memory = keep_block_memory()


def worker_code() -> tuple[str, str]:
    """(Qingshan version, :func:`code_fingerprint`) of the process this runs in (run on each worker)."""
    return __version__, code_fingerprint()


_PREPARED: weakref.WeakSet[Any] = weakref.WeakSet()
"""Clients whose cluster has :class:`BlockMemory` (one round trip per client, not per call)."""


def prepare_workers(client: Any) -> None:
    """Check that every worker of ``client``'s cluster runs this code (see module docstring), then register
    :class:`BlockMemory` (it stays with the scheduler: workers that join or restart later set it up too). Once
    per client."""
    if client in _PREPARED:
        return
    _wait_for_a_worker(client)
    here = worker_code()
    try:
        codes: dict[str, Any] = client.run(worker_code)
    except Exception as exc:  # raised on a worker: it has no such module (another version, or no Qingshan)
        codes = {"?": f"{type(exc).__name__}: {str(exc)[:300]}"}
    differ = {addr: code for addr, code in codes.items() if tuple(code) != here}
    if differ:
        _refuse(client, here, differ)
    client.register_plugin(BlockMemory(), name=BlockMemory.name)
    _PREPARED.add(client)


WORKER_TIMEOUT = 30.0
"""Seconds a run waits for a cluster without workers to get one before it stops."""


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


def _refuse(client: Any, here: tuple[str, str], differ: dict[str, Any]) -> None:
    address = getattr(getattr(client, "scheduler", None), "address", "?")
    found = "; ".join(f"{addr}: {code if isinstance(code, str) else f'{code[0]} (code {code[1][:12]})'}"
                      for addr, code in sorted(differ.items())[:5])
    raise ConfigError(
        f"{len(differ)} worker(s) of the dask.distributed cluster {address} do not run this Qingshan "
        f"({here[0]}, code {here[1][:12]}): {found}",
        f"dask.distributed 集群 {address} 有 {len(differ)} 个计算节点运行的青山与本机（{here[0]}）不同或未安装；"
        "为免以不同公式计算，本次核算未开始",
        field="run.scheduler",
        fix="Install this same Qingshan (same version and files) on every worker, restart the workers "
            "(`dask worker tcp://HOST:8786`), and run again; or use the scheduler 'threads'.",
        fix_zh="请在每个计算节点安装与本机完全相同的青山（同一版本、同一文件），重启计算节点"
               "（`dask worker tcp://主机:8786`）后重试；或改用 'threads' 调度器。",
    )
