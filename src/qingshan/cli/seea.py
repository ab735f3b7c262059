"""``qingshan seea RUN [--against RUN] -o DIR``: SEEA EA tables from a stored run (thin over qingshan.use.seea)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

__all__ = ["register", "seea"]

YI = 1e8
StoreOpt = Annotated[str, typer.Option("--store", help="Results store URL 结果库地址", envvar="QINGSHAN_STORE_URL")]


def seea(
    run: Annotated[str, typer.Argument(help="Run id 核算编号 (the closing side 期末)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the CSV tables and seea_accounts.xlsx")],
    against: Annotated[str | None, typer.Option("--against", help="Opening run id 期初核算编号")] = None,
    from_year: Annotated[int | None, typer.Option("--from", help="Opening year 期初年份")] = None,
    to_year: Annotated[int | None, typer.Option("--to", help="Closing year 期末年份")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region of the SEEA-layout sheets 区划代码")] = None,
    discount_rate: Annotated[float | None, typer.Option("--discount-rate", help="Override (data/seea/asset_parameters.csv)")] = None,
    asset_life: Annotated[int | None, typer.Option("--asset-life", help="Override, years 资产寿命")] = None,
    store: StoreOpt = "sqlite:///out/qingshan.sqlite",
) -> None:
    """SEEA EA accounts 联合国 SEEA 生态系统核算表: extent (and change matrix), condition, services supply
    and use (physical, monetary), monetary asset account; opening = first year (or --from / --against)."""
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.db import open_store
    from qingshan.use.seea import seea_tables
    from qingshan.use.seea.output import asset_layout, extent_layout, write_outputs

    console = Console()
    t = seea_tables(open_store(store), run, against=against, from_year=from_year, to_year=to_year, region=region,
                    data_dir=find_data_dir(store), discount_rate=discount_rate, asset_life=asset_life)
    console.print(_frame(extent_layout(t.tables["extent_account"], t.region), f"Extent account 面积账户 {t.region} "
                         f"{t.opening} → {t.closing} (km²)", 1.0, "{:,.1f}"))
    sup = t.tables["supply_monetary"]
    console.print(_frame(sup.set_index("seea_service")[["total"]], f"Monetary supply 价值供给 {t.closing} (亿元)", YI,
                         "{:,.2f}"))
    console.print(f"Supply total 供给合计 {sup['total'].sum() / YI:,.2f} 亿元 = use total 使用合计 "
                  f"{t.tables['use_monetary']['total'].sum() / YI:,.2f} 亿元")
    p = t.parameters
    if p is not None:
        console.print(_frame(asset_layout(t.tables["asset_account"], t.region),
                             f"Asset account 资产账户 (亿元; r = {p.discount_rate:g}, life {p.asset_life} a)", YI, "{:,.1f}"))
    for path in write_outputs(t, output):
        console.print(f"Written 已写出: {path}")


def _frame(df: Any, title: str, scale: float, fmt: str) -> Table:
    tbl = Table(title=title)
    tbl.add_column("")
    for c in df.columns:
        tbl.add_column(str(c), justify="right")
    for idx, row in df.iterrows():
        tbl.add_row(str(idx), *(fmt.format(v / scale) if v == v else "-" for v in row))
    return tbl


def register(app: typer.Typer, friendly: Callable[[Any], Any]) -> None:
    """Add ``seea`` to the main ``qingshan`` app."""
    app.command(name="seea", help="SEEA EA ecosystem accounts from a run 联合国 SEEA 生态系统核算表.")(friendly(seea))
