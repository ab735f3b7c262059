"""The code version of a run: package version, a hash of the installed sources, and the git commit.

The sources hash covers every ``*.py`` file of the installed ``qingshan`` package and every file of its
built-in data (``data/``: profiles, tables, the SEEA mappings), by path relative to the package and by
content — not the embedded example's inputs (``data/examples``), which a run hashes as inputs. Two
installations of the same code give the same hash wherever they are. The git commit is added when the
package runs from a git checkout (``None`` otherwise, e.g. a wheel).

The same hash tells whether a ``dask.distributed`` worker computes with this code: :class:`SameCode` wraps
every task the engine sends to a cluster and refuses to run it on a worker whose code differs.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from qingshan import __version__
from qingshan.core.errors import ConfigError

__all__ = ["SameCode", "code_identity", "code_version", "other_code_error", "sources_sha256"]

_PACKAGE = Path(__file__).resolve().parent.parent
_DATA = "data"
_NOT_CODE = ("data/examples",)
"""Folders of ``data/`` that are a run's inputs (hashed with them), not code."""


def _source_files() -> list[Path]:
    files = [p for p in _PACKAGE.rglob("*.py") if "__pycache__" not in p.parts]
    skip = tuple(_PACKAGE / s for s in _NOT_CODE)
    files += [p for p in (_PACKAGE / _DATA).rglob("*")
              if p.is_file() and "__pycache__" not in p.parts and not any(p.is_relative_to(s) for s in skip)]
    return sorted(set(files))


@lru_cache(maxsize=1)
def sources_sha256() -> str:
    """SHA-256 of this installation's sources (see module docstring; about 20 ms, once per process)."""
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
    return {"version": __version__, "sources_sha256": sources_sha256(), "git_commit": _git_commit()}


def code_identity() -> tuple[str, str]:
    """(Qingshan version, :func:`sources_sha256`) of the process this runs in: what two processes compare to
    know they compute with the same formulas."""
    return __version__, sources_sha256()


def other_code_error(workers: dict[str, Any], here: tuple[str, str], scheduler: str = "?") -> ConfigError:
    """The error of a cluster whose ``workers`` (address → their :func:`code_identity`, or what failed there)
    do not run ``here``'s code."""
    found = "; ".join(f"{addr}: {code if isinstance(code, str) else f'{code[0]} (code {code[1][:12]})'}"
                      for addr, code in sorted(workers.items())[:5])
    return ConfigError(
        f"{len(workers)} worker(s) of the dask.distributed cluster {scheduler} do not run this Qingshan "
        f"({here[0]}, code {here[1][:12]}): {found}",
        f"dask.distributed 集群 {scheduler} 有 {len(workers)} 个计算节点运行的青山与本机（{here[0]}）不同或未安装；"
        "为免以不同公式计算，本次核算未开始或已停止，未保留任何结果",
        field="run.scheduler",
        fix="Install this same Qingshan (same version and files) on every worker, restart the workers "
            "(`dask worker tcp://HOST:8786`), and run again; or use the scheduler 'threads'.",
        fix_zh="请在每个计算节点安装与本机完全相同的青山（同一版本、同一文件），重启计算节点"
               "（`dask worker tcp://主机:8786`）后重试；或改用 'threads' 调度器。",
    )


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not on a dask worker
        return "this process"


@dataclass(frozen=True)
class SameCode:
    """``fn`` as a task for a cluster: called only where the code is the caller's (:func:`code_identity`).

    The engine checks every worker before it sends blocks (:mod:`qingshan.engine.cluster`); a worker that joins
    later, or restarts from another installation, is refused here, at its first task — with the error of
    :func:`other_code_error`, so that no block is computed with other formulas (issue 11).
    """

    fn: Callable[..., Any]
    code: tuple[str, str]

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> SameCode:
        return cls(fn, code_identity())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        here = code_identity()
        if here != self.code:
            raise other_code_error({_worker_address(): here}, self.code)
        return self.fn(*args, **kwargs)

    def __dask_tokenize__(self) -> tuple[str, str, tuple[str, str]]:
        return (getattr(self.fn, "__module__", "?"), getattr(self.fn, "__qualname__", repr(self.fn)), self.code)
