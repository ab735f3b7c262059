"""``qingshan catalog``: register a base configuration's files and the published runs in the data catalogue."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["catalog_app", "register"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"  # same as qingshan.api.settings
StoreOpt = Annotated[str, typer.Option("--store", help="Store URL 数据库地址", envvar="QINGSHAN_STORE_URL")]
catalog_app = typer.Typer(help="Data catalogue 数据目录.", no_args_is_help=True)


@catalog_app.command("register-base")
def register_base(
    base: Annotated[str, typer.Argument(help="example:jiangxi-2019, or the path of a run config (TOML)")],
    store: StoreOpt = DEFAULT_STORE_URL,
    department: Annotated[str, typer.Option("--department", help="Holding department 所属部门")] = "平台 platform",
    visibility: Annotated[str, typer.Option("--visibility", help="public or departments 共享范围")] = "public",
    licence: Annotated[str, typer.Option("--licence", help="Licence of the data 许可")] = "",
) -> None:
    """Record every file of a base configuration (boundaries, rasters, tables) as approved catalogue versions."""
    from pathlib import Path

    from qingshan.platform import catalog
    from qingshan.platform.audit import Actor
    from qingshan.platform.jobs import EXAMPLE_BASE, resolve_base
    from qingshan.store.db import open_store

    name, path = resolve_base(base, [] if base == EXAMPLE_BASE else [base])
    if name == EXAMPLE_BASE and not licence:
        licence = catalog.EXAMPLE_LICENCE
    added = catalog.register_base(open_store(store), name, Path(path), actor=Actor(None, "cli"), department=department,
                                  licence=licence, visibility=visibility)
    for a in added:
        typer.echo(f"{a['key']}  v{a['version']}  {a['sha256']}")
    typer.echo(f"{len(added)} version(s) added 已登记 {len(added)} 个版本")


@catalog_app.command("sync-results")
def sync_results(store: StoreOpt = DEFAULT_STORE_URL) -> None:
    """Record the runs published before the catalogue existed (migration 0006) as result entries."""
    from qingshan.platform import catalog
    from qingshan.platform.audit import Actor
    from qingshan.store.db import open_store

    added = catalog.sync_results(open_store(store), Actor(None, "cli"))
    typer.echo(f"{len(added)} published run(s) added 已登记 {len(added)} 个已发布核算: {' '.join(added)}")


def register(app: typer.Typer, wrap: object = None) -> None:
    """Add ``qingshan catalog …`` to the main app (commands wrapped by the CLI's error printer there)."""
    app.add_typer(catalog_app, name="catalog")
