"""A run refuses a dask.distributed cluster whose workers run other Qingshan code, or that has no worker
(issue 11; :mod:`qingshan.engine.cluster`); the cluster's failures are bilingual errors (an attack pass on the
distributed path: a scheduler killed mid-run, an HTTP server on the port, strings that are not addresses, inputs
a worker cannot see).

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
from typing import Any

import numpy as np
import pytest

import qingshan
from qingshan.core.codeversion import code_identity
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
    elif change == "module":  # a checkout from before code_identity existed (it cannot unpickle the check)
        path = src / "qingshan" / "core" / "codeversion.py"
        path.write_text(path.read_text().replace("def code_identity", "def _not_yet"))
    with _cluster(src, tmp_path) as address:
        if change == "none":
            with open_scheduler(address) as client:
                assert list(client.run(code_identity).values()) == [code_identity()]
            return
        with pytest.raises(ConfigError) as err, open_scheduler(address):
            pytest.fail("the cluster was accepted")
    e = err.value
    assert e.field == "run.scheduler" and "do not run this Qingshan" in e.en and "不同" in e.zh
    assert "same Qingshan" in e.fix and e.fix_zh
    if change == "module":
        assert "AttributeError" in e.en, e.en


def test_a_cluster_without_workers_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It used to wait for ever (tasks queued on a scheduler with no worker)."""
    monkeypatch.setattr(cluster, "WORKER_TIMEOUT", 2.0)
    with _cluster(None, tmp_path) as address, pytest.raises(ConfigError) as err, open_scheduler(address):
        pytest.fail("a cluster without workers was accepted")
    assert "no worker" in err.value.en and "没有计算节点" in err.value.zh and err.value.field == "run.scheduler"


def test_a_scheduler_killed_during_the_run_is_a_bilingual_error(tmp_path: Path) -> None:
    """Found: the run ended in a traceback (FutureCancelledError / CommClosedError, exit 1)."""
    import threading

    src = _copy_of_qingshan(tmp_path)

    def run_while_the_scheduler_dies(address: str) -> None:
        with open_scheduler(address) as client:
            threading.Timer(1.0, os.kill, (client.run_on_scheduler(os.getpid), 9)).start()
            client.submit(time.sleep, 30).result()

    with _cluster(src, tmp_path) as address, pytest.raises(ConfigError) as err:
        run_while_the_scheduler_dies(address)
    e = err.value
    assert "failed during the run" in e.en and "未保留任何结果" in e.zh and "shared storage" in e.fix
    assert e.field == "run.scheduler"


def test_a_port_that_is_not_a_scheduler_is_refused_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found: a port served by an HTTP server hung the run for ever (dask's handshake never completes)."""
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from qingshan.engine import blocks

    monkeypatch.setattr(blocks, "SCHEDULER_TIMEOUT", 1.0)
    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(ConfigError) as err, open_scheduler(f"tcp://127.0.0.1:{server.server_address[1]}"):
            pytest.fail("an HTTP server was taken for a scheduler")
    finally:
        server.shutdown()
    assert time.monotonic() - t0 < 20 and err.value.field == "run.scheduler" and err.value.zh


@pytest.mark.parametrize("text", ["not-an-address", "tcp://", "http://example.org", "threads please"])
def test_strings_that_are_not_addresses_are_refused_at_once(text: str) -> None:
    """Found: they took 22 s to fail, then printed a traceback (the half-built client closed by the collector)."""
    t0 = time.monotonic()
    with pytest.raises(ConfigError) as err, open_scheduler(text):
        pytest.fail("accepted")
    assert time.monotonic() - t0 < 2 and "tcp://HOST:PORT" in err.value.en and "threads" in err.value.en


@pytest.mark.parametrize("name", ["Threads", " threads ", "SYNCHRONOUS", "Processes"])
def test_local_scheduler_names_in_any_case(name: str) -> None:
    from qingshan.engine.blocks import ProcessPool

    with open_scheduler(name) as s:
        assert s in (None, "synchronous") or isinstance(s, ProcessPool)  # one pool for the run, as "processes"


def test_an_input_a_worker_cannot_see_names_the_worker_not_the_config(tmp_path: Path) -> None:
    """Found: a worker without the client's storage reported "Raster not found … check [inputs]" for a file the
    client had just read and hashed."""
    from qingshan.core.errors import InputError
    from qingshan.io.rasters import _open

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl, set_as_default=False) as c:
        future = c.submit(_open, tmp_path / "precip.tif")
        with pytest.raises(InputError) as err:
            future.result()
    assert "not visible on the dask worker" in err.value.en and "计算节点" in err.value.zh
    assert "same paths" in err.value.fix
    with pytest.raises(InputError, match="Raster not found"):  # in the client: the config's path is wrong
        _open(tmp_path / "precip.tif")


