"""Build the embedded Jiangxi 2019 example from ../shared/data (run once; the output is committed).

Real data are copied unchanged (boundaries, MODIS land cover, NDVI, DEM). Where no real data can
ship, *approximations* are made here by stated formulas and written with an ``approx_`` prefix:
precipitation, actual evapotranspiration, and the statistics table (county rice output; county
SO2, NOx, COD and NH3-N emissions split from the 2012 provincial totals by county area; Poyang Lake
assigned to one county; Lushan city tourism 2018 used for 2019). The statistics table also holds
real rows (reservoir storages from ``jiangxi-facts/reservoirs_lakes.csv``); every row's ``source``
starts with ``REAL`` or ``APPROXIMATION``. Users must supply real data.

    .venv/bin/python tools/build_jiangxi_example.py ../shared/data src/qingshan/data/examples/jiangxi
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject

SEED = 20191231


def _write(path: Path, arr: np.ndarray, ref: rasterio.DatasetReader, *, nodata: float = -9999.0, tags: dict | None = None) -> None:
    prof = ref.profile.copy()
    prof.update(dtype="float32", nodata=nodata, count=1, compress="deflate", driver="GTiff")
    out = np.where(np.isfinite(arr), arr, nodata).astype("float32")
    with rasterio.open(path, "w", **prof) as dst:
        dst.write(out, 1)
        dst.update_tags(**(tags or {}))


def main(shared: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    adm = shared / "jiangxi-admin"
    modis = shared / "jiangxi-modis-0p05deg"
    demdir = shared / "jiangxi-dem-coarse"
    shutil.copy(adm / "jiangxi_county_tianditu.geojson", out / "jiangxi_county_tianditu.geojson")
    shutil.copy(modis / "jiangxi_MCD12C1_2019_IGBP_0p05deg.tif", out / "lulc_modis_igbp_2019.tif")
    with rasterio.open(modis / "jiangxi_NDVI_maximum_0p05deg_bessjpl.tif") as src:
        ndvi = src.read(1).astype("float64")
        ndvi[~np.isfinite(ndvi)] = np.nan
        _write(out / "ndvi_max.tif", ndvi, src, tags={"units": "1", "source": "BESS-JPL NDVI maximum (bess-jpl 1.28.0), NaN→nodata -9999"})
        grid_t, grid_crs, shape = src.transform, src.crs, src.shape
    # DEM: pvlib 5' (real) resampled to the 0.05° grid; its hole in the south filled from the cnmaps 0.2° DEM (real).
    dem = np.full(shape, np.nan)
    for name, res in (("jiangxi_dem_0p2deg_cnmaps.tif", Resampling.bilinear), ("jiangxi_altitude_5arcmin_pvlib.tif", Resampling.bilinear)):
        with rasterio.open(demdir / name) as src:
            data = src.read(1).astype("float64")
            if src.nodata is not None:
                data[data == src.nodata] = np.nan
            tmp = np.full(shape, np.nan)
            reproject(data, tmp, src_transform=src.transform, src_crs=src.crs, src_nodata=np.nan,
                      dst_transform=grid_t, dst_crs=grid_crs, dst_nodata=np.nan, resampling=res)
            dem = np.where(np.isfinite(tmp), tmp, dem)
    with rasterio.open(modis / "jiangxi_NDVI_maximum_0p05deg_bessjpl.tif") as src:
        _write(out / "dem.tif", dem, src, tags={"units": "m", "source": "pvlib Altitude 5' + cnmaps 0.2° (hole fill), bilinear to 0.05°"})
        rows, cols = np.indices(shape)
        lon = grid_t.c + (cols + 0.5) * grid_t.a
        lat = grid_t.f + (rows + 0.5) * grid_t.e
        # APPROXIMATION: annual precipitation [mm] = 1450 + 0.25·elevation + 60·(lon − 114) − 40·(lat − 27),
        # chosen so the provincial mean is ~1650 mm (Jiangxi long-term mean ≈ 1640 mm; Yichun bulletin 2021
        # 1637 mm, Fengxin normal 1757 mm) with wetter mountains and east. Not observed data.
        elev = np.nan_to_num(dem, nan=100.0)
        precip = 1450 + 0.25 * elev + 60 * (lon - 114) - 40 * (lat - 27)
        _write(out / "approx_precip_2019.tif", precip, src, tags={"units": "mm", "approximation": "1450 + 0.25*dem + 60*(lon-114) - 40*(lat-27)"})
        # APPROXIMATION: actual ET [mm] by Fu's Budyko curve with PET = 1150 − 15·(lat − 24) − 0.1·elevation and ω = 2.2.
        pet = 1150 - 15 * (lat - 24) - 0.1 * elev
        phi = pet / precip
        w = 2.2
        aet = precip * (1 + phi - (1 + phi**w) ** (1 / w))
        _write(out / "approx_aet_2019.tif", aet, src, tags={"units": "mm", "approximation": "Fu-Budyko, PET=1150-15*(lat-24)-0.1*dem, w=2.2"})
    _statistics(out, shared)


def _class_sums(out: Path, counties: gpd.GeoDataFrame, weights: dict[int, float]) -> pd.DataFrame:
    """Per-county sum of a per-pixel weight of MODIS classes (``district_adcode``, ``sum``)."""
    from exactextract import exact_extract
    from rasterio.io import MemoryFile

    with rasterio.open(out / "lulc_modis_igbp_2019.tif") as ds:
        lc = ds.read(1).astype("int64")
        weight = np.zeros(lc.shape)
        for code, w in weights.items():
            weight[lc == code] = w
        with MemoryFile() as mem:
            prof = ds.profile.copy()
            prof.update(dtype="float64", nodata=None)
            with mem.open(**prof) as dst:
                dst.write(weight, 1)
            with mem.open() as src:
                return exact_extract(src, counties, ["sum"], output="pandas", include_cols=["district_adcode"])


def _row(code: object, item: str, value: float, unit: str, source: str) -> dict[str, object]:
    return {"region_code": str(code), "year": 2019, "item": item, "value": value, "unit": unit, "source": source}


def _county_rice(out: Path, counties: gpd.GeoDataFrame) -> list[dict[str, object]]:
    """APPROXIMATION: Jiangxi 2019 rice output (NBS, real: 2048.3 万t) split over counties by cropland area."""
    res = _class_sums(out, counties, {12: 1.0, 14: 0.5})
    share = res["sum"] / res["sum"].sum()
    src = "APPROXIMATION: NBS Jiangxi 2019 rice output 2048.3 万t split by MODIS cropland (12) + 0.5×mosaic (14) area"
    return [_row(c, "rice", round(v, 4), "万t", src) for c, v in zip(res["district_adcode"], share * 2048.3, strict=True)]


EMISSIONS_2012 = {"so2": 56.77, "nox": 57.71, "cod": 74.83, "nh3n": 9.11}
"""Jiangxi 2012 provincial emissions [万t] (jiangxi-facts/environment_indicators.csv: the only real
provincial figures found; no Jiangxi figure for 2019, for particulates or for TP)."""


def _county_emissions(counties: gpd.GeoDataFrame) -> list[dict[str, object]]:
    """APPROXIMATION: 2012 provincial emissions split over counties by county area, used as 2019."""
    area = counties.to_crs("EPSG:6933").area
    share = area / area.sum()
    rows = []
    for pollutant, total in EMISSIONS_2012.items():
        src = (f"APPROXIMATION: Jiangxi 2012 provincial {pollutant.upper()} emissions {total} 万t "
               "(2012年江西生态环境状况, jiangxi-facts/environment_indicators.csv) split over counties by county area "
               "and used for 2019 (emissions fell after 2012)")
        rows += [_row(c, f"emissions.{pollutant}", round(total * w, 6), "万t", src)
                 for c, w in zip(counties["district_adcode"], share, strict=True)]
    return rows


def _reservoirs(shared: Path) -> list[dict[str, object]]:
    """REAL: large reservoirs of jiangxi-facts/reservoirs_lakes.csv, flood-control storage where printed."""
    facts = pd.read_csv(shared / "jiangxi-facts" / "reservoirs_lakes.csv", dtype={"county_adcode": str})
    res = facts[facts["type"].str.startswith("reservoir")]
    units = {"100 million m3": "亿m3", "10k m3": "万m3"}
    rows = []
    for name, grp in res.groupby("name_zh", sort=False):
        flood = grp[grp["indicator"] == "flood_control_storage"]
        total = grp[grp["indicator"] == "total_storage"]
        pick, item = (flood, "reservoir_flood_storage") if not flood.empty else (total, "reservoir_total_storage")
        if pick.empty:
            continue
        r = pick.iloc[0]
        rows.append(_row(r["county_adcode"], item, float(r["value"]), units[r["unit"]],
                         f"REAL: {name} {r['indicator']} ({r['source_title']}; {r['source_url']})"))
    return rows


def _poyang(out: Path, counties: gpd.GeoDataFrame, shared: Path) -> list[dict[str, object]]:
    """REAL area 4497 km² (Xingzi 22.5 m, 胡春宏 & 阮本清); the whole lake is assigned to one county."""
    facts = pd.read_csv(shared / "jiangxi-facts" / "reservoirs_lakes.csv")
    lake = facts[(facts["name_zh"] == "鄱阳湖") & (facts["indicator"] == "water_surface_area") & facts["reliability"].str.startswith("high")]
    area = float(lake["value"].iloc[0])
    water = _class_sums(out, counties, {0: 1.0, 11: 1.0})
    code = str(water.loc[water["sum"].idxmax(), "district_adcode"])
    src = (f"REAL area {area} km2 ({lake['source_title'].iloc[0]}); APPROXIMATION: the whole lake is booked to {code}, "
           "the county with the largest MODIS water area (the lake equation is non-linear in area, so it is not split)")
    return [_row(code, "lake_area", area, "km2", src)]


def _lushan_tourism() -> list[dict[str, object]]:
    """APPROXIMATION: Lushan city (庐山市) 2018 tourism revenue (jiangxi-facts/city_statistics.csv) used for 2019."""
    src = "APPROXIMATION: 庐山市 2018 tourism revenue 400.17 亿元 (江西旅游城市分析, 163.com; jiangxi-facts) used for 2019; only county with a figure"
    return [_row("360483", "tourism_revenue", 400.17, "亿元", src)]


def _statistics(out: Path, shared: Path) -> None:
    """Write approx_statistics_2019.csv: approximated and real rows, each labelled in ``source``."""
    counties = gpd.read_file(out / "jiangxi_county_tianditu.geojson")
    rows = [*_county_rice(out, counties), *_county_emissions(counties), *_reservoirs(shared),
            *_poyang(out, counties, shared), *_lushan_tourism()]
    pd.DataFrame(rows).to_csv(out / "approx_statistics_2019.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
