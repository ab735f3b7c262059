"""The ``qingshan`` command line: a thin layer over the engine, the registry and the store.

The typer app (:data:`app`, with :func:`friendly`, ``console``, ``err_console``) is in :mod:`qingshan.cli._app`
and is imported when first asked for. :func:`main`, the ``qingshan`` script, runs a well-formed
``qingshan compute`` command line without it (:func:`qingshan.cli.compute_run.main_quick`: no typer, click
or rich to import, about 0.15 s of CPU less per run); every other command line goes to the typer app.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qingshan.cli._app import app, console, err_console, friendly

__all__ = ["app", "console", "err_console", "friendly", "main"]


def main() -> None:
    """Entry point of the ``qingshan`` script."""
    if sys.argv[1:2] == ["compute"]:
        from qingshan.cli.compute_run import main_quick

        code = main_quick(sys.argv[2:])
        if code is not None:
            sys.exit(code)
    from qingshan.cli._app import main as app_main

    app_main()


def __getattr__(name: str) -> Any:
    """``app``, ``friendly`` and the other names of :mod:`qingshan.cli._app`, imported on first use."""
    if name.startswith("_"):  # submodules being imported (hasattr during `from qingshan.cli import _app`)
        raise AttributeError(f"module 'qingshan.cli' has no attribute {name!r}")
    from importlib import import_module

    try:
        return getattr(import_module("qingshan.cli._app"), name)
    except AttributeError:
        raise AttributeError(f"module 'qingshan.cli' has no attribute {name!r}") from None
