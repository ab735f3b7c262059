"""Commands over stored runs: ``qingshan change``, ``compensate`` and ``report`` (thin over qingshan.use)."""

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


def _write(df: Any, output: Path, console: Console) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    if output.suffix.lower() == ".xlsx":
        df.to_excel(output, index=False)
    else:
        df.to_csv(output, index=False, encoding="utf-8-sig")
    console.print(f"Written 已写出: {output}")


def change(
    run: Annotated[str, typer.Argument(help="Run id 核算编号 (the later side)")],
    from_year: Annotated[int | None, typer.Option("--from", help="Earlier year 起始年份")] = None,
    to_year: Annotated[int | None, typer.Option("--to", help="Later year 终止年份")] = None,
    against: Annotated[str | None, typer.Option("--against", help="Earlier run id 对比的核算编号")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region code to print 区划代码")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the tables (.csv or .xlsx)")] = None,
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """Change of GEP between two years or two runs: growth at current and comparable prices, and its
    decomposition into quantity and price effects (LMDI) 变化与因素分解."""
    import pandas as pd

    from qingshan.store.db import open_store
    from qingshan.use.change import change_table, decompose
    from qingshan.use.runs import change_sides

    console = Console()  # built per call: the width follows the terminal (COLUMNS) of this call
    factory = open_store(store)
    a, b, regions = change_sides(factory, run, from_year=from_year, to_year=to_year, against=against)
    names = dict(zip(regions["code"], regions["name"], strict=True))
    table = change_table(a, b, names=names)
    effects = decompose(a, b, regions)
    code = region or str(regions.loc[regions["parent"].isna(), "code"].iloc[0])
    t = Table(title=f"{names.get(code, code)} {a.label} → {b.label} (亿元)")
    for col in ("", "Before 基期", "After 报告期", "Change 变化", "Growth 增长", "Comparable growth 可比价增长",
                "Quantity effect 实物量效应", "Price effect 价格效应"):
        t.add_column(col, justify="right")
    eff = effects.set_index(["region_code", "indicator"])
    rows = table[(table["region_code"] == code) & ~table["indicator"].str.startswith("class:")]
    for r in rows.sort_values("value_1", ascending=False).itertuples():
        e = eff.loc[(code, r.indicator)] if (code, r.indicator) in eff.index else None
        t.add_row(str(r.indicator), f"{r.value_0 / YI:,.2f}", f"{r.value_1 / YI:,.2f}", f"{r.value_change / YI:+,.2f}",
                  _pct(r.value_growth_pct), _pct(r.comparable_growth_pct),
                  f"{e['quantity_effect'] / YI:+,.2f}" if e is not None else "-",
                  f"{e['price_effect'] / YI:+,.2f}" if e is not None else "-")
    console.print(t)
    if output is not None:
        if output.suffix.lower() == ".xlsx":
            output.parent.mkdir(parents=True, exist_ok=True)
            with pd.ExcelWriter(output) as xw:
                table.to_excel(xw, sheet_name="变化 Change", index=False)
                effects.to_excel(xw, sheet_name="因素分解 Decomposition", index=False)
            console.print(f"Written 已写出: {output}")
        else:
            _write(table.merge(effects.drop(columns=["from", "to", "measure"]), on=["region_code", "indicator"], how="left"), output, console)


def _pct(v: float) -> str:
    return "-" if v != v else f"{v:+.2f} %"


