"""Recording a run without the ORM — and, for an SQLite store, without SQLAlchemy: ``qingshan revalue``'s writer.

A revaluation reads its parent run and regions, records the new run, renews its lease, stores its result rows
and marks it succeeded (or failed). :func:`open_run_writer` gives an object that does these five things:

* :class:`SqliteRunWriter` for a store that is an SQLite file (``sqlite:///path``) already at the head revision
  of the migrations: Python's ``sqlite3`` with the same SQL, the same connection settings (foreign keys, WAL) and
  the same stored text as SQLAlchemy writes (JSON by ``json.dumps``, timestamps in SQLAlchemy's SQLite format,
  UTC) — importing SQLAlchemy is about a tenth of a revaluation's CPU time;
* :class:`CoreRunWriter` for every other store (PostgreSQL, a new or older SQLite store, which it migrates): the
  generic SQLAlchemy Core functions of :mod:`qingshan.store.repo` on an engine.

Both store the same rows in one transaction per step (``tests/engine/test_revalue.py`` compares what they store,
column by column, and their failures half-way).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol

from qingshan.store.rows import (
    REGION_COLUMNS,
    RESULT_COLUMNS,
    check_lengths,
    no_longer_running,
    result_records,
)

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

__all__ = ["CoreRunWriter", "RunWriter", "SqliteRunWriter", "open_run_writer"]


class RunWriter(Protocol):
    """What ``qingshan revalue`` does with the store (the functions of :mod:`qingshan.store.repo` of these names)."""

    def get_run(self, run_id: str) -> Any | None:
        """The run (attributes of ``models.Run``) or None."""

    def region_records(self, run_id: str, *, with_geometry: bool = False) -> list[dict[str, Any]]:
        """The run's regions as dicts."""

    def start_run(self, *, run_id: str, name: str, profile: str, years: list[int], base_year: int | None,
                  config: Mapping[str, Any], code_version: str, lease_holder: str | None = None,
                  lease_expires_at: datetime | None = None, parent_run_id: str | None = None) -> None:
        """:func:`qingshan.store.repo.start_run`."""

    def finish_run_succeeded(self, run_id: str, *, results: pd.DataFrame | Mapping[str, Sequence[Any]],
                             regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                             output_dir: str | None, content_hash: str, artifacts_dir: str | None = None,
                             artifacts: list[dict[str, Any]] | None = None) -> None:
        """:func:`qingshan.store.repo.finish_run_succeeded`."""

    def finish_run_failed(self, run_id: str, error: Mapping[str, Any]) -> bool:
        """:func:`qingshan.store.repo.finish_run_failed`: False, changing nothing, for a run no longer running."""

    def renew_lease(self, run_id: str, holder: str, expires_at: datetime) -> bool:
        """Extend the lease of a running run held by ``holder``; False when it is no longer."""


def open_run_writer(url: str) -> RunWriter:
    """The writer for the store at ``url`` (module docstring)."""
    return SqliteRunWriter.open(url) or CoreRunWriter.open(url)


