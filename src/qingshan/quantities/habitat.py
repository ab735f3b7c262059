"""Area-based services of habitats: pest control (病虫害控制) and species conservation (物种保育).

Both are "area × cost per area" services: the quantity is the area of the ecosystems that provide
the service [hm2 per year]; the price table gives the cost or value per hectare.
"""

from __future__ import annotations

import numpy as np

from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, ParamSet
from qingshan.quantities.base import RasterInputs, per_cell, require

__all__ = ["ecosystem_area", "pest_control_area", "species_conservation_area"]

DEFAULT_SPECIES_ECOSYSTEMS = ("forest",)


def ecosystem_area(lulc: np.ndarray, params: ParamSet, grid: Grid, ecosystems: tuple[str, ...] | list[str]) -> np.ndarray:
    """Cell area [hm2] where the land-cover class belongs to one of ``ecosystems``, else 0 (NaN on nodata)."""
    assert params.landcover is not None, "a land-cover table is needed"
    eco = params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    wanted = np.isin(eco, [ECOSYSTEMS.index(e) for e in ecosystems])
    area = per_cell(np.ones(lulc.shape), "1", grid, "hm2")
    return np.where(np.isfinite(lulc), np.where(wanted, area, 0.0), np.nan)


def pest_control_area(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Forest and grassland area whose pests are kept down by the ecosystem itself [hm2 per cell].

    Components ``forest_area`` and ``grassland_area``, valued at the artificial control cost per
    hectare (Garzê 2010: forest 375 元/hm², grassland 112.5 元/hm²; 白玛卓嘎 et al. 2017;
    gep-methodology.md R12).
    """
    lulc = require(inputs, "lulc", "ecosystem_area")
    return {"forest_area": ecosystem_area(lulc, params, grid, ("forest",)),
            "grassland_area": ecosystem_area(lulc, params, grid, ("grassland",))}


def species_conservation_area(inputs: RasterInputs, params: ParamSet, grid: Grid) -> dict[str, np.ndarray]:
    """Habitat area counted for species conservation [hm2 per cell].

    Cells of the ecosystems in option ``species_conservation_ecosystems`` (default forest); the
    value per hectare (price key ``species_conservation_value``) is chosen by the region's
    Shannon–Wiener index class in the forestry standards (LY/T 1721—2008, GB/T 38582—2020) —
    recalled, not verified.
    """
    lulc = require(inputs, "lulc", "habitat_area")
    wanted = params.option("species_conservation_ecosystems", DEFAULT_SPECIES_ECOSYSTEMS)
    return {"habitat_area": ecosystem_area(lulc, params, grid, tuple(wanted))}  # type: ignore[arg-type]
