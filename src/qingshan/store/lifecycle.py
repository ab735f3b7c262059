"""Run lifecycle: a running run holds a lease; abandoned runs are found and marked failed.

A run is recorded ``running`` with a lease: ``lease_holder`` (``host:pid``) and
``lease_expires_at`` (now + :data:`LEASE_SECONDS`). A :class:`LeaseKeeper` thread of the recording
process renews it every :data:`RENEW_SECONDS`. A thread, not a renewal at each progress step: one
step (an indicator over a large raster, writing a COG, the export) may take longer than any
reasonable lease, while the thread renews on time whatever the step; it dies with its process.

:func:`repair` — called by ``qingshan account``, by ``qingshan worker`` at start and by
``qingshan runs --repair`` — marks ``failed`` (error ``abandoned``) every running run whose lease
has expired (any host) or whose holder is a dead process of this host (at once, without waiting
for the lease), deletes its partial artifact folder, and removes the temporary folders of dead
processes in the data dir and beside the run's export folder.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qingshan.store import artifacts

if TYPE_CHECKING:  # SQLAlchemy is imported when used: a lease renewed ``renew_with`` needs none of it
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session, sessionmaker

    from qingshan.store.models import Run

__all__ = ["LEASE_SECONDS", "RENEW_SECONDS", "LeaseKeeper", "Repair", "lease_expiry", "renew_lease", "repair"]

LEASE_SECONDS = 120.0
"""How long a lease lasts without renewal [s]: a run silent this long is abandoned."""
RENEW_SECONDS = 20.0
"""How often the holder renews its lease [s] (several renewals fit in one lease)."""

ABANDONED = {
    "error": "abandoned",
    "message_en": "The run was abandoned: its process died (or stopped renewing its lease) before it finished",
    "message_zh": "核算已中止：其进程在完成前退出（或停止续租）",
    "file": None,
    "field": None,
    "fix": "Run the accounting again.",
    "fix_zh": "请重新运行核算。",
}


def _now() -> datetime:
    return datetime.now(UTC)


def lease_expiry(seconds: float = LEASE_SECONDS) -> datetime:
    """The expiry time of a lease taken or renewed now."""
    return _now() + timedelta(seconds=seconds)


class LeaseKeeper:
    """Renews the lease of one running run (or, with ``renew_with``, of anything) from a daemon thread
    until :meth:`stop`."""

    def __init__(self, factory: sessionmaker[Session] | Engine | None, run_id: str, holder: str, *,
                 every: float = RENEW_SECONDS, lease: float = LEASE_SECONDS,
                 renew_with: Callable[[], bool] | None = None) -> None:
        self.factory, self.run_id, self.holder = factory, run_id, holder
        self.every, self.lease = every, lease
        self._renew_with = renew_with
        self.lost = False  # the run is no longer ours (marked abandoned by another process)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"lease-{run_id[:8]}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop renewing (the run is finished, or failed)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def renew(self) -> bool:
        """Extend the lease once; False when the run is no longer running under this holder."""
        if self._renew_with is not None:
            return self._renew_with()
        assert self.factory is not None, "a LeaseKeeper without a store renews with renew_with"
        return renew_lease(self.factory, self.run_id, self.holder, lease_expiry(self.lease))

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not self.renew():
                    self.lost = True
                    return
            except Exception:  # a database hiccup: try again at the next tick
                continue


def renew_lease(factory: sessionmaker[Session] | Engine, run_id: str, holder: str, expires_at: datetime) -> bool:
    """Set the lease expiry of ``run_id`` if it is running under ``holder`` (Core: a session factory or an
    engine); False when it no longer is."""
    from sqlalchemy import update

    from qingshan.store import tables

    runs = tables.runs
    with factory.begin() as s:
        res = s.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "running", runs.c.lease_holder == holder)
                        .values(lease_expires_at=expires_at))
        return bool(res.rowcount)  # type: ignore[attr-defined]


@dataclass
class Repair:
    """What :func:`repair` did."""

    abandoned: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _is_abandoned(run: Run, now: datetime, host: str) -> bool:
    if run.lease_expires_at is None or run.lease_holder is None:
        return True  # recorded before leases existed, or by a process that never took one
    if run.lease_expires_at < now:
        return True
    r_host, _, pid = run.lease_holder.rpartition(":")
    return r_host == host and pid.isdigit() and not artifacts.pid_alive(int(pid))


def repair(factory: sessionmaker[Session], data_dir: Path | None) -> Repair:
    """Mark abandoned runs failed and remove the temporary folders of dead processes (module docstring)."""
    from sqlalchemy import select, update

    from qingshan.store.models import Run

    now, host = _now(), socket.gethostname()
    out = Repair()
    with factory() as s:
        running = list(s.scalars(select(Run).where(Run.status == "running")))
    live = []
    for run in running:
        if not _is_abandoned(run, now, host):
            live.append(run.lease_holder or "")
            continue
        same_lease = [Run.lease_holder.is_(None) if run.lease_holder is None else Run.lease_holder == run.lease_holder,
                      Run.lease_expires_at.is_(None) if run.lease_expires_at is None
                      else Run.lease_expires_at == run.lease_expires_at]  # not renewed meanwhile
        with factory.begin() as s:
            res = s.execute(update(Run).where(Run.id == run.id, Run.status == "running", *same_lease)
                            .values(status="failed", error=dict(ABANDONED), finished_at=now,
                                    lease_holder=None, lease_expires_at=None))
        if res.rowcount:  # type: ignore[attr-defined]
            out.abandoned.append(run.id)
            out.removed += _clean_beside_output(run.config or {}, live)
            if data_dir is not None:
                partial = Path(data_dir) / artifacts.RUNS / run.id
                if partial.exists():
                    artifacts.remove_tree(partial)
                    out.removed.append(partial)
    if data_dir is not None:
        out.removed += artifacts.clean_tmp(Path(data_dir) / artifacts.RUNS, live)
    return out


def _clean_beside_output(config: dict[str, Any], live: list[str]) -> list[Path]:
    output = (config.get("run") or {}).get("output")
    if not output:
        return []
    out = Path(output)
    return artifacts.clean_tmp(out.parent, live, stem=f".{out.name}")
