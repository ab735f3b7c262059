"""Build the embedded Jiangxi 2019 example from ../shared/data (run once; the output is committed).

Real data are copied unchanged (boundaries, MODIS land cover, NDVI, DEM). Where no real data can
ship, *approximations* are made here by stated methods and written with an ``approx_`` prefix:
precipitation (inverse-distance weighting of station normals), actual evapotranspiration (Fu-Budyko),
and the statistics table. The statistics table holds real rows (province and city GDP 2019, province
population 2019, reservoir storages) and approximations (city figures shared out to counties by a stated
key; 2012 emissions and 2018 tourism revenue used for 2019; Poyang Lake booked to one county). Every row's
``source`` starts with a certainty tag (``[V]``) or ``APPROXIMATION:`` and says how it was made.

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
        # APPROXIMATION: annual precipitation [mm] interpolated by inverse-distance weighting (power 2) from the
        # annual normals of jiangxi-facts/climate_station_normals.csv (see _precip_idw); not 2019 observations.
        elev = np.nan_to_num(dem, nan=100.0)
        precip, used = _precip_idw(shared, lon, lat)
        _write(out / "approx_precip_2019.tif", precip, src, tags={
            "units": "mm", "approximation": "inverse-distance weighting (power 2) of annual precipitation normals at "
            f"{len(used)} places, jiangxi-facts/climate_station_normals.csv: " + "; ".join(used)})
        # APPROXIMATION: actual ET [mm] by Fu's Budyko curve with PET = 1150 − 15·(lat − 24) − 0.1·elevation and ω = 2.2.
        pet = 1150 - 15 * (lat - 24) - 0.1 * elev
        phi = pet / precip
        w = 2.2
        aet = precip * (1 + phi - (1 + phi**w) ** (1 / w))
        _write(out / "approx_aet_2019.tif", aet, src, tags={"units": "mm", "approximation": "Fu-Budyko, PET=1150-15*(lat-24)-0.1*dem, w=2.2"})
    _statistics(out, shared)
    _published(shared, out)


def _published(shared: Path, out: Path) -> None:
    """Copy Jiangxi's published 2019 GEP and class shares (gep_published.csv) for the comparison page and its test."""
    pub = _facts(shared, "gep_published.csv")
    rows = pub[(pub["adcode"] == "360000") & (pub["year"] == "2019")]
    rows[["entity_zh", "adcode", "indicator", "value", "unit", "year", "source_url", "source_title", "reliability"]].to_csv(
        out / "published_gep_2019.csv", index=False)


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
"""Jiangxi 2012 provincial emissions [万t] (jiangxi-facts/environment_indicators.csv: the nearest year with
real provincial figures found; no Jiangxi figure for 2013-2022, for particulates or for TP)."""

EMISSION_KEY = {"so2": "gdp", "nox": "gdp", "cod": "population", "nh3n": "population"}
"""Key each pollutant is shared out by: air pollutants follow industry (GDP), water pollutants people."""


def _county_emissions(counties: gpd.GeoDataFrame, keys: dict[str, pd.Series]) -> list[dict[str, object]]:
    """APPROXIMATION: 2012 provincial emissions shared over counties by county GDP or population, used as 2019."""
    rows = []
    for pollutant, total in EMISSIONS_2012.items():
        key = keys[EMISSION_KEY[pollutant]]
        share = key / key.sum()
        src = (f"APPROXIMATION: Jiangxi 2012 provincial {pollutant.upper()} emissions {total} 万t "
               "(2012年江西生态环境状况, jiangxi-facts/environment_indicators.csv; nearest year found) shared over counties "
               f"by the example's county {EMISSION_KEY[pollutant]} (itself shared from cities, see its rows) and used for "
               "2019 (emissions fell after 2012)")
        rows += [_row(c, f"emissions.{pollutant}", round(total * float(share[c]), 6), "万t", src) for c in counties["district_adcode"]]
    return rows


def _reservoirs(shared: Path) -> list[dict[str, object]]:
    """[V] large reservoirs of jiangxi-facts/reservoirs_lakes.csv, flood-control storage where printed."""
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
                         f"[V] {name} {r['indicator']} ({r['source_title']}; {r['source_url']})"))
    return rows


