"""Parcel valuation (地块价值评估) and the GDP of a region, for the dashboard.

``POST /api/runs/{run_id}/parcel``: the GEP of a drawn or uploaded polygon. The computation is
:func:`qingshan.engine.parcel.value_parcel`; this module reads the request (a GeoJSON body or a
multipart file upload), calls it off the event loop, and shapes the answer.
``GET /api/runs/{run_id}/gdp``: GDP of a region from the run's statistics table (item ``gdp``),
so the dashboard can show GEP/GDP.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from shapely.geometry.base import BaseGeometry
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from qingshan.api.deps import RunDep, RunView, SettingsDep
from qingshan.api.settings import Settings
from qingshan.core.errors import InputError, QingshanError, UnknownIndicatorError
from qingshan.core.limits import (
    Limits,
    check_bytes,
    check_json_depth,
    check_parcel_vertices,
    check_zip,
    clip,
    geojson_vertices,
)
from qingshan.core.params import ECOSYSTEM_ZH
from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.engine.parcel import (
    DEFAULT_MAX_AREA_KM2,
    MAX_UPLOAD_BYTES,
    METHOD_NOTE_EN,
    METHOD_NOTE_ZH,
    ParcelValuation,
    parcel_from_file,
    parcel_from_geojson,
    value_parcel,
)
from qingshan.indicators import Registry
from qingshan.store.artifacts import artifact_dir, check_year_files, find_data_dir

__all__ = ["ParcelOut", "router"]

router = APIRouter(prefix="/api/runs", tags=["parcels"])

CATEGORY_EN = {Category.PROVISIONING: "Provisioning services", Category.REGULATING: "Regulating services",
               Category.CULTURAL: "Cultural services"}
ECOSYSTEM_EN = {"forest": "Forest", "shrub": "Shrubland", "grassland": "Grassland", "wetland": "Wetland",
                "cropland": "Cropland", "urban": "Urban", "desert": "Desert", "other": "Other", "all": "All"}


class Note(BaseModel):
    """A remark on the valuation, in both languages."""

    en: str
    zh: str


class PieceOut(BaseModel):
    """The part of the parcel inside one leaf region."""

    code: str
    name: str
    area_km2: float


class GroupTotal(BaseModel):
    """Value of one class, indicator or ecosystem in the parcel [CNY]."""

    key: str = Field(description="category, indicator or ecosystem id")
    name_zh: str
    name_en: str
    value: float | None = Field(description="CNY, current prices")
    share: float | None = Field(description="Share of the parcel's GEP (0–1)")
    basis: str | None = Field(None, description="raster (exact) or apportioned (from statistics)")


class ComponentOut(BaseModel):
    """Quantity and value of one component in the parcel."""

    indicator: str
    component: str
    unit: str
    quantity: float
    value: float | None = Field(description="CNY, current prices (None: not valued)")
    basis: str


class ParcelOut(BaseModel):
    """GEP of a parcel with its breakdown (values in CNY; ``gep_yi`` in 亿元 = 1e8 CNY)."""

    run_id: str
    year: int
    area_km2: float = Field(description="Geodesic area of the parcel [km2]")
    area_outside_km2: float = Field(description="Part outside the run's regions, not valued [km2]")
    gep: float
    gep_yi: float
    gep_comparable: float | None
    exact_value: float = Field(description="Raster indicators (exact) [CNY]")
    apportioned_value: float = Field(description="Statistics-table indicators apportioned by area [CNY]")
    regions: list[PieceOut]
    by_category: list[GroupTotal]
    by_indicator: list[GroupTotal]
    by_ecosystem: list[GroupTotal]
    by_component: list[ComponentOut]
    method_note_en: str
    method_note_zh: str
    notes: list[Note]


_GEOJSON_BODY = {"type": "object", "description": "GeoJSON geometry, Feature or FeatureCollection (EPSG:4326)",
                 "properties": {"type": {"type": "string"}}, "required": ["type"]}
_OPENAPI = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _GEOJSON_BODY},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary",
                 "description": "GeoJSON, GeoPackage or zipped Shapefile (.zip) with polygons"}}}},
}}}


@router.post("/{run_id}/parcel", summary="Value a parcel · 地块价值评估", openapi_extra=_OPENAPI,
             responses={422: {"description": "Bad parcel or run without rasters (message_en / message_zh)"}})
async def parcel_value(
    view: RunDep,
    settings: SettingsDep,
    request: Request,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
) -> ParcelOut:
    """GEP of a polygon: a GeoJSON body (geometry/Feature/FeatureCollection, lon/lat) or an uploaded
    GeoJSON, GeoPackage or zipped Shapefile (multipart field `file`). Raster indicators are exact;
    statistics indicators are apportioned by area (see `method_note_en`).
    上传或绘制多边形，返回其 GEP 及按类别、指标、组分、生态系统的构成。"""
    y = view.year(year)
    parcel = await _read_parcel(request, settings.limits)
    max_km2 = float(getattr(settings, "parcel_max_km2", DEFAULT_MAX_AREA_KM2))
    # Reading the run's regions and results and valuing the parcel are heavy: off the event loop.
    return await run_in_threadpool(_value, view, parcel, y, max_km2, settings)


def _value(view: RunView, parcel: BaseGeometry, y: int, max_km2: float, settings: Settings) -> ParcelOut:
    _check_area(parcel, max_km2)  # the request's own limit first, before the run's files are looked up
    run = view.run
    regions = view.regions(with_geometry=True)
    results = view.results(year=y)
    methods = dict((run.provenance or {}).get("methods") or {})
    folder = artifact_dir(run, find_data_dir(settings.store_url))  # the run's own files, never its output folder
    check_year_files(run, folder, y)  # as sealed, or a bilingual 409: never a value from edited rasters
    valuation = value_parcel(
        parcel, output_dir=folder, config=run.config or {}, methods=methods,
        regions=regions, results=results, year=y, max_area_km2=max_km2,
        caps=list((run.provenance or {}).get("emission_caps") or []))
    return _shape(run.id, valuation, view.registry)


def _check_area(parcel: BaseGeometry, max_km2: float) -> None:
    """The area limit of :func:`qingshan.engine.parcel.value_parcel`, checked before anything is read."""
    from qingshan.engine.parcel import geodesic_km2

    area = geodesic_km2(parcel)
    if area > max_km2:
        raise InputError(
            f"The parcel is {area:,.0f} km2, larger than the {max_km2:,.0f} km2 allowed",
            f"地块面积 {area:,.0f} km²，超过允许的 {max_km2:,.0f} km²", field="parcel",
            fix="Value a smaller parcel, or read the results of whole regions on the map (setting "
                "QINGSHAN_PARCEL_MAX_KM2).",
            fix_zh="请评估较小的地块，或在地图上查看整个行政区的核算结果（设置项 QINGSHAN_PARCEL_MAX_KM2）。")


async def _read_parcel(request: Request, limits: Limits | None = None) -> BaseGeometry:
    """The parcel from a multipart upload, a JSON body, or a raw file body (parsed off the event loop;
    ``limits`` default: the app's settings)."""
    if limits is None:
        limits = request.app.state.settings.limits
        assert isinstance(limits, Limits)
    ctype = request.headers.get("content-type", "").lower()
    if ctype.startswith("multipart/form-data"):
        try:
            form = await request.form(max_part_size=MAX_UPLOAD_BYTES)
        except HTTPException:
            raise  # a body over the size limit (413)
        except Exception as exc:  # malformed multipart bodies raise several starlette errors
            raise _no_parcel(f"Malformed multipart upload: {exc}", "上传的表单格式错误") from exc
        item = form.get("file")
        if not isinstance(item, UploadFile):
            raise _no_parcel("The upload has no file field 'file'", "上传内容中没有文件字段 'file'")
        if item.size is not None:
            check_bytes(item.size, limits.parcel_bytes, name="parcel_bytes", file=item.filename,
                        what="The uploaded parcel file", what_zh="上传的地块文件", fix=_SIMPLIFY[0], fix_zh=_SIMPLIFY[1])
        data = await item.read()
        return await run_in_threadpool(_parcel_from_upload, data, item.filename or "", limits)
    body = await request.body()
    if not body:
        raise _no_parcel("The request has no parcel", "请求中没有地块")
    if ctype.startswith("application/json") or body.lstrip()[:1] in (b"{", b"["):
        return await run_in_threadpool(_parcel_from_json, body, limits)
    return await run_in_threadpool(_parcel_from_upload, body, "", limits)


_SIMPLIFY = ("Simplify the polygon or upload only the parcel's layer.", "请简化多边形，或只上传地块图层。")


def _parcel_from_json(body: bytes, limits: Limits) -> BaseGeometry:
    """A GeoJSON body → parcel; nesting and vertices are bounded before shapely sees it."""
    check_json_depth(body, limits)
    try:
        obj: Any = json.loads(body)
    except RecursionError as exc:
        raise _no_parcel("The JSON body nests too deeply", "JSON 请求体嵌套过深") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise _no_parcel(f"The body is not valid JSON: {clip(exc, 200)}", "请求体不是有效的 JSON") from exc
    check_parcel_vertices(geojson_vertices(obj), limits)
    return parcel_from_geojson(obj)


def _parcel_from_upload(data: bytes, filename: str, limits: Limits) -> BaseGeometry:
    """An uploaded file → parcel: size and zip directory checked before GDAL reads it, vertices after."""
    import shapely

    check_bytes(len(data), limits.parcel_bytes, name="parcel_bytes", file=filename or None,
                what="The uploaded parcel file", what_zh="上传的地块文件", fix=_SIMPLIFY[0], fix_zh=_SIMPLIFY[1])
    if data[:4] == b"PK\x03\x04":
        check_zip(data, limits, filename=filename or None, kind="zip")
    parcel = parcel_from_file(data, filename)
    check_parcel_vertices(int(shapely.get_num_coordinates(parcel)), limits, file=filename or None)
    return parcel


GDP_ITEMS = ("gdp", "GDP", "地区生产总值")


class GdpOut(BaseModel):
    """GDP of a region from the run's statistics table, and GEP/GDP (``None`` when GDP is not reported)."""

    region: str
    year: int
    gdp: float | None = Field(description="CNY (None: not in the statistics table)")
    gep: float | None = Field(description="CNY, current prices")
    gep_gdp_ratio: float | None
    source: str | None


@router.get("/{run_id}/gdp", summary="GDP and GEP/GDP of a region · 地区生产总值与 GEP/GDP")
def region_gdp(
    view: RunDep,
    settings: SettingsDep,
    region: Annotated[str | None, Query(description="Region code (default: the top region) 区划代码")] = None,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
) -> GdpOut:
    """GDP from the statistics rows with item `gdp` (any currency unit, e.g. 亿元); a region without
    its own row gets the sum of its leaf regions when every one of them reports it.
    统计表中 item 为 gdp 的地区生产总值；无本级数据时为全部下级之和。"""
    y = view.year(year)
    reg = view.region(region)
    code = str(reg["code"])
    rows = view.results(region_code=code, year=y)
    gep = float(rows["value"].sum(min_count=1)) if len(rows) else None
    stats = _gdp_rows(_statistics_of(view, settings), y)
    leaves = _leaf_descendants(view.regions(), code)
    gdp, source = None, None
    if code in stats:
        gdp, source = stats[code]
    elif leaves and all(c in stats for c in leaves):
        gdp, source = sum(stats[c][0] for c in leaves), "sum of leaf regions 下级合计"
    ratio = gep / gdp if gep is not None and gdp else None
    return GdpOut(region=code, year=y, gdp=gdp, gep=None if gep != gep else gep, gep_gdp_ratio=ratio, source=source)


def _statistics_of(view: RunView, settings: Settings) -> object:
    """The run's own copy of its statistics table (older runs: the path in their config)."""
    try:
        kept = artifact_dir(view.run, find_data_dir(settings.store_url)) / "inputs" / "statistics.csv"
    except QingshanError:
        kept = None
    return kept if kept is not None and kept.is_file() else (view.run.config or {}).get("tables", {}).get("statistics")


def _gdp_rows(path: object, year: int) -> dict[str, tuple[float, str]]:
    """Region code → (GDP [CNY], source) from a statistics CSV; empty when unreadable or absent."""
    from qingshan.core.tables import read_csv_table
    from qingshan.core.units import conversion_factor, is_currency

    if not path:
        return {}
    try:
        df = read_csv_table(str(path), ["region_code", "year", "item", "value", "unit"], what="statistics table",
                            what_zh="统计数据表")
    except QingshanError:
        return {}
    df = df[df["item"].astype(str).isin(GDP_ITEMS) & (pd.to_numeric(df["year"], errors="coerce") == year)]
    out = {}
    for r in df.itertuples():
        unit = str(r.unit)
        value = pd.to_numeric(r.value, errors="coerce")
        if is_currency(unit) and pd.notna(value):
            out[str(r.region_code)] = (float(value) * conversion_factor(unit, "CNY"), str(getattr(r, "source", "")))
    return out


def _leaf_descendants(regions: pd.DataFrame, code: str) -> list[str]:
    kids = regions.groupby("parent")["code"].apply(list).to_dict()
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        children = kids.get(c, [])
        if not children and c != code:
            out.append(c)
        stack.extend(children)
    return out


def _no_parcel(en: str, zh: str) -> InputError:
    return InputError(en, zh, field="body",
                      fix="POST GeoJSON (Content-Type: application/json) or a multipart form with a field 'file'.",
                      fix_zh="请以 JSON 提交 GeoJSON，或以 multipart 表单上传字段名为 'file' 的文件。")


def _shape(run_id: str, v: ParcelValuation, reg: Registry) -> ParcelOut:
    rows = v.rows
    gep = v.total("value")
    cmp_ = float(rows["value_comparable"].sum(min_count=1)) if len(rows) else None
    by_cat = [_group(c.value, CATEGORY_ZH[c], CATEGORY_EN[c], rows[rows["category"] == c.value], gep)
              for c in Category]
    by_ind = []
    for ind, grp in rows.groupby("indicator", sort=False):
        zh, en = _indicator_names(reg, str(ind))
        by_ind.append(_group(str(ind), zh, en, grp, gep, basis=str(grp["basis"].iloc[0])))
    order = {s.id: i for i, s in enumerate(reg)}
    by_ind.sort(key=lambda g: order.get(g.key, len(order)))
    by_eco = [_group(str(e), ECOSYSTEM_ZH.get(str(e), str(e)), ECOSYSTEM_EN.get(str(e), str(e)), grp, gep)
              for e, grp in rows.groupby("ecosystem", sort=True)]
    comps = rows.groupby(["indicator", "component", "unit", "basis"], sort=False)[["quantity", "value"]] \
        .sum(min_count=1).reset_index() if len(rows) else pd.DataFrame()
    return ParcelOut(
        run_id=run_id, year=v.year, area_km2=v.area_km2, area_outside_km2=v.area_outside_km2,
        gep=gep, gep_yi=gep / 1e8, gep_comparable=None if cmp_ is None or cmp_ != cmp_ else cmp_,
        exact_value=v.total("value", "raster"), apportioned_value=v.total("value", "apportioned"),
        regions=[PieceOut(code=str(p.code), name=str(p.name), area_km2=float(p.area_km2))
                 for p in v.pieces.itertuples()],
        by_category=by_cat, by_indicator=by_ind, by_ecosystem=by_eco,
        by_component=[ComponentOut(indicator=r.indicator, component=r.component, unit=r.unit,
                                   quantity=float(r.quantity), value=_num(r.value), basis=r.basis)
                      for r in comps.itertuples()],
        method_note_en=METHOD_NOTE_EN, method_note_zh=METHOD_NOTE_ZH,
        notes=[Note(en=en, zh=zh) for en, zh in v.notes],
    )


def _group(key: str, zh: str, en: str, grp: pd.DataFrame, gep: float, basis: str | None = None) -> GroupTotal:
    value = _num(grp["value"].sum(min_count=1)) if len(grp) else None
    share = value / gep if value is not None and gep else None
    return GroupTotal(key=key, name_zh=zh, name_en=en, value=value, share=share, basis=basis)


def _indicator_names(reg: Registry, indicator: str) -> tuple[str, str]:
    try:
        spec = reg.get(indicator)
    except UnknownIndicatorError:
        return indicator, indicator
    return spec.name_zh, spec.name_en


def _num(x: object) -> float | None:
    f = float(x)  # type: ignore[arg-type]
    return None if f != f else f
