"""The run tables of the results store as SQLAlchemy Core tables (``runs``, ``results``, ``run_regions``).

One definition of the schema: the ORM classes of :mod:`qingshan.store.models` are mapped onto these tables
(``__table__``), and Alembic compares the migrations with the same :data:`metadata`. Code that only records
and reads runs — :mod:`qingshan.store.repo`'s writers, the lease keeper, ``qingshan revalue`` — uses these
tables through SQLAlchemy Core and so never imports the ORM (its import and mapper set-up are a tenth of a
revaluation's start-up). Schema changes go through Alembic migrations only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

__all__ = ["UTCDateTime", "metadata", "results", "run_regions", "runs"]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: give a timezone-aware UTC datetime")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()
"""The metadata of every Qingshan table (the ORM's ``Base.metadata``; platform tables are added by
:mod:`qingshan.store.platform_models`)."""

runs = Table(
    "runs", metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("status", String(20), nullable=False, index=True),  # running | succeeded | failed
    Column("profile", String(100), nullable=False),
    Column("years", JSON, nullable=False),
    Column("base_year", Integer, nullable=True),
    Column("config", JSON, nullable=False),
    Column("provenance", JSON, nullable=False, default=dict),
    Column("error", JSON, nullable=True),
    Column("output_dir", Text, nullable=True),
    Column("content_hash", String(64), nullable=True),
    Column("artifacts_dir", Text, nullable=True),  # relative to the data dir
    Column("artifacts", JSON, nullable=True),  # [{name, size, sha256}]
    Column("lease_holder", String(120), nullable=True),  # host:pid
    Column("lease_expires_at", UTCDateTime(), nullable=True),
    Column("code_version", String(40), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("parent_run_id", String(36), nullable=True, index=True),  # revalued from (0005)
)
"""One accounting run: its request, status, provenance and where its exports are."""

results = Table(
    "results", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # indexed by ix_results_run_region_year's leading column (a run_id index of its own was dropped, 0008)
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("year", Integer, nullable=False),
    Column("indicator", String(60), nullable=False),
    Column("category", String(20), nullable=False),
    Column("component", String(80), nullable=False),
    Column("ecosystem", String(20), nullable=False),
    Column("quantity", Float, nullable=False),
    Column("unit", String(40), nullable=False),
    Column("price", Float, nullable=True),
    Column("price_unit", String(40), nullable=True),
    Column("value", Float, nullable=True),  # CNY, current prices
    Column("value_comparable", Float, nullable=True),  # CNY, base-year prices
    Index("ix_results_run_region_year", "run_id", "region_code", "year"),
)
"""One cell of the result cube: indicator × component × ecosystem × region × year."""

run_regions = Table(
    "run_regions", metadata,
    Column("run_id", ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", String(20), nullable=False),
    Column("parent", String(12), nullable=True),
    Column("area_km2", Float, nullable=True),
    Column("geometry", Text, nullable=True),
)
"""Regions of a run (with geometry as GeoJSON, simplified) for maps and drill-down."""
