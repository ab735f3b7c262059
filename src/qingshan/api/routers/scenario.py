"""Scenarios 情景分析: request one (queued, run by `qingshan worker`) and read its difference from its base run.

Thin over :mod:`qingshan.platform.scenarios` and :mod:`qingshan.use.scenario`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import (
    PrincipalDep,
    RunDep,
    SettingsDep,
    StoreDep,
    get_any_run,
    plain,
    require_role,
)
from qingshan.api.platform_schemas import JobOut
from qingshan.core.errors import InputError
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(tags=["scenarios"])
Accountant = Annotated[Principal, require_role("accountant")]


class ScenarioIn(BaseModel):
    """A scenario of a stored run: what differs from it (everything else is the base run's)."""

    model_config = ConfigDict(extra="forbid")

    base_run: str = Field(min_length=1, max_length=64, description="Base run id 基准核算编号")
    name: str | None = Field(None, max_length=200, description="Name of the scenario run 情景名称")
    parameters: dict[str, float] = Field(default_factory=dict, max_length=200,
                                         description="Scalar parameters replaced: key → value 修改的参数")
    inputs: dict[str, str] = Field(default_factory=dict, max_length=20,
                                   description="Raster inputs replaced: input name → file name in <data dir>/scenario-inputs/ "
                                               "(e.g. {\"lulc\": \"plan_2030.tif\"}) 替换的栅格输入")
    recompute: list[str] = Field(default_factory=list, max_length=100,
                                 description="Indicators recomputed although unaffected ('*': all)")


@router.post("/api/scenarios", summary="Request a scenario · 发起情景分析", status_code=202)
def request_scenario(body: ScenarioIn, store: StoreDep, settings: SettingsDep, user: Accountant) -> JobOut:
    """Queue a scenario of a run; a worker process accounts it as a new run linked to its base."""
    from qingshan.platform.scenarios import request_scenario as svc

    return JobOut.model_validate(svc(store, user, store_url=settings.store_url, base_run=body.base_run, name=body.name,
                                     parameters=body.parameters, inputs=body.inputs, recompute=body.recompute))


class DifferenceOut(BaseModel):
    """scenario − base of one table (CNY for values; the quantity's unit for components)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    base_run: str
    table: str
    recomputed: dict[str, list[str]] = Field(description="indicators recomputed, with why")
    copied_from_base: list[str]
    rows: list[dict[str, Any]] = Field(description="region_code, region_name, level, year, key columns, base, scenario, "
                                                   "difference, percent")


@router.get("/api/scenarios/{run_id}/difference", summary="Difference from the base run · 情景与基准之差")
def scenario_difference(
    view: RunDep,
    store: StoreDep,
    principal: PrincipalDep,
    table: Annotated[Literal["indicator", "ecosystem", "component"], Query(description="Table 表")] = "indicator",
    region: Annotated[str | None, Query(description="Only this region 区划代码")] = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> Any:
    """The difference of a scenario run from its base by indicator (with GEP), ecosystem type or component."""
    from qingshan.store import repo
    from qingshan.use.scenario import difference_tables

    info = (view.run.provenance or {}).get("scenario")
    if not info:
        raise InputError(f"Run '{view.run.id}' is not a scenario run", f"核算记录 '{view.run.id}' 不是情景核算",
                         field="run_id", fix="Give the id of a run made by POST /api/scenarios or `qingshan scenario`.",
                         fix_zh="请给出由 POST /api/scenarios 或 `qingshan scenario` 生成的核算编号。")
    base = get_any_run(info["base_run"], store, principal)  # the base must be visible to the caller too
    if region is not None:
        view.region(region)
    df = difference_tables(repo.read_results(store, base.id), view.results(), view.regions())[table]
    if region is not None:
        df = df[df["region_code"] == region]
    if format == "csv":
        return Response(df.to_csv(index=False), media_type="text/csv; charset=utf-8")
    return DifferenceOut(run_id=view.run.id, base_run=base.id, table=table, recomputed=info.get("recomputed", {}),
                         copied_from_base=info.get("copied_from_base", []), rows=_records(df))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in r.items()} for r in df.to_dict("records")]
