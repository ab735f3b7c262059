"""``qingshan revalue`` (a stored run at new prices, no recomputation) and ``qingshan synth`` (synthetic inputs)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["register"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"


def revalue(
    run: Annotated[str, typer.Argument(help="Run id to revalue 原核算编号")],
    prices: Annotated[Path, typer.Option("--prices", help="Price table CSV 价格表")],
    deflator: Annotated[Path | None, typer.Option("--deflator", help="Deflator CSV (year,index,source); default: "
                                                  "the parent run's 价格指数表")] = None,
    params: Annotated[Path | None, typer.Option("--params", help="Parameter table CSV; a parameter that changes "
                                                "quantities is refused 参数表")] = None,
    base_year: Annotated[int | None, typer.Option("--base-year", help="Base year of comparable prices "
                                                  "(default: the parent's) 可比价基年")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Name of the new run 新核算名称")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Also copy the new run's files here")] = None,
    xlsx: Annotated[bool, typer.Option("--xlsx", help="Build the workbook now (else on first download) "
                                       "立即生成工作簿")] = False,
    store: Annotated[str, typer.Option("--store", help="Results store URL 结果库地址",
                                       envvar="QINGSHAN_STORE_URL")] = DEFAULT_STORE_URL,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run artifacts folder (see `account`)")] = None,
) -> None:
    """Revalue a stored run at new prices, deflator or base year into a NEW run linked to it, without
    recomputing any quantity 重新计价（不重算实物量）. The parent run is not changed."""
    from qingshan.engine.revalue import revalue as do_revalue

    console = Console()
    out = do_revalue(store, run, prices=prices, deflator=deflator, params=params, base_year=base_year,
                     data_dir=data_dir, name=name, output=output)
    top = out.results[out.results["region_code"].isin(out.roots)]
    for year, grp in top.groupby("year"):
        total = grp["value"].sum(skipna=True)
        console.print(f"{year}: GEP {total / 1e8:,.2f} 亿元 (CNY {total:,.0f})")
    console.print(f"New run 新核算 {out.run_id} (parent 原核算 {out.parent_id}), {len(out.results)} rows, "
                  f"content hash {out.provenance['content_hash'][:12]}…, {out.provenance['seconds']} s")
    if xlsx:
        from qingshan.engine.revalue import ensure_export
        from qingshan.store.artifacts import data_dir_for
        from qingshan.store.db import open_store
        from qingshan.store.repo import get_run

        factory = open_store(store)
        ensure_export(factory, get_run(factory, out.run_id), data_dir_for(store, data_dir), "gep_accounts.xlsx")
        console.print(f"Workbook 工作簿 (sealed, SHA-256 recorded): {out.artifacts_dir / 'gep_accounts.xlsx'}")
    console.print(f"Run files 核算成果文件 (read-only 只读): {out.artifacts_dir}; the workbook, GeoPackage and "
                  "qc_report.md are written on first download 工作簿、GeoPackage 与 qc_report.md 在首次下载时生成")


def synth(
    out: Annotated[Path, typer.Option("--out", help="Output folder 输出目录")],
    size: Annotated[int, typer.Option("--size", help="Grid cells per side 每边像元数")] = 256,
    seed: Annotated[int, typer.Option("--seed", help="Random seed 随机种子")] = 42,
    resolution: Annotated[float, typer.Option("--resolution", help="Cell size in metres 像元大小（米）")] = 30.0,
    counties: Annotated[int, typer.Option("--counties", help="Number of synthetic counties 县数")] = 4,
    years: Annotated[str, typer.Option("--years", help="Accounting years, e.g. 2019 or 2018,2019")] = "2019",
    shares: Annotated[str | None, typer.Option("--shares", help="Land-cover shares, e.g. "
                                               "forest=0.6,cropland=0.2,... (default: a subtropical mix)")] = None,
) -> None:
    """Seeded synthetic inputs (DEM, land cover, climate, NDVI, soil K, counties, tables and a ready config)
    合成输入数据：`qingshan synth --size 1000 --out DIR && qingshan account DIR/config.toml`."""
    from qingshan.synth import SynthSpec, parse_shares, write_synth

    console = Console()
    spec = SynthSpec(size=size, seed=seed, resolution=resolution, counties=counties,
                     years=tuple(int(y) for y in years.split(",") if y.strip()),
                     shares=parse_shares(shares) if shares else None)
    config = write_synth(out, spec)
    console.print(f"Synthetic inputs 合成输入 {size}×{size} at {resolution:g} m, seed {seed}: {out}")
    console.print(f"Run 运行: qingshan account {config}")


def register(app: typer.Typer, friendly: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """Add ``revalue`` and ``synth`` to the CLI."""
    app.command("revalue")(friendly(revalue))
    app.command("synth")(friendly(synth))