def _worker(src: Path, address: str, tmp: Path) -> subprocess.Popen[bytes]:
    log = (tmp / "worker.log").open("w")
    return subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--no-dashboard"], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(src)}, cwd=tmp)


def _grid_inputs(n: int) -> tuple[dict[str, np.ndarray], Any]:
    from affine import Affine

    from qingshan.core.grid import Grid

    rng = np.random.default_rng(3)
    inputs = {"precip": rng.uniform(800, 2000, (n, n)), "pet": rng.uniform(600, 1400, (n, n)),
              "root_depth": rng.uniform(300, 3000, (n, n)), "pawc": rng.uniform(0.05, 0.3, (n, n)),
              "lulc": rng.choice([1.0, 4.0, 10.0, 12.0], (n, n))}
    return inputs, Grid.from_crs("EPSG:32650", Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3300000.0), n, n)


@pytest.mark.parametrize("change", ["formula", "older"])
def test_a_worker_joining_after_the_check_is_refused_at_its_first_task(tmp_path: Path, change: str) -> None:
    """Found: only the workers present when the run started were checked; one that joined later (or restarted
    from another installation) computed its blocks with its own formulas. Here the only worker left after the
    check runs other code: an edited formula, or a version without :class:`SameCode` (it cannot unpickle the task)."""
    from qingshan.engine.compute import compute_indicator

    good = _copy_of_qingshan(tmp_path / "good")
    bad = _copy_of_qingshan(tmp_path / "bad")
    if change == "formula":
        path = bad / "qingshan" / "quantities" / "water.py"
        path.write_text(path.read_text() + "\n# a different formula\n")
    else:  # an older version: the module exists, the wrapper does not
        path = bad / "qingshan" / "core" / "codeversion.py"
        path.write_text(path.read_text().replace("class SameCode", "class _NotYet"))
    inputs, grid = _grid_inputs(96)
    expected = compute_indicator("water_conservation", inputs, method="budyko", grid=grid, block_size=32)
    with _cluster(good, tmp_path) as address, open_scheduler(address) as client:  # checked: one good worker
        first = set(client.scheduler_info()["workers"])
        same = compute_indicator("water_conservation", inputs, method="budyko", grid=grid, block_size=32,
                                 scheduler=client)
        assert same.totals == expected.totals
        joined = _worker(bad, address, tmp_path)
        try:
            client.wait_for_workers(2, timeout=60)
            client.retire_workers(list(first))  # the blocks can only go to the newcomer
            (newcomer,) = set(client.scheduler_info()["workers"]) - first
            with pytest.raises(ConfigError) as err:
                compute_indicator("water_conservation", inputs, method="budyko", grid=grid, block_size=32,
                                  scheduler=client)
        finally:
            joined.terminate()
            joined.wait(timeout=30)
    e = err.value
    assert "do not run this Qingshan" in e.en and newcomer in e.en and "不同" in e.zh and e.field == "run.scheduler"


def test_same_code_refuses_in_a_process_with_other_code_and_its_error_travels_whole() -> None:
    import pickle

    from qingshan.core.codeversion import SameCode

    assert SameCode.of(sum)([1, 2]) == 3
    with pytest.raises(ConfigError) as err:
        SameCode(sum, ("0.0.1", "0" * 64))([1, 2])
    back = pickle.loads(pickle.dumps(err.value))  # as a worker's error reaches the client
    assert (back.en, back.zh, back.fix_zh, back.field) == (err.value.en, err.value.zh, err.value.fix_zh, "run.scheduler")
    assert "this process" in back.en and "0.0.1" in back.en
