"""Repository functions over the store: the only way the engine, CLI and API touch the tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.store.models import ResultRow, Run, RunRegion

__all__ = [
    "RESULT_COLUMNS",
    "finish_run_failed",
    "finish_run_succeeded",
    "get_run",
    "list_runs",
    "read_regions",
    "read_results",
    "start_run",
]

RESULT_COLUMNS = [
    "region_code", "year", "indicator", "category", "component", "ecosystem",
    "quantity", "unit", "price", "price_unit", "value", "value_comparable",
]


def _now() -> datetime:
    return datetime.now(UTC)


def start_run(factory: sessionmaker[Session], *, run_id: str, name: str, profile: str, years: list[int],
              base_year: int | None, config: Mapping[str, Any], code_version: str) -> None:
    """Record a run as ``running`` (committed at once, so a crash leaves a visible trace)."""
    with factory.begin() as s:
        s.add(Run(id=run_id, name=name, status="running", profile=profile, years=list(years), base_year=base_year,
                  config=dict(config), provenance={}, code_version=code_version, created_at=_now()))


def finish_run_succeeded(factory: sessionmaker[Session], run_id: str, *, results: pd.DataFrame,
                         regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                         output_dir: str | None, content_hash: str) -> None:
    """Write all result rows and mark the run ``succeeded`` in one transaction."""
    records = results[RESULT_COLUMNS].astype(object).where(results[RESULT_COLUMNS].notna(), None).to_dict("records")
    with factory.begin() as s:
        s.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
        s.execute(insert(ResultRow), [{"run_id": run_id, **r} for r in records])
        s.execute(insert(RunRegion), [{"run_id": run_id, **dict(r)} for r in regions])
        run = s.get(Run, run_id)
        assert run is not None
        run.status = "succeeded"
        run.provenance = dict(provenance)
        run.output_dir = output_dir
        run.content_hash = content_hash
        run.finished_at = _now()


def finish_run_failed(factory: sessionmaker[Session], run_id: str, error: Mapping[str, Any]) -> None:
    """Mark a run ``failed`` with its error; no result rows are kept."""
    with factory.begin() as s:
        s.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
        run = s.get(Run, run_id)
        if run is not None:
            run.status = "failed"
            run.error = dict(error)
            run.finished_at = _now()


def list_runs(factory: sessionmaker[Session], status: str | None = None) -> list[Run]:
    """Runs, newest first."""
    with factory() as s:
        q = select(Run).order_by(Run.created_at.desc())
        if status:
            q = q.where(Run.status == status)
        return list(s.scalars(q))


def get_run(factory: sessionmaker[Session], run_id: str) -> Run | None:
    """One run by id."""
    with factory() as s:
        return s.get(Run, run_id)


def read_results(factory: sessionmaker[Session], run_id: str, **filters: Any) -> pd.DataFrame:
    """Result rows of a run as a DataFrame; ``filters`` are column equalities."""
    with factory() as s:
        q = select(ResultRow).where(ResultRow.run_id == run_id)
        for col, val in filters.items():
            if val is not None:
                q = q.where(getattr(ResultRow, col) == val)
        rows = s.scalars(q).all()
        return pd.DataFrame([{c: getattr(r, c) for c in RESULT_COLUMNS} for r in rows], columns=RESULT_COLUMNS)


def read_regions(factory: sessionmaker[Session], run_id: str, *, with_geometry: bool = False) -> pd.DataFrame:
    """Regions of a run."""
    cols = ["code", "name", "level", "parent", "area_km2"] + (["geometry"] if with_geometry else [])
    with factory() as s:
        rows = s.scalars(select(RunRegion).where(RunRegion.run_id == run_id)).all()
        return pd.DataFrame([{c: getattr(r, c) for c in cols} for r in rows], columns=cols)
