"""What the engine needs to know about a CRS — its normal WKT, equality, units, EPSG code, area of use —
from pyproj, remembered on disk (:class:`qingshan.core.remembered.AnswerBook`, book ``crs``).

``import pyproj`` costs about 0.05 s of CPU, as much as a 64² water yield's arithmetic; a later run on rasters
of a CRS seen before gets the same answers from the file without importing it. Keys are the exact WKT texts
(hashed); pyproj's errors are raised every time, never remembered.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from qingshan.core.remembered import AnswerBook, fingerprint

__all__ = ["AreaOfUse", "CrsFacts", "crs_facts", "normal_wkt", "same_crs"]


@dataclass(frozen=True)
class AreaOfUse:
    """Where a CRS is meant to be used, in degrees of longitude and latitude (pyproj's ``AreaOfUse``)."""

    name: str
    west: float
    south: float
    east: float
    north: float


@dataclass(frozen=True)
class CrsFacts:
    """pyproj's answers about one CRS."""

    name: str
    is_geographic: bool
    ellipsoid: tuple[float, float] | None
    """(semi-major, semi-minor) axis in metres; None when pyproj knows no ellipsoid."""
    unit_factor: float
    """Metres per unit of the first axis (1.0 when the CRS has no axis information)."""
    epsg: int | None
    area_of_use: AreaOfUse | None
    """The CRS's area of use, else that of its EPSG code's CRS, else None."""


_BOOK = AnswerBook("crs", "pyproj", lambda: fingerprint(__file__, "pyproj"))


def _key(*texts: str) -> tuple[str, ...]:
    return tuple(hashlib.sha256(t.encode()).hexdigest()[:32] for t in texts)


@lru_cache(maxsize=256)
def normal_wkt(text: str) -> str:
    """``pyproj.CRS.from_user_input(text).to_wkt()``: the WKT a :class:`~qingshan.core.grid.Grid` keeps."""
    def ask() -> str:
        from pyproj import CRS

        return str(CRS.from_user_input(text).to_wkt())

    return _BOOK.answer("wkt", _key(text), ask)


@lru_cache(maxsize=256)
def same_crs(a: str, b: str) -> bool:
    """``pyproj.CRS.from_wkt(a) == pyproj.CRS.from_wkt(b)`` (True without asking when the texts are equal)."""
    if a == b:
        return True

    def ask() -> bool:
        from pyproj import CRS

        return bool(CRS.from_wkt(a) == CRS.from_wkt(b))

    return _BOOK.answer("same", _key(*sorted((a, b))), ask)


@lru_cache(maxsize=256)
def crs_facts(wkt: str) -> CrsFacts:
    """pyproj's facts about the CRS of ``wkt`` (any text pyproj accepts)."""
    d = _BOOK.answer("facts", _key(wkt), lambda: _ask_facts(wkt))
    aou = d["area_of_use"]
    return CrsFacts(name=d["name"], is_geographic=d["is_geographic"],
                    ellipsoid=None if d["ellipsoid"] is None else (d["ellipsoid"][0], d["ellipsoid"][1]),
                    unit_factor=d["unit_factor"], epsg=d["epsg"], area_of_use=None if aou is None else AreaOfUse(**aou))


def _ask_facts(wkt: str) -> dict[str, Any]:
    from pyproj import CRS

    crs = CRS.from_user_input(wkt)
    ell = crs.ellipsoid
    code = crs.to_epsg()
    aou = crs.area_of_use
    if aou is None and code:
        aou = CRS.from_epsg(code).area_of_use
    return {
        "name": crs.name,
        "is_geographic": bool(crs.is_geographic),
        "ellipsoid": None if ell is None else [ell.semi_major_metre, ell.semi_minor_metre],
        "unit_factor": crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0,
        "epsg": code,
        "area_of_use": None if aou is None else {"name": aou.name, "west": aou.west, "south": aou.south,
                                                 "east": aou.east, "north": aou.north},
    }
