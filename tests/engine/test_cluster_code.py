"""A run refuses a dask.distributed cluster whose workers run other Qingshan code, or that has no worker
(issue 11; :mod:`qingshan.engine.cluster`).

Found: workers started from the previous commit's checkout ended ``qingshan account --scheduler`` with a
traceback (``ModuleNotFoundError: No module named 'qingshan.engine.cluster'``, exit 1); a worker with other
formulas but the same modules would have computed its blocks with them, silently. Here real ``dask worker``
processes run from a copy of the package: unchanged, with one formula file edited, and without a module.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import qingshan
from qingshan.core.errors import ConfigError
from qingshan.engine import cluster
from qingshan.engine.blocks import open_scheduler

distributed = pytest.importorskip("distributed")

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _cluster(src: Path | None, tmp: Path) -> Iterator[str]:
    """A loopback scheduler and (unless ``src`` is None) one worker importing Qingshan from ``src``."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = (tmp / "cluster.log").open("w")
    procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                              stdout=log, stderr=subprocess.STDOUT)]
    try:
        if src is not None:
            env = {**os.environ, "PYTHONPATH": str(src)}
            procs.append(subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard"],
                                          stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp))
            with distributed.Client(address, timeout=30, set_as_default=False) as c:
                c.wait_for_workers(1, timeout=60)
        else:
            time.sleep(1)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)
        log.close()


def _copy_of_qingshan(tmp: Path) -> Path:
    """A copy of the package (without its example rasters) under ``tmp/src``."""
    src = tmp / "src"
    shutil.copytree(Path(qingshan.__file__).parent, src / "qingshan",
                    ignore=shutil.ignore_patterns("__pycache__", "*.tif"))
    return src


@pytest.mark.parametrize("change", ["none", "formula", "module"])
def test_workers_of_other_code_are_refused_before_any_block(tmp_path: Path, change: str) -> None:
    src = _copy_of_qingshan(tmp_path)
    if change == "formula":  # the same modules, another formula (a constant edited)
        path = src / "qingshan" / "quantities" / "carbon.py"
        path.write_text(path.read_text() + "\n# a different formula\n")
    elif change == "module":  # a checkout from before engine/cluster.py existed
        (src / "qingshan" / "engine" / "cluster.py").unlink()
    with _cluster(src, tmp_path) as address:
        if change == "none":
            with open_scheduler(address) as client:
                assert list(client.run(cluster.worker_code).values()) == [cluster.worker_code()]
            return
        with pytest.raises(ConfigError) as err, open_scheduler(address):
            pytest.fail("the cluster was accepted")
    e = err.value
    assert e.field == "run.scheduler" and "do not run this Qingshan" in e.en and "不同" in e.zh
    assert "same Qingshan" in e.fix and e.fix_zh
    if change == "module":
        assert "ModuleNotFoundError" in e.en


def test_a_cluster_without_workers_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to wait for ever (tasks queued on a scheduler with no worker)."""
    monkeypatch.setattr(cluster, "WORKER_TIMEOUT", 2.0)
    with _cluster(None, tmp_path) as address, pytest.raises(ConfigError) as err, open_scheduler(address):
        pytest.fail("a cluster without workers was accepted")
    assert "no worker" in err.value.en and "没有计算节点" in err.value.zh and err.value.field == "run.scheduler"
