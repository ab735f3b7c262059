"""``qingshan scenario BASE_RUN CONFIG``: a scenario run and its difference from the base (thin over qingshan.use.scenario)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register"]

YI = 1e8
StoreOpt = Annotated[str, typer.Option("--store", help="Results store URL 结果库地址", envvar="QINGSHAN_STORE_URL")]
DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"


def scenario(
    base_run: Annotated[str, typer.Argument(help="Base run id 基准核算编号")],
    config: Annotated[Path, typer.Argument(help="Scenario config (TOML) 情景配置")],
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Output folder 输出目录 (default out/scenario-<run>)")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region code to print 打印的区划代码")] = None,
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """Account a scenario of a stored run (changed land cover or parameters), recomputing only the indicators the
    changes affect, and write the difference by indicator, region and ecosystem, with difference rasters 情景分析."""
    from qingshan.store.db import open_store
    from qingshan.use.scenario import compare_runs, load_scenario, run_scenario

    console = Console()
    spec = load_scenario(config)
    factory = open_store(store)
    dest = output or Path("out") / f"scenario-{base_run[:8]}"
    outcome = run_scenario(factory, store, base_run, spec, output=dest / "run")
    tables, regions, files = compare_runs(factory, store, base_run, outcome.run_id, dest / "difference")
    console.print(f"Scenario run 情景核算: {outcome.run_id} (base 基准 {base_run})")
    for ind, why in outcome.recomputed.items():
        console.print(f"  recomputed 重算 {ind}: {'; '.join(why)}")
    console.print(f"  copied from the base 沿用基准: {', '.join(outcome.copied) or '-'}")
    _print_region(tables["indicator"], region or str(regions.loc[regions["parent"].isna(), "code"].iloc[0]), console)
    changed = tables["indicator"]
    changed = changed[(changed["indicator"] == "GEP") & (changed["difference"] != 0)]
    console.print(f"Regions whose GEP changes 总值变化的区域: {len(changed)} "
                  f"({', '.join(f'{n} {c}' for c, n in zip(changed['region_code'], changed['region_name'], strict=True))})")
    console.print(f"Written 已写出: {dest / 'run'} , {len(files)} files in {dest / 'difference'}")


def _print_region(table: Any, code: str, console: Console) -> None:
    rows = table[table["region_code"].astype(str) == code]
    if rows.empty:
        return
    t = Table(title=f"{rows['region_name'].iloc[0]} {code}: scenario − base 情景 − 基准 (亿元)")
    for col in ("Indicator 指标", "Base 基准", "Scenario 情景", "Difference 差值", "%"):
        t.add_column(col, justify="right")
    for r in rows.itertuples():
        pct = "" if r.percent != r.percent else f"{r.percent:+.3f}"
        t.add_row(str(r.indicator), f"{r.base / YI:.4f}", f"{r.scenario / YI:.4f}", f"{r.difference / YI:+.4f}", pct)
    console.print(t)


def register(app: typer.Typer, friendly: Callable[[Any], Any]) -> None:
    """Add ``scenario`` to the main ``qingshan`` app."""
    app.command(name="scenario", help="A scenario of a run and its difference 情景分析.")(friendly(scenario))
