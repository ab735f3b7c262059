"""Coastal protection (海岸带防护) slot: protected coastline length from statistics.

National-list item recalled [R] (gep-methodology.md R4); irrelevant inland (Jiangxi). Physical
quantity: coastline length protected by mangroves, salt marsh or reefs (item
``coastline_protected``, km); value: length × seawall construction and maintenance cost per km
(price key ``coastal_protection_cost``, no default shipped: supply a sourced local cost).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from qingshan.aggregate.regions import RegionSet
from qingshan.core.params import ParamSet
from qingshan.quantities.statistics import items_to_components

__all__ = ["coastline_from_statistics"]


def coastline_from_statistics(tables: Mapping[str, pd.DataFrame], params: ParamSet, regions: RegionSet,
                              year: int, indicator: str) -> pd.DataFrame:
    """Protected coastline per region [km] (item ``coastline_protected``, ecosystem wetland)."""
    return items_to_components(tables.get("statistics"), regions, year,
                               {"coastline_protected": ("coastline_protected", "wetland", "km")})