def compensate(
    run: Annotated[str, typer.Argument(help="Run id 核算编号")],
    fund: Annotated[float, typer.Option("--fund", help="Fund to split, yuan 资金总额（元）")],
    rule: Annotated[Path, typer.Option("--rule", help="Rule (TOML) 分配规则")],
    year: Annotated[int | None, typer.Option("--year", help="Year of the run 年份")] = None,
    from_year: Annotated[int | None, typer.Option("--from", help="Earlier year (gep_growth) 起始年份")] = None,
    factors: Annotated[Path | None, typer.Option("--factors", help="Factor table CSV (rule = factors) 因素表")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the allocation (.csv or .xlsx)")] = None,
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """Split an eco-compensation fund among regions by a declared rule, to the fen 生态补偿资金分配."""
    from qingshan.core.tables import read_csv_table
    from qingshan.store.db import open_store
    from qingshan.use.compensation import allocate, load_rule, scores_for_rule
    from qingshan.use.runs import load_run

    console = Console()
    r = load_rule(rule)
    run_row, cube, regions = load_run(open_store(store), run)
    y = year or max(run_row.years)
    table = read_csv_table(factors, ["region_code"], what="factor table", what_zh="因素表") if factors else None
    scores = scores_for_rule(r, cube, regions, year=y, from_year=from_year, factors=table)
    names = dict(zip(regions["code"], regions["name"], strict=True))
    out = allocate(fund, scores, r, names=names)
    t = Table(title=f"Eco-compensation 生态补偿 {fund:,.2f} 元 — rule {r.kind}, {y}")
    for col in ("code", "name 名称", "share 份额", "amount 金额（元）"):
        t.add_column(col, justify="right")
    for row in out.sort_values("amount_fen", ascending=False).itertuples():
        t.add_row(str(row.region_code), str(row.region_name), f"{100 * row.share:.3f} %", f"{row.amount_fen / 100:,.2f}")
    console.print(t)
    console.print(f"Total 合计 {out['amount_fen'].sum() / 100:,.2f} 元 (exactly the fund 与资金总额一致)")
    if output is not None:
        _write(out, output, console)


def report(
    run: Annotated[str, typer.Argument(help="Run id 核算编号")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Report file (.pdf or .docx) 报告文件")],
    region: Annotated[str | None, typer.Option("--region", help="Region code (default: the top region) 区划代码")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Year (default: the run's last) 年份")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="pdf or docx (default: from the file name)")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en 语言")] = "zh",
    uncertainty: Annotated[Path | None, typer.Option("--uncertainty", help="Uncertainty result.json to add as a section 不确定性分析结果")] = None,
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """The GEP accounting report of a region and year, from a stored run (DOCX or PDF) 生成核算报告."""
    from qingshan.store.db import open_store
    from qingshan.use.report.gep_report import write_gep_report

    unc = None
    if uncertainty is not None:
        from qingshan.use.uncertainty_store import read_result

        unc = read_result(uncertainty)
    path = write_gep_report(open_store(store), run, output, region=region, year=year, lang=lang, fmt=fmt,
                            uncertainty=unc)
    Console().print(f"Report 核算报告: {path}")


def parcel(
    run: Annotated[str, typer.Argument(help="Run id 核算编号")],
    parcel_file: Annotated[Path, typer.Argument(help="Parcel: GeoJSON, GeoPackage or zipped Shapefile 地块文件")],
    year: Annotated[int | None, typer.Option("--year", help="Year (default: the run's last) 年份")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="Write the parcel report (PDF) 地块评估报告")] = None,
    lang: Annotated[str, typer.Option("--lang", help="zh or en 语言")] = "zh",
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """Value a parcel (地块价值评估, VEP) from a stored run; with --report, the PDF for a loan file."""
    from qingshan.core.errors import InputError
    from qingshan.engine.parcel import parcel_from_file
    from qingshan.store.db import open_store
    from qingshan.use.parcel import parcel_report, value_run_parcel

    console = Console()
    if not parcel_file.is_file():
        raise InputError(f"Parcel file not found: {parcel_file}", f"找不到地块文件：{parcel_file}", file=parcel_file,
                         field="parcel", fix="Give a GeoJSON, GeoPackage or zipped Shapefile.",
                         fix_zh="请给出 GeoJSON、GeoPackage 或 Shapefile 压缩包。")
    from qingshan.store.artifacts import find_data_dir

    geom = parcel_from_file(parcel_file.read_bytes(), parcel_file.name)
    factory = open_store(store)
    data_dir = find_data_dir(store)
    if report is not None:
        cmd = f"qingshan parcel {run} {parcel_file.name} --year {year or 'LAST'} --report {report.name} --lang {lang}"
        path, valuation = parcel_report(factory, run, geom, report, data_dir=data_dir, year=year, lang=lang, command=cmd)
    else:
        valuation, _, _ = value_run_parcel(factory, run, geom, data_dir=data_dir, year=year)
        path = None
    console.print(f"Parcel 地块 {valuation.area_km2:,.4f} km², {valuation.year}: "
                  f"{valuation.total('value') / 1e4:,.2f} 万元/年 (exact 精确 {valuation.total('value', basis='raster') / 1e4:,.2f}; "
                  f"apportioned 分摊 {valuation.total('value', basis='apportioned') / 1e4:,.2f})")
    if path is not None:
        console.print(f"Report 评估报告: {path}")


def uncertainty(
    run: Annotated[str, typer.Argument(help="Run id 核算编号")],
    distributions: Annotated[Path | None, typer.Option("--distributions", help="Distributions CSV (prices, param:KEY) 分布表")] = None,
    param_tables: Annotated[bool, typer.Option("--param-tables", help="Also use the dist_* columns of the run's parameter tables 使用参数表中的分布")] = False,
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws 抽样次数")] = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed 随机种子")] = 0,
    year: Annotated[int | None, typer.Option("--year", help="Year (default: the run's last) 年份")] = None,
    percentile: Annotated[list[float] | None, typer.Option("--percentile", help="Extra percentile, repeatable (5, 50, 95 always) 百分位数")] = None,
    method: Annotated[str | None, typer.Option("--method", help="sobol | morris (default: sobol, morris when recomputing) 敏感性方法")] = None,
    sobol_n: Annotated[int, typer.Option("--sobol-n", help="Sobol base samples 基础样本数")] = 1024,
    morris_r: Annotated[int, typer.Option("--morris-r", help="Morris trajectories 轨迹数")] = 10,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="dask.distributed scheduler address for recomputed draws 调度器地址")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Write the intervals (.csv), the workbook (.xlsx) or the result (.json)")] = None,
    store: StoreOpt = DEFAULT_STORE_URL,
) -> None:
    """Uncertainty of a stored run: intervals of every total, the sensitivity ranking of GEP and its
    indicators (prices and parameters), stored as its own analysis record 不确定性分析."""
    from qingshan.engine.blocks import local_scheduler, open_scheduler
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.db import open_store
    from qingshan.use.uncertainty import read_distributions, run_uncertainty
    from qingshan.use.uncertainty_store import save_analysis, write_workbook

    console = Console()
    dists = read_distributions(distributions) if distributions is not None else []
    with open_scheduler(scheduler) as client:  # an address checked as for `account`: its workers run this code
        res = run_uncertainty(open_store(store), run, dists, draws=draws, seed=seed, year=year, sobol_n=sobol_n,
                              method=method, morris_r=morris_r, param_tables=param_tables,
                              percentiles=(5.0, 50.0, 95.0, *(percentile or [])),
                              client=None if local_scheduler(client) else client)  # local names: in this process
    _print_uncertainty(res, console)
    data_dir = find_data_dir(store)
    if data_dir is not None:
        console.print(f"Stored 已保存: {save_analysis(res, data_dir)} (analysis 分析 {res.meta['id']})")
    if output is not None:
        suffix = output.suffix.lower()
        if suffix == ".xlsx":
            console.print(f"Written 已写出: {write_workbook(res, output)}")
        elif suffix == ".json":
            import json

            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(json.dumps(res.to_json(), ensure_ascii=False), encoding="utf-8")
            console.print(f"Written 已写出: {output}")
        else:
            _write(res.intervals, output, console)


def _print_uncertainty(res: Any, console: Console) -> None:
    iv, m = res.intervals, res.meta
    g = iv[(iv["region_code"] == res.region) & (iv["indicator"] == "GEP")].iloc[0]
    console.print(f"GEP {res.region} {res.year} (亿元): run 核算 {g['value'] / YI:,.2f}; mean 均值 {g['mean'] / YI:,.2f}; "
                  f"5–95 % [{g['p5'] / YI:,.2f}, {g['p95'] / YI:,.2f}]; median 中位数 {g['p50'] / YI:,.2f} "
                  f"({m['draws']} draws 次, seed {m['seed']})")
    for r in res.inputs.itertuples():
        console.print(f"  {r.key}: {r.kind} ({r.handling} 处理方式), run 核算值 {r.run_value:g}")
    sobol = m.get("method") == "sobol"
    t = Table(title=f"{'Sobol' if sobol else 'Morris'} sensitivity of GEP GEP 敏感性")
    cols = ("S1 一阶", "ST 总效应") if sobol else ("mu* 平均绝对效应 (亿元)", "sigma (亿元)")
    for col in ("key 输入", *cols):
        t.add_column(col, justify="right")
    for r in res.sensitivity.head(10).itertuples():
        vals = (f"{r.S1:.3f}", f"{r.ST:.3f}") if sobol else (f"{r.mu_star / YI:,.2f}", f"{r.sigma / YI:,.2f}")
        t.add_row(str(r.key), *vals)
    console.print(t)


def register(app: typer.Typer, friendly: Callable[[Any], Any]) -> None:
    """Add the commands to the main ``qingshan`` app."""
    app.command(name="change", help="GEP change between years or runs 变化分析.")(friendly(change))
    app.command(name="compensate", help="Split an eco-compensation fund 生态补偿分配.")(friendly(compensate))
    app.command(name="report", help="The GEP accounting report (PDF/DOCX) 核算报告.")(friendly(report))
    app.command(name="parcel", help="Value a parcel, with its PDF report 地块价值评估.")(friendly(parcel))
    app.command(name="uncertainty", help="Uncertainty of prices and parameters: intervals and sensitivity ranking 不确定性分析.")(friendly(uncertainty))
