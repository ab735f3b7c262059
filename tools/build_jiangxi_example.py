"""Build the embedded Jiangxi 2019 example from ../shared/data (run once; the output is committed).

Real data are copied unchanged (boundaries, MODIS land cover, NDVI, DEM). Where no real data can
ship, *approximations* are made here by stated formulas and written with an ``approx_`` prefix:
precipitation, actual evapotranspiration, and county rice output. Users must supply real data.

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
        ref_profile_src = src
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
    _county_rice(out, shared)


def _county_rice(out: Path, shared: Path) -> None:
    """APPROXIMATION: Jiangxi 2019 rice output (NBS, real: 2048.3 万t) split over counties by cropland area."""
    from exactextract import exact_extract

    counties = gpd.read_file(out / "jiangxi_county_tianditu.geojson")
    with rasterio.open(out / "lulc_modis_igbp_2019.tif") as ds:
        lc = ds.read(1).astype("float64")
        weight = np.where(lc == 12, 1.0, np.where(lc == 14, 0.5, 0.0))
        from rasterio.io import MemoryFile

        with MemoryFile() as mem:
            prof = ds.profile.copy()
            prof.update(dtype="float64", nodata=None)
            with mem.open(**prof) as w:
                w.write(weight, 1)
            with mem.open() as w:
                res = exact_extract(w, counties, ["sum"], output="pandas", include_cols=["district_adcode"])
    total_wan_t = 2048.3
    share = res["sum"] / res["sum"].sum()
    rows = pd.DataFrame({
        "region_code": res["district_adcode"].astype(str),
        "year": 2019,
        "item": "rice",
        "value": (share * total_wan_t).round(4),
        "unit": "万t",
        "source": "APPROXIMATION: NBS Jiangxi 2019 rice output 2048.3 万t split by MODIS cropland (12) + 0.5×mosaic (14) area",
    })
    rows.to_csv(out / "approx_statistics_2019.csv", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
