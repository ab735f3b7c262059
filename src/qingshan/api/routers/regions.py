"""Regions of a run as GeoJSON, with GEP and the requested indicator per region (for the map)."""

from __future__ import annotations

import json
from typing import Annotated, cast

from fastapi import APIRouter, Query

from qingshan.api.deps import LEVELS, Level, Measure, RunDep, plain
from qingshan.api.schemas import Feature, FeatureCollection, RegionProperties

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["regions"])


@router.get("/{run_id}/regions", summary="Regions as GeoJSON with results · 行政区 GeoJSON 与结果")
def run_regions(
    view: RunDep,
    level: Annotated[Level | None, Query(description="province/city/county/township (default: top level) 层级")] = None,
    parent: Annotated[str | None, Query(description="Only the children of this region 上级区划代码")] = None,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
    indicator: Annotated[str | None, Query(description="Indicator id for `metric` (default: GEP) 指标")] = None,
    measure: Annotated[Measure, Query(description="value, comparable or quantity 价值量/可比价/实物量")] = "value",
    component: Annotated[str | None, Query(description="Component, for measure=quantity 组分")] = None,
) -> FeatureCollection:
    """A FeatureCollection (EPSG:4326): code, name, level, parent, GEP (亿元), `metric` and per-indicator values."""
    y = view.year(year)
    regions = view.regions(with_geometry=True)
    if parent is not None:
        view.region(parent)
        regions = regions[regions["parent"] == parent]
    if level is None and parent is None:
        level = cast("Level | None", next((lv for lv in LEVELS if lv in set(regions["level"])), None))
    if level is not None:
        regions = regions[regions["level"] == level]
    rows = view.results(year=y)
    gep = rows.groupby("region_code")["value"].sum(min_count=1)
    per_indicator = rows.groupby(["region_code", "indicator"])["value"].sum(min_count=1)
    metric, unit = view.metric_by_region(y, indicator=indicator, measure=measure, component=component, rows=rows)
    features = []
    for r in regions.itertuples():
        g = plain(gep.get(r.code))
        values = per_indicator.loc[r.code].to_dict() if r.code in per_indicator.index.levels[0] else {}
        props = RegionProperties(
            code=r.code, name=r.name, level=r.level, parent=plain(r.parent), area_km2=plain(r.area_km2),
            gep=g, gep_yi=None if g is None else float(g) / 1e8,  # type: ignore[arg-type]
            metric=plain(metric.get(r.code)), metric_unit=unit,
            values={k: plain(v) for k, v in values.items()},
        )
        geometry = json.loads(r.geometry) if isinstance(r.geometry, str) and r.geometry else None
        features.append(Feature(id=r.code, geometry=geometry, properties=props))
    return FeatureCollection(year=y, indicator=indicator, measure=measure, metric_unit=unit, features=features)
