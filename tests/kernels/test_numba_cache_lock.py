"""numba's on-disk cache stays consistent when two processes save one kernel at once (numba issue #4807).

Found: after two pytest workers compiled the routing kernels at the same time, every later
``qingshan compute soil_retention`` died with a segmentation fault until the cache was deleted: numba's
``IndexDataCacheFile.save`` reads the index, picks the first free data-file name, writes the index and then the
data, holding nothing, so both processes picked ``….1.nbc`` and the index named one signature's machine code for
the other. :func:`qingshan.kernels._numba.lock_numba_cache` holds a file lock around each save and load.

The interleaving is made certain, not left to chance: each child sleeps inside ``save`` (before writing the index,
and before writing the data) so that, unlocked, the int64 process writes the index first and the data last while
the float64 process writes the index last — the index then names the int64 code for float64 arrays.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fcntl locks (POSIX)")

KERNEL = """
from numba import njit

@njit(cache=True)
def twice_sum(x):
    s = x[0] * 0
    for i in range(x.size):
        s += x[i] * 2
    return s
"""

CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
if sys.argv[2] == "locked":
    from qingshan.kernels._numba import load_numba
    load_numba()
import numpy as np
from numba.core import caching

dtype, start, before_index, before_data = sys.argv[3], float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
cls = caching.IndexDataCacheFile
save_index, save_data = cls._save_index, cls._save_data

def slow_index(self, overloads):
    if overloads:  # the save's write, not numba's flush of a stale index
        time.sleep(before_index)
    save_index(self, overloads)

def slow_data(self, name, data):
    time.sleep(before_data)
    save_data(self, name, data)

cls._save_index, cls._save_data = slow_index, slow_data
import kmod
while time.time() < start:
    time.sleep(0.01)
kmod.twice_sum(np.arange(5).astype(dtype))
"""

CHECK = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import kmod
print([int(kmod.twice_sum(np.arange(5).astype(t))) for t in ("int64", "float64")])
"""


def _race(tmp_path: Path, mode: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "kmod.py").write_text(textwrap.dedent(KERNEL))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    start = time.time() + 3.0  # both children imported numba and the module by then
    kids = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), mode, "int64", str(start), "1.0", "1.2"], env=env),
        subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path), mode, "float64", str(start + 0.5), "1.0", "0"],
                         env=env),
    ]
    for kid in kids:
        assert kid.wait(timeout=120) == 0
    return subprocess.run([sys.executable, "-c", CHECK, str(tmp_path)], env=env, capture_output=True, text=True,
                          timeout=120)


def test_two_processes_saving_one_kernel_leave_a_consistent_cache(tmp_path: Path) -> None:
    got = _race(tmp_path, "locked")
    assert got.returncode == 0, got.stderr[-2000:]
    assert got.stdout.strip() == "[20, 20]"
    index = list((tmp_path / "cache").rglob("kmod.twice_sum-*.nbi"))
    assert len(index) == 1 and len(list(index[0].parent.glob("kmod.twice_sum-*.nbc"))) == 2  # one file per signature


def test_without_the_lock_the_same_interleaving_corrupts_the_cache(tmp_path: Path) -> None:
    """The control: numba alone, same children and timings — the float64 call runs the int64 code (a wrong
    number or a crash). Shows the test above can fail."""
    got = _race(tmp_path, "plain")
    assert got.returncode != 0 or got.stdout.strip() != "[20, 20]", got.stdout
