"""Result rows of a run and rankings of regions (JSON, CSV or XLSX download)."""

from __future__ import annotations

import io
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response

from qingshan.api.deps import Level, Measure, RunDep, RunView, plain
from qingshan.api.schemas import RankingOut, RankingRow, ResultRowOut, ResultsPage

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["results"])

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
RANKING_COLUMNS = ["rank", "code", "name", "level", "parent", "area_km2", "value", "unit", "per_km2"]


@router.get("/{run_id}/results", summary="Result rows · 核算结果明细")
def run_results(
    view: RunDep,
    region: Annotated[str | None, Query(description="Region code 区划代码")] = None,
    year: Annotated[int | None, Query(description="Year 年份")] = None,
    indicator: Annotated[str | None, Query(description="Indicator id 指标")] = None,
    offset: Annotated[int, Query(ge=0, description="Rows to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000, description="Rows to return")] = 1000,
) -> ResultsPage:
    """Rows of the result cube: region × year × indicator × component × ecosystem (结果立方体明细)."""
    if year is not None:
        view.year(year)
    if region is not None:
        view.region(region)
    if indicator is not None:
        indicator = view.registry.get(indicator).id
    df = view.results(region_code=region, year=year, indicator=indicator)
    df = df.sort_values(["region_code", "year", "indicator", "component", "ecosystem"], kind="stable")
    page = df.iloc[offset:offset + limit]
    rows = [ResultRowOut.model_validate({k: plain(v) for k, v in rec.items()}) for rec in page.to_dict("records")]
    return ResultsPage(run_id=view.run.id, total=len(df), offset=offset, limit=limit, rows=rows)


@router.get(
    "/{run_id}/ranking",
    summary="Ranking of regions · 区域排名（可下载 CSV/XLSX）",
    response_model=RankingOut,
    responses={200: {"content": {"text/csv": {}, XLSX: {}}, "description": "JSON, CSV or XLSX"}},
)
def run_ranking(
    view: RunDep,
    level: Annotated[Level, Query(description="Level ranked 层级")] = "county",
    parent: Annotated[str | None, Query(description="Only the children of this region 上级区划代码")] = None,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
    indicator: Annotated[str | None, Query(description="Indicator id (default: GEP) 指标")] = None,
    measure: Annotated[Measure, Query(description="value, comparable or quantity 价值量/可比价/实物量")] = "value",
    component: Annotated[str | None, Query(description="Component, for measure=quantity 组分")] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx 格式")] = "json",
) -> Any:
    """Regions of one level sorted by GEP (or an indicator), largest first; CSV/XLSX as a download."""
    y = view.year(year)
    table, unit = ranking_table(view, y, level=level, parent=parent, indicator=indicator, measure=measure,
                                component=component)
    stem = f"qingshan-ranking-{view.run.id[:8]}-{level}-{y}{'-' + indicator if indicator else ''}"
    if format == "csv":
        body = table.to_csv(index=False).encode("utf-8-sig")  # BOM: Excel reads the Chinese names
        return Response(body, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    if format == "xlsx":
        buf = io.BytesIO()
        table.to_excel(buf, index=False, sheet_name="ranking")
        return Response(buf.getvalue(), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{stem}.xlsx"'})
    rows = [RankingRow.model_validate({k: plain(v) for k, v in rec.items()}) for rec in table.to_dict("records")]
    return RankingOut(run_id=view.run.id, year=y, level=level, indicator=indicator, measure=measure, unit=unit,
                      rows=rows)


def ranking_table(view: RunView, year: int, *, level: str, parent: str | None, indicator: str | None,
                  measure: str, component: str | None) -> tuple[pd.DataFrame, str]:
    """Regions of ``level`` (under ``parent``) with their number, sorted descending, ranked from 1."""
    if parent is not None:
        view.region(parent)
    metric, unit = view.metric_by_region(year, indicator=indicator, measure=measure, component=component)
    regions = view.regions()
    regions = regions[regions["level"] == level]
    if parent is not None:
        regions = regions[regions["parent"] == parent]
    df = regions.assign(value=regions["code"].map(metric).astype(float), unit=unit)
    df["per_km2"] = df["value"] / df["area_km2"].astype(float)
    df = df.sort_values(["value", "code"], ascending=[False, True], na_position="last").reset_index(drop=True)
    df.insert(0, "rank", range(1, len(df) + 1))
    return df[RANKING_COLUMNS], unit
