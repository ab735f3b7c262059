"""Server filesystem paths out of messages shown to remote users (API error bodies, stored upload errors).

An error raised while reading an upload names the temporary file it was written to
(``/tmp/tmpab12/upload.tif``); a remote user must see only the name of the file they uploaded.
:func:`redact_paths` replaces every absolute path by its last component (the file name), leaving
URL paths of the service (``/api/…``, ``/docs``) alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

__all__ = ["redact_mapping", "redact_paths"]

# Absolute POSIX paths with at least two components, and Windows drive paths.
_POSIX = re.compile(r"(?<![\w.:/~-])(/(?:[^\s/'\"“”‘’()<>,;:\[\]{}]+/)+[^\s/'\"“”‘’()<>,;:\[\]{}]*)")
_WINDOWS = re.compile(r"(?<![\w])([A-Za-z]:\\(?:[^\s\\'\"()<>,;]+\\)*[^\s\\'\"()<>,;]*)")
_SERVICE_PREFIXES = ("/api/", "/docs", "/redoc", "/static/", "/workbench", "/healthz", "/openapi")


def _name(match: re.Match[str]) -> str:
    path = match.group(1)
    if path.startswith(_SERVICE_PREFIXES):
        return path
    name = PurePath(path.replace("\\", "/")).name
    return name or "…"


def redact_paths(text: str) -> str:
    """``text`` with absolute filesystem paths replaced by their file names."""
    if "/" not in text and "\\" not in text:
        return text
    return _WINDOWS.sub(_name, _POSIX.sub(_name, text))


def redact_mapping(d: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``d`` whose string values (one level, and strings in lists) are redacted."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, str):
            out[k] = redact_paths(v)
        elif isinstance(v, list):
            out[k] = [redact_paths(x) if isinstance(x, str) else x for x in v]
        else:
            out[k] = v
    return out
