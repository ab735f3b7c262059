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

import sys
import threading

__all__ = ["load_numba"]

_HIDDEN = ("scipy.linalg.cython_blas", "cffi")
_LOCK = threading.Lock()


def load_numba() -> None:
    """Import numba, with ``scipy.linalg`` and ``cffi`` hidden from its probes if numba is not loaded yet."""
    with _LOCK:
        if "numba" in sys.modules:
            return
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
