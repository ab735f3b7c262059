"""Two commands writing the same outputs at once (found: two ``qingshan compute -o out/q.tif`` started together
shared one scratch file ``q.part.tif``; one printed its total, 2.97e6 tCO2, beside a q.tif of NaN only).

Each block writer now has scratch files of its own, and a command writing ``OUT.tif`` holds a lock that a second
one is refused by, in both languages. A writer killed with ``kill -9`` leaves neither a lock nor scratch files that
the next writer keeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.window import Window, block_windows
from qingshan.io.cog import _HOST, BlockLayerWriter, exclusive_output

CRS = "EPSG:32650"
TRANSFORM = Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0)
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}


def test_two_writers_of_one_layer_in_one_folder_do_not_share_scratch_files(tmp_path: Path) -> None:
    grid = Grid.from_crs(CRS, TRANSFORM, 300, 400)
    a, b = np.full(grid.shape, 1.0), np.full(grid.shape, 2.0)
    wa, wb = BlockLayerWriter(tmp_path, grid), BlockLayerWriter(tmp_path, grid)
    for w in block_windows(grid.shape, 128):  # interleaved, as two processes would
        wa.write("q", w, a[w.slices()], units="t", description="q")
        wb.write("q", w, b[w.slices()], units="t", description="q")
    (path,) = wa.finish()
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(ds.read(1), a)  # all of A's cells, none of B's, no NaN
    wb.finish()
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(ds.read(1), b)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.tif"]


def test_a_second_writer_of_the_same_output_is_refused_in_both_languages(tmp_path: Path) -> None:
    out = tmp_path / "out" / "q.tif"
    with exclusive_output(out):
        with pytest.raises(InputError) as err, exclusive_output(out):
            pass
        assert err.value.field == "output" and "q.tif" in err.value.en and "正在" in err.value.zh
        assert "-o" in err.value.fix and "-o" in err.value.fix_zh
        with exclusive_output(tmp_path / "out" / "other.tif"):  # another output in the same folder: fine
            pass
    assert not (tmp_path / "out").exists()  # the lock file goes with the lock, and the folder made for it
    with exclusive_output(tmp_path / "a" / "b" / "q.tif"):
        (tmp_path / "a" / "b" / "q.tif").write_text("written")
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["q.tif"]  # a folder with outputs stays
    with exclusive_output(out):  # and can be taken again
        pass


def _holder(out: Path) -> subprocess.Popen[str]:
    code = ("import sys, time\nfrom qingshan.io.cog import exclusive_output\n"
            f"with exclusive_output({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_compute_into_an_output_being_written_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    lulc = tmp_path / "lulc.tif"
    with rasterio.open(lulc, "w", driver="GTiff", height=50, width=60, count=1, dtype="uint8", crs=CRS,
                       transform=TRANSFORM, nodata=255) as dst:
        dst.write(np.full((50, 60), 1, dtype=np.uint8), 1)
    out = tmp_path / "out" / "q.tif"
    holder = _holder(out)
    try:
        res = subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", "compute",
                              "carbon_sequestration", "--method", "fixation_rate", "--input", f"lulc={lulc}",
                              "-o", str(out)], capture_output=True, text=True, env=ENV, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "Another Qingshan command is writing q.tif" in res.stderr and "另一个青山命令正在" in res.stderr
    assert not out.exists()
    # the holder was killed (-9): its lock went with it, and the next command runs
    res = subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", "compute",
                          "carbon_sequestration", "--method", "fixation_rate", "--input", f"lulc={lulc}",
                          "-o", str(out)], capture_output=True, text=True, env=ENV, timeout=300)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["q.tif"]  # the killed holder's lock file removed by the next


def test_scratch_files_of_killed_writers_on_this_host_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a process id that no longer runs
    left = tmp_path / f".q.{_HOST}-{dead.pid}-0123abcd.part.tif"
    alive = tmp_path / f".q.{_HOST}-{os.getpid()}-0123abcd.part.tif"
    remote = tmp_path / f".q.otherhost-{dead.pid}-0123abcd.part.tif"
    for p in (left, alive, remote):
        p.write_bytes(b"scratch")
    BlockLayerWriter(tmp_path, Grid.from_crs(CRS, TRANSFORM, 10, 9))
    assert not left.exists() and alive.exists() and remote.exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX")
def test_a_writer_killed_mid_run_leaves_nothing_the_next_run_keeps(tmp_path: Path) -> None:
    code = ("import sys, time\nimport numpy as np\nfrom affine import Affine\n"
            "from qingshan.core.grid import Grid\nfrom qingshan.core.window import Window\n"
            "from qingshan.io.cog import BlockLayerWriter\n"
            f"g = Grid.from_crs({CRS!r}, Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0), 10, 9)\n"
            f"w = BlockLayerWriter({str(tmp_path)!r}, g)\n"
            "w.write('q', Window(0, 0, 10, 9), np.ones((10, 9)), units='t', description='q')\n"
            "print('written', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "written"
    assert len(list(tmp_path.glob(".q.*.part.tif"))) == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)
    w = BlockLayerWriter(tmp_path, Grid.from_crs(CRS, TRANSFORM, 10, 9))
    w.write("q", Window(0, 0, 10, 9), np.full((10, 9), 3.0), units="t", description="q")
    (path,) = w.finish()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.tif"]
    with rasterio.open(path) as ds:
        assert (ds.read(1) == 3.0).all()
