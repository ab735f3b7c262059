"""The single unit registry of Qingshan, with Chinese statistical units and currency.

Accounting quantities are *annual flows*: a quantity in ``m3`` means cubic metres in the
accounting year. A trailing ``/a``, ``/yr`` or ``/年`` on a table's unit is therefore accepted and
dropped (it restates the accounting period), and prices are per physical unit (``CNY/m3``).

Chinese statistical notation is understood: ``亿m³`` (10⁸ m³), ``万t`` (10⁴ t), ``亿kWh``,
``万元``, ``亿元``, ``hm2``/``公顷``, ``亩``, ``元/t``, ``万人次``.

>>> conversion_factor("亿m³", "m3")
100000000.0
>>> conversion_factor("元/t", "CNY/kg")
0.001

Start-up: pint's registry takes ~0.3 s to build even from its cache, more than a small run's arithmetic.
Every answer pint gives here (a conversion factor, "is this a currency", …) is therefore remembered on
disk (:class:`qingshan.core.remembered.AnswerBook`, beside pint's own cache) and looked up by its exact unit strings: a later process
gets the same number without importing pint. Only answers pint gave are stored — a unit pint rejects, or
a pair of units of different kinds, is never stored and is checked by pint (and is an error) every time.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from qingshan.core.errors import UnitsError
from qingshan.core.remembered import AnswerBook, cache_folder, fingerprint

if TYPE_CHECKING:
    import pint

__all__ = [
    "CURRENCY",
    "assert_convertible",
    "check_unit",
    "conversion_factor",
    "is_currency",
    "is_per_area",
    "is_price_unit",
    "normalise_unit",
    "parse_unit",
    "pint_answer",
    "total_from_density",
    "unit_registry",
]

_DEFINITIONS = (
    "CNY = [currency] = yuan = RMB",
    "USD = [currency_usd]",
    "visit = [visit] = person_time = trip",
    "head = [livestock_head]",
    "person = [person] = capita",  # resident population (人口), not visits (人次)
    "ion = [ion]",
    "mu = 10000 / 15 * meter ** 2",
    # Carbon bookkeeping: carbon mass and CO2 mass are different quantities of the same element, so
    # they get their own dimension; tCO2 = 12/44 tC makes the C → CO2 stoichiometry a unit conversion.
    "gC = [carbon] = g_C",
    "kgC = 1e3 * gC",
    "tC = 1e6 * gC = t_C",
    "tCO2 = 12 / 44 * tC = t_CO2",
    "kgCO2 = 1e-3 * tCO2",
    "hm2 = hectare",
)


def _cache_folder(name: str = "pint") -> Path | None:
    """A writable folder for pint's parsed-definitions cache (``$QINGSHAN_CACHE_DIR/pint`` or the
    user cache dir), or None (no cache) when none is writable. ``name``: another sub-folder."""
    return cache_folder(name)


def _import_pint() -> Any:
    """``import pint`` without its dask support when dask is not loaded yet.

    pint's ``compat`` imports ``dask.base`` whenever dask is installed (for Quantities wrapping dask
    arrays, which Qingshan never makes: it converts units by factors), and that import pulls in dask's
    config, jinja2, yaml and psutil — most of ``import pint``'s time (pint issue #2265). Hiding dask
    while pint is first imported skips it; dask itself imports normally afterwards."""
    with _REGISTRY_LOCK:  # dask is hidden from every thread meanwhile: one thread at a time
        if "pint" in sys.modules or "dask" in sys.modules or threading.active_count() > 1:
            import pint  # with other threads running (a server), dask is never hidden: they may be importing it

            return pint
        sys.modules["dask"] = None  # type: ignore[assignment]  # find_spec("dask") → None while pint loads
        try:
            import pint
        finally:
            if sys.modules.get("dask", 0) is None:
                del sys.modules["dask"]
        return pint


T = TypeVar("T")


def _fingerprint() -> str:
    """What the remembered answers depend on: this module's source (definitions, Chinese notation) and
    the installed pint (its definitions file and version), by content size and modification time."""
    return fingerprint(__file__, "pint", ("default_en.txt",))


_BOOK = AnswerBook("units", "answers", _fingerprint)


def pint_answer(kind: str, args: tuple[str, ...], ask_pint: Callable[[], T]) -> T:
    """pint's answer to ``kind(*args)``, remembered across processes; pint's errors are raised every time."""
    return _BOOK.answer(kind, args, ask_pint)


_REGISTRY_LOCK = threading.RLock()  # also taken by _import_pint, which unit_registry calls


def unit_registry() -> pint.UnitRegistry:
    """The one unit registry of this process, built on first use (not at import: parsing pint's definitions
    takes about a second; the parsed definitions are cached on disk, see :func:`_cache_folder`).

    Built once under a lock: the engine's block threads ask for it at the same moment when no answer is
    remembered yet (a fresh machine), and two registries would make quantities that cannot be compared —
    ``parse_unit`` then failed with pint's ``DimensionalityError`` in the middle of a run."""
    with _REGISTRY_LOCK:
        if _registry:
            return _registry[0]
        _registry.append(_new_registry())
        return _registry[0]


