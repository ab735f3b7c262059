"""Platform commands: ``qingshan worker``, ``qingshan users add``, ``qingshan forms templates``,
``qingshan publish``.

Registered in :mod:`qingshan.cli` by :func:`register`; ``python -m qingshan.cli.platform`` runs the
same commands stand-alone (the tests start the worker this way, as a separate process).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["forms_app", "publish", "register", "users_app", "worker"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"  # same as qingshan.api.settings

users_app = typer.Typer(help="Platform accounts 平台账号.", no_args_is_help=True)
forms_app = typer.Typer(help="Reporting forms 统计报表.", no_args_is_help=True)
StoreOpt = Annotated[str, typer.Option("--store", help="Store URL 数据库地址", envvar="QINGSHAN_STORE_URL")]


def worker(
    store: StoreOpt = DEFAULT_STORE_URL,
    once: Annotated[bool, typer.Option("--once", help="Exit when the queue is empty 队列为空时退出")] = False,
    output: Annotated[Path, typer.Option("--output", help="Folder for run outputs 输出目录")] = Path("out/jobs"),
    poll: Annotated[float, typer.Option("--poll", help="Seconds between queue checks 轮询间隔（秒）")] = 2.0,
) -> None:
    """Execute queued accounting jobs (a separate process from the web service)."""
    from qingshan.platform.jobs import run_worker

    typer.echo(f"Qingshan worker 核算进程: store {store}, outputs {output}")
    n = run_worker(store, once=once, output_root=output.resolve(), poll_seconds=poll, log=typer.echo)
    typer.echo(f"{n} job(s) executed 已执行 {n} 个任务")


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Username 用户名")],
    role: Annotated[str, typer.Option("--role", help="admin, accountant, submitter, reviewer, viewer 角色")],
    store: StoreOpt = DEFAULT_STORE_URL,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin")] = False,
    regions: Annotated[list[str] | None, typer.Option("--regions", help="Region codes (submitters) 区划代码")] = None,
    forms: Annotated[list[str] | None, typer.Option("--forms", help="Form groups (submitters) 报表组")] = None,
    department: Annotated[str, typer.Option("--department", help="Department (data catalogue) 所属部门")] = "",
) -> None:
    """Create an account (the password is asked for, or read from stdin)."""
    from qingshan.platform.accounts import create_user
    from qingshan.platform.audit import Actor
    from qingshan.store.db import open_store

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password 密码", hide_input=True, confirmation_prompt=True)
    p = create_user(open_store(store), username, password, role, regions=_split(regions), forms=_split(forms),
                    actor=Actor(None, "cli"), department=department)
    typer.echo(f"Created 已创建 {p.username} ({p.role}) id={p.id}")


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


@forms_app.command("templates")
def forms_templates(
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder 输出目录")],
    year: Annotated[int, typer.Option("--year", help="Reporting year 报告年份")] = 2019,
    config: Annotated[Path | None, typer.Option("--config", help="Run config whose boundaries list the regions")] = None,
) -> None:
    """Write one XLSX form per data group (from the catalogue), with the regions of the config."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import load_regions
    from qingshan.examples import example_config
    from qingshan.platform.forms import build_template, form_groups

    regions = sorted((r.code, r.name) for r in load_regions(load_config(config or example_config())))
    output.mkdir(parents=True, exist_ok=True)
    for g in form_groups().values():
        path = output / f"qingshan-form-{g.id}-{year}.xlsx"
        path.write_bytes(build_template(g, year, regions))
        typer.echo(f"{path}  {g.name_zh} {g.name_en}")


def publish(
    run_id: Annotated[str, typer.Argument(help="Run id 核算编号")],
    store: StoreOpt = DEFAULT_STORE_URL,
    acknowledge_qc: Annotated[bool, typer.Option("--acknowledge-qc",
                                                 help="I have read the run's QC report 已阅质量控制报告")] = False,
) -> None:
    """Approve and publish a succeeded run from the command line (e.g. the demo run)."""
    from qingshan.engine.revalue import complete_exports
    from qingshan.platform.audit import Actor
    from qingshan.platform.jobs import publish_run
    from qingshan.store.artifacts import find_data_dir
    from qingshan.store.db import open_store
    from qingshan.store.verify import check_before_publication

    factory = open_store(store)

    def prepare() -> None:  # once allowed: a revalued run's exports complete, every file and row as sealed
        complete_exports(factory, run_id, find_data_dir(store))
        check_before_publication(factory, run_id, find_data_dir(store))

    publish_run(factory, Actor(None, "cli"), run_id, acknowledge_qc=acknowledge_qc, prepare=prepare)
    typer.echo(f"Published 已发布 {run_id}")


def register(app: typer.Typer, wrap: object = None) -> None:
    """Add the platform commands to the main ``qingshan`` app (``wrap`` = the CLI's error printer)."""
    w = wrap if callable(wrap) else (lambda f: f)
    app.command(help="Execute queued accounting jobs 执行核算任务队列 (worker process).")(w(worker))
    app.command(help="Approve and publish a run 审核并发布核算结果.")(w(publish))
    app.add_typer(users_app, name="users")
    app.add_typer(forms_app, name="forms")


def _standalone() -> typer.Typer:
    from qingshan.cli import friendly

    app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
    register(app, friendly)
    return app


if __name__ == "__main__":
    _standalone()()
