"""Repository functions over the store: the only way the engine, CLI and API touch the tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import String, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError, QingshanError
from qingshan.store.models import Base, ResultRow, Run, RunRegion

__all__ = [
    "RESULT_COLUMNS",
    "add_artifact",
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
              base_year: int | None, config: Mapping[str, Any], code_version: str,
              lease_holder: str | None = None, lease_expires_at: datetime | None = None,
              parent_run_id: str | None = None) -> None:
    """Record a run as ``running`` (committed at once, so a crash leaves a visible trace), with its lease.
    ``parent_run_id``: the run a revalued run derives from (``qingshan revalue``)."""
    with factory.begin() as s:
        s.add(Run(id=run_id, name=name, status="running", profile=profile, years=list(years), base_year=base_year,
                  config=dict(config), provenance={}, code_version=code_version, created_at=_now(),
                  lease_holder=lease_holder, lease_expires_at=lease_expires_at, parent_run_id=parent_run_id))


def finish_run_succeeded(factory: sessionmaker[Session], run_id: str, *, results: pd.DataFrame,
                         regions: Iterable[Mapping[str, Any]], provenance: Mapping[str, Any],
                         output_dir: str | None, content_hash: str, artifacts_dir: str | None = None,
                         artifacts: list[dict[str, Any]] | None = None) -> None:
    """Write all result rows and mark the run ``succeeded`` in one transaction."""
    records = _result_records(results, run_id)
    region_rows = [{"run_id": run_id, **dict(r)} for r in regions]
    _check_lengths(RunRegion, region_rows)
    with factory.begin() as s:
        s.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
        if records:  # an empty parameter list would insert one row of defaults
            _insert_rows(s, "results", ["run_id", *RESULT_COLUMNS], records)
        if region_rows:
            s.execute(insert(RunRegion), region_rows)
        run = s.get(Run, run_id)
        assert run is not None
        if run.status != "running":  # marked abandoned meanwhile (its lease expired): the repair stands
            raise QingshanError(
                f"Run '{run_id}' is no longer running (marked {run.status}, its lease expired): results not stored",
                f"核算记录 '{run_id}' 已不在运行状态（已标记为 {run.status}，租约过期），结果未保存",
                field="run_id",
                fix="Run the accounting again; keep the process from being suspended while it runs.",
                fix_zh="请重新运行核算，运行期间不要挂起进程。",
            )
        run.status = "succeeded"
        run.provenance = dict(provenance)
        run.output_dir = output_dir
        run.content_hash = content_hash
        run.artifacts_dir = artifacts_dir
        run.artifacts = list(artifacts) if artifacts is not None else None
        run.lease_holder = run.lease_expires_at = None
        run.finished_at = _now()


def _result_records(results: pd.DataFrame, run_id: str) -> list[tuple[Any, ...]]:
    """Result rows as plain Python values (NaN → None), text lengths checked column by column."""
    cols = results[RESULT_COLUMNS]
    limits = {c.name: c.type.length for c in ResultRow.__table__.columns
              if isinstance(c.type, String) and c.type.length and c.name in RESULT_COLUMNS}
    for col, limit in limits.items():
        values = cols[col].to_numpy(dtype=object)
        too_long = [v for v in values if isinstance(v, str) and len(v) > limit]
        if too_long:
            _check_lengths(ResultRow, [{col: too_long[0]}])  # raises, naming the value
    arrays = []
    for col in RESULT_COLUMNS:
        arr = cols[col].to_numpy(dtype=object, copy=True)  # never write into the caller's frame
        arr[cols[col].isna().to_numpy()] = None
        arrays.append(arr)
    return list(zip([run_id] * len(cols), *arrays, strict=True))


_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_rows(s: Session, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """``INSERT`` of many rows through the driver's executemany (tens of thousands of result rows: the
    ORM and Core paths spend most of their time building one parameter dict per row)."""
    conn = s.connection()
    mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
    if mark is None:  # another paramstyle: the Core path
        s.execute(insert(Base.metadata.tables[table]), [dict(zip(columns, r, strict=True)) for r in rows])
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def _check_lengths(model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Refuse text longer than its column on every backend (SQLite would store it, PostgreSQL not)."""
    limits = {c.name: c.type.length for c in model.__table__.columns if isinstance(c.type, String) and c.type.length}
    for row in rows:
        for col, limit in limits.items():
            value = row.get(col)
            if isinstance(value, str) and len(value) > limit:
                raise InputError(
                    f"Value of '{col}' is longer than {limit} characters: '{value[:40]}…'",
                    f"'{col}' 的值超过 {limit} 个字符：'{value[:40]}…'",
                    field=col,
                    fix=f"Shorten it to at most {limit} characters (ids and units are short codes).",
                    fix_zh=f"请缩短至 {limit} 个字符以内（编号和单位应为简短代码）。",
                )


def add_artifact(factory: sessionmaker[Session], run_id: str, entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Append one manifest entry (an export written on demand into a sealed run folder) unless one of that
    name is recorded already; returns the manifest. Existing entries are never changed."""
    with factory.begin() as s:
        run = s.get(Run, run_id, with_for_update=True)
        assert run is not None
        manifest = list(run.artifacts or [])
        if all(e["name"] != entry["name"] for e in manifest):
            manifest.append(dict(entry))
            run.artifacts = manifest
        return manifest


def finish_run_failed(factory: sessionmaker[Session], run_id: str, error: Mapping[str, Any]) -> None:
    """Mark a run ``failed`` with its error; no result rows are kept."""
    with factory.begin() as s:
        s.execute(delete(ResultRow).where(ResultRow.run_id == run_id))
        run = s.get(Run, run_id)
        if run is not None:
            run.status = "failed"
            run.error = dict(error)
            run.lease_holder = run.lease_expires_at = None
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
