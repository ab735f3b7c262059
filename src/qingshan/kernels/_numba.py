"""``import numba`` without two probes that cost about 0.18 s of every routing command's start-up.

When first used, numba 0.68 probes for optional features by importing their libraries:

* ``numba.np.arraymath`` checks whether a BLAS is available for ``np.dot`` and ``np.linalg`` in compiled code by
  importing ``scipy.linalg.cython_blas``, which imports all of ``scipy.linalg`` (0.13 s here);
* ``numba.core.typing.cffi_utils`` builds a ``cffi.FFI()`` to type cffi functions, whose C parser builds its
  lexer tables (pycparser, 0.05 s).

Qingshan's kernels use neither linear algebra nor cffi, so both probes are answered "not available" while numba
loads; scipy and cffi import normally afterwards. In a process where numba was loaded first by someone else,
nothing changes.

It also makes numba's on-disk cache safe between processes (:func:`lock_numba_cache`): two processes compiling the
same kernel at once could leave an index entry pointing to another signature's machine code, and every later
process that loaded it crashed with a segmentation fault (numba issue #4807, open; seen here with two pytest
workers). And safe between versions of the kernels (:func:`_kernels_key`): numba keys a kernel's cached machine
code by its own module's modification time and its own bytecode, not by the kernels it calls, which are compiled
into it. After ``routing.py`` changed and ``tiled_routing.py`` did not (a ``git pull`` into an editable install),
the tiled kernels ran their cached copies of the old routing kernels: a segmentation fault in
``tests/kernels/test_routing_rss.py`` (found 2026-12-02) — or, had the change been a formula, old numbers, silently.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["key_by_kernels", "load_numba", "lock_numba_cache"]

_HIDDEN = ("scipy.linalg.cython_blas", "cffi")
_IN_TREE = Path(__file__).resolve().parent / "__pycache__"
"""Where numba keeps the compiled kernels by default: beside their source."""
_LOCK = threading.Lock()


def load_numba() -> None:
    """Import numba, with ``scipy.linalg`` and ``cffi`` hidden from its probes if numba is not loaded yet."""
    with _LOCK:
        if "numba" in sys.modules:
            lock_numba_cache()
            return
        choose_cache_dir()
        hidden = [name for name in _HIDDEN if name not in sys.modules]
        for name in hidden:
            sys.modules[name] = None  # type: ignore[assignment]  # "import NAME" → ImportError
        try:
            import numba
            import numba.core.typing.cffi_utils  # the probes run here, else at the first compiled call
            import numba.np.arraymath  # noqa: F401
        finally:
            for name in hidden:
                if sys.modules.get(name, 0) is None:
                    del sys.modules[name]
        lock_numba_cache()


def lock_numba_cache() -> None:
    """Make numba's cache index and data files change together, between processes too.

    numba's ``IndexDataCacheFile.save`` reads the function's index, picks the first free data-file name, writes the
    index and then the data file, with nothing held between the steps. Two processes compiling two signatures of
    one kernel at the same time both pick ``….1.nbc``: the index may then name, for one signature, the machine code
    of the other, and every process that loads it crashes (found: after two pytest workers compiled the routing
    kernels, ``qingshan compute soil_retention`` died with a segmentation fault until the cache was deleted). Here
    ``save`` holds an exclusive and ``load`` a shared ``flock`` on ``<index>.lock`` beside the index. Where
    ``fcntl`` is missing (Windows) nothing changes. Also keys the cache by every kernel's source
    (:func:`key_by_kernels`). Idempotent.
    """
    from numba.core import caching

    key_by_kernels(caching.Cache)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return

    cls = caching.IndexDataCacheFile
    if getattr(cls, "_qingshan_locked", False):
        return

    @contextlib.contextmanager
    def held(cache_file: Any, mode: int) -> Iterator[None]:
        try:
            fd = os.open(cache_file._index_path + ".lock", os.O_RDWR | os.O_CREAT, 0o666)
        except OSError:  # a read-only cache folder: numba cannot write there either
            yield
            return
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # releases the lock

    def locked(method: Callable[..., Any], mode: int) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            with held(self, mode):
                return method(self, *args, **kwargs)

        return wrapper

    cls.save = locked(cls.save, fcntl.LOCK_EX)  # type: ignore[method-assign]
    cls.load = locked(cls.load, fcntl.LOCK_SH)  # type: ignore[method-assign]
    cls._qingshan_locked = True  # type: ignore[attr-defined]


_KERNELS = Path(__file__).resolve().parent
"""The package of Qingshan's compiled kernels (every ``@njit`` function, and every function they call)."""


@functools.cache
def _kernels_key() -> str:
    """SHA-256 of the source of every module of :data:`_KERNELS`, by name and content."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(_KERNELS.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def key_by_kernels(cache_cls: Any) -> None:
    """Add :func:`_kernels_key` to numba's cache index key of Qingshan's kernels (``cache_cls``: numba's ``Cache``),
    so that a change to any kernel recompiles all of them, not only those of the changed module (see module
    docstring). Other libraries' kernels keep numba's key. Idempotent."""
    if getattr(cache_cls, "_qingshan_keyed", False):
        return
    index_key = cache_cls._index_key

    @functools.wraps(index_key)
    def keyed(self: Any, sig: Any, codegen: Any) -> Any:
        key = index_key(self, sig, codegen)
        if str(getattr(self._py_func, "__module__", "")).startswith(__package__ + "."):
            return (*key, _kernels_key())
        return key

    cache_cls._index_key = keyed
    cache_cls._qingshan_keyed = True


def choose_cache_dir() -> None:
    """Set ``NUMBA_CACHE_DIR`` when numba could not keep the compiled kernels beside their source (a read-only
    install: site-packages owned by root, a container image): Qingshan's cache folder (``$QINGSHAN_CACHE_DIR/numba``
    or the user cache dir), else a temporary folder (compiled once per process). Found: with a read-only install
    and no writable home, numba raised "cannot cache function '_flood_key': no locator available" at import — every
    routing command ended in a traceback. An explicit ``NUMBA_CACHE_DIR`` is left alone."""
    if os.environ.get("NUMBA_CACHE_DIR") or _writable(_IN_TREE):
        return
    from qingshan.core.remembered import cache_folder

    folder = cache_folder("numba")
    if folder is None or not _writable(folder):
        folder = Path(tempfile.mkdtemp(prefix="qingshan-numba-"))
    os.environ["NUMBA_CACHE_DIR"] = str(folder)


def _writable(folder: Path) -> bool:
    """Whether a file can be created in ``folder`` (made if missing): tried, as permissions may not tell."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            return True
    except OSError:
        return False