_registry: list[pint.UnitRegistry] = []


def _new_registry() -> pint.UnitRegistry:
    pint_ = _import_pint()
    try:
        reg = pint_.UnitRegistry(autoconvert_offset_to_baseunit=True, cache_folder=_cache_folder())
    except Exception:  # a cache file half-written by a concurrent process: parse afresh
        reg = pint_.UnitRegistry(autoconvert_offset_to_baseunit=True)
    for line in _DEFINITIONS:
        reg.define(line)
    return reg


def __getattr__(name: str) -> Any:
    """``ureg``, the registry, is built on first access."""
    if name == "ureg":
        return unit_registry()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


CURRENCY = "CNY"

# Chinese words and symbols → pint syntax. Order matters: longer tokens first.
_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    ("千瓦时", "kWh"),
    ("度电", "kWh"),
    ("立方米", "m3"),
    ("平方千米", "km2"),
    ("平方公里", "km2"),
    ("平方米", "m2"),
    ("公顷", "hectare"),
    ("公斤", "kg"),
    ("千克", "kg"),
    ("吨", "t"),
    ("人次", "visit"),
    ("人", "person"),
    ("元", "CNY"),
    ("亩", "mu"),
    ("头", "head"),
    ("只", "head"),
    ("个", "1"),
    ("毫米", "mm"),
    ("米", "m"),
    ("天", "day"),
    ("³", "3"),
    ("²", "2"),
    ("⁻", "-"),
    ("¹", "1"),
    ("·", "*"),
    ("×", "*"),
)
_MULTIPLIERS = {"亿": "1e8*", "千万": "1e7*", "百万": "1e6*", "万": "1e4*", "千": "1e3*"}
_ANNUAL_IN_DENOMINATOR = re.compile(r"[\s*·](?:a|yr|year|年)(?:-1)?(?=\))", re.IGNORECASE)  # kg/(hm²·a)
_ANNUAL_SUFFIX = re.compile(r"(?:/(?:a|yr|year|年)|[\s*·](?:a|yr|year)-1|\s+per\s+(?:a|yr|year))$", re.IGNORECASE)
_POWER = re.compile(r"(?<=[A-Za-z])(?<!O)(-?\d)(?![\d.])")  # not CO2, O2


def normalise_unit(text: str) -> str:
    """Rewrite a unit string from a statistical table into pint syntax.

    ``"亿m³"`` → ``"1e8*m**3"``; ``"元/t"`` → ``"CNY/t"``; ``"t hm-2"`` → ``"t*hm**-2"``.
    """
    s = text.strip()
    if not s:
        raise UnitsError(
            "Empty unit string",
            "单位为空",
            fix="Write the unit, e.g. 'm3', '万t', '亿kWh', 'CNY/t'.",
            fix_zh="请填写单位，例如 'm3'、'万t'、'亿kWh'、'元/t'。",
        )
    s = re.sub(r"^100\s*million\s*", "亿", s, flags=re.IGNORECASE)
    s = re.sub(r"^10\s*(?:k|thousand|,000)\s+", "万", s, flags=re.IGNORECASE)
    for zh, en in _REPLACEMENTS:
        s = s.replace(zh, en)
    s = _ANNUAL_IN_DENOMINATOR.sub("", s)
    s = _ANNUAL_SUFFIX.sub("", s).strip() or "1"
    s = re.sub(r"\bhm2\b", "hectare", s)
    s = _POWER.sub(r"**\1", s)
    # "t hm**-2" (space-separated product, CF style) → "t * hm**-2"
    s = re.sub(r"(?<=[\w)])\s+(?=[A-Za-z(])", "*", s)
    for zh, factor in _MULTIPLIERS.items():
        s = s.replace(zh, factor)
    return s


