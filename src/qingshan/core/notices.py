"""Notices: non-fatal findings of a run, collected for its quality-control report (质量控制).

An error stops a run; a notice lets it go on but must be seen by whoever signs the result:
a plausibility warning under a documented override, a statistic shared out from city to county by
a key, a boundary repaired, a parameter used whose certainty is ``R``. Code anywhere below the
engine calls :func:`notice`; the engine wraps a run in :func:`collecting` and puts what was
collected into the QC report. Outside a collector a notice is dropped (library use, tests).

The collector is a :class:`contextvars.ContextVar`, so concurrent runs in one process (threads of
the web service, asyncio tasks) keep their notices apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["Notice", "collecting", "notice"]


@dataclass(frozen=True)
class Notice:
    """One finding: a short stable ``code``, the message in both languages and where it applies."""

    code: str
    en: str
    zh: str
    severity: Literal["info", "warning"] = "warning"
    file: str | None = None
    field: str | None = None
    region: str | None = None
    indicator: str | None = None
    year: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``None`` fields left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


_collector: ContextVar[list[Notice] | None] = ContextVar("qingshan_notices", default=None)


def notice(item: Notice) -> None:
    """Record ``item`` in the current collector (no-op outside :func:`collecting`); duplicates kept once."""
    bucket = _collector.get()
    if bucket is not None and item not in bucket:
        bucket.append(item)


@contextmanager
def collecting() -> Iterator[list[Notice]]:
    """Collect the notices raised inside the ``with`` block into the yielded list."""
    bucket: list[Notice] = []
    token = _collector.set(bucket)
    try:
        yield bucket
    finally:
        _collector.reset(token)
