"""The ``Content-Disposition`` header of a download, for any file name (RFC 6266 with RFC 8187's ``filename*``).

HTTP headers are Latin-1: a name such as ``江西省产品报表.xlsx`` written into ``filename="…"`` made Starlette fail
while encoding the header — every download of a file uploaded under a Chinese name answered 500. The name is
sent twice: percent-encoded UTF-8 in ``filename*`` (what browsers use), and an ASCII stand-in in ``filename`` for
clients that know no better. Folders in the name are dropped (``..\\..\\win.xlsx`` → ``win.xlsx``).
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from urllib.parse import quote

__all__ = ["attachment"]

_UNSAFE = re.compile(r'[^A-Za-z0-9._\- ()\[\]+,;=@!#$&\'~]')


def attachment(name: str, *, default: str = "download") -> str:
    """``attachment; filename="ascii"; filename*=UTF-8''percent-encoded`` for the file name ``name``."""
    base = PureWindowsPath(PurePosixPath(name).name).name.strip().strip(".") or default
    ascii_name = _UNSAFE.sub("_", base)
    stem = PurePosixPath(ascii_name).stem
    if not stem.strip("_. "):  # nothing readable left of the name (all Chinese): "download.xlsx"
        ascii_name = default + PurePosixPath(ascii_name).suffix
    header = f'attachment; filename="{ascii_name}"'
    if ascii_name != base:
        header += f"; filename*=UTF-8''{quote(base, safe='')}"
    return header
