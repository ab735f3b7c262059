#!/usr/bin/env python
"""Whole-process benchmark, side by side: Qingshan's CLI vs InVEST 3.20.2 vs a plain rasterio + numpy script.

Every figure is a whole process, inputs on disk → outputs on disk, measured from outside with
``/usr/bin/time -v`` (wall seconds and peak resident memory), the tools alternating run by run
(A B C A B C …, the order rotated each round) so that a machine whose speed drifts (it may be shared)
affects all alike; the table gives medians and the median of the per-round ratios. Timings only,
never asserted in tests.

Data: ``/work/shared/tools/invest-bench/gen_data.py --size N`` (run in the InVEST venv; seed 42, EPSG:32650,
30 m), reused when present; above ``LEAN_ABOVE`` (4 096) cells a side, where gen_data.py would need ~25 GB
(10 000²), ``validation/gen_inputs.py --size N`` instead, which builds such grids strip by strip from a coarse
grid (same file names, formulas and tables; a one-polygon watershed vector; no carbon scenario, so InVEST
Carbon is left out there). Cases (each tool writes its outputs into a fresh folder):

* water yield — ``qingshan compute water_conservation --method budyko`` (5 COGs) | InVEST Annual Water
  Yield (``validation/run_invest.py awy``) | ``bench/plain_water.py`` (same reads, arithmetic and 5 writes);
* soil D8 / MFD — ``qingshan compute soil_retention`` (``ls_formula=invest``, ``c_factor=landcover``;
  9 COGs) | InVEST SDR (which computes more: SDR, export, deposition);
* carbon — ``qingshan compute carbon_sequestration --method fixation_rate`` (land cover → rate × area;
  1 COG) | InVEST Carbon (storage of two scenarios, change, NPV). Not the same model: the same kind of
  work (land-cover reclassification), shown for scale.

    .venv/bin/python bench/bench_whole.py --sizes 64 1000 3000 --rounds 3 --work /work/invest/bench \\
        --invest-python /work/invest/venv/bin/python [--before-src /tmp/qs_before/src]

``--before-src`` adds a "Qingshan before" column: the same CLI from another source tree (e.g. an older
commit exported with ``git archive``), with the same Python.

Both source trees are byte-compiled first (``python -m compileall``, as ``pip install`` does): in an environment
with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's), Python would otherwise compile Qingshan's ~45 modules from
source in every run, ~0.08 s of CPU that no installed Qingshan pays (the plain script is one file, compiled
either way).
"""

# ruff: noqa: T201
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN_DATA = Path("/work/shared/tools/invest-bench/gen_data.py")
CASES = ("water", "soil_D8", "soil_MFD", "carbon")
LEAN_ABOVE = 4096  # validation/gen_inputs.py's LEAN_ABOVE: larger grids are built strip by strip, never by gen_data.py


