"""SEEA EA tables of a run (联合国 SEEA 生态系统核算表) — thin over qingshan.use.seea.

GET /api/runs/{run_id}/seea: JSON (every table as records) or ``format=xlsx`` (the workbook). Read
rules are those of the other result routes: the public reads published runs (the ``against`` run too).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import PrincipalDep, RunDep, SettingsDep, StoreDep, get_any_run, plain
from qingshan.api.download import attachment

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["uses"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class SeeaOut(BaseModel):
    """SEEA EA tables: long tables over every region (extent, change matrix, condition, assets) and the
    selected region's supply and use tables. Areas km²; values CNY at current prices."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    meta: dict[str, Any] = Field(description="opening and closing sides (run/year), region, discount_rate, asset_life")
    tables: dict[str, list[dict[str, Any]]] = Field(
        description="extent_account, extent_change_matrix, condition_account, asset_account, supply_physical, "
                    "use_physical, supply_monetary, use_monetary, not_included, services_map, parameters")


def _finite(v: object) -> object:
    v = plain(v)
    return None if isinstance(v, float) and not math.isfinite(v) else v  # JSON has no ±inf


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _finite(v) for k, v in r.items()} for r in df.to_dict("records")]


@router.get("/{run_id}/seea", summary="SEEA EA accounts · 联合国 SEEA 生态系统核算表", response_model=None,
            responses={200: {"content": {"application/json": {}, XLSX: {}}}})
def run_seea(
    view: RunDep,
    store: StoreDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    against: Annotated[str | None, Query(description="Opening run id 期初核算编号")] = None,
    from_year: Annotated[int | None, Query(alias="from", description="Opening year 期初年份")] = None,
    to_year: Annotated[int | None, Query(alias="to", description="Closing year 期末年份")] = None,
    region: Annotated[str | None, Query(description="Region of the supply/use and layout tables 区划代码")] = None,
    format: Annotated[Literal["json", "xlsx"], Query(description="json or xlsx")] = "json",
) -> SeeaOut | Response:
    """Extent account and change matrix, condition account, services supply and use (physical and
    monetary) and the monetary asset account, opening (first year, ``from``, or ``against``) to closing
    (last year or ``to``) 面积、状况、服务供给使用与资产账户."""
    from qingshan.store.artifacts import find_data_dir
    from qingshan.use.seea import seea_tables

    if against is not None:  # the opening run must be visible to the caller too (404 otherwise)
        get_any_run(against, store, principal)
    if region is not None:
        view.region(region)
    t = seea_tables(store, view.run.id, against=against, from_year=from_year, to_year=to_year, region=region,
                    data_dir=find_data_dir(settings.store_url))
    if format == "xlsx":
        from qingshan.use.seea.output import workbook_bytes

        name = f"qingshan-seea-{view.run.id[:8]}-{t.region}.xlsx"
        return Response(workbook_bytes(t), media_type=XLSX, headers={"Content-Disposition": attachment(name)})
    return SeeaOut(run_id=view.run.id, meta=t.meta(), tables={k: _records(v) for k, v in t.tables.items()})
