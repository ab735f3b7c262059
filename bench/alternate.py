#!/usr/bin/env python
"""Alternate whole-process commands round by round and print medians (wall, CPU = user + system, peak RSS).

Each command runs under ``/usr/bin/time`` through ``bash -c``; the order is rotated each round so that a machine
whose speed drifts (it may be shared) affects all alike. Timings only, never asserted in tests.

    python bench/alternate.py ROUNDS 'NAME=::COMMAND' 'NAME=::COMMAND' …

e.g. ``python bench/alternate.py 5 'qingshan=::qingshan compute … -o /tmp/a/q.tif' 'plain=::python
bench/plain_water.py DATA /tmp/b/q.tif'`` (docs/benchmarks.md, "Start-up and writing, second pass").
"""

# ruff: noqa: T201
from __future__ import annotations

import os
import statistics
import subprocess
import sys


def main() -> None:
    rounds = int(sys.argv[1])
    cmds = [tuple(a.split("=::", 1)) for a in sys.argv[2:]]
    res: dict[str, list[tuple[float, float, float]]] = {n: [] for n, _ in cmds}
    for r in range(rounds):
        order = cmds[r % len(cmds):] + cmds[: r % len(cmds)]
        for name, cmd in order:
            p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "bash", "-c", cmd], capture_output=True, text=True)
            if p.returncode:
                print(name, "FAILED", p.stderr[-500:])
                continue
            wall, user, system, rss = p.stderr.strip().splitlines()[-1].split()
            res[name].append((float(wall), float(user) + float(system), int(rss) / 1024))
    for name, v in res.items():
        if v:
            print(f"{name:12s} wall {statistics.median(x[0] for x in v):6.2f}  cpu {statistics.median(x[1] for x in v):6.2f}  "
                  f"rss {statistics.median(x[2] for x in v):6.0f} MiB  (n={len(v)}) walls={[round(x[0], 2) for x in v]}")
    print("load", os.getloadavg())


if __name__ == "__main__":
    main()
