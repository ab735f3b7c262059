"""The reporting forms (统计报表制度): data groups and their XLSX templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from fastapi.responses import Response

from qingshan.api.deps import SettingsDep, known_regions, require_role
from qingshan.api.platform_schemas import FormGroupOut, FormItemOut
from qingshan.platform.accounts import Principal, in_region_scope, require_form
from qingshan.platform.forms import FormGroup, build_template, form_groups, get_group

__all__ = ["router"]

router = APIRouter(prefix="/api/forms", tags=["forms"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ANY_USER = ("admin", "accountant", "submitter", "reviewer", "viewer")


def _out(g: FormGroup) -> FormGroupOut:
    return FormGroupOut(id=g.id, name_zh=g.name_zh, name_en=g.name_en, description_zh=g.description_zh,
                        description_en=g.description_en, variables=list(g.variables), with_prices=g.with_prices,
                        items=[FormItemOut(item=i.item, name_zh=i.name_zh, name_en=i.name_en, unit=i.unit,
                                           indicator=i.indicator, component=i.component) for i in g.items])


@router.get("", summary="Data groups · 报表组")
def list_groups(_user: Annotated[Principal, require_role(*ANY_USER)]) -> list[FormGroupOut]:
    """The six data groups with their items (from the catalogue) or raster variables."""
    return [_out(g) for g in form_groups().values()]


@router.get(
    "/{group}/template",
    summary="XLSX form template · 下载报表模板",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The XLSX form"}},
)
def template(
    group: Annotated[str, PathParam(description="Group id, e.g. products 报表组")],
    settings: SettingsDep,
    user: Annotated[Principal, require_role("submitter", "reviewer", "accountant")],
    year: Annotated[int, Query(ge=1949, le=2100, description="Reporting year 报告年份")],
) -> Response:
    """The form of a group for a year: README, data sheet with drop-downs, lists (assigned regions only
    for a submitter)."""
    g = get_group(group)
    require_form(user, g.id)
    regions = sorted(known_regions(settings).items())
    if user.role == "submitter":
        regions = [(c, n) for c, n in regions if in_region_scope(c, user.regions)]
    body = build_template(g, year, regions)
    return Response(body, media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="qingshan-form-{g.id}-{year}.xlsx"'})
