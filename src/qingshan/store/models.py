"""ORM models of the results store, mapped onto the Core tables of :mod:`qingshan.store.tables` (the one
definition of their columns). Schema changes go through Alembic migrations only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import DeclarativeBase, Mapped

from qingshan.store import tables
from qingshan.store.tables import UTCDateTime

__all__ = ["Base", "ResultRow", "Run", "RunRegion", "UTCDateTime"]


class Base(DeclarativeBase):
    """Declarative base of every Qingshan table."""

    metadata = tables.metadata


class Run(Base):
    """One accounting run: its request, status, provenance and where its exports are."""

    __table__ = tables.runs

    id: Mapped[str]
    name: Mapped[str]
    status: Mapped[str]  # running | succeeded | failed
    profile: Mapped[str]
    years: Mapped[list[int]]
    base_year: Mapped[int | None]
    config: Mapped[dict]
    provenance: Mapped[dict]
    error: Mapped[dict | None]
    output_dir: Mapped[str | None]
    content_hash: Mapped[str | None]
    artifacts_dir: Mapped[str | None]  # relative to the data dir
    artifacts: Mapped[list | None]  # [{name, size, sha256}]
    lease_holder: Mapped[str | None]  # host:pid
    lease_expires_at: Mapped[datetime | None]
    code_version: Mapped[str]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    parent_run_id: Mapped[str | None]  # revalued from (0005)


class ResultRow(Base):
    """One cell of the result cube: indicator × component × ecosystem × region × year."""

    __table__ = tables.results

    id: Mapped[int]
    run_id: Mapped[str]
    region_code: Mapped[str]
    year: Mapped[int]
    indicator: Mapped[str]
    category: Mapped[str]
    component: Mapped[str]
    ecosystem: Mapped[str]
    quantity: Mapped[float]
    unit: Mapped[str]
    price: Mapped[float | None]
    price_unit: Mapped[str | None]
    value: Mapped[float | None]  # CNY, current prices
    value_comparable: Mapped[float | None]  # CNY, base-year prices


class RunRegion(Base):
    """Regions of a run (with geometry as GeoJSON, simplified) for maps and drill-down."""

    __table__ = tables.run_regions

    run_id: Mapped[str]
    code: Mapped[str]
    name: Mapped[str]
    level: Mapped[str]
    parent: Mapped[str | None]
    area_km2: Mapped[float | None]
    geometry: Mapped[str | None]
