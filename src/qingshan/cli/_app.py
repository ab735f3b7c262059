"""The ``qingshan`` typer app: every command, its help and its errors (imported by :mod:`qingshan.cli` when a
command other than a well-formed ``qingshan compute`` is run, or when ``app`` is asked for)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qingshan.cli.output import print_error
from qingshan.core.errors import QingshanError

__all__ = ["app", "console", "err_console", "friendly", "main"]

app = typer.Typer(
    help="Qingshan 青山 — GEP (生态产品总值) accounting. Run `qingshan demo` for the Jiangxi example.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
indicators_app = typer.Typer(help="The indicator catalogue 指标目录.", invoke_without_command=True)
app.add_typer(indicators_app, name="indicators")

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def friendly(fn: F) -> F:
    """Print Qingshan errors in both languages and exit with status 2 (no traceback); Ctrl-C says so in both
    languages and exits with 130 (found: it printed an empty line)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except QingshanError as exc:
            print_error(exc)
            raise typer.Exit(code=2) from None
        except KeyboardInterrupt:
            sys.stderr.write("\nInterrupted 已中断 (Ctrl-C). Run the command again 请重新运行该命令"
                             " (an accounting run already recorded is marked failed 已登记的核算已标记为失败).\n")
            raise typer.Exit(code=130) from None

    wrapper._qingshan_friendly = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


@indicators_app.callback()
@friendly
def indicators_list(
    ctx: typer.Context,
    profile: Annotated[str | None, typer.Option(help="Only the indicators of this profile 方法配置")] = None,
) -> None:
    """List indicators: id, Chinese and English names, class, components and units."""
    if ctx.invoked_subcommand is not None:
        return
    from qingshan.indicators import registry

    reg = registry()
    ids = reg.profile(profile).indicator_ids if profile else [s.id for s in reg]
    table = Table(title=f"Indicators 指标 ({profile or 'all'})")
    for col in ("id", "指标", "Indicator", "Class 类别", "Components (unit)", "Methods", "Certainty"):
        table.add_column(col)
    for i in ids:
        s = reg.get(i)
        comps = ", ".join(f"{c.id} [{c.unit}]" for c in s.components)
        table.add_row(s.id, s.name_zh, s.name_en, s.category.value, comps, ", ".join(m.id for m in s.methods), s.certainty.value)
    console.print(table)
    console.print(f"Profiles 方法配置: {', '.join(reg.profile_ids())}")


@indicators_app.command("show")
@friendly
def indicators_show(indicator_id: str) -> None:
    """Formula, units, inputs, parameters and sources of one indicator."""
    from qingshan.docs import indicator_markdown
    from qingshan.indicators import registry

    console.print(indicator_markdown(registry().get(indicator_id)), markup=False, highlight=False)


@app.command()
@friendly
def account(
    config: Annotated[Path, typer.Argument(help="Run config (TOML) 核算配置文件")],
    store: Annotated[str | None, typer.Option(help="Results store URL (default from config or SQLite beside the output)")] = None,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Export folder (default [run] output) 输出目录")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run artifacts folder (default [run] data_dir, "
                                                  "$QINGSHAN_DATA_DIR, or qingshan-data beside an SQLite store)")] = None,
    scheduler: Annotated[str | None, typer.Option("--scheduler", help="Where blocks are computed 计算调度: threads "
                                                  "(default), processes, or a dask.distributed address tcp://HOST:PORT "
                                                  "(default [run] scheduler)")] = None,
    block_size: Annotated[int | None, typer.Option("--block-size", min=1, help="Cells per block side 分块大小 "
                                                   "(default [run] block_size, 1024)")] = None,
) -> None:
    """Run a GEP accounting from a config: validate, compute, value, store and export.

    The run's files are kept read-only in <data dir>/runs/<run id>/; the output folder gets a copy.
    Runs abandoned by a dead process are marked failed first."""
    from qingshan.cli.report import print_summary, run_with_progress
    from qingshan.engine.config import load_config

    cfg = load_config(config)
    updates: dict[str, Any] = {"output": output.resolve()} if output else {}
    if data_dir:
        updates["data_dir"] = data_dir.resolve()
    if updates:
        cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update=updates)})
    _repair(_store_of(cfg, store), cfg.run.data_dir)
    outcome = run_with_progress(cfg, store, scheduler=scheduler, block_size=block_size)
    print_summary(outcome, console)
    console.print(f"Run files 核算成果文件 (read-only 只读, with SHA-256): {outcome.artifacts_dir}")