# ----------------------------------------------------------------------------- generic: SQLAlchemy Core
class CoreRunWriter:
    """:mod:`qingshan.store.repo`'s Core functions on an engine (any backend; migrates the store)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> CoreRunWriter:
        from qingshan.store.db import open_engine

        return cls(open_engine(url))

    def get_run(self, run_id: str) -> Any | None:
        from qingshan.store import repo

        return repo.get_run_row(self.engine, run_id)

    def region_records(self, run_id: str, *, with_geometry: bool = False) -> list[dict[str, Any]]:
        from qingshan.store import repo

        return repo.region_records(self.engine, run_id, with_geometry=with_geometry)

    def start_run(self, *, run_id: str, name: str, profile: str, years: list[int], base_year: int | None,
                  config: Mapping[str, Any], code_version: str, lease_holder: str | None = None,
                  lease_expires_at: datetime | None = None, parent_run_id: str | None = None) -> None:
        from qingshan.store import repo

        repo.start_run(self.engine, run_id=run_id, name=name, profile=profile, years=years, base_year=base_year,
                       config=config, code_version=code_version, lease_holder=lease_holder,
                       lease_expires_at=lease_expires_at, parent_run_id=parent_run_id)

    def finish_run_succeeded(self, run_id: str, *, results: pd.DataFrame | Mapping[str, Sequence[Any]],
                             regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                             output_dir: str | None, content_hash: str, artifacts_dir: str | None = None,
                             artifacts: list[dict[str, Any]] | None = None) -> None:
        from qingshan.store import repo

        repo.finish_run_succeeded(self.engine, run_id, results=results, regions=regions, provenance=provenance,
                                  output_dir=output_dir, content_hash=content_hash, artifacts_dir=artifacts_dir,
                                  artifacts=artifacts)

    def finish_run_failed(self, run_id: str, error: Mapping[str, Any]) -> bool:
        from qingshan.store import repo

        return repo.finish_run_failed(self.engine, run_id, error)

    def renew_lease(self, run_id: str, holder: str, expires_at: datetime) -> bool:
        from qingshan.store.lifecycle import renew_lease

        return renew_lease(self.engine, run_id, holder, expires_at)


# ----------------------------------------------------------------------------- SQLite without SQLAlchemy
_JSON = ("years", "config", "provenance", "error", "artifacts")
"""JSON columns of ``runs`` (SQLAlchemy's ``JSON``: ``json.dumps`` text; Python None is the JSON ``null``)."""
_TIMES = ("lease_expires_at", "created_at", "finished_at")
"""Timestamp columns of ``runs`` (``UTCDateTime``: UTC, stored as SQLAlchemy's SQLite ``DATETIME`` text)."""


def _stored_time(value: datetime | None) -> str | None:
    """A timestamp as SQLAlchemy stores ``UTCDateTime`` in SQLite (its ``DATETIME`` storage format, UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime: give a timezone-aware UTC datetime")
    v = value.astimezone(UTC)
    return (f"{v.year:04d}-{v.month:02d}-{v.day:02d} {v.hour:02d}:{v.minute:02d}:{v.second:02d}."
            f"{v.microsecond:06d}")


def _read_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC)


class SqliteRunWriter:
    """The run writer of an SQLite store at the head revision, through ``sqlite3`` (module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def open(cls, url: str) -> SqliteRunWriter | None:
        """The writer of ``url`` if it is an existing SQLite file (``sqlite:///path``, nothing to unquote, no
        query) whose schema is at the head revision; None otherwise (then the generic writer checks the URL
        and migrates)."""
        from qingshan.store.db import head_revision

        text = str(url).strip()
        path = text.removeprefix("sqlite:///")
        if (not text.startswith("sqlite:///") or path in ("", ":memory:") or any(c in path for c in "?%#")
                or not Path(path).is_file()):
            return None
        writer = cls(Path(path))
        try:
            with writer._connect() as conn:
                stored = {r[0] for r in conn.execute("SELECT version_num FROM alembic_version")}
        except sqlite3.Error:
            return None
        return writer if stored == {head_revision()} else None

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection with the settings of ``store.db._engine`` for SQLite; closed at the end."""
        with closing(sqlite3.connect(self.path)) as conn:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction: committed at the end, rolled back on an exception."""
        with self._connect() as conn, conn:  # the connection as context manager: commit, or rollback on error
            yield conn

    def get_run(self, run_id: str) -> Any | None:
        with self._connect() as conn:
            cur = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cur.fetchone()
            if row is None:
                return None
            out = dict(zip([d[0] for d in cur.description], row, strict=True))
        for c in _JSON:
            out[c] = None if out[c] is None else json.loads(out[c])
        for c in _TIMES:
            out[c] = _read_time(out[c])
        return SimpleNamespace(**out)

    def region_records(self, run_id: str, *, with_geometry: bool = False) -> list[dict[str, Any]]:
        cols = REGION_COLUMNS + (["geometry"] if with_geometry else [])
        with self._connect() as conn:
            rows = conn.execute(f"SELECT {', '.join(cols)} FROM run_regions WHERE run_id = ?", (run_id,)).fetchall()
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def start_run(self, *, run_id: str, name: str, profile: str, years: list[int], base_year: int | None,
                  config: Mapping[str, Any], code_version: str, lease_holder: str | None = None,
                  lease_expires_at: datetime | None = None, parent_run_id: str | None = None) -> None:
        row = {"id": run_id, "name": name, "status": "running", "profile": profile, "years": json.dumps(list(years)),
               "base_year": base_year, "config": json.dumps(dict(config)), "provenance": json.dumps({}),
               "code_version": code_version, "created_at": _stored_time(datetime.now(UTC)),
               "lease_holder": lease_holder, "lease_expires_at": _stored_time(lease_expires_at),
               "parent_run_id": parent_run_id}
        with self._transaction() as conn:
            conn.execute(f"INSERT INTO runs ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))

    def finish_run_succeeded(self, run_id: str, *, results: pd.DataFrame | Mapping[str, Sequence[Any]],
                             regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                             output_dir: str | None, content_hash: str, artifacts_dir: str | None = None,
                             artifacts: list[dict[str, Any]] | None = None) -> None:
        records = result_records(results, run_id)
        region_cols = ["run_id", *REGION_COLUMNS, "geometry"]
        region_rows = [{**dict.fromkeys(region_cols), "run_id": run_id, **dict(r)} for r in regions]
        check_lengths("run_regions", region_rows)
        done = {"status": "succeeded", "provenance": json.dumps(dict(provenance)), "output_dir": output_dir,
                "content_hash": content_hash, "artifacts_dir": artifacts_dir,
                "artifacts": json.dumps(list(artifacts) if artifacts is not None else None),
                "lease_holder": None, "lease_expires_at": None, "finished_at": _stored_time(datetime.now(UTC))}
        with self._transaction() as conn:
            conn.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            if records:
                cols = ["run_id", *RESULT_COLUMNS]
                conn.executemany(f"INSERT INTO results ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                 records)
            if region_rows:
                cols = list(region_rows[0])
                conn.executemany(f"INSERT INTO run_regions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                 [[r[c] for c in cols] for r in region_rows])
            cur = conn.execute(f"UPDATE runs SET {', '.join(f'{c} = ?' for c in done)} WHERE id = ? AND status = ?",
                               [*done.values(), run_id, "running"])
            if not cur.rowcount:  # marked abandoned meanwhile (its lease expired): the repair stands
                found = conn.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone()
                assert found is not None, f"run {run_id} was never recorded"
                raise no_longer_running(run_id, found[0])

    def finish_run_failed(self, run_id: str, error: Mapping[str, Any]) -> bool:
        with self._transaction() as conn:
            cur = conn.execute("UPDATE runs SET status = ?, error = ?, lease_holder = ?, lease_expires_at = ?, "
                               "finished_at = ? WHERE id = ? AND status = ?",
                               ("failed", json.dumps(dict(error)), None, None, _stored_time(datetime.now(UTC)), run_id,
                                "running"))
            if not cur.rowcount:  # no longer running: a succeeded run keeps its status and rows
                return False
            conn.execute("DELETE FROM results WHERE run_id = ?", (run_id,))
            return True

    def renew_lease(self, run_id: str, holder: str, expires_at: datetime) -> bool:
        with self._transaction() as conn:
            cur = conn.execute("UPDATE runs SET lease_expires_at = ? WHERE id = ? AND status = ? AND lease_holder = ?",
                               (_stored_time(expires_at), run_id, "running", holder))
            return bool(cur.rowcount)
