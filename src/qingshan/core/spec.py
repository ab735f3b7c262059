"""Indicator specifications: the catalogue is data that the registry, CLI, API and docs all read.

An :class:`IndicatorSpec` declares one GEP indicator (e.g. 水源涵养 water conservation) with its
components (e.g. soil retention → reduced sedimentation, reduced N, reduced P), the methods that
can compute its physical quantity, and how each component is valued. Specs are frozen dataclasses,
checked when made (field types, enum and literal values; unknown fields are an error), as the pydantic
models they were: ``spec.model_dump(mode="json")`` is the JSON the API serves and the docs are built from.
Not pydantic: importing it and building the models cost ~0.05 s of CPU, which every ``qingshan compute``
paid for a catalogue of 23 fixed declarations.
"""

from __future__ import annotations

import dataclasses
import importlib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Literal

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


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved field types of a spec class (read once per class)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _conform(cls: type, name: str, hint: Any, value: Any) -> Any:
    """``value`` as field ``name`` of type ``hint`` (a tuple from a list, an enum member from its value), or a
    TypeError/ValueError naming the field."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    where = f"{cls.__name__}.{name}"
    if hint is Any:
        return value
    if origin is Literal:
        if value not in args:
            raise ValueError(f"{where} must be one of {', '.join(map(repr, args))}, not {value!r}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _conform(cls, name, inner, value)
    if origin is tuple:
        if not isinstance(value, tuple | list):
            raise TypeError(f"{where} must be a tuple, not {type(value).__name__}")
        return tuple(_conform(cls, name, args[0], v) for v in value)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise TypeError(f"{where} must be a dict of str to str")
        return value
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)  # ValueError for an unknown value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise TypeError(f"{where} must be {hint.__name__}, not {type(value).__name__}")
    return value


def _dump(value: Any, json: bool) -> Any:
    if isinstance(value, _Frozen):
        return value.model_dump(mode="json" if json else "python")
    if isinstance(value, tuple):
        items = [_dump(v, json) for v in value]
        return items if json else tuple(items)
    if isinstance(value, dict):
        return {k: _dump(v, json) for k, v in value.items()}
    if json and isinstance(value, Enum):
        return value.value
    return value


@dataclass(frozen=True, kw_only=True)
class _Frozen:
    """Base of the specs: every field checked against its type when made (see :func:`_conform`)."""

    def __post_init__(self) -> None:
        hints = _hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            conformed = _conform(type(self), f.name, hints[f.name], value)
            if conformed is not value:
                object.__setattr__(self, f.name, conformed)

    def model_dump(self, mode: Literal["python", "json"] = "python") -> dict[str, Any]:
        """The fields as a dict, nested specs as dicts; ``mode="json"``: tuples as lists, enums as their values."""
        return {f.name: _dump(getattr(self, f.name), mode == "json") for f in dataclasses.fields(self)}


@dataclass(frozen=True, kw_only=True)
class ParamRef(_Frozen):
    """A parameter a method reads: a scalar key of the parameter table, or a land-cover column."""

    key: str
    unit: str = field(metadata={"description": "unit the method expects the value in (converted on read)"})
    per_class: bool = field(default=False, metadata={"description": "True: a column of the land-cover table"})
    description: str = ""


@dataclass(frozen=True, kw_only=True)
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
    options: dict[str, str] = field(default_factory=dict, metadata={"description": "method options (profile [options] or --option KEY=VALUE): name → meaning and default"})
    intermediates: tuple[str, ...] = field(default=(), metadata={"description": "extra layers `qingshan compute` writes for checking"})
    statistics_items: tuple[str, ...] = field(default=(), metadata={"description": "items of the statistics table (统计报表) a table method reads; `<x>` marks a family, e.g. tcm.<zone>.visits"})
    blockwise: bool = field(default=False, metadata={"description": "the value at a cell depends only on that cell's inputs: safe to compute block by block"})

    def load(self) -> Callable[..., Any]:
        """Import and return the quantity function."""
        module, _, name = self.function.partition(":")
        fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
        return fn


@dataclass(frozen=True, kw_only=True)
class ComponentSpec(_Frozen):
    """A separately quantified and priced part of an indicator (e.g. 减少泥沙淤积)."""

    id: str
    name_zh: str
    name_en: str
    unit: str = field(metadata={"description": "unit of the annual physical quantity, e.g. m3, t, kWh"})
    valuation: Literal[
        "shadow_project",
        "replacement_cost",
        "market_value",
        "avoided_cost",
        "travel_cost",
        "hedonic",
        "reported_value",
    ]
    price_key: str | None = field(default=None, metadata={"description": "key in the price table; None for reported values"})
    price_unit: str | None = None
    value_factors: tuple[ParamRef, ...] = field(default=(), metadata={"description": "dimensionless or unit-changing factors applied between quantity and price"})
    valuation_formula: str = ""
    cap_item: str | None = field(default=None, metadata={"description": "statistics item bounding the quantity per region: Q = min(capacity, item)"})


@dataclass(frozen=True, kw_only=True)
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
