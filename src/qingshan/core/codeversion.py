"""The code version of a run: package version, a hash of the installed sources, and the git commit.

The sources hash covers every ``*.py`` file of the installed ``qingshan`` package and its built-in
profiles and tables (``data/profiles``, ``data/tables``), by path relative to the package and by
content: two installations of the same code give the same hash wherever they are. The git commit
is added when the package runs from a git checkout (``None`` otherwise, e.g. a wheel).
"""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

from qingshan import __version__

__all__ = ["code_version"]

_PACKAGE = Path(__file__).resolve().parent.parent
_DATA = ("data/profiles", "data/tables")


def _source_files() -> list[Path]:
    files = [p for p in _PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    for sub in _DATA:
        files += [p for p in (_PACKAGE / sub).rglob("*") if p.is_file()]
    return sorted(files)


def _sources_sha256() -> str:
    h = hashlib.sha256()
    for p in _source_files():
        h.update(p.relative_to(_PACKAGE).as_posix().encode())
        h.update(b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_PACKAGE, capture_output=True, text=True, timeout=5,
                             check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


@lru_cache(maxsize=1)
def code_version() -> dict[str, str | None]:
    """``{"version", "sources_sha256", "git_commit"}`` of the running code (computed once per process)."""
    return {"version": __version__, "sources_sha256": _sources_sha256(), "git_commit": _git_commit()}
