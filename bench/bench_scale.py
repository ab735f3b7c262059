#!/usr/bin/env python
"""Scaling benchmark: a whole accounting (`qingshan account`) on synthetic regions of growing size, and on
1, 2 and 4 dask.distributed workers. Timings only, never asserted in tests.

Inputs: ``qingshan synth --size N --counties 99 --seed 42`` (made once per size into ``--work``; a 13 600²
grid at 30 m is about a province the size of Jiangxi, 185 Mpx per layer). Each run is a whole process,
config on disk → sealed run and exports on disk, measured from outside with ``/usr/bin/time -v`` (wall,
CPU = user + sys, peak resident memory of the ``qingshan`` process). Each run writes into a fresh folder
with its own SQLite store and data dir (the derived-layer cache starts empty: the LS routing is counted).

* ``--sizes``: per-cell cost (wall and CPU µs per cell, per accounting year) and peak memory per size;
* ``--workers``: the largest size again with ``--scheduler tcp://127.0.0.1:PORT``, a ``dask scheduler`` and
  ``dask worker --nworkers W --nthreads 1`` started on loopback for the run (their memory is in other processes
  and is not in the peak column).

    .venv/bin/python bench/bench_scale.py --sizes 3000 13600 --work /work/bench_scale [--workers 1 2 4 --workers-size 3000]
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_whole import timed  # noqa: E402  (the same /usr/bin/time -v reader)

QINGSHAN = [sys.executable, "-c", "from qingshan.cli import main; main()"]


def ensure_synth(n: int, work: Path, env: dict[str, str]) -> Path:
    """``work/syn<N>/config.toml`` (made once)."""
    folder = work / f"syn{n}"
    if not (folder / "config.toml").exists():
        t0 = time.perf_counter()
        subprocess.run([*QINGSHAN, "synth", "--size", str(n), "--counties", "99", "--seed", "42", "--out", str(folder)],
                       check=True, env=env)
        print(f"synth {n}²: {time.perf_counter() - t0:.0f} s")
    return folder / "config.toml"


def run_account(config: Path, ws: Path, env: dict[str, str], scheduler: str | None = None, *,
                keep: bool = False) -> dict[str, float]:
    """One whole ``qingshan account`` into a fresh ``ws``; its store, outputs and derived cache are removed
    afterwards unless ``keep`` (a 13 600² run leaves ~25 GB: a full disk fails everything else), ``time.log`` stays."""
    shutil.rmtree(ws, ignore_errors=True)
    ws.mkdir(parents=True)
    cmd = [*QINGSHAN, "account", str(config), "--store", f"sqlite:///{ws / 'store.db'}", "-o", str(ws / "out"),
           "--data-dir", str(ws / "data")]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    wall, rss, rc, cpu = timed(cmd, env, ws / "time.log")
    if rc != 0:
        print((ws / "time.log").read_text()[-3000:])
        raise SystemExit(f"account failed ({rc}): see {ws / 'time.log'}")
    if not keep:
        for p in ws.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            elif p.name != "time.log":
                p.unlink()
    return {"wall_s": wall, "cpu_s": cpu, "peak_mib": rss}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_cluster(workers: int, env: dict[str, str], log: Path, run: object) -> dict[str, float]:
    """Start a loopback scheduler and ``workers`` single-thread worker processes, call ``run(address)``, stop them."""
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    addr = f"tcp://127.0.0.1:{port}"
    with log.open("w") as fh:
        sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                 stdout=fh, stderr=subprocess.STDOUT, env=env)
        work = subprocess.Popen([dask, "worker", addr, "--nworkers", str(workers), "--nthreads", "1",
                                 "--memory-limit", "0", "--no-dashboard"], stdout=fh, stderr=subprocess.STDOUT, env=env)
        try:
            from dask.distributed import Client

            with Client(addr, timeout=60) as c:
                c.wait_for_workers(workers, timeout=120)
            return run(addr)  # type: ignore[operator,no-any-return]
        finally:
            for p in (work, sched):
                p.terminate()
                p.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[3000, 13600])
    ap.add_argument("--workers", type=int, nargs="*", default=[])
    ap.add_argument("--workers-size", type=int, help="grid size of the worker runs (default: the largest --sizes)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qs_bench_scale"))
    ap.add_argument("--keep-outputs", action="store_true", help="keep each run's store, outputs and cache (default: "
                    "removed once timed, time.log kept)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
          f"load {os.getloadavg()[0]:.1f}")
    rows = []
    for n in a.sizes:
        config = ensure_synth(n, a.work, env)
        r = run_account(config, a.work / f"ws_{n}", env, keep=a.keep_outputs)
        rows.append({"size": n, "cells": n * n, "scheduler": "threads", **r})
        print(json.dumps(rows[-1]))
    for w in a.workers:
        n = a.workers_size or max(a.sizes)
        config = ensure_synth(n, a.work, env)
        r = with_cluster(w, env, a.work / f"cluster_{w}.log",
                         lambda addr, n=n, w=w, config=config: run_account(config, a.work / f"ws_{n}_w{w}", env, scheduler=addr,
                                                                 keep=a.keep_outputs))
        rows.append({"size": n, "cells": n * n, "scheduler": f"{w} dask workers", **r})
        print(json.dumps(rows[-1]))
    base = rows[0]
    print(f"\n| size | scheduler | wall s | CPU s | µs/cell wall | µs/cell CPU | per-cell wall vs {base['size']}² | peak MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        us = 1e6 * r["wall_s"] / r["cells"]
        print(f"| {r['size']}² | {r['scheduler']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {us:.2f} | "
              f"{1e6 * r['cpu_s'] / r['cells']:.2f} | {us / (1e6 * base['wall_s'] / base['cells']):.2f} | {r['peak_mib']:.0f} |")
    with (a.work / "bench_scale.jsonl").open("a") as fh:
        for r in rows:
            fh.write(json.dumps({**r, "when": time.strftime("%Y-%m-%dT%H:%M:%S")}) + "\n")


if __name__ == "__main__":
    main()