def _store_of(cfg: Any, store: str | None) -> str:
    from qingshan.engine.run import store_url_of

    return store_url_of(cfg, store)


def _repair(store_url: str, data_dir: Path | None, *, verbose: bool = False) -> None:
    """Mark abandoned runs failed and remove dead processes' temporary folders; say what was done."""
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.db import open_store
    from qingshan.store.lifecycle import repair

    done = repair(open_store(store_url), data_dir.resolve() if data_dir else find_data_dir(store_url))
    for run_id in done.abandoned:
        console.print(f"Run {run_id}: abandoned by a dead process, marked failed 已将中止的核算标记为失败")
    if verbose:
        console.print(f"Repaired 已修复: {len(done.abandoned)} abandoned run(s), "
                      f"{len(done.removed)} temporary folder(s) removed 已清理临时目录")


def _verify(store_url: str, data_dir: Path | None) -> None:
    """``runs --verify``: every problem found, then exit 1 if there was any."""
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.db import open_store
    from qingshan.store.repo import list_runs
    from qingshan.store.verify import verify_run

    factory = open_store(store_url)
    ddir = data_dir.resolve() if data_dir else find_data_dir(store_url)
    runs = list_runs(factory, status="succeeded")
    problems = [p for r in runs for p in verify_run(factory, r, ddir)]
    for p in problems:
        err_console.print(f"[red]Run {p.run_id}[/]: {escape(p.en)}\n  {escape(p.zh)}", highlight=False, soft_wrap=True)
    bad = len({p.run_id for p in problems})
    console.print(f"Verified 已校验: {len(runs)} succeeded run(s), {bad} with differences 存在差异")
    if problems:
        raise typer.Exit(1)


@app.command()
@friendly
def value(
    quantities: Annotated[Path, typer.Argument(help="Quantities CSV 实物量表")],
    prices: Annotated[Path, typer.Option("--prices", help="Price table CSV 价格表")],
    profile: Annotated[str, typer.Option("--profile", help="Method profile 方法配置")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder 输出目录")],
    params: Annotated[Path | None, typer.Option("--params", help="Parameter table CSV 参数表")] = None,
    deflator: Annotated[Path | None, typer.Option("--deflator", help="Deflator CSV (year,index,source)")] = None,
    base_year: Annotated[int | None, typer.Option("--base-year", help="Base year of comparable prices")] = None,
) -> None:
    """Value physical quantities computed elsewhere and export the accounting tables."""
    from qingshan.core.notices import collecting
    from qingshan.engine.value import value_quantities

    with collecting() as found:
        df = value_quantities(quantities, prices=prices, params=params, profile=profile, output=output,
                              deflator=deflator, base_year=base_year)
    for n in found:
        err_console.print(f"[yellow]Warning 警告[/]: {escape(n.en)}; {escape(n.zh)}", highlight=False, soft_wrap=True)
    total = df["value"].sum(skipna=True)
    console.print(f"Valued 已计价 {len(df)} rows; total 合计 {total / 1e8:,.2f} 亿元 (CNY {total:,.0f})")
    console.print(f"Outputs 输出: {output}/gep_accounts.xlsx, results.csv, provenance.json")


@app.command()
@friendly
def runs(
    store: Annotated[str, typer.Option(help="Results store URL")] = "sqlite:///out/qingshan.sqlite",
    repair: Annotated[bool, typer.Option("--repair", help="Mark runs of dead processes failed (abandoned) and "
                                         "remove their temporary folders 修复中止的核算")] = False,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run artifacts folder (see `account`)")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Check every succeeded run's files against their SHA-256 "
                                         "and its stored result rows against its sealed results.csv; exit 1 on any "
                                         "difference 校验成果文件与结果行")] = False,
) -> None:
    """List the runs recorded in a results store."""
    from qingshan.store.db import open_store
    from qingshan.store.repo import list_runs

    if repair:
        _repair(store, data_dir, verbose=True)
    if verify:
        _verify(store, data_dir)

    table = Table(title="Runs 核算记录")
    for col in ("id", "name", "status", "profile", "years", "created"):
        table.add_column(col)
    for r in list_runs(open_store(store)):
        table.add_row(r.id, r.name, r.status, r.profile, ",".join(map(str, r.years)), str(r.created_at)[:19])
    console.print(table)


