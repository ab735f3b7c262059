"""Response models of the API (separate from :mod:`qingshan.core.spec`, which the specs use)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field

__all__ = [
    "CategoryTotal",
    "ChildTotal",
    "ComponentOut",
    "ComponentTotal",
    "Feature",
    "FeatureCollection",
    "Health",
    "IndicatorOut",
    "IndicatorTotal",
    "ProfileOut",
    "RankingOut",
    "RankingRow",
    "RegionOut",
    "RegionProperties",
    "ResultRowOut",
    "ResultsPage",
    "RunDetailOut",
    "RunOut",
    "SummaryOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Health(_Out):
    """Liveness of the service."""

    status: Literal["ok"] = "ok"
    version: str


class ComponentOut(_Out):
    """One component of an indicator (e.g. soil retention → reduced sedimentation)."""

    id: str
    name_zh: str
    name_en: str
    unit: str


class IndicatorOut(_Out):
    """An indicator of the catalogue, in brief (the full spec is GET /api/indicators/{id})."""

    id: str
    name_zh: str
    name_en: str
    category: str
    category_zh: str
    components: list[ComponentOut]


class ProfileOut(_Out):
    """A built-in method profile: which indicators are accounted, by which method."""

    id: str
    name_zh: str
    name_en: str
    status: str
    description: str
    indicators: list[str]


class RunOut(_Out):
    """One accounting run."""

    id: str
    name: str
    status: str
    profile: str
    years: list[int]
    base_year: int | None
    code_version: str
    content_hash: str | None
    created_at: datetime
    finished_at: datetime | None
    example: bool = Field(False, validation_alias=AliasChoices("example", AliasPath("provenance", "example")),
                          description="based on the embedded example's approximate data, not official 基于内置示例数据")
    parent_run_id: str | None = Field(None, description="the run this one revalues (qingshan revalue) 重新计价所依据的核算")


class ArtifactOut(_Out):
    """One file of a run's immutable artifacts (download: GET /api/runs/{run_id}/artifacts/{name})."""

    name: str = Field(description="path inside the run's artifact folder, e.g. rasters/x.y.2019.tif")
    size: int = Field(description="bytes")
    sha256: str = Field(description="SHA-256 of the file, hex")


class RunDetailOut(RunOut):
    """One run with its configuration, provenance, artifacts and (if it failed) its bilingual error.

    For the public, file paths in the configuration and provenance are reduced to file names."""

    config: dict[str, Any]
    provenance: dict[str, Any]
    error: dict[str, Any] | None
    artifacts: list[ArtifactOut] = Field(default_factory=list)


class RegionOut(_Out):
    """An administrative region of a run."""

    code: str
    name: str
    level: str
    parent: str | None
    area_km2: float | None


class CategoryTotal(_Out):
    """GEP of one class of ecosystem products (物质产品, 调节服务, 文化服务)."""

    category: str
    name_zh: str
    name_en: str
    value: float | None = Field(description="CNY")
    share: float | None = Field(description="fraction of the total")


class ComponentTotal(_Out):
    """Physical quantity and value of one component, summed over ecosystems."""

    component: str
    unit: str
    quantity: float | None
    value: float | None = Field(description="CNY")


class IndicatorTotal(_Out):
    """Value of one indicator with its components."""

    indicator: str
    name_zh: str
    name_en: str
    category: str
    value: float | None = Field(description="CNY")
    share: float | None
    components: list[ComponentTotal]


class ChildTotal(_Out):
    """GEP of a sub-region, for drill-down."""

    code: str
    name: str
    level: str
    value: float | None = Field(description="CNY")


class SummaryOut(_Out):
    """GEP of one region and year: total, by class and by indicator."""

    run_id: str
    year: int
    measure: Literal["value", "comparable"]
    currency: str = "CNY"
    region: RegionOut
    total: float | None = Field(description="GEP, CNY")
    total_yi: float | None = Field(description="GEP, 亿元 (1e8 CNY)")
    by_category: list[CategoryTotal]
    by_indicator: list[IndicatorTotal]
    children: list[ChildTotal]


class ResultRowOut(_Out):
    """One cell of the result cube: region × year × indicator × component × ecosystem."""

    region_code: str
    year: int
    indicator: str
    category: str
    component: str
    ecosystem: str
    quantity: float | None
    unit: str
    price: float | None
    price_unit: str | None
    value: float | None
    value_comparable: float | None


class ResultsPage(_Out):
    """A page of result rows."""

    run_id: str
    total: int
    offset: int
    limit: int
    rows: list[ResultRowOut]


class RankingRow(_Out):
    """One region in a ranking."""

    rank: int
    code: str
    name: str
    level: str
    parent: str | None
    area_km2: float | None
    value: float | None
    unit: str
    per_km2: float | None = Field(description="value divided by area (unit per km²)")


class RankingOut(_Out):
    """Regions of one level ranked by GEP or by an indicator."""

    run_id: str
    year: int
    level: str
    indicator: str | None
    measure: str
    unit: str
    rows: list[RankingRow]


class RegionProperties(_Out):
    """Properties of one region feature on the map."""

    code: str
    name: str
    level: str
    parent: str | None
    area_km2: float | None
    gep: float | None = Field(description="GEP at current prices, CNY")
    gep_yi: float | None = Field(description="GEP at current prices, 亿元")
    metric: float | None = Field(description="the number requested by indicator/measure (for colouring)")
    metric_unit: str
    values: dict[str, float | None] = Field(description="value of each indicator, CNY")


class Feature(_Out):
    """A GeoJSON feature (EPSG:4326)."""

    type: Literal["Feature"] = "Feature"
    id: str
    geometry: dict[str, Any] | None
    properties: RegionProperties


class FeatureCollection(_Out):
    """A GeoJSON FeatureCollection of regions with their results."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    year: int
    indicator: str | None
    measure: str
    metric_unit: str
    features: list[Feature]
