"""Repository functions over the store: the only way the engine, CLI and API touch the tables.

``factory`` is a session factory (:func:`qingshan.store.db.open_store`) or, for the functions that record and
read runs through SQLAlchemy Core — :func:`start_run`, :func:`finish_run_succeeded`, :func:`finish_run_failed`,
:func:`get_run_row`, :func:`region_records` / :func:`read_regions` — an engine (:func:`qingshan.store.db.open_engine`):
both give ``factory.begin()``. Those functions never import the ORM (``qingshan revalue`` records a run without
it); the others return ORM objects (:class:`qingshan.store.models.Run`) and import it when called.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.engine import Connection

from qingshan.store import tables
from qingshan.store.rows import (
    REGION_COLUMNS,
    RESULT_COLUMNS,
    check_lengths,
    column_values,
    no_longer_running,
    result_records,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine, Row
    from sqlalchemy.orm import Session, sessionmaker

    from qingshan.store.models import Run

    Store = sessionmaker[Session] | Engine

__all__ = [
    "REGION_COLUMNS",
    "RESULT_COLUMNS",
    "add_artifact",
    "column_values",
    "finish_run_failed",
    "finish_run_succeeded",
    "get_run",
    "get_run_row",
    "list_runs",
    "read_regions",
    "read_results",
    "region_records",
    "start_run",
]

def _now() -> datetime:
    return datetime.now(UTC)


def start_run(factory: Store, *, run_id: str, name: str, profile: str, years: list[int],
              base_year: int | None, config: Mapping[str, Any], code_version: str,
              lease_holder: str | None = None, lease_expires_at: datetime | None = None,
              parent_run_id: str | None = None) -> None:
    """Record a run as ``running`` (committed at once, so a crash leaves a visible trace), with its lease.
    ``parent_run_id``: the run a revalued run derives from (``qingshan revalue``)."""
    with factory.begin() as s:
        s.execute(insert(tables.runs).values(
            id=run_id, name=name, status="running", profile=profile, years=list(years), base_year=base_year,
            config=dict(config), provenance={}, code_version=code_version, created_at=_now(),
            lease_holder=lease_holder, lease_expires_at=lease_expires_at, parent_run_id=parent_run_id))


def finish_run_succeeded(factory: Store, run_id: str, *, results: pd.DataFrame | Mapping[str, Sequence[Any]],
                         regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                         output_dir: str | None, content_hash: str, artifacts_dir: str | None = None,
                         artifacts: list[dict[str, Any]] | None = None) -> None:
    """Write all result rows and mark the run ``succeeded`` in one transaction.

    ``results``: a frame with :data:`RESULT_COLUMNS`, or those columns as lists already converted by
    :func:`column_values` (a caller that also writes them elsewhere converts once)."""
    records = result_records(results, run_id)
    empty = dict.fromkeys(tables.run_regions.columns.keys())  # a key a row leaves out is NULL (one INSERT form)
    region_rows = [{**empty, "run_id": run_id, **dict(r)} for r in regions]
    check_lengths("run_regions", region_rows)
    runs = tables.runs
    with factory.begin() as s:
        s.execute(delete(tables.results).where(tables.results.c.run_id == run_id))
        if records:  # an empty parameter list would insert one row of defaults
            _insert_rows(s, tables.results, ["run_id", *RESULT_COLUMNS], records)
        if region_rows:
            s.execute(insert(tables.run_regions), region_rows)
        done = s.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "running").values(
            status="succeeded", provenance=dict(provenance), output_dir=output_dir, content_hash=content_hash,
            artifacts_dir=artifacts_dir, artifacts=list(artifacts) if artifacts is not None else None,
            lease_holder=None, lease_expires_at=None, finished_at=_now()))
        if not done.rowcount:  # type: ignore[attr-defined]  # marked abandoned meanwhile (lease expired): the repair stands
            status = s.execute(select(runs.c.status).where(runs.c.id == run_id)).scalar()
            assert status is not None, f"run {run_id} was never recorded"
            raise no_longer_running(run_id, status)


_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_rows(s: Session | Connection, table: Table, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """``INSERT`` of many rows through the driver's executemany (tens of thousands of result rows: the
    ORM and Core paths spend most of their time building one parameter dict per row)."""
    conn = s if isinstance(s, Connection) else s.connection()
    mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
    if mark is None:  # another paramstyle: the Core path
        conn.execute(insert(table), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def add_artifact(factory: sessionmaker[Session], run_id: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Append one manifest entry (an export written on demand into a sealed run folder) unless one of that
    name is recorded already; returns the manifest. Existing entries are never changed."""
    from qingshan.store.models import Run

    with factory.begin() as s:
        run = s.get(Run, run_id, with_for_update=True)
        assert run is not None
        manifest = list(run.artifacts or [])
        if all(e["name"] != entry["name"] for e in manifest):
            manifest.append(dict(entry))
            run.artifacts = manifest
        return manifest


