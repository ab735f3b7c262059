"""Canonical input variables: one name per physical thing, with canonical units and valid ranges.

Every raster input of every method is one of these names (a registry test enforces it); a
raster is converted to the canonical unit and its finite values must lie in the valid range.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def _v(*args: object, **kw: object) -> Variable:
    return Variable(*args, **kw)  # type: ignore[arg-type]


VARIABLES: dict[str, Variable] = {
    v.name: v
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
