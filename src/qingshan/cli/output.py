"""Plain terminal output of the command line, without rich (``qingshan compute`` runs without importing it).

:func:`print_error` is the one printer of Qingshan's errors on the command line (both languages, no traceback):
``Error 错误: <message>`` on standard error, "Error 错误" in bold red on a colour terminal, as rich printed it.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["print_error"]


def _colour(stream: TextIO) -> bool:
    """Colour on a terminal, unless ``NO_COLOR`` is set or the terminal is ``dumb`` (rich's rules, the common ones)."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def print_error(exc: BaseException, stream: TextIO | None = None) -> None:
    """``Error 错误: <str(exc)>`` on ``stream`` (standard error, looked up when called)."""
    out = stream if stream is not None else sys.stderr
    label = "\x1b[1;31mError 错误\x1b[0m" if _colour(out) else "Error 错误"
    out.write(f"{label}: {exc}\n")
    out.flush()
