"""Load benchmark of the public dashboard reads: N concurrent clients on loopback, p50/p95/p99.

What it does, whole process:

1. builds a results store holding the embedded Jiangxi example, accounted and published (SQLite in
   a temporary folder, or a throw-away PostgreSQL server from Debian's ``postgresql`` package via
   ``tests/pg_harness.py``);
2. starts ``qingshan serve --workers W`` on a free loopback port;
3. drives it with ``wrk`` (Debian package ``wrk``): C connections, each requesting, in random
   order, the URLs a dashboard visitor's browser requests (catalogue, run list, province map,
   summary, GDP, ranking, a city's counties, the time series), for D seconds;
4. prints requests/s, p50/p95/p99 latency and errors, and writes them as JSON.

Never a timed test: run by hand or ``make bench-load``::

    .venv/bin/python bench/load_dashboard.py --backend sqlite --clients 200 --workers 2
    .venv/bin/python bench/load_dashboard.py --backend postgresql --clients 200 --workers 2

Results with the machine are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QINGSHAN = Path(sys.executable).parent / "qingshan"

LUA = r"""
local paths = {}
for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", paths[math.random(#paths)], {["Accept"] = "application/json"})
end
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
               + summary.errors.status + summary.errors.timeout
  io.write(string.format('QSJSON {"requests": %%d, "duration_s": %%f, "errors": %%d, "non2xx": %%d, '
    .. '"p50_ms": %%f, "p95_ms": %%f, "p99_ms": %%f, "max_ms": %%f}\n',
    summary.requests, summary.duration / 1e6, errors, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(backend: str, work: Path) -> tuple[str, object | None]:
    """Account and publish the Jiangxi example into a fresh store; return its URL (and the PG server)."""
    from qingshan.cli.demo_service import load_into_service
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account
    from qingshan.examples import example_config
    from qingshan.store.db import open_store

    server = None
    if backend == "postgresql":
        sys.path.insert(0, str(REPO / "tests"))
        import pg_harness

        server = pg_harness.acquire()
        url = server.create_database()  # returns the URL of the new database
    else:
        url = f"sqlite:///{work / 'qingshan.sqlite'}"
    cfg = load_config(example_config())
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"output": work / "out", "store": None,
                                                                   "data_dir": work / "qingshan-data"})})
    outcome = account(cfg, store_url=url)
    load_into_service(open_store(url), outcome.run_id)
    return url, server


def dashboard_paths(base: str) -> list[str]:
    """The URLs one dashboard visit requests (app.js), for the published example run."""
    runs = json.load(urllib.request.urlopen(f"{base}/api/runs"))
    run = runs[0]
    rid, year = run["id"], max(run["years"])
    regions = json.load(urllib.request.urlopen(f"{base}/api/runs/{rid}/regions?year={year}&measure=value"))
    top = regions["features"][0]["properties"]["code"]
    cities = json.load(urllib.request.urlopen(f"{base}/api/runs/{rid}/regions?parent={top}&year={year}&measure=value"))
    city = cities["features"][0]["properties"]["code"]
    r = f"/api/runs/{rid}"
    return [
        "/api/indicators", "/api/runs",
        f"{r}/regions?year={year}&measure=value",
        f"{r}/regions?parent={top}&year={year}&measure=value",
        f"{r}/regions?parent={city}&year={year}&measure=value",
        f"{r}/summary?region={top}&year={year}", f"{r}/summary?region={city}&year={year}",
        f"{r}/gdp?region={top}&year={year}",
        f"{r}/ranking?level=county&year={year}&measure=value",
        f"{r}/ranking?level=city&year={year}&measure=value",
        f"{r}/regions?year={year}&indicator=water_conservation&measure=value",
    ]


def wait_up(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not answer /healthz")


def run_wrk(base: str, paths: list[str], work: Path, clients: int, seconds: int, threads: int) -> dict[str, float]:
    listing = work / "paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = work / "dashboard.lua"
    script.write_text(LUA % {"paths": listing, "seed": 42})
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", str(script), base], capture_output=True, text=True, check=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("QSJSON "))
    res: dict[str, float] = json.loads(line.removeprefix("QSJSON "))
    res["requests_per_s"] = res["requests"] / res["duration_s"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2, help="server worker processes")
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=3, help="seconds of load before the measured run")
    ap.add_argument("--cache-seconds", type=float, default=1.0,
                    help="QINGSHAN_PUBLISHED_CACHE_SECONDS of the server (0: check publication on every request)")
    ap.add_argument("--no-access-log", action="store_true", help="serve without the per-request access log")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="qs-load-"))
    url, server = build_store(a.backend, work)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "QINGSHAN_STORE_URL": url, "QINGSHAN_DATA_DIR": str(work / "qingshan-data"), "QINGSHAN_PUBLISHED_CACHE_SECONDS": str(a.cache_seconds)}
    cmd = [str(QINGSHAN), "serve", "--port", str(port), "--workers", str(a.workers), "--store", url]
    proc = subprocess.Popen(cmd + (["--no-access-log"] if a.no_access_log else []),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_up(base, proc)
        paths = dashboard_paths(base)
        if a.warmup:
            run_wrk(base, paths, work, min(a.clients, 20), a.warmup, a.wrk_threads)
        res = run_wrk(base, paths, work, a.clients, a.seconds, a.wrk_threads)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        if server is not None:
            sys.path.insert(0, str(REPO / "tests"))
            import pg_harness

            pg_harness.release()
        shutil.rmtree(work, ignore_errors=True)
    res.update(backend=a.backend, clients=a.clients, workers=a.workers, seconds=a.seconds, cache_seconds=a.cache_seconds,
               access_log=not a.no_access_log,
               machine=f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
               load_avg=os.getloadavg()[0])
    sys.stdout.write(f"{a.backend}: {a.clients} clients, {a.workers} workers, {a.seconds} s, "
                     f"publication checked every {a.cache_seconds:g} s, access log {'off' if a.no_access_log else 'on'} — "
          f"{res['requests_per_s']:.0f} req/s, p50 {res['p50_ms']:.1f} ms, p95 {res['p95_ms']:.1f} ms, "
          f"p99 {res['p99_ms']:.1f} ms, max {res['max_ms']:.0f} ms, errors {res['errors']:.0f} "
          f"(non-2xx {res['non2xx']:.0f})\n")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