@lru_cache(maxsize=512)
def parse_unit(text: str) -> pint.Quantity:
    """Parse a unit string into a pint Quantity (magnitude = the unit's multiplier).

    Raises
    ------
    UnitsError
        When the string cannot be understood; the message lists accepted examples.
    """
    norm = normalise_unit(text)
    reg = unit_registry()
    try:
        q = reg.parse_expression(norm)
    except Exception as exc:
        raise UnitsError(
            f"Cannot parse unit '{text}' (read as '{norm}'): {exc}",
            f"无法识别单位 '{text}'",
            fix="Use SI or Chinese statistical units such as m3, 亿m³, t, 万t, kWh, 亿kWh, hm2, km2, CNY/t, 元/m3.",
            fix_zh="请使用标准单位，例如 m3、亿m³、t、万t、kWh、亿kWh、hm2、km2、元/t、元/m3。",
        ) from exc
    if not isinstance(q, reg.Quantity):  # a bare number such as "1"
        q = reg.Quantity(float(q), "")
    return q


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Factor ``f`` such that ``x [from_unit] == x * f [to_unit]``.

    Raises
    ------
    UnitsError
        When the dimensions differ (e.g. ``t`` to ``m3``), or a unit is not understood.
    """
    return pint_answer("factor", (from_unit, to_unit), lambda: _pint_factor(from_unit, to_unit))


def _pint_factor(from_unit: str, to_unit: str) -> float:
    pint_ = _import_pint()
    a, b = parse_unit(from_unit), parse_unit(to_unit)
    try:
        return float(a.to(b.units).magnitude / b.magnitude)
    except pint_.DimensionalityError as exc:
        raise UnitsError(
            f"Unit '{from_unit}' cannot be converted to '{to_unit}' ({a.dimensionality} vs {b.dimensionality})",
            f"单位 '{from_unit}' 无法换算为 '{to_unit}'",
            fix=f"Give the quantity in a unit of the same kind as '{to_unit}'.",
            fix_zh=f"请使用与 '{to_unit}' 同类的单位。",
        ) from exc


def check_unit(text: str) -> None:
    """Raise :class:`UnitsError` unless pint understands ``text`` (as :func:`parse_unit`; answer remembered)."""
    pint_answer("unit", (text,), lambda: _pint_check(text))


def _pint_check(text: str) -> bool:
    parse_unit(text)
    return True


def assert_convertible(from_unit: str, to_unit: str) -> None:
    """Raise :class:`UnitsError` unless ``from_unit`` converts to ``to_unit``."""
    conversion_factor(from_unit, to_unit)


def is_currency(unit: str) -> bool:
    """True when ``unit`` is an amount of Chinese yuan (元, 万元, 亿元, CNY…)."""
    return pint_answer("currency", (unit,), lambda: _pint_is_currency(unit))


def is_price_unit(unit: str) -> bool:
    """True when ``unit`` is currency or currency per something (元/t, CNY/m3, 万元); UnitsError if not understood."""
    return pint_answer("price_unit", (unit,), lambda: _pint_is_price_unit(unit))


def _pint_is_price_unit(unit: str) -> bool:
    q = parse_unit(unit)
    return is_currency(unit) or any(d == "[currency]" for d in q.dimensionality)


def _pint_is_currency(unit: str) -> bool:
    try:
        return bool(parse_unit(unit).dimensionality == unit_registry().CNY.dimensionality)
    except UnitsError:
        return False


def _area() -> Any:
    """The dimensionality of an area."""
    return parse_unit("m**2").dimensionality


def is_per_area(unit: str, target: str) -> bool:
    """True when ``unit`` is ``target`` per area (e.g. ``t/hm2`` or ``kg/(hm²·a)`` for ``t``)."""
    return pint_answer("per_area", (unit, target), lambda: _pint_is_per_area(unit, target))


def _pint_is_per_area(unit: str, target: str) -> bool:
    try:
        return bool(parse_unit(unit).dimensionality * _area() == parse_unit(target).dimensionality)
    except UnitsError:
        return False


def total_from_density(value: float, unit: str, area: float, area_unit: str, target: str) -> float:
    """A per-area amount (``t/hm2``, ``kg/(hm²·a)``) times the ``area`` it applies to, in ``target``.

    >>> total_from_density(2.0, "t/hm2", 3.0, "km2", "t")
    600.0
    """
    magnitude, goal = pint_answer("density", (unit, area_unit, target), lambda: _pint_density(unit, area_unit, target))
    return float(value * area * magnitude / goal)


def _pint_density(unit: str, area_unit: str, target: str) -> list[float]:
    """``[magnitude of unit × area_unit in target's units, target's magnitude]`` (checked)."""
    if parse_unit(area_unit).dimensionality != _area():
        raise UnitsError(
            f"Area unit '{area_unit}' is not an area",
            f"面积单位 '{area_unit}' 不是面积单位",
            fix="Give the area in hm2, 公顷, km2, 亩 or m2.",
            fix_zh="请以 hm2、公顷、km2、亩 或 m2 给出面积。",
        )
    if not is_per_area(unit, target):
        raise UnitsError(
            f"Unit '{unit}' is not '{target}' per area",
            f"单位 '{unit}' 不是每单位面积的 '{target}'",
            fix=f"Give a density such as '{target}/hm2', or the total in '{target}' without an area.",
            fix_zh=f"请给出如 '{target}/hm2' 的单位面积量，或不带面积的总量（{target}）。",
        )
    product, goal = parse_unit(unit) * parse_unit(area_unit), parse_unit(target)
    return [float(product.to(goal.units).magnitude), float(goal.magnitude)]
