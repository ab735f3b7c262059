"""The accounting grid: CRS, affine transform and shape, and true cell areas.

Cell areas are computed on the ellipsoid for geographic grids (a 0.05° cell in Jiangxi is about
30 km² and shrinks northwards) and as ``|a·e|`` for projected grids.

pyproj answers the CRS questions through :mod:`qingshan.core.crs` (remembered on disk): a grid read from a
raster of a projected CRS seen before does not import pyproj.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from affine import Affine

from qingshan.core.crs import crs_facts, normal_wkt, same_crs

if TYPE_CHECKING:
    from pyproj import CRS

__all__ = ["Grid"]


@dataclass(frozen=True)
class Grid:
    """A raster grid. ``transform`` maps (col, row) to (x, y) of the upper-left cell corner."""

    crs_wkt: str
    transform: Affine
    height: int
    width: int

    @classmethod
    def from_crs(cls, crs: str | CRS, transform: Affine, height: int, width: int) -> Grid:
        """Build a grid from any CRS description pyproj accepts."""
        if isinstance(crs, str):
            return cls(normal_wkt(crs), transform, int(height), int(width))
        from pyproj import CRS

        return cls(CRS.from_user_input(crs).to_wkt(), transform, int(height), int(width))

    @cached_property
    def crs(self) -> CRS:
        """The grid's pyproj CRS."""
        from pyproj import CRS

        return CRS.from_wkt(self.crs_wkt)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols)."""
        return (self.height, self.width)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        t = self.transform
        xs = [t.c, t.c + t.a * self.width]
        ys = [t.f, t.f + t.e * self.height]
        return (min(xs), min(ys), max(xs), max(ys))

    def same_as(self, other: Grid, *, atol: float = 1e-9) -> bool:
        """True when both grids have the same CRS, shape and transform."""
        return (
            self.shape == other.shape
            and same_crs(self.crs_wkt, other.crs_wkt)
            and np.allclose(tuple(self.transform)[:6], tuple(other.transform)[:6], atol=atol)
        )

    def cell_area(self) -> np.ndarray:
        """Area of each cell [m2], shape ``(height, width)``.

        Geographic CRS: geodesic area of each cell's quadrilateral on the CRS ellipsoid (exact
        for lon/lat cells, which are identical along a row). Projected CRS: ``|a·e|`` in the
        CRS's linear unit converted to metres.
        """
        t = self.transform
        facts = crs_facts(self.crs_wkt)
        if facts.is_geographic:
            from pyproj import Geod

            ell = facts.ellipsoid
            geod = Geod(ellps="WGS84") if ell is None else Geod(a=ell[0], b=ell[1])
            lon0, lon1 = t.c, t.c + t.a
            rows = np.empty(self.height)
            for r in range(self.height):
                lat0 = t.f + t.e * r
                lat1 = lat0 + t.e
                area, _ = geod.polygon_area_perimeter([lon0, lon1, lon1, lon0], [lat0, lat0, lat1, lat1])
                rows[r] = abs(area)
            return np.repeat(rows[:, None], self.width, axis=1)
        unit = facts.unit_factor
        return np.full(self.shape, abs(t.a * t.e) * unit * unit)

    def cell_size_m(self) -> np.ndarray:
        """Approximate cell side length [m] per cell (sqrt of area), for slope/flow length."""
        return np.sqrt(self.cell_area())
