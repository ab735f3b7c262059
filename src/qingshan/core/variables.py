"""Canonical input variables: one name per physical thing, with canonical units and valid ranges.

Every raster input of every method is one of these names (a registry test enforces it); a
raster is converted to the canonical unit and its finite values must lie in the valid range.

Some variables also carry *typical* ranges of the median and of the 99th percentile of a
region's cells (``typical_median``, ``typical_p99``, with the justification in ``typical_note``).
They are wider than any real region's statistics but exclude the common unit mistakes
(precipitation in m, temperature in K, NDVI × 10 000, DEM in km); :mod:`qingshan.io.plausibility`
checks them before anything is computed. A genuinely extreme region overrides them per input in
the run config (``[plausibility]``, docs/config.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["VARIABLES", "Variable"]


@dataclass(frozen=True)
class Variable:
    """A canonical input variable."""

    name: str
    name_zh: str
    description: str
    units: str
    valid_min: float
    valid_max: float
    categorical: bool = False
    typical_median: tuple[float, float] | None = None
    typical_p99: tuple[float, float] | None = None
    typical_note: str = ""
    max_zero_share: float | None = None
    """Largest plausible share of cells exactly 0 (``None``: not checked). A larger share is a nodata
    value 0 that the raster does not declare: those cells would count as 0 mm of rain."""


def _v(*args: object, **kw: object) -> Variable:
    return Variable(*args, **kw)  # type: ignore[arg-type]


# Typical ranges [canonical unit] of the median and the 99th percentile of a region's cells, and why.
_PRECIP_NOTE = (
    "Annual precipitation: the wettest places on Earth get ~11 900 mm (Mawsynram, WMO record), the driest "
    "inhabited basins of China 15-50 mm (Turpan, Tarim; CMA 中国气候公报). A regional median under 12 mm is a "
    "hyper-arid desert, or a raster in metres (every region is < 12 m); over 9 000 mm, a raster in 0.1 mm. "
    "No cell of an annual grid gets exactly 0 mm (even the Atacama's driest stations record some years' rain "
    "as a trace): more than 1 % of cells at 0 is a nodata value 0 the file does not declare."
)
_ET_NOTE = (
    "Annual evapotranspiration / evaporation is at most ~2 500 mm (FAO-56 ET0 of hot deserts; open water "
    "≤ ~3 000 mm), so a raster in metres has every value < 3 and its median below the lower bound."
)
_TYPICAL: dict[str, dict[str, object]] = {
    "precip": {"typical_median": (12.0, 9000.0), "typical_p99": (12.0, 12000.0), "typical_note": _PRECIP_NOTE,
               "max_zero_share": 0.01},
    "storm_precip": {"typical_median": (0.0, 6000.0), "typical_p99": (5.0, 8000.0), "typical_note":
                     "Annual storm rainfall: a 99th percentile under 5 mm is a region without storms, or metres."},
    "aet": {"typical_median": (5.0, 2000.0), "typical_p99": (5.0, 4000.0), "typical_note": _ET_NOTE},
    "pet": {"typical_median": (50.0, 3000.0), "typical_p99": (50.0, 4000.0), "typical_note":
            _ET_NOTE + " ET0 is over 300 mm outside polar regions (FAO-56)."},
    "water_evaporation": {"typical_median": (50.0, 3500.0), "typical_p99": (50.0, 4000.0), "typical_note": _ET_NOTE},
    "air_temperature": {"typical_median": (-60.0, 40.0), "typical_p99": (-60.0, 45.0), "typical_note":
                        "Annual mean air temperature lies between about -57 °C (Vostok) and 35 °C (Dallol); "
                        "a median over 40 is kelvin (~290) or 0.1 °C units (CMA station data)."},
    "ndvi": {"typical_median": (-1.0, 1.0), "typical_p99": (-1.0, 1.0), "typical_note":
             "NDVI is a ratio in [-1, 1]; MODIS MOD13 stores it × 10 000 as integers (scale factor 0.0001)."},
    "fvc": {"typical_median": (0.0, 1.0), "typical_p99": (0.0, 1.0), "typical_note":
            "Fractional vegetation cover is a fraction in [0, 1]; products in percent need × 0.01."},
    "dem": {"typical_median": (-450.0, 6500.0), "typical_p99": (9.0, 8900.0), "typical_note":
            "Elevation in metres: the Dead Sea shore is -430 m, the Tibetan Plateau's median ~4 700 m, Everest "
            "8 849 m. A DEM in km has every value below 8.85, so a 99th percentile under 9 is km (or a region "
            "lower than 9 m almost everywhere: override)."},
}


VARIABLES: dict[str, Variable] = {
    v.name: replace(v, **_TYPICAL.get(v.name, {}))  # type: ignore[arg-type]
    for v in (
        _v("lulc", "土地覆被", "land-cover / ecosystem-type class code", "1", 0, 65535, categorical=True),
        _v("precip", "年降水量", "annual precipitation", "mm", 0, 12000),
        _v("aet", "实际蒸散发", "annual actual evapotranspiration", "mm", 0, 4000),
        _v("pet", "潜在蒸散发", "annual reference / potential evapotranspiration (ET0)", "mm", 0, 4000),
        _v("dem", "数字高程模型", "elevation", "m", -500, 9000),
        _v("ndvi", "归一化植被指数", "normalised difference vegetation index (growing-season max)", "1", -1, 1),
        _v("fvc", "植被覆盖度", "fractional vegetation cover", "1", 0, 1),
        _v("npp", "净初级生产力", "annual net primary productivity, as carbon", "g m-2", 0, 4000),
        _v("rain_erosivity", "降雨侵蚀力因子", "RUSLE R factor", "MJ mm hm-2 h-1", 0, 40000),
        _v("soil_erodibility", "土壤可蚀性因子", "RUSLE K factor", "t hm2 h hm-2 MJ-1 mm-1", 0, 0.1),
        _v("sand", "砂粒含量", "sand content of topsoil", "percent", 0, 100),
        _v("silt", "粉粒含量", "silt content of topsoil", "percent", 0, 100),
        _v("clay", "黏粒含量", "clay content of topsoil", "percent", 0, 100),
        _v("soil_organic_carbon", "土壤有机碳", "organic carbon content of topsoil", "percent", 0, 60),
        _v("root_depth", "根系限制层深度", "depth to root-restricting layer", "mm", 0, 20000),
        _v("pawc", "植物可利用水量", "plant-available water content (fraction)", "1", 0, 1),
        _v("hot_days", "高温天数", "days with daily mean temperature above the cooling threshold", "day", 0, 366),
        _v("water_evaporation", "水面蒸发量", "annual open-water evaporation", "mm", 0, 4000),
        _v("air_temperature", "年均气温", "annual mean air temperature", "degC", -60, 50),
        _v("storm_precip", "暴雨降水量", "annual rainfall in storm events", "mm", 0, 8000),
        _v("solar_radiation", "太阳总辐射", "annual total solar radiation", "MJ m-2", 0, 12000),
        _v("wind_factor", "气象因子", "RWEQ weather factor WF", "kg m-1", 0, 10000),
        _v("negative_ions", "负氧离子浓度", "mean negative air-ion concentration", "cm-3", 0, 1e6),
        _v("stand_height", "林分高度", "mean stand (canopy) height", "m", 0, 120),
        _v("biomass_carbon", "生物量碳密度", "biomass carbon density, accounting year", "tC hm-2", 0, 1000),
        _v("biomass_carbon_previous", "上年生物量碳密度", "biomass carbon density, previous year", "tC hm-2", 0, 1000),
    )
}