@app.command()
@friendly
def backup(
    dest: Annotated[Path, typer.Argument(help="New or empty folder for the backup 备份目录")],
    store: Annotated[str, typer.Option(help="Results store URL")] = "sqlite:///out/qingshan.sqlite",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run artifacts folder (see `account`)")] = None,
) -> None:
    """Back up the results store and every run's artifacts, with a manifest of SHA-256s 备份结果库与成果文件."""
    from qingshan.store.backup import backup as do_backup

    done = do_backup(store, dest, data_dir=data_dir)
    console.print(f"Backed up 已备份: {done.runs} run folder(s), {done.files} files, {done.bytes:,} bytes → {dest}")


@app.command()
@friendly
def restore(
    src: Annotated[Path, typer.Argument(help="Folder written by `qingshan backup` 备份目录")],
    store: Annotated[str, typer.Option(help="Results store URL to restore into")] = "sqlite:///out/qingshan.sqlite",
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="Run artifacts folder (see `account`)")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a non-empty store and data dir 覆盖已有内容")] = False,
) -> None:
    """Restore a backup (checked against its SHA-256s) into a store and data dir 从备份恢复."""
    from qingshan.store.backup import restore as do_restore

    done = do_restore(src, store, data_dir=data_dir, force=force)
    console.print(f"Restored 已恢复: {done.runs} run folder(s), {done.files} files into {store} and {done.folder}")


@app.command()
@friendly
def demo(
    output: Annotated[Path, typer.Option(help="Where the example writes its outputs")] = Path("out/jiangxi-2019"),
) -> None:
    """Run the embedded Jiangxi example (100 counties, 2019) and print the summary."""
    from qingshan.cli.demo_service import DEMO_PASSWORD, load_into_service
    from qingshan.cli.report import print_summary, run_with_progress
    from qingshan.engine.config import load_config
    from qingshan.examples import example_config
    from qingshan.store.db import open_store

    cfg = load_config(example_config())
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"output": output.resolve(), "store": None})})
    store_url = f"sqlite:///{output.resolve().parent / 'qingshan.sqlite'}"
    outcome = run_with_progress(cfg, store_url)
    print_summary(outcome, console)
    _compare_with_published(outcome)
    accounts = load_into_service(open_store(store_url), outcome.run_id)
    console.print("\n[bold]Loaded into the service 已载入平台[/]: the run is published (已发布).")
    console.print(f"  Start it 启动服务:  .venv/bin/qingshan serve --store {store_url}   (or: make serve)")
    console.print("  Dashboard 结果看板:  http://127.0.0.1:8000/      Workbench 工作台: http://127.0.0.1:8000/workbench/")
    logins = ", ".join(f"{a.username} ({a.role})" for a in accounts)
    console.print(f"  Demo logins 演示账号: {logins}; password 密码: {DEMO_PASSWORD}")
    _demo_report(store_url, outcome.run_id, output.resolve().parent / f"{output.name}-report.pdf")


