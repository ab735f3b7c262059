"""Indicator specifications: the catalogue is data that the registry, CLI, API and docs all read.

An :class:`IndicatorSpec` declares one GEP indicator (e.g. 水源涵养 water conservation) with its
components (e.g. soil retention → reduced sedimentation, reduced N, reduced P), the methods that
can compute its physical quantity, and how each component is valued. Specs are frozen pydantic
models: ``spec.model_dump(mode="json")`` is the JSON the API serves and the docs are built from.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CATEGORY_ZH",
    "Category",
    "Certainty",
    "ComponentSpec",
    "IndicatorSpec",
    "MethodSpec",
    "ParamRef",
]


class Category(StrEnum):
    """The three classes of ecosystem products (GB/T 46869; RCEES lineage)."""

    PROVISIONING = "provisioning"
    REGULATING = "regulating"
    CULTURAL = "cultural"


CATEGORY_ZH = {
    Category.PROVISIONING: "物质产品",
    Category.REGULATING: "调节服务",
    Category.CULTURAL: "文化服务",
}


class Certainty(StrEnum):
    """How well a formula, coefficient or price is established (tags of the methodology file).

    ``V`` read in a retrieved source; ``V-code`` seen in public code; ``D`` derived arithmetic;
    ``R`` recalled, unverified (must stay an editable parameter); ``practice`` common practice
    confirmed in papers or code but not in a standard's text.
    """

    VERIFIED = "V"
    CODE = "V-code"
    DERIVED = "D"
    RECALLED = "R"
    PRACTICE = "practice"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ParamRef(_Frozen):
    """A parameter a method reads: a scalar key of the parameter table, or a land-cover column."""

    key: str
    unit: str = Field(description="unit the method expects the value in (converted on read)")
    per_class: bool = Field(False, description="True: a column of the land-cover table")
    description: str = ""


class MethodSpec(_Frozen):
    """One way of computing an indicator's physical quantity.

    ``function`` is a dotted path ``module:name`` to a quantity function. Raster methods are
    called as ``fn(inputs=..., params=..., grid=...)`` and return per-cell annual quantities per
    component; table methods are called as ``fn(tables=..., params=..., regions=...)`` and return
    long rows ``region_code, component, ecosystem, quantity, unit``.
    """

    id: str
    kind: Literal["raster", "table"]
    function: str
    inputs: tuple[str, ...] = ()
    optional_inputs: tuple[str, ...] = ()
    params: tuple[ParamRef, ...] = ()
    formula: str
    source: str
    clause: str = ""
    certainty: Certainty
    notes: str = ""
    options: dict[str, str] = Field(
        default_factory=dict, description="method options (profile [options] or --option KEY=VALUE): name → meaning and default"
    )
    intermediates: tuple[str, ...] = Field((), description="extra layers `qingshan compute` writes for checking")
    statistics_items: tuple[str, ...] = Field(
        (), description="items of the statistics table (统计报表) a table method reads; `<x>` marks a family, e.g. tcm.<zone>.visits"
    )
    blockwise: bool = Field(
        False, description="the value at a cell depends only on that cell's inputs: safe to compute block by block"
    )

    def load(self) -> Callable[..., Any]:
        """Import and return the quantity function."""
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn


class ComponentSpec(_Frozen):
    """A separately quantified and priced part of an indicator (e.g. 减少泥沙淤积)."""

    id: str
    name_zh: str
    name_en: str
    unit: str = Field(description="unit of the annual physical quantity, e.g. m3, t, kWh")
    valuation: Literal[
        "shadow_project",
        "replacement_cost",
        "market_value",
        "avoided_cost",
        "travel_cost",
        "hedonic",
        "reported_value",
    ]
    price_key: str | None = Field(None, description="key in the price table; None for reported values")
    price_unit: str | None = None
    value_factors: tuple[ParamRef, ...] = Field(
        (), description="dimensionless or unit-changing factors applied between quantity and price"
    )
    valuation_formula: str = ""
    cap_item: str | None = Field(
        None, description="statistics item bounding the quantity per region: Q = min(capacity, item)"
    )


class IndicatorSpec(_Frozen):
    """One GEP indicator, declared once (units, source, clause, certainty)."""

    id: str
    name_zh: str
    name_en: str
    aliases_zh: tuple[str, ...] = ()
    category: Category
    description_en: str
    description_zh: str
    components: tuple[ComponentSpec, ...]
    methods: tuple[MethodSpec, ...]
    default_method: str
    source: str
    clause: str = ""
    certainty: Certainty
    notes: str = ""

    def method(self, method_id: str | None = None) -> MethodSpec:
        """The method called ``method_id`` (default method when None)."""
        from qingshan.core.errors import UnknownIndicatorError

        wanted = method_id or self.default_method
        for m in self.methods:
            if m.id == wanted:
                return m
        raise UnknownIndicatorError(
            f"Indicator '{self.id}' has no method '{wanted}'",
            f"指标 '{self.id}'（{self.name_zh}）没有方法 '{wanted}'",
            field="method",
            fix=f"Choose one of: {', '.join(m.id for m in self.methods)}.",
            fix_zh=f"可选方法：{', '.join(m.id for m in self.methods)}。",
        )

    def component(self, component_id: str) -> ComponentSpec:
        """The component called ``component_id``."""
        from qingshan.core.errors import UnknownIndicatorError

        for c in self.components:
            if c.id == component_id:
                return c
        raise UnknownIndicatorError(
            f"Indicator '{self.id}' has no component '{component_id}'",
            f"指标 '{self.id}' 没有组分 '{component_id}'",
            field="component",
            fix=f"Known components: {', '.join(c.id for c in self.components)}.",
            fix_zh=f"已知组分：{', '.join(c.id for c in self.components)}。",
        )