def _poyang(out: Path, counties: gpd.GeoDataFrame, shared: Path) -> list[dict[str, object]]:
    """[V] area 4497 km² (Xingzi 22.5 m, 胡春宏 & 阮本清); the whole lake is assigned to one county."""
    facts = pd.read_csv(shared / "jiangxi-facts" / "reservoirs_lakes.csv")
    lake = facts[(facts["name_zh"] == "鄱阳湖") & (facts["indicator"] == "water_surface_area") & facts["reliability"].str.startswith("high")]
    area = float(lake["value"].iloc[0])
    water = _class_sums(out, counties, {0: 1.0, 11: 1.0})
    code = str(water.loc[water["sum"].idxmax(), "district_adcode"])
    src = (f"APPROXIMATION: the whole lake is booked to {code}, the county with the largest MODIS water area (the lake "
           f"equation is non-linear in area, so it is not split); area [V] {area} km2 ({lake['source_title'].iloc[0]})")
    return [_row(code, "lake_area", area, "km2", src)]


def _tourism(counties: gpd.GeoDataFrame, population: pd.Series, shared: Path) -> list[dict[str, object]]:
    """APPROXIMATION: tourism revenue by county from the figures found, the rest of the province shared by population.

    庐山市 2018 revenue is booked to 庐山市; 赣州市 2019 revenue (its 2020 figure and "+0.38 % on 2019") is shared over
    赣州's counties by population; the remainder of the 2018 provincial total (the latest found) over the other
    counties by population. All used for 2019.
    """
    facts = _facts(shared, "city_statistics.csv")
    prov = _fact(facts, "360000", "tourism_revenue", "2018")
    lushan = _fact(facts, "360483", "tourism_revenue", "2018")
    ganzhou20 = _fact(facts, "360700", "tourism_revenue", "2020")
    ganzhou = round(float(ganzhou20["value"]) / 1.0038, 2)  # the source: 2020 is +0.38 % on 2019
    rest = float(prov["value"]) - float(lushan["value"]) - ganzhou
    codes = counties["district_adcode"]
    in_ganzhou = codes.str.startswith("3607").to_numpy()
    rows = [_row("360483", "tourism_revenue", float(lushan["value"]), "亿元",
                 f"APPROXIMATION: 庐山市 2018 tourism revenue [V] ({_cite(lushan)}) used for 2019")]
    src_g = (f"APPROXIMATION: 赣州市 2019 tourism revenue {ganzhou} 亿元 [D] = its 2020 revenue {ganzhou20['value']} 亿元 / 1.0038 "
             f"('+0.38 % on 2019', {_cite(ganzhou20)}) shared over 赣州's counties by the example's county population")
    src_r = (f"APPROXIMATION: Jiangxi 2018 tourism revenue {prov['value']} 亿元 [V] ({_cite(prov)}) less 庐山市 (2018) and 赣州市 "
             f"(2019) = {rest:.2f} 亿元, used for 2019 and shared over the other counties by the example's county population; "
             "no 2019 provincial or other city/county revenue found")
    for group, total, src in ((codes[in_ganzhou], ganzhou, src_g), (codes[~in_ganzhou & (codes != "360483").to_numpy()], rest, src_r)):
        share = population[group] / population[group].sum()
        rows += [_row(c, "tourism_revenue", round(total * float(share[c]), 4), "亿元", src) for c in group]
    return rows


def _read_counties(path: Path) -> gpd.GeoDataFrame:
    """County boundaries with the codes as text (GB/T 2260)."""
    counties = gpd.read_file(path)
    for col in ("district_adcode", "city_adcode", "province_adcode"):
        counties[col] = counties[col].astype(str)
    return counties


