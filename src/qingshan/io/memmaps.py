"""Grid-sized arrays on disk (``numpy.memmap``) whose pages do not stay in the process's memory.

A memory-mapped file's pages that have been read or written are counted in the process's
resident set (RSS) until they are unmapped, even though the kernel keeps them in its page cache
(which is not the process's memory). A computation that walks a grid-sized memmap tile by tile
would therefore end with the whole grid resident. :func:`release_pages` drops a memmap's pages
from this process (``madvise(MADV_DONTNEED)`` on a shared file mapping: written data stay in the
page cache and the file; a later access reads them back), and :func:`scratch_alloc` gives scratch
memmaps that release the pages of every array of their group once :data:`RELEASE_BYTES` have been
written through them — so memory stays bounded by a tile's work, whatever the grid size.

Where ``madvise`` is missing (Windows) these are no-ops: the results are the same, only RSS is
higher.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RELEASE_BYTES", "memmap_spec", "open_memmap_spec", "release_pages", "scratch_alloc"]

RELEASE_BYTES = 32 * 2**20
"""Bytes written through a group of scratch memmaps between two releases of their pages."""

_SHARED_MODES = ("r", "r+", "w+", "readonly", "readwrite", "write")  # not "c" (copy-on-write: private pages)


def release_pages(arr: np.ndarray) -> None:
    """Drop the pages of memmap ``arr`` (or of the memmap it views) from this process's memory."""
    mm = getattr(arr, "_mmap", None)
    if not isinstance(mm, mmap.mmap) or getattr(arr, "mode", None) not in _SHARED_MODES:
        return
    advice = getattr(mmap, "MADV_DONTNEED", None)
    if advice is None or mm.closed:
        return
    with contextlib.suppress(OSError, ValueError):  # an unsupported mapping keeps its pages
        mm.madvise(advice)


class _Group:
    """Scratch memmaps of one computation, released together."""

    def __init__(self) -> None:
        self.arrays: list[weakref.ref[np.memmap]] = []
        self.written = 0

    def wrote(self, nbytes: int) -> None:
        self.written += nbytes
        if self.written >= RELEASE_BYTES:
            self.release()

    def release(self) -> None:
        self.written = 0
        alive = []
        for ref in self.arrays:
            arr = ref()
            if arr is not None:
                release_pages(arr)
                alive.append(ref)
        self.arrays = alive


class _ScratchMemmap(np.memmap):
    """A memmap that counts the bytes written into it and has its group release their pages."""

    _group: _Group | None = None

    def __array_finalize__(self, obj: Any) -> None:
        super().__array_finalize__(obj)
        self._group = getattr(obj, "_group", None)

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if self._group is not None:
            self._group.wrote(int(np.size(value)) * self.itemsize)


def scratch_alloc(workdir: str | Path) -> Callable[[tuple[int, ...], Any], np.ndarray]:
    """``alloc(shape, dtype)``: a new scratch memmap file in ``workdir`` (pages released as they are written).

    Every array it returns belongs to one group: writing :data:`RELEASE_BYTES` through any of them
    releases the pages of all of them (what a tile pass read from the others included).
    """
    root = Path(workdir)
    group = _Group()

    def alloc(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        fd, path = tempfile.mkstemp(dir=root, prefix="scratch_", suffix=".dat")
        os.close(fd)
        arr = _ScratchMemmap(path, dtype=dtype, mode="w+", shape=shape)
        arr._group = group
        group.arrays.append(weakref.ref(arr))
        return arr

    alloc.release = group.release  # type: ignore[attr-defined]
    return alloc


def memmap_spec(values: np.ndarray) -> tuple[str, int, tuple[int, ...], str, str] | None:
    """(file, offset, shape, dtype, mode) of a memmap mapping a whole file region, else None."""
    if not isinstance(values, np.memmap) or not isinstance(values.base, mmap.mmap) or values.filename is None:
        return None
    if not values.flags.c_contiguous:
        return None
    return str(values.filename), int(values.offset), tuple(values.shape), values.dtype.str, "r"


def open_memmap_spec(spec: tuple[str, int, tuple[int, ...], str, str]) -> np.ndarray:
    """The read-only memmap described by :func:`memmap_spec` (in a worker process)."""
    path, offset, shape, dtype, mode = spec
    return np.memmap(path, dtype=np.dtype(dtype), mode=mode, shape=shape, offset=offset)  # type: ignore[call-overload]
