"""A parcel of a stored run: valued from the run's own artifacts, and its report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session, sessionmaker

from qingshan.use.runs import load_run

__all__ = ["parcel_report", "value_run_parcel"]


def value_run_parcel(factory: sessionmaker[Session], run_id: str, parcel: BaseGeometry, *, data_dir: Path | None,
                     year: int | None = None, max_area_km2: float | None = None) -> tuple[Any, Any, Any]:
    """``(valuation, run, regions)`` of ``parcel`` for ``year`` (default: the run's last), read from the
    run's own sealed artifacts in ``data_dir`` (:func:`qingshan.store.artifacts.artifact_dir`)."""
    from qingshan.engine.parcel import DEFAULT_MAX_AREA_KM2, value_parcel
    from qingshan.store.artifacts import artifact_dir, check_year_files

    run, cube, regions = load_run(factory, run_id)
    y = year if year is not None else max(run.years)
    prov = dict(run.provenance or {})
    folder = artifact_dir(run, data_dir)
    check_year_files(run, folder, y)  # never a value from edited rasters
    valuation = value_parcel(parcel, output_dir=folder, config=run.config or {},
                             methods=dict(prov.get("methods") or {}), regions=regions,
                             results=cube[cube["year"] == y], year=y,
                             max_area_km2=max_area_km2 or DEFAULT_MAX_AREA_KM2,
                             caps=list(prov.get("emission_caps") or []))
    return valuation, run, regions


def parcel_report(factory: sessionmaker[Session], run_id: str, parcel: BaseGeometry, output: Path, *,
                  data_dir: Path | None, year: int | None = None, lang: str = "zh",
                  command: str = "") -> tuple[Path, Any]:
    """Value ``parcel`` and write its PDF report; returns the path and the valuation."""
    from qingshan.use.report.document import to_pdf
    from qingshan.use.report.parcel_report import build_parcel_report

    valuation, run, regions = value_run_parcel(factory, run_id, parcel, data_dir=data_dir, year=year)
    doc = build_parcel_report(valuation, parcel, run=run, regions=regions, lang=lang,
                              resolution_m=_resolution_m(run), command=command)
    return to_pdf(doc, output), valuation


def _resolution_m(run: Any) -> float | None:
    """Cell size [m] of the run's accounting grid, from provenance when recorded."""
    grid = dict(run.provenance or {}).get("grid") or {}
    value = grid.get("resolution_m") if isinstance(grid, dict) else None
    return float(value) if value else None