def finish_run_failed(factory: Store, run_id: str, error: Mapping[str, Any]) -> bool:
    """Mark a *running* run ``failed`` with its error; no result rows are kept. False (nothing changed) for a run
    that is no longer running: a succeeded run — published, perhaps — is never turned failed nor loses its rows
    (found: an interrupt or a driver error arriving after the ``succeeded`` commit made the recording process mark
    the committed run failed, delete its result rows and its sealed folder)."""
    runs = tables.runs
    with factory.begin() as s:
        done = s.execute(update(runs).where(runs.c.id == run_id, runs.c.status == "running").values(
            status="failed", error=dict(error), lease_holder=None, lease_expires_at=None, finished_at=_now()))
        if not done.rowcount:  # type: ignore[attr-defined]
            return False
        s.execute(delete(tables.results).where(tables.results.c.run_id == run_id))
        return True


def list_runs(factory: sessionmaker[Session], status: str | None = None) -> list[Run]:
    """Runs, newest first."""
    from qingshan.store.models import Run

    with factory() as s:
        q = select(Run).order_by(Run.created_at.desc())
        if status:
            q = q.where(Run.status == status)
        return list(s.scalars(q))


def get_run(factory: sessionmaker[Session], run_id: str) -> Run | None:
    """One run by id."""
    from qingshan.store.models import Run

    with factory() as s:
        return s.get(Run, run_id)


def get_run_row(factory: Store, run_id: str) -> Row[Any] | None:
    """One run by id as a Core row: the attributes of :class:`~qingshan.store.models.Run` (``row.status``,
    ``row.provenance`` …), read only, without the ORM."""
    with factory.begin() as s:
        return s.execute(select(tables.runs).where(tables.runs.c.id == run_id)).first()


def read_results(factory: sessionmaker[Session], run_id: str, **filters: Any) -> pd.DataFrame:
    """Result rows of a run as a DataFrame; ``filters`` are column equalities."""
    from qingshan.store.models import ResultRow

    with factory() as s:
        q = select(ResultRow).where(ResultRow.run_id == run_id)
        for col, val in filters.items():
            if val is not None:
                q = q.where(getattr(ResultRow, col) == val)
        rows = s.scalars(q).all()
        return pd.DataFrame([{c: getattr(r, c) for c in RESULT_COLUMNS} for r in rows], columns=RESULT_COLUMNS)


def region_records(factory: Store, run_id: str, *, with_geometry: bool = False) -> list[dict[str, Any]]:
    """Regions of a run as dicts (``code, name, level, parent, area_km2`` and, if asked, ``geometry``)."""
    t = tables.run_regions
    cols = REGION_COLUMNS + (["geometry"] if with_geometry else [])
    with factory.begin() as s:
        return [dict(r._mapping) for r in s.execute(select(*(t.c[c] for c in cols)).where(t.c.run_id == run_id))]


def read_regions(factory: Store, run_id: str, *, with_geometry: bool = False) -> pd.DataFrame:
    """Regions of a run."""
    cols = REGION_COLUMNS + (["geometry"] if with_geometry else [])
    return pd.DataFrame(region_records(factory, run_id, with_geometry=with_geometry), columns=cols)
