"""``import numba`` without its BLAS probe: about 0.13 s of every routing command's start-up.

When it is first imported, numba (0.68, ``numba.np.arraymath``) checks whether a BLAS is available for ``np.dot``
and ``np.linalg`` in compiled code by importing ``scipy.linalg.cython_blas`` — which imports all of
``scipy.linalg`` (0.13 s here, more than a small grid's routing). Qingshan's kernels use no linear algebra, so
the probe is answered "no BLAS" while numba loads; scipy imports normally afterwards. In a process where numba
was imported first by someone else, nothing changes.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["load_numba"]

_PROBE = "scipy.linalg.cython_blas"
_LOCK = threading.Lock()


def load_numba() -> None:
    """Import numba, with ``scipy.linalg`` hidden from its BLAS probe if numba is not loaded yet."""
    with _LOCK:
        if "numba" in sys.modules or _PROBE in sys.modules:
            return
        sys.modules[_PROBE] = None  # type: ignore[assignment]  # "import scipy.linalg.cython_blas" → ImportError
        try:
            import numba  # noqa: F401
            import numba.np.arraymath  # noqa: F401  # where the probe runs (else at the first compiled call)
        finally:
            if sys.modules.get(_PROBE, 0) is None:
                del sys.modules[_PROBE]
