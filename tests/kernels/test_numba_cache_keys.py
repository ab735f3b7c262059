"""numba's on-disk cache is keyed by the source of every kernel, not only the kernel's own module.

Found 2026-12-02: after ``kernels/routing.py`` changed and ``kernels/tiled_routing.py`` did not, the tiled kernels
loaded their cached machine code, which holds compiled copies of the routing kernels they call — the old ones:
``tests/kernels/test_routing_rss.py`` died with a segmentation fault until the cache was deleted. numba keys a
cached kernel by its own module's modification time and its own bytecode. A ``git pull`` into an editable
install does exactly this; had the change been a formula, the old one would have run, silently.

Here a copy of the package gets two tiny kernels in two modules of ``qingshan.kernels``, the caller cached. The
callee's module is edited between two processes, the caller's is not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import qingshan

CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef value():\n    return {}\n"
CALLER = ("from qingshan.kernels._numba import load_numba\n\nload_numba()\n"
          "from numba import njit  # noqa: E402\n\nfrom qingshan.kernels._probe_callee import value  # noqa: E402\n\n\n"
          "@njit(cache=True)\ndef twice():\n    return 2.0 * value()\n")


def _run(src: Path) -> float:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, "-c", "from qingshan.kernels._probe_caller import twice; print(twice())"],
                         env=env, capture_output=True, text=True, timeout=300, cwd=src)
    assert out.returncode == 0, out.stderr[-2000:]
    return float(out.stdout.split()[-1])


def test_a_kernel_is_recompiled_when_a_kernel_it_calls_changes(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(Path(qingshan.__file__).parent, src / "qingshan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.tif", "static"))
    kernels = src / "qingshan" / "kernels"
    (kernels / "_probe_callee.py").write_text(CALLEE.format("1.0"))
    (kernels / "_probe_caller.py").write_text(CALLER)
    assert _run(src) == 2.0
    assert list((kernels / "__pycache__").glob("_probe_caller.twice-*.nbi"))  # cached beside the source
    (kernels / "_probe_callee.py").write_text(CALLEE.format("5.0"))  # a new formula in the callee only
    assert _run(src) == 10.0  # 2.0 before: the caller's cached copy of the old callee
    assert _run(src) == 10.0  # and cached again


def test_only_qingshan_kernels_get_the_extra_key() -> None:
    import textwrap

    from numba.core import caching

    from qingshan.kernels import routing
    from qingshan.kernels._numba import _kernels_key, load_numba

    load_numba()
    codegen = type("Codegen", (), {"magic_tuple": lambda self: ("arch",)})()

    def keys(func: object) -> tuple[tuple[object, ...], tuple[object, ...]]:
        cache = type("Cache", (), {"_py_func": func})()
        return caching.Cache._index_key(cache, "sig", codegen), caching.Cache._index_key.__wrapped__(cache, "sig", codegen)

    ours, numbas = keys(routing._per_row)
    assert ours == (*numbas, _kernels_key()) and len(_kernels_key()) == 64
    theirs, numbas = keys(textwrap.dedent)  # another library's kernel: numba's own key
    assert theirs == numbas