def _facts(shared: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(shared / "jiangxi-facts" / name, dtype=str)


def _fact(facts: pd.DataFrame, adcode: str, indicator: str, year: str) -> pd.Series:
    """The one row of ``facts`` for (adcode, indicator, year) without a CONFLICT note, else the first."""
    rows = facts[(facts["adcode"] == adcode) & (facts["indicator"] == indicator) & (facts["year"] == year)]
    clean = rows[~rows["note"].fillna("").str.contains("CONFLICT")]
    return (clean if not clean.empty else rows).iloc[0]


def _cite(r: pd.Series) -> str:
    return f"{r['source_title']}; {r['source_url']}; reliability {r['reliability']}"


POP_KEY_CLASSES = {12: 1.0, 13: 1.0, 14: 1.0}
"""Key that shares a city's population out to its counties: MODIS cropland (12), urban and built-up (13) and
cropland/natural mosaic (14) area, i.e. settled and farmed land (APPROXIMATION: no 2019 county population)."""


def _gdp_population(out: Path, counties: gpd.GeoDataFrame, shared: Path) -> tuple[list[dict[str, object]], dict[str, pd.Series]]:
    """GDP and population for the province, its 11 cities (2019) and, shared by a key, its 100 counties.

    Province: GDP 2019 (revised) and year-end 2019 resident population [V]. Cities: GDP 2019 [V]; population
    = the province's 2019 year-end population shared by the cities' 2020 census shares (APPROXIMATION: no 2019
    city figures found). Counties: city population shared by the 2010 census (抚州, 赣州) or POP_KEY_CLASSES area
    (the other cities), city GDP shared by that
    county population (equal GDP per person within a city) — both APPROXIMATION.
    Returns the rows and the county keys ``{"gdp": 亿元, "population": 万人}`` by district code.
    """
    facts = _facts(shared, "city_statistics.csv")
    key = _class_sums(out, counties, POP_KEY_CLASSES).set_index("district_adcode")["sum"]
    area = counties.set_index("district_adcode").to_crs("EPSG:6933").area / 1e6
    key = key.reindex(area.index).fillna(0.0) + 1e-3 * area  # a county without settled land keeps a sliver
    city_of = counties.set_index("district_adcode")["city_adcode"]
    prov_gdp = _fact(facts, "360000", "gdp", "2019")
    prov_pop = _fact(facts, "360000", "resident_population_yearend", "2019")
    rows = [_row("360000", "gdp", float(prov_gdp["value"]), "亿元", f"[V] Jiangxi 2019 GDP, revised ({_cite(prov_gdp)})"),
            _row("360000", "population", float(prov_pop["value"]), "万人",
                 f"[V] Jiangxi 2019 year-end resident population ({_cite(prov_pop)})")]
    census = {c: float(_fact(facts, c, "resident_population_census", "2020")["value"]) for c in sorted(set(city_of))}
    census_total = sum(census.values())
    census2010 = _county_census_2010(shared)
    county_pop, county_gdp, county_how = {}, {}, {}
    for city in sorted(census):
        gdp = _fact(facts, city, "gdp", "2019")
        pop = float(prov_pop["value"]) * census[city] / census_total
        rows.append(_row(city, "gdp", float(gdp["value"]), "亿元", f"[V] {gdp['entity_zh']} 2019 GDP ({_cite(gdp)})"))
        rows.append(_row(city, "population", round(pop, 4), "万人",
                         f"APPROXIMATION: Jiangxi 2019 year-end resident population {prov_pop['value']} 万人 [V] shared over "
                         f"cities by their 2020 census populations ({census[city]:.0f} of {census_total:.0f}; census bulletin "
                         "No.1 quoted by The Paper, jiangxi-facts/city_statistics.csv); no 2019 city figure found"))
        mine = city_of[city_of == city].index
        weights, how = _county_key(mine, key, census2010)
        share = weights / weights.sum()
        for c in mine:
            county_pop[c] = pop * float(share[c])
            county_gdp[c] = float(gdp["value"]) * float(share[c])
            county_how[c] = how
    gdp_src = ("APPROXIMATION: city 2019 GDP [V] shared over the city's counties by the example's county population "
               "(equal GDP per person within a city); no 2019 county GDP found")
    for c in counties["district_adcode"]:
        rows.append(_row(c, "population", round(county_pop[c], 4), "万人",
                         f"APPROXIMATION: city population (see its row) shared over the city's counties by {county_how[c]}; "
                         "no 2019 county population found"))
        rows.append(_row(c, "gdp", round(county_gdp[c], 4), "亿元", gdp_src))
    return rows, {"gdp": pd.Series(county_gdp), "population": pd.Series(county_pop)}


def _county_census_2010(shared: Path) -> pd.Series:
    """County 2010 census population [persons] (citypopulation.de, jiangxi-facts/county_statistics.csv)."""
    facts = _facts(shared, "county_statistics.csv")
    rows = facts[(facts["indicator"] == "resident_population_census") & (facts["year"] == "2010")]
    rows = rows[~rows["note"].fillna("").str.contains("CONFLICT")].drop_duplicates("adcode")
    return rows.set_index("adcode")["value"].astype(float)


def _county_key(mine: pd.Index, landcover: pd.Series, census2010: pd.Series) -> tuple[pd.Series, str]:
    """Weights sharing a city out to its counties: the 2010 census population where every county of the city has
    one (抚州, 赣州), else the settled-and-farmed land-cover key (POP_KEY_CLASSES)."""
    if mine.isin(census2010.index).all():
        return census2010[mine], "their 2010 census populations (citypopulation.de, jiangxi-facts/county_statistics.csv)"
    return landcover[mine], "MODIS 2019 cropland (12) + urban (13) + mosaic (14) area"


def _precip_idw(shared: Path, lon: np.ndarray, lat: np.ndarray, power: float = 2.0) -> tuple[np.ndarray, list[str]]:
    """Annual precipitation [mm] on the grid by inverse-distance weighting of the annual normals.

    Points: every ``precip``/``annual`` row of climate_station_normals.csv except the province-wide range and
    single-year rows; a printed range counts as its midpoint and conflicting rows of one place are averaged.
    Location: the ISD station coordinates (climate_stations_isd.csv) where the place has a national station,
    else the representative point of its county (or, for a city, of its seat district). Distances in km on
    a local equirectangular projection.
    """
    normals = _facts(shared, "climate_station_normals.csv")
    pre = normals[(normals["element"] == "precip") & (normals["month"] == "annual") & (normals["adcode"] != "360000")
                  & ~normals["normals_period"].fillna("").str.fullmatch(r"\d{4}")].copy()
    lo = pre["value"].astype(float)
    hi = pd.to_numeric(pre["value_max"], errors="coerce").fillna(lo)
    pre["mm"] = (lo + hi) / 2
    points = pre.groupby(["station_en", "adcode"], as_index=False)["mm"].mean()
    isd = _facts(shared, "climate_stations_isd.csv")
    counties = _read_counties(shared / "jiangxi-admin" / "jiangxi_county_tianditu.geojson")
    rep = counties.set_index("district_adcode").geometry.representative_point()
    isd_of = {"Nanchang": "58606", "Nancheng": "58715", "Jingdezhen": "58527", "Lushan (Mount Lu)": "58506", "Shangrao": "58626"}
    seat = {"360400": "360403", "361000": "361002"}  # Jiujiang → 浔阳区, Fuzhou → 临川区 (city seats)
    xs, ys, vs, used = [], [], [], []
    for r in points.itertuples(index=False):
        if r.station_en in isd_of:
            st = isd[isd["wmo_id_guess"] == isd_of[r.station_en]].iloc[0]
            x, y, where = float(st["lon"]), float(st["lat"]), f"ISD {isd_of[r.station_en]}"
        else:
            pt = rep[seat.get(r.adcode, r.adcode)]
            x, y, where = pt.x, pt.y, f"county point {seat.get(r.adcode, r.adcode)}"
        xs.append(x)
        ys.append(y)
        vs.append(float(r.mm))
        used.append(f"{r.station_en} {r.mm:.0f} mm ({where})")
    kx = 111.32 * np.cos(np.radians(27.0))
    num, den = np.zeros(lon.shape), np.zeros(lon.shape)
    for x, y, v in zip(xs, ys, vs, strict=True):
        d = np.hypot((lon - x) * kx, (lat - y) * 110.57)
        w = 1.0 / np.maximum(d, 1.0) ** power
        num += w * v
        den += w
    return num / den, used


def _statistics(out: Path, shared: Path) -> None:
    """Write approx_statistics_2019.csv: approximated and real rows, each labelled in ``source``."""
    counties = _read_counties(out / "jiangxi_county_tianditu.geojson")
    econ, keys = _gdp_population(out, counties, shared)
    rows = [*_county_rice(out, counties), *_county_emissions(counties, keys), *_reservoirs(shared),
            *_poyang(out, counties, shared), *_tourism(counties, keys["population"], shared), *econ]
    pd.DataFrame(rows).to_csv(out / "approx_statistics_2019.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
