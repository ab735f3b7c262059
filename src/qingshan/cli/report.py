"""Progress bar and the printed run summary (GEP by class, top and bottom counties, outputs)."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.engine.config import RunConfig
from qingshan.engine.run import RunOutcome, account

__all__ = ["print_summary", "run_with_progress"]

YI = 1e8


def run_with_progress(cfg: RunConfig, store: str | None) -> RunOutcome:
    """Run ``account`` with a progress bar on the console."""
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn(), transient=True) as bar:
        task = bar.add_task("Accounting 核算中", total=1.0)

        def tick(step: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=f"Accounting 核算中: {step}")

        if cfg.run.engine == "dask":
            return _account_dask(cfg, store, tick)
        return account(cfg, store_url=store, progress=tick)


def _account_dask(cfg: RunConfig, store: str | None, tick: Callable[[str, float], None]) -> RunOutcome:
    """The block-wise engine; on a dask.distributed scheduler when ``[run] scheduler`` names one."""
    from qingshan.engine.blockwise import account_blockwise

    if cfg.run.scheduler is None:
        return account_blockwise(cfg, block_size=cfg.run.block_size, store_url=store, progress=tick)
    from dask.distributed import Client

    with Client(cfg.run.scheduler) as client:
        return account_blockwise(cfg, block_size=cfg.run.block_size, client=client, store_url=store, progress=tick)


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
    leaf_level = regions.leaf_level
    leaves = res[res["region_code"].isin(regions.codes_at(leaf_level))]
    per = leaves.groupby("region_code")["value"].sum().sort_values(ascending=False)
    t = Table(title=f"Top and bottom {leaf_level} 前五与后五 (GEP 亿元)")
    t.add_column("rank")
    t.add_column("code")
    t.add_column("name 名称")
    t.add_column("GEP", justify="right")
    n = len(per)
    for rank, (code, v) in enumerate(per.items(), start=1):
        if rank <= 5 or rank > n - 5:
            t.add_row(str(rank), code, regions.get(code).name, f"{v / YI:,.2f}")
    console.print(t)
    console.print(f"Run 核算编号 {outcome.run_id}; {outcome.provenance.get('seconds')} s")
    console.print(f"Outputs 输出目录: {outcome.output_dir}")
    for f in sorted(outcome.files)[:6]:
        console.print(f"  {f}")
    if len(outcome.files) > 6:
        console.print(f"  … and {len(outcome.files) - 6} more (rasters/)")
