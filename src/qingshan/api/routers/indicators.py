"""The indicator catalogue and method profiles, from the registry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam

from qingshan.api.deps import RegistryDep
from qingshan.api.schemas import ComponentOut, IndicatorOut, ProfileOut
from qingshan.core.spec import CATEGORY_ZH

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["indicators"])


@router.get("/indicators", summary="List indicators · 指标目录")
def list_indicators(reg: RegistryDep) -> list[IndicatorOut]:
    """Every indicator of the catalogue with its class and components (所有指标及其类别和组分)."""
    return [
        IndicatorOut(id=s.id, name_zh=s.name_zh, name_en=s.name_en, category=s.category.value,
                     category_zh=CATEGORY_ZH[s.category],
                     components=[ComponentOut(id=c.id, name_zh=c.name_zh, name_en=c.name_en, unit=c.unit)
                                 for c in s.components])
        for s in reg
    ]


@router.get("/indicators/{indicator_id}", summary="One indicator's full spec · 指标详情")
def get_indicator(
    indicator_id: Annotated[str, PathParam(description="Indicator id or Chinese name 指标编号或中文名")],
    reg: RegistryDep,
) -> dict[str, Any]:
    """The full specification: components, methods, valuation, sources (完整指标说明)."""
    return reg.get(indicator_id).model_dump(mode="json")


@router.get("/profiles", summary="List method profiles · 方法配置")
def list_profiles(reg: RegistryDep) -> list[ProfileOut]:
    """The built-in method profiles and their indicators (内置方法配置及其指标)."""
    out = []
    for pid in reg.profile_ids():
        p = reg.profile(pid)
        out.append(ProfileOut(id=p.id, name_zh=p.name_zh, name_en=p.name_en, status=p.status,
                              description=p.description, indicators=p.indicator_ids))
    return out
