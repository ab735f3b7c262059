"""``qingshan serve``: the read-only results web service and dashboard (needs the ``web`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["serve"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"  # same as qingshan.api.settings (not imported: no FastAPI here)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on 监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port 端口")] = 8000,
    store: Annotated[str, typer.Option(help="Results store URL 结果库地址", envvar="QINGSHAN_STORE_URL")] = DEFAULT_STORE_URL,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes 工作进程数 (about one per core)")] = 1,
) -> None:
    """Serve the results API and the map dashboard (GET / for the dashboard, /docs for the API)."""
    try:
        import uvicorn

        from qingshan.api.app import create_app
        from qingshan.api.settings import Settings
    except ImportError as exc:  # FastAPI/uvicorn are the optional ``web`` extra
        typer.echo(f"`qingshan serve` needs the web extra: pip install 'qingshan[web]' ({exc})\n"
                   "需要安装 web 扩展：pip install 'qingshan[web]'", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(f"Qingshan 青山 dashboard: http://{host}:{port}/  (API docs: /docs; store 结果库: {store})")
    if workers == 1:
        uvicorn.run(create_app(Settings(store_url=store)), host=host, port=port, log_level="info",
                    server_header=False)  # no `server: uvicorn` banner
        return
    # Several processes: each builds the app from the environment (published runs are served from a
    # per-process cache that checks the store's publication state on every request).
    import os

    os.environ["QINGSHAN_STORE_URL"] = store
    uvicorn.run("qingshan.api.app:create_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", server_header=False)
