"""``import numba`` without two probes that cost about 0.18 s of every routing command's start-up.

When first used, numba 0.68 probes for optional features by importing their libraries:

* ``numba.np.arraymath`` checks whether a BLAS is available for ``np.dot`` and ``np.linalg`` in compiled code by
  importing ``scipy.linalg.cython_blas``, which imports all of ``scipy.linalg`` (0.13 s here);
* ``numba.core.typing.cffi_utils`` builds a ``cffi.FFI()`` to type cffi functions, whose C parser builds its
  lexer tables (pycparser, 0.05 s).

Qingshan's kernels use neither linear algebra nor cffi, so both probes are answered "not available" while numba
loads; scipy and cffi import normally afterwards. In a process where numba was loaded first by someone else,
nothing changes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

__all__ = ["load_numba"]

_HIDDEN = ("scipy.linalg.cython_blas", "cffi")
_IN_TREE = Path(__file__).resolve().parent / "__pycache__"
"""Where numba keeps the compiled kernels by default: beside their source."""
_LOCK = threading.Lock()


def load_numba() -> None:
    """Import numba, with ``scipy.linalg`` and ``cffi`` hidden from its probes if numba is not loaded yet."""
    with _LOCK:
        if "numba" in sys.modules:
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
