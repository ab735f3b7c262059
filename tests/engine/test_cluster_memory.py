"""A ``dask worker`` started by a nanny reuses block-sized memory (issue 11, :mod:`qingshan.engine.cluster`).

Found: one nanny-started worker computed an accounting's blocks at half the speed of a local thread (3000²:
10.5 s against 5.7 s without the nanny). The nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` switches off glibc's
adaptive mmap threshold, so every 8 MiB layer of every block was a fresh mapping whose pages faulted in again.
Measured here as what glibc reports (``mallinfo2``), not as time: whether an 8 MiB array made in the worker
process is a mapping of its own (its pages are new, zeroed by the kernel, each time) or heap memory reused.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

import numpy as np
import pytest

from qingshan.engine.blocks import open_scheduler

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")

distributed = pytest.importorskip("distributed")

LAYER = 8 * 1024 * 1024  # [bytes] one 1024² float64 layer


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                "fsmblks", "uordblks", "fordblks", "keepcost")]


def _mapped_bytes_of_a_layer() -> int:
    """[bytes] Memory glibc maps for one 1024² float64 layer while it lives (0: it came from the heap)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    np.ones((1024, 1024))  # one made and dropped before: the heap may keep it
    before = libc.mallinfo2().hblkhd
    layer = np.ones((1024, 1024))
    mapped = int(libc.mallinfo2().hblkhd - before)
    del layer
    return mapped


def _empty_block(window: object, grid: object, shared: object, keep: bool) -> object:
    from qingshan.engine.blocks import BlockPartial

    return BlockPartial()


def _trim_env() -> str | None:
    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


@pytest.fixture(scope="module")
def nanny_cluster() -> object:
    """One worker process started by a nanny, as `dask worker` starts it."""
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as cluster:
        yield cluster


def test_a_nanny_worker_faults_every_layer_in_again_without_the_plugin(nanny_cluster: object) -> None:
    """The finding, as a control: the nanny sets the variable, and each layer is then a mapping of its own."""
    with distributed.Client(nanny_cluster, set_as_default=False) as c:
        c.restart()  # a fresh worker process: no plugin from another test
        (env,) = c.run(_trim_env).values()
        (mapped,) = c.run(_mapped_bytes_of_a_layer).values()
    assert env == "65536"
    assert mapped >= LAYER


@pytest.mark.parametrize("how", ["address", "client"])
def test_the_engine_makes_workers_reuse_block_memory(nanny_cluster: object, how: str) -> None:
    """Once the engine has the cluster (an address or a Client), a worker's layers come from its heap."""
    with distributed.Client(nanny_cluster, set_as_default=False) as c:
        c.restart()
        address = nanny_cluster.scheduler_address  # type: ignore[attr-defined]
        with open_scheduler(address if how == "address" else c):
            (mapped,) = c.run(_mapped_bytes_of_a_layer).values()
            (applied,) = c.run(lambda dask_worker: dask_worker.qingshan_block_memory).values()
    assert applied is True
    assert mapped == 0


def test_a_worker_joining_later_reuses_block_memory_too(nanny_cluster: object) -> None:
    with distributed.Client(nanny_cluster, set_as_default=False) as c, open_scheduler(c):
        c.restart()  # the worker process is replaced: the plugin is set up again in the new one
        (mapped,) = c.run(_mapped_bytes_of_a_layer).values()
    assert mapped == 0


def test_blocks_given_a_client_directly_prepare_its_workers(nanny_cluster: object) -> None:
    """The Python API's ``compute_blockwise(..., client=Client(...))`` never passes through ``open_scheduler``."""
    from affine import Affine

    from qingshan.core.grid import Grid
    from qingshan.engine.blocks import map_blocks

    with distributed.Client(nanny_cluster, set_as_default=False) as c:
        c.restart()
        grid = Grid.from_crs("EPSG:32650", Affine(30.0, 0.0, 0.0, 0.0, -30.0, 0.0), 64, 64)
        map_blocks(grid, _empty_block, [0], block_size=32, client=c)
        (mapped,) = c.run(_mapped_bytes_of_a_layer).values()
    assert mapped == 0
