"""Statistics items that no indicator of a run reads (统计报表中未被读取的统计项).

The table methods pick the rows of the statistics table by item (``rice``, ``water_use.domestic`` …). A row
whose item nothing reads counts nowhere, and nothing said so: a county's rice typed ``Rice`` or ``rice2019``
dropped that county's rice from its GEP while the run succeeded. Each such item is now a QC notice naming the
file, its rows and, where one is close, the item that was probably meant:

* ``statistics_item_unknown`` (warning): no method, product, emission cap or rule of the whole catalogue reads
  the item — a misspelling, or an item of another system;
* ``statistics_item_unread`` (info): the catalogue knows the item, but no indicator of this run's profile reads
  it (a provincial table serving several profiles carries such rows on purpose).

What counts as read: the ``statistics_items`` each planned method declares (``<x>`` marks a family, e.g.
``tcm.<zone>.visits``), the products of the product table whose indicator is planned, the emission items that
cap planned components (``cap_item``), the items of the profile's rules, and :data:`CONTEXT_ITEMS`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from qingshan.core.notices import Notice, notice

if TYPE_CHECKING:
    import pandas as pd

    from qingshan.core.spec import IndicatorSpec, MethodSpec
    from qingshan.indicators.registry import Profile

__all__ = ["CONTEXT_ITEMS", "check_statistics_items", "items_read"]

CONTEXT_ITEMS = ("gdp", "population")
"""Items no indicator reads but the results do: GEP/GDP and GEP per capita (API, dashboard, report)."""

MAX_LINES = 5
"""Line numbers quoted per item."""


def _family(item: str) -> re.Pattern[str]:
    """``tcm.<zone>.visits`` → a pattern matching ``tcm.lushan.visits``: a ``<x>`` inside an item is one dot-free
    part; at its end, any rest (``biomass_carbon_stock.<ecosystem>`` reads ``biomass_carbon_stock.forest.bamboo``,
    second-level types that roll up)."""
    *inner, last = re.split(r"<[^>]+>", item)
    body = "[^.]+".join(re.escape(p) for p in inner)
    tail = "[^.]+" + re.escape(last) if last else ".+"
    return re.compile(body + tail + r"\Z" if inner else re.escape(item) + r"\Z")


def items_read(items: Iterable[tuple[IndicatorSpec, MethodSpec]], products: pd.DataFrame | None,
               rules: tuple[object, ...] = ()) -> tuple[set[str], list[re.Pattern[str]]]:
    """(exact items, family patterns) read by ``items`` — (indicator, method) pairs — with ``products`` (the
    product table) and the profile ``rules``."""
    from qingshan.indicators.profile_rules import rule_items

    exact: set[str] = set(CONTEXT_ITEMS)
    families: list[re.Pattern[str]] = []
    for spec, method in items:
        for item in method.statistics_items:
            if "<" in item:
                families.append(_family(item))
            else:
                exact.add(item)
        if "products" in method.inputs and products is not None:
            exact |= {str(i).strip() for i in products.loc[products["indicator"] == spec.id, "item"]}
        exact |= {c.cap_item for c in spec.components if c.cap_item}
    exact |= rule_items(rules)  # type: ignore[arg-type]
    return exact, families


def _reads(item: str, exact: set[str], families: list[re.Pattern[str]]) -> bool:
    return item in exact or any(f.match(item) for f in families)


def _meant(item: str, candidates: Iterable[str]) -> str | None:
    """The read item ``item`` was probably meant to be: the same up to case and spaces, else a close spelling."""
    pool = sorted(candidates)
    folded = {re.sub(r"\s+", "", c).lower(): c for c in pool}
    same = folded.get(re.sub(r"\s+", "", item).lower())
    if same is not None:
        return same
    close = difflib.get_close_matches(item, pool, n=1, cutoff=0.8)
    return close[0] if close else None


def check_statistics_items(stats: pd.DataFrame, products: pd.DataFrame | None, planned: Iterable[tuple[IndicatorSpec, MethodSpec]],
                           profile: Profile, path: str) -> list[Notice]:
    """A notice for every item of ``stats`` (rows indexed by CSV line, as
    :func:`~qingshan.quantities.statistics.check_statistics_rows` returns them) that no indicator of the run
    reads (module docstring); returns them, raised with :func:`~qingshan.core.notices.notice`."""
    from qingshan.indicators import registry

    planned = list(planned)
    exact, families = items_read(planned, products, profile.rules)
    reg = registry()
    everywhere = [(s, m) for s in reg for m in s.methods]
    all_exact, all_families = items_read(everywhere, products, tuple(r for pid in reg.profile_ids()
                                                                     for r in reg.profile(pid).rules))
    found: list[Notice] = []
    items = stats["item"].astype(str)
    for item in sorted(set(items)):
        if _reads(item, exact, families):
            continue
        lines = [int(i) for i in stats.index[items == item]]
        where = ", ".join(map(str, lines[:MAX_LINES])) + (f" … ({len(lines)} rows)" if len(lines) > MAX_LINES else "")
        where_zh = "、".join(map(str, lines[:MAX_LINES])) + (f" …（共 {len(lines)} 行）" if len(lines) > MAX_LINES else "")
        meant = _meant(item, exact)
        if _reads(item, all_exact, all_families) and meant is None:
            n = Notice(
                "statistics_item_unread",
                f"Statistics item '{item}' (rows {where}) is read by no indicator of profile '{profile.id}': "
                "those rows count in no result of this run",
                f"统计项 '{item}'（第 {where_zh} 行）未被核算方案 '{profile.id}' 的任何指标读取：这些行不计入本次核算结果",
                severity="info", file=path, field="item",
            )
        else:
            hint = f" Did you mean '{meant}'?" if meant else ""
            hint_zh = f"是否应为 '{meant}'？" if meant else ""
            n = Notice(
                "statistics_item_unknown",
                f"Statistics item '{item}' (rows {where}) is read by no indicator: those rows count nowhere, and "
                f"a quantity meant by them is missing from GEP.{hint} Correct the item, or delete the rows.",
                f"统计项 '{item}'（第 {where_zh} 行）未被任何指标读取：这些行不计入任何结果，其所指的量在 GEP 中缺失。"
                f"{hint_zh}请修正统计项名称，或删除这些行。",
                file=path, field="item",
            )
        notice(n)
        found.append(n)
    return found