def _compare_with_published(outcome: Any) -> None:
    """The example's GEP beside Jiangxi's published 2019 figure (the example's inputs are approximations)."""
    import csv

    from qingshan.examples import example_config

    published = Path(example_config()).parent / "published_gep_2019.csv"
    with published.open(encoding="utf-8") as f:
        rows = {r["indicator"]: float(r["value"]) for r in csv.DictReader(f)}
    res = outcome.results
    gep = res.loc[(res["region_code"] == "360000") & (res["year"] == 2019), "value"].sum() / 1e8
    console.print(f"\n[bold yellow]Example data 示例数据[/]: GEP {gep:,.2f} 亿元 here; Jiangxi's published 2019 GEP is "
                  f"{rows['gep_total']:,.2f} 亿元 (provisioning {rows['gep_share_material_products']} %, regulating "
                  f"{rows['gep_share_regulating_services']} %, cultural {rows['gep_share_cultural_services']} %). "
                  "The example's inputs are partly approximations; docs/jiangxi-2019.md explains every difference. "
                  "示例的部分输入为近似值，与江西省公布值的差异及原因见 docs/jiangxi-2019.md。")


def _demo_report(store_url: str, run_id: str, path: Path) -> None:
    """The example's accounting report (PDF); a missing font is reported, the demo still succeeds."""
    from qingshan.store.db import open_store
    from qingshan.use.report.gep_report import write_gep_report

    try:
        write_gep_report(open_store(store_url), run_id, path, lang="zh")
    except QingshanError as exc:
        err_console.print(f"[yellow]Report not written 未生成核算报告[/]: {escape(str(exc))}", highlight=False)
        return
    console.print(f"  Accounting report 核算报告: {path}")


def _register_serve() -> None:
    from qingshan.cli.serve import serve

    app.command(help="Serve the results API and dashboard 结果服务与看板 (needs the web extra).")(friendly(serve))


_register_serve()


def _register_compute() -> None:
    from qingshan.cli.compute import compute

    app.command(name="compute", help="One indicator on your own rasters 单项指标逐像元计算.")(friendly(compute))


_register_compute()


def _register_platform() -> None:
    from qingshan.cli.platform import register

    register(app, friendly)  # worker, publish, users add, forms templates


_register_platform()


def _register_use() -> None:
    from qingshan.cli.use import register

    register(app, friendly)  # change, compensate


_register_use()


def _register_seea() -> None:
    from qingshan.cli.seea import register

    register(app, friendly)  # seea


_register_seea()


def _register_revalue() -> None:
    from qingshan.cli.revalue import register

    register(app, friendly)  # revalue, synth


_register_revalue()


def _register_catalog() -> None:
    from qingshan.cli.catalog import register

    register(app, friendly)  # catalog register-base, catalog sync-results


_register_catalog()


def _register_scenario() -> None:
    from qingshan.cli.scenario import register

    register(app, friendly)  # scenario


_register_scenario()


def _guard_all(typer_app: typer.Typer) -> None:
    """Route every command of ``typer_app`` and its sub-apps through :func:`friendly` (the one error
    printer), including commands registered by other modules without it."""
    for cmd in typer_app.registered_commands:
        if cmd.callback is not None and not getattr(cmd.callback, "_qingshan_friendly", False):
            cmd.callback = friendly(cmd.callback)
    info = typer_app.registered_callback
    if info is not None and info.callback is not None and not getattr(info.callback, "_qingshan_friendly", False):
        info.callback = friendly(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            _guard_all(group.typer_instance)


_guard_all(app)


def main() -> None:
    """Entry point of the ``qingshan`` script.

    Typer builds the click object of every command (options, help) before it parses anything, about 0.1 s for
    all of them: when the first argument names a top-level command, only that one is built (the sub-command
    groups are kept, so the command line, help and errors are those of the full app)."""
    name = sys.argv[1] if len(sys.argv) > 1 else ""
    match = [c for c in app.registered_commands if _command_name(c) == name]
    if match and app.registered_groups:
        app.registered_commands = match
    sys.exit(app())


def _command_name(cmd: Any) -> str:
    from typer.main import get_command_name

    return str(cmd.name or (get_command_name(cmd.callback.__name__) if cmd.callback else ""))