def timed(cmd: list[str], env: dict[str, str], log: Path) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MiB, exit code, CPU s = user + sys) of one whole process under ``/usr/bin/time -v``."""
    with log.open("w") as fh:
        rc = subprocess.run(["/usr/bin/time", "-v", *cmd], stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    text = log.read_text(errors="replace")
    wall = rss = float("nan")
    cpu = 0.0
    for line in text.splitlines():
        line = line.strip()
        if line.startswith(("User time (seconds)", "System time (seconds)")):
            cpu += float(line.rsplit(" ", 1)[1])
        elif line.startswith("Elapsed (wall clock) time"):
            parts = line.rsplit(" ", 1)[1].split(":")
            wall = sum(float(x) * 60**i for i, x in enumerate(reversed(parts)))
        elif line.startswith("Maximum resident set size"):
            rss = int(line.rsplit(" ", 1)[1]) / 1024
    return wall, rss, rc, cpu


def ensure_data(n: int, a: argparse.Namespace) -> Path:
    """The invest-bench data of size ``n`` (made once): gen_data.py in the InVEST venv, or, without InVEST or
    above ``LEAN_ABOVE`` cells a side, ``validation/gen_inputs.py`` (the same rasters for seed 42 up to 4 096²,
    without the carbon scenario; strip by strip from a coarse grid above)."""
    data = a.work / f"data_{n}"
    if not (data / "dem.tif").exists():
        if not a.no_invest and GEN_DATA.exists() and n <= LEAN_ABOVE:
            subprocess.run([a.invest_python, str(GEN_DATA), "--size", str(n), "--out", str(data)], check=True, cwd=a.work)
        else:
            subprocess.run([sys.executable, str(ROOT / "validation" / "gen_inputs.py"), "--size", str(n), "--out", str(data)],
                           check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    sys.path.insert(0, str(ROOT / "validation"))
    from run_invest_comparison import landcover_table

    landcover_table(data, a.work / f"tables_{n}")
    return data


def qingshan_cmd(case: str, data: Path, out: Path, tables: Path) -> list[str]:
    base = [sys.executable, "-c", "from qingshan.cli import main; main()", "compute"]
    lc = ["--landcover", str(tables / "landcover_invest.csv")]
    if case == "water":
        ins = {"precip": "precip", "pet": "et0", "lulc": "lulc", "root_depth": "root_restrict_depth", "pawc": "pawc"}
        args = ["water_conservation", "--method", "budyko", *lc, "--option", 'budyko_vegetated_ecosystems=["forest"]']
    elif case.startswith("soil"):
        ins = {"dem": "dem", "lulc": "lulc", "rain_erosivity": "erosivity", "soil_erodibility": "erodibility"}
        args = ["soil_retention", *lc, "--option", "ls_formula=invest", "--option", "c_factor=landcover",
                "--option", f"flow_algorithm={case.split('_')[1]}"]
    else:  # carbon: the default (MODIS IGBP) land-cover table has the fixation rates; codes 1–7 are in it
        ins = {"lulc": "lulc"}
        args = ["carbon_sequestration", "--method", "fixation_rate"]
    for k, v in ins.items():
        args += ["--input", f"{k}={data / (v + '.tif')}"]
    return [*base, *args, "-o", str(out / "q.tif")]


def commands(case: str, data: Path, ws: Path, a: argparse.Namespace, tables: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    env = dict(os.environ)
    q_env = {**env, "PYTHONPATH": str(ROOT / "src")}
    out: dict[str, tuple[list[str], dict[str, str]]] = {"qingshan": (qingshan_cmd(case, data, ws / "qingshan", tables), q_env)}
    if a.before_src:
        out["before"] = (qingshan_cmd(case, data, ws / "before", tables), {**env, "PYTHONPATH": str(a.before_src)})
    model = {"water": ["awy"], "soil_D8": ["sdr", "--flow-dir", "D8"], "soil_MFD": ["sdr", "--flow-dir", "MFD"], "carbon": ["carbon"]}[case]
    if not a.no_invest and (case != "carbon" or (data / "carbon_pools.csv").exists()):  # gen_inputs.py makes none
        cmd = [a.invest_python, str(ROOT / "validation" / "run_invest.py"), model[0], str(data), str(ws / "invest"), *model[1:]]
        out["invest"] = (cmd, env)
    if case == "water":
        out["plain"] = ([sys.executable, str(ROOT / "bench" / "plain_water.py"), str(data), str(ws / "plain" / "q.tif")], env)
        if a.float32:  # float32 layers, as InVEST writes them: the plain script's too
            out["plain_f32"] = ([*out["plain"][0][:-1], str(ws / "plain_f32" / "q.tif"), "--dtype", "float32"], env)
    if a.float32 and case != "carbon":  # the outputs InVEST writes: float32 layers (--dtype float32), no overviews
        q32 = qingshan_cmd(case, data, ws / "qingshan_f32", tables)
        out["qingshan_f32"] = ([*q32, "--dtype", "float32"], {**q_env, "QINGSHAN_COG_OVERVIEWS": "never"})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[64, 1000, 3000])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="uncounted rounds first (numba and pint caches, page cache)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/qs_bench_whole"))
    ap.add_argument("--invest-python", default="/work/invest/venv/bin/python")
    ap.add_argument("--no-invest", action="store_true")
    ap.add_argument("--before-src", type=Path)
    ap.add_argument("--keep-outputs", action="store_true", help="keep each run's outputs (default: removed once the run "
                    "is timed, its log kept: a 10 000² soil run writes ~20 GB, and a full disk fails everything else)")
    ap.add_argument("--float32", action="store_true", help="also Qingshan writing what InVEST writes — float32 layers "
                    "(--dtype float32) without overviews (QINGSHAN_COG_OVERVIEWS=never; no layer up to 8 192² gets them "
                    "anyway) — for water and soil, and the plain script writing float32 (columns qingshan_f32, plain_f32 "
                    "in bench_whole.jsonl and below the table)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if not a.no_invest and not Path(a.invest_python).exists():
        sys.exit(f"no InVEST python at {a.invest_python}: build it with validation/install_invest.sh, or pass --no-invest")
    for src in (ROOT / "src", a.before_src):  # byte-compiled, as installed: see the module docstring
        if src is not None:
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(src)], check=True, stdout=subprocess.DEVNULL)
    load0 = os.getloadavg()
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, load {load0[0]:.1f}")
    results = []
    for n in a.sizes:
        data = ensure_data(n, a)
        for case in a.cases:
            ws = a.work / f"ws_{case}_{n}"
            runs: dict[str, list[tuple[float, float, int, float]]] = {}
            for r in range(-a.warmup, a.rounds):  # negative rounds: warm-up (caches, page cache), not counted
                cmds = commands(case, data, ws, a, a.work / f"tables_{n}")
                order = list(cmds)
                order = order[r % len(order):] + order[: r % len(order)]  # rotate who goes first
                for tool in order:
                    cmd, env = cmds[tool]
                    shutil.rmtree(ws / tool, ignore_errors=True)  # InVEST's taskgraph would skip finished work
                    (ws / tool).mkdir(parents=True, exist_ok=True)
                    res = timed(cmd, env, ws / f"{tool}.log")
                    if not a.keep_outputs:
                        shutil.rmtree(ws / tool, ignore_errors=True)
                    if r >= 0:
                        runs.setdefault(tool, []).append(res)
                    print(f"  {n}² {case} {tool} round {r + 1}: {res[0]:.2f} s wall, {res[3]:.2f} s CPU, {res[1]:.0f} MiB, "
                          f"rc {res[2]}", flush=True)
            row = {"size": n, "case": case, "rounds": a.rounds, "time": time.strftime("%Y-%m-%d %H:%M"),
                   "load": os.getloadavg()[0]}
            for tool, rs in runs.items():
                row[f"{tool}_s"] = statistics.median(x[0] for x in rs)
                row[f"{tool}_mib"] = statistics.median(x[1] for x in rs)
                row[f"{tool}_cpu_s"] = statistics.median(x[3] for x in rs)
                row[f"{tool}_failed"] = sum(1 for x in rs if x[2] != 0)
                if tool != "qingshan":  # ratio other / qingshan, pair by pair (same round)
                    row[f"{tool}_over_qingshan"] = statistics.median(o[0] / q[0] for o, q in zip(rs, runs["qingshan"], strict=True))
            if "invest" in runs and "qingshan_f32" in runs:
                row["invest_over_qingshan_f32"] = statistics.median(
                    o[0] / q[0] for o, q in zip(runs["invest"], runs["qingshan_f32"], strict=True))
            results.append(row)
            with (a.work / "bench_whole.jsonl").open("a") as fh:
                fh.write(json.dumps(row) + "\n")
    print(f"\nload average {load0[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; medians of {a.rounds} alternating rounds\n")
    print("| case | Qingshan s | before s | InVEST s | plain s | InVEST / Qingshan | Qingshan / plain | "
          "CPU s Qingshan / before / InVEST / plain | peak MiB Qingshan / before / InVEST / plain |")
    print("|---|---|---|---|---|---|---|---|---|")
    f = lambda row, k, fmt="{:.2f}": fmt.format(row[k]) if k in row else "–"  # noqa: E731
    for row in results:
        q_over_plain = f"{1 / row['plain_over_qingshan']:.2f}" if "plain_over_qingshan" in row else "–"
        print(f"| {row['case']} {row['size']}² | {f(row, 'qingshan_s')} | {f(row, 'before_s')} | {f(row, 'invest_s')} | "
              f"{f(row, 'plain_s')} | {f(row, 'invest_over_qingshan')} | {q_over_plain} | "
              f"{f(row, 'qingshan_cpu_s')} / {f(row, 'before_cpu_s')} / {f(row, 'invest_cpu_s')} / {f(row, 'plain_cpu_s')} | "
              f"{f(row, 'qingshan_mib', '{:.0f}')} / {f(row, 'before_mib', '{:.0f}')} / {f(row, 'invest_mib', '{:.0f}')} / "
              f"{f(row, 'plain_mib', '{:.0f}')} |")
    for row in results:
        if "qingshan_f32_s" in row:
            plain = (f", plain {row['plain_f32_s']:.2f} s ({row['plain_f32_cpu_s']:.2f} s CPU)"
                     if "plain_f32_s" in row else "")
            print(f"{row['case']} {row['size']}² float32 layers, no overviews (as InVEST writes): Qingshan {row['qingshan_f32_s']:.2f} s "
                  f"({row['qingshan_f32_cpu_s']:.2f} s CPU, {row['qingshan_f32_mib']:.0f} MiB){plain}; InVEST / Qingshan "
                  f"float32 {row.get('invest_over_qingshan_f32', float('nan')):.2f}")


if __name__ == "__main__":
    main()
