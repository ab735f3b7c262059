"""``qingshan serve``: the read-only results web service and dashboard (needs the ``web`` extra)."""

from __future__ import annotations

import socket
from typing import Annotated

import typer

from qingshan.core.errors import ConfigError

__all__ = ["check_port", "serve"]

DEFAULT_STORE_URL = "sqlite:///out/qingshan.sqlite"  # same as qingshan.api.settings (not imported: no FastAPI here)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on 监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port 端口")] = 8000,
    store: Annotated[str, typer.Option(help="Results store URL 结果库地址", envvar="QINGSHAN_STORE_URL")] = DEFAULT_STORE_URL,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes 工作进程数 (about one per core)")] = 1,
    access_log: Annotated[bool, typer.Option("--access-log/--no-access-log",
                                             help="Log every request 记录每个请求 (costs ~10 % of throughput)")] = True,
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
    from qingshan.store.db import check_store_url

    store = check_store_url(store)
    check_port(host, port)
    typer.echo(f"Qingshan 青山 dashboard: http://{host}:{port}/  (API docs: /docs; store 结果库: {store})")
    import os

    os.environ["QINGSHAN_STORE_URL"] = store  # the settings (limits, sessions, cache) come from the environment
    if workers == 1:
        uvicorn.run(create_app(Settings.from_env()), host=host, port=port, log_level="info",
                    server_header=False, access_log=access_log)  # no `server: uvicorn` banner
        return
    # Several processes: each builds the app from the environment (published runs are served from a
    # per-process cache; see qingshan.api.cache).
    uvicorn.run("qingshan.api.app:create_app", factory=True, workers=workers, host=host, port=port,
                log_level="warning", server_header=False, access_log=access_log)


def check_port(host: str, port: int) -> None:
    """Bind ``host:port`` once (as uvicorn will, with SO_REUSEADDR) and release it; a port in use, a port
    out of range or an unknown host is a bilingual :class:`ConfigError` saying how to choose another."""
    fix = f"Stop the program using port {port}, or choose another port, e.g. `qingshan serve --port {port + 1}`."
    fix_zh = f"请停止占用端口 {port} 的程序，或换一个端口，例如 `qingshan serve --port {port + 1}`。"
    if not 1 <= port <= 65535:
        raise ConfigError(f"Port {port} is not between 1 and 65535", f"端口 {port} 不在 1–65535 之间", field="port",
                          fix="Choose a port such as 8000.", fix_zh="请选择一个端口，例如 8000。")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(f"Cannot listen on '{host}': unknown host ({exc})", f"无法在“{host}”上监听：未知的主机地址",
                          field="host", fix="Use 127.0.0.1 (this machine only) or 0.0.0.0 (all interfaces).",
                          fix_zh="请使用 127.0.0.1（仅本机）或 0.0.0.0（所有网卡）。") from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError(f"Cannot listen on {host}:{port}: {exc.strerror or exc} (is another server running?)",
                              f"无法在 {host}:{port} 上监听：端口已被占用或无权限", field="port",
                              fix=fix, fix_zh=fix_zh) from None
