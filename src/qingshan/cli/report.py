"""Progress bar and the printed run summary (GEP by class, top and bottom counties, outputs)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.engine.config import RunConfig
from qingshan.engine.run import RunOutcome, account

__all__ = ["print_qc", "print_summary", "run_with_progress"]

YI = 1e8


def run_with_progress(cfg: RunConfig, store: str | None, *, scheduler: str | None = None,
                      block_size: int | None = None) -> RunOutcome:
    """Run ``account`` with a progress bar on the console (``scheduler``, ``block_size``: the
    command line's, else the config's ``[run]`` ones)."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("Accounting 核算中", total=1.0)

        def tick(step: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=f"Accounting 核算中: {step}")

        return account(cfg, store_url=store, progress=tick, scheduler=scheduler, block_size=block_size)


def print_summary(outcome: RunOutcome, console: Console) -> None:
    """GEP total and by class, top and bottom leaf regions, and where the outputs are."""
    res, regions = outcome.results, outcome.regions
    for root in regions.roots():
        for year in sorted(res["year"].unique()):
            sub = res[(res["region_code"] == root) & (res["year"] == year)]
            total = sub["value"].sum(skipna=True)
            t = Table(title=f"GEP {regions.get(root).name} {year} (亿元, current prices 当年价)")
            t.add_column("Class 类别")
            t.add_column("Value 价值量", justify="right")
            t.add_column("Share 占比", justify="right")
            for cat in Category:
                v = sub.loc[sub["category"] == cat.value, "value"].sum(skipna=True)
                t.add_row(f"{CATEGORY_ZH[cat]} {cat.value}", f"{v / YI:,.2f}", f"{100 * v / total:.1f} %" if total else "-")
            t.add_row("[bold]GEP 生态产品总值[/]", f"[bold]{total / YI:,.2f}[/]", "100 %")
            console.print(t)
            by_ind = sub.groupby("indicator")["value"].sum().sort_values(ascending=False)
            console.print("  by indicator 分指标: " + "; ".join(f"{k} {v / YI:,.1f}" for k, v in by_ind.items()))
    for year in sorted(res["year"].unique()):  # one ranking per year: never a sum over years
        _print_ranking(outcome, int(year), console)
    print_qc(outcome.provenance.get("qc"), console, where=outcome.output_dir / "qc_report.md")
    console.print(f"Run 核算编号 {outcome.run_id}; {outcome.provenance.get('seconds')} s")
    console.print(f"Outputs 输出目录: {outcome.output_dir}")
    for f in sorted(outcome.files)[:6]:
        console.print(f"  {f}")
    if len(outcome.files) > 6:
        console.print(f"  … and {len(outcome.files) - 6} more (rasters/)")


def _print_ranking(outcome: RunOutcome, year: int, console: Console) -> None:
    """Top and bottom five leaf regions by GEP of one year."""
    res, regions = outcome.results, outcome.regions
    leaf_level = regions.leaf_level
    leaves = res[res["region_code"].isin(regions.codes_at(leaf_level)) & (res["year"] == year)]
    per = leaves.groupby("region_code")["value"].sum().sort_values(ascending=False)
    t = Table(title=f"Top and bottom {leaf_level} {year} 前五与后五 (GEP 亿元)")
    t.add_column("rank")
    t.add_column("code")
    t.add_column("name 名称")
    t.add_column("GEP", justify="right")
    n = len(per)
    for rank, (code, v) in enumerate(per.items(), start=1):
        if rank <= 5 or rank > n - 5:
            t.add_row(str(rank), code, regions.get(code).name, f"{v / YI:,.2f}")
    console.print(t)


QC_SHOWN = 5
"""Items of each QC section printed in the summary (the full report is in the run's exports)."""


def print_qc(report: dict[str, Any] | None, console: Console, *, where: object = None) -> None:
    """A compact QC section: counts, the first few items of each part, and where the full report is."""
    if not report:
        return
    status = report.get("status", "")
    colour = "green" if status == "ok" else "yellow"
    console.print(f"[bold]质量控制 QC[/]: [{colour}]{status}[/] — computed 已核算 {len(report.get('computed', []))}, "
                  f"excluded 已排除 {len(report.get('excluded', []))}, not computed 未核算 {len(report.get('not_computed', []))}, "
                  f"unverified 未核实 {len(report.get('unverified', []))}, notices 提示 {len(report.get('notices', []))}, "
                  f"jumps 年际突变 {report.get('jumps_total', len(report.get('jumps', [])))}")
    parts = [
        ("excluded 已排除", [f"{e['id']}: {e['reason']}" for e in report.get("excluded", [])]),
        ("not computed 未核算", [f"{e['id']}: no data 无数据 {e.get('years', '')}" for e in report.get("not_computed", [])]),
        ("unverified 未核实", [f"{u['key']} = {u['value']} {u['unit']} [{u['certainty']}]" for u in report.get("unverified", [])]),
        ("notices 提示", [f"{n.get('code')}: {n.get('en')}" for n in report.get("notices", [])]),
        ("jumps 年际突变", [f"{j['indicator']} {j['region']} {j['from_year']}→{j['to_year']} {j['change_pct']:+.1f} %"
                          for j in report.get("jumps", [])]),
    ]
    for name, items in parts:
        for item in items[:QC_SHOWN]:
            console.print(f"  {name}: {item}", markup=False)
        if len(items) > QC_SHOWN:
            console.print(f"  {name}: … {len(items) - QC_SHOWN} more", markup=False)
    if where is not None:
        console.print(f"  Full QC report 完整报告: {where} (also the workbook sheet 质量控制 QC, provenance.json)")
