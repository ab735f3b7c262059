"""Answers of slow-to-import libraries, remembered on disk so that a later process need not import them.

pint's unit registry (:mod:`qingshan.core.units`) and pyproj (:mod:`qingshan.core.crs`) each take 0.05–0.3 s
to import or build, more than a small run's arithmetic, and their answers to the same question (a conversion
factor; the WKT, units, EPSG code and area of use of a CRS) never change while the library and Qingshan's
code do not. An :class:`AnswerBook` keeps them in one JSON file per book, in ``$QINGSHAN_CACHE_DIR/<book>`` (or
the user cache dir), named by a fingerprint of what the answers depend on: a new version of the library or of
the asking module starts a new file. Only answers are stored: a question the library rejects raises, is never
stored, and is asked again (and raises again) in every process.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["AnswerBook", "cache_folder", "fingerprint"]

T = TypeVar("T")


def cache_folder(name: str) -> Path | None:
    """A writable folder ``$QINGSHAN_CACHE_DIR/<name>`` (or in the user cache dir), or None when none is writable."""
    root = os.environ.get("QINGSHAN_CACHE_DIR")
    if not root:
        try:
            import platformdirs  # a dependency of pint and of pyproj's tools
        except ImportError:
            return None
        try:
            root = platformdirs.user_cache_dir("qingshan", appauthor=False)
        except (RuntimeError, KeyError, OSError):  # no usable HOME nor user entry (a bare container): no cache
            return None
    folder = Path(root) / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def fingerprint(module_file: str, package: str, extra_files: tuple[str, ...] = ()) -> str:
    """What remembered answers depend on: the asking module's source, and the installed ``package`` (its
    ``__init__`` and ``extra_files`` beside it, by size and modification time), without importing it."""
    import hashlib
    from importlib.util import find_spec

    h = hashlib.sha256(Path(module_file).read_bytes())
    spec = find_spec(package)
    if spec is None or spec.origin is None:
        return f"no{package}"
    for f in (Path(spec.origin), *(Path(spec.origin).with_name(x) for x in extra_files)):
        try:
            st = f.stat()
        except OSError:
            continue
        h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


class AnswerBook:
    """One file of remembered answers (see the module docstring): ``book.answer(kind, args, ask)``."""

    def __init__(self, name: str, prefix: str, fingerprint: Callable[[], str]) -> None:
        self.name, self.prefix, self._fingerprint = name, prefix, fingerprint

    @cached_property
    def path(self) -> Path | None:
        """The book's file (None: no writable cache folder; answers are then kept in this process only)."""
        folder = cache_folder(self.name)
        return None if folder is None else folder / f"{self.prefix}-{self._fingerprint()}.json"

    @cached_property
    def answers(self) -> dict[str, Any]:
        """The answers given in earlier processes; empty when there is no file or it cannot be read."""
        path = self.path
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else {}
        except (OSError, ValueError):  # unreadable or half-written by a crashed process: start afresh
            return {}
        return data if isinstance(data, dict) else {}

    def remember(self, key: str, value: Any) -> None:
        """Add one answer to the file (read, merge, write beside and rename: never half-written)."""
        self.answers[key] = value
        path = self.path
        if path is None:
            return
        try:
            on_disk = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            merged = {**(on_disk if isinstance(on_disk, dict) else {}), **self.answers}
            fd, tmp = tempfile.mkstemp(suffix=".json", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(merged, fh, ensure_ascii=False)
            os.replace(tmp, path)
        except (OSError, ValueError):  # a read-only or full disk: the answer is kept in this process only
            pass

    def answer(self, kind: str, args: tuple[str, ...], ask: Callable[[], T]) -> T:
        """The answer to ``kind(*args)``: remembered, else ``ask()`` (whose errors propagate, never stored)."""
        key = "\x1f".join((kind, *args))
        if key in self.answers:
            return self.answers[key]
        value = ask()
        self.remember(key, value)
        return value
