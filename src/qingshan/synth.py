"""Seeded synthetic inputs for benchmarks and tests: ``qingshan synth --size N --out DIR --seed S``.

One random stream (``numpy.random.default_rng(seed)``) makes every layer, so the same seed and options give
the same bytes. What is written (EPSG:32650, UTM 50N, origin 400 000 E / 3 300 000 N as the InVEST benchmark
data of ``validation/gen_inputs.py``, which shares :func:`fractal` and :func:`relief` with this module):

* ``dem.tif`` [m]: fBm relief (smoothed noise summed over halving scales, Hurst 0.6) with a regional tilt and
  a ridge-valley fabric, smoothed by one cell; relief amplitude grows with the region's extent
  (:func:`relief_amplitude`: 1 900 m for a 30 km square, as the benchmark data), so slopes stay hill-like at any
  size and resolution.
* ``lulc.tif`` (MODIS IGBP codes of the shipped ``landcover_modis_igbp.csv``): classes with the given shares,
  spatially clustered — each class takes, in :data:`ALLOCATION_ORDER`, the cells of highest suitability
  (elevation and slope preference plus its own smoothed noise) among those left; the last class takes the rest.
* ``precip_<year>.tif``, ``aet_<year>.tif``, ``pet_<year>.tif`` [mm/a], ``air_temperature_<year>.tif`` [°C]:
  orographic precipitation, lapse-rate temperature, PET falling with height, AET from Fu's Budyko curve (ω 2.6).
* ``ndvi.tif`` [1] by class plus noise; ``soil_erodibility.tif`` [t·hm²·h/(hm²·MJ·mm)]; ``rain_erosivity_<year>.tif``.
* ``counties.geojson``: a province, cities and ``counties`` Voronoi counties tiling the grid, fictitious
  GB/T 2260-format codes (99xxxx, no real region).
* ``tables/``: copies of the shipped parameter, land-cover, price, deflator and product tables, and a
  ``statistics.csv`` of plausible county figures (rice from cropland area, emissions per km², tourism revenue,
  GDP, population, one reservoir) — all marked SYNTHETIC in their source column.
* ``config.toml``: a ready-to-run config (profile ``jiangxi-db36-2021``; forestry, livestock and fishery
  products excluded with a reason: the shipped price table has no prices for them).

Nothing here is data about a real place.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from qingshan.core.errors import ConfigError

__all__ = [
    "ALLOCATION_ORDER",
    "CLASS_CODES",
    "DEFAULT_SHARES",
    "LEAN_ABOVE",
    "SynthSpec",
    "allocate_classes",
    "fractal",
    "nearest_rows",
    "parse_shares",
    "refine_rows",
    "relief",
    "relief_amplitude",
    "smooth_noise",
    "write_synth",
]

EPSG = 32650
X0, Y_BOTTOM = 400000.0, 3300000.0

CLASS_CODES = {"water": 0, "forest": 5, "shrub": 6, "grassland": 10, "wetland": 11, "cropland": 12, "urban": 13,
               "bare": 16}
"""Class name → MODIS IGBP code of the shipped land-cover table (its ecosystem: water and wetland → wetland,
bare → desert)."""

DEFAULT_SHARES = {"forest": 0.55, "shrub": 0.08, "grassland": 0.05, "cropland": 0.20, "urban": 0.05,
                  "water": 0.04, "wetland": 0.01, "bare": 0.02}
"""A subtropical hill-country mix (about Jiangxi's MODIS shares)."""

ALLOCATION_ORDER = ("water", "wetland", "urban", "cropland", "bare", "grassland", "shrub", "forest")

NDVI_BY_CLASS = {"water": -0.05, "forest": 0.82, "shrub": 0.70, "grassland": 0.60, "wetland": 0.45, "cropland": 0.65,
                 "urban": 0.25, "bare": 0.10}

SUITABILITY: dict[str, Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]] = {
    "water": lambda e, s, z: -e - 0.5 * s + 0.15 * z,
    "wetland": lambda e, s, z: -e - 0.4 * s + 0.2 * z,
    "urban": lambda e, s, z: -0.7 * e - 0.3 * s + 0.8 * z,
    "cropland": lambda e, s, z: -e - 0.5 * s + 0.3 * z,
    "bare": lambda e, s, z: 0.6 * s + 0.8 * z,
    "grassland": lambda e, s, z: -np.abs(e - 0.5) + 0.6 * z,
    "shrub": lambda e, s, z: -np.abs(e - 0.4) + 0.6 * z,
    "forest": lambda e, s, z: e + 0.5 * s + 0.3 * z,
}
"""Suitability of a cell for a class from its elevation rank ``e`` (0 low … 1 high), relative slope ``s`` and the
class's own smoothed noise ``z`` (its clustering): water and cropland low and flat, towns in lowland patches,
bare land on steep patches, forest high and steep."""

TABLES = ("params_science.csv", "landcover_modis_igbp.csv", "landcover_modis_igbp.meta.csv", "prices_default.csv", "deflator_cpi_china.csv",
          "products_default.csv")


# ----------------------------------------------------------------------------- fields (shared with validation/)
def smooth_noise(n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-smoothed white noise (coarse grid + bilinear zoom for large sigmas)."""
    fac = max(1, int(sigma // 4))
    m = int(np.ceil(n / fac))
    g = ndimage.gaussian_filter(rng.standard_normal((m, m)), sigma / fac, mode="reflect")
    if fac > 1:
        g = ndimage.zoom(g, fac, order=1)[:n, :n]
    return g


def fractal(n: int, rng: np.random.Generator, hurst: float = 0.8, octaves: int = 12,
            base_sigma: float | None = None) -> np.ndarray:
    """fBm-like field in 0..1: smoothed noise summed over halving scales."""
    base_sigma = base_sigma or n / 6.0
    out = np.zeros((n, n), dtype="float64")
    sigma = base_sigma
    for _ in range(octaves):
        f = smooth_noise(n, sigma, rng)
        f /= f.std() + 1e-12
        out += f * sigma**hurst
        sigma /= 2.0
        if sigma < 0.75:
            break
    out -= out.min()
    return out / out.max()


def relief(n: int, rng: np.random.Generator, amplitude: float = 1900.0) -> np.ndarray:
    """DEM [m] of an n×n grid: fBm relief, tilt high NW → low SE, ridge-valley fabric, one-cell smoothing
    (the benchmark data's formula; ``amplitude`` 1 900 m reproduces it)."""
    scale = n / 1000.0
    f = fractal(n, rng, hurst=0.6, base_sigma=140 * scale)
    yy, xx = np.mgrid[0:n, 0:n] / float(n)
    tilt = 1.0 - 0.6 * (0.5 * yy + 0.5 * xx)
    fabric = 0.08 * np.sin(2 * np.pi * (3.0 * xx + 1.5 * yy) + 4 * f)
    dem = 40 + amplitude * np.clip(0.55 * f * tilt + 0.45 * tilt * f**2 + fabric * f, 0, None)
    return np.asarray(ndimage.gaussian_filter(dem, 1.0).astype("float32"))


def relief_amplitude(extent_m: float) -> float:
    """Relief [m] of a square region ``extent_m`` wide: 1 900 m at 30 km, ∝ extent^0.5, within 150–2 500 m."""
    return float(np.clip(1900.0 * (extent_m / 30000.0) ** 0.5, 150.0, 2500.0))


def slope_degrees(dem: np.ndarray, cell: float) -> np.ndarray:
    """Slope [°] by central differences."""
    gy, gx = np.gradient(dem.astype("float64"), cell)
    return np.asarray(np.degrees(np.arctan(np.hypot(gx, gy))))


# ----------------------------------------------------------------------------- land cover
def parse_shares(text: str) -> dict[str, float]:
    """``"forest=0.6,cropland=0.3,water=0.1"`` → shares (checked by :func:`check_shares`)."""
    out: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        name, _, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise _share_error(f"'{part}' is not name=fraction", f"'{part}' 不是 名称=比例 的形式") from None
    return check_shares(out)


def _share_error(en: str, zh: str) -> ConfigError:
    return ConfigError(en, zh, field="shares",
                       fix=f"Give name=fraction pairs summing to 1, names among {', '.join(CLASS_CODES)}.",
                       fix_zh=f"请给出合计为 1 的 名称=比例，名称取自 {', '.join(CLASS_CODES)}。")


def check_shares(shares: dict[str, float]) -> dict[str, float]:
    """Known class names, fractions in [0, 1], summing to 1 (± 1e-6)."""
    unknown = sorted(set(shares) - set(CLASS_CODES))
    if unknown:
        raise _share_error(f"Unknown land-cover class {unknown}", f"未知的土地覆被类型 {unknown}")
    if any(not 0.0 <= v <= 1.0 for v in shares.values()) or abs(sum(shares.values()) - 1.0) > 1e-6:
        raise _share_error(f"Land-cover shares must be fractions summing to 1 (sum {sum(shares.values()):g})",
                           f"土地覆被比例应为合计为 1 的小数（当前合计 {sum(shares.values()):g}）")
    return dict(shares)


def allocate_classes(dem: np.ndarray, slope: np.ndarray, shares: dict[str, float],
                     rng: np.random.Generator) -> np.ndarray:
    """Class codes (int16) with ``shares`` of the cells, clustered (see module docstring)."""
    n = dem.shape[0]
    e = (np.argsort(np.argsort(dem.ravel(), kind="stable"), kind="stable") / dem.size).reshape(dem.shape)
    s = slope / max(float(np.percentile(slope, 99)), 1e-9)
    scale = max(n / 1000.0, 0.02)
    out = np.full(dem.shape, -1, dtype=np.int16)
    free = np.ones(dem.size, dtype=bool)
    order = [c for c in ALLOCATION_ORDER if shares.get(c, 0.0) > 0]
    for i, cls in enumerate(order):
        if i == len(order) - 1:
            out.ravel()[free] = CLASS_CODES[cls]
            break
        k = min(round(shares[cls] * dem.size), int(free.sum()))
        noise = fractal(n, rng, hurst=0.5, base_sigma=25 * scale * 4)  # one class at a time: a few grids in memory
        score = np.where(free, SUITABILITY[cls](e, s, noise).ravel(), -np.inf)
        take = np.argpartition(-score, k - 1)[:k] if k > 0 else np.array([], dtype=np.int64)
        out.ravel()[take] = CLASS_CODES[cls]
        free[take] = False
    return out


# ----------------------------------------------------------------------------- the dataset
@dataclass(frozen=True)
class SynthSpec:
    """What to generate."""

    size: int = 256
    seed: int = 42
    resolution: float = 30.0  # m
    counties: int = 4
    years: tuple[int, ...] = (2019,)
    shares: dict[str, float] | None = field(default=None)

    def checked(self) -> SynthSpec:
        """Bounds on the options, as bilingual errors."""
        if not 16 <= self.size <= 50_000:
            raise ConfigError(f"--size {self.size} is out of range", f"--size {self.size} 超出范围", field="size",
                              fix="Give 16 ≤ size ≤ 50000 cells per side.", fix_zh="请给出 16–50000 的每边像元数。")
        if not 1 <= self.counties <= 99 or self.counties > (self.size // 4) ** 2:
            raise ConfigError(f"--counties {self.counties} is out of range", f"--counties {self.counties} 超出范围",
                              field="counties", fix="Give 1–99 counties, fewer than (size/4)².",
                              fix_zh="请给出 1–99 个县，且少于 (size/4)²。")
        if not 1.0 <= self.resolution <= 10_000.0 or not self.years:
            raise ConfigError("--resolution must be 1–10000 m and --years not empty", "分辨率应为 1–10000 米且年份不能为空",
                              field="resolution", fix="e.g. --resolution 30 --years 2019",
                              fix_zh="例如 --resolution 30 --years 2019")
        return self


LEAN_ABOVE = 4096
"""Grids with more cells a side are generated coarse and refined strip by strip (:func:`_write_lean`)."""

STRIP_ROWS = 512
"""Rows refined and written at a time by the lean path."""


def write_synth(out: str | Path, spec: SynthSpec, *, lean_above: int = LEAN_ABOVE, strip_rows: int = STRIP_ROWS) -> Path:
    """Write the dataset and its config into ``out``; the config's path.

    Grids up to ``lean_above`` cells a side are generated whole (the benchmark data's random stream).
    Larger ones (a province at 30 m: 13 600² cells) are generated on a coarse grid of at most
    ``lean_above`` cells a side with the same formulas, then refined ``strip_rows`` rows at a time:
    continuous fields bilinearly, land cover by nearest cell, plus per-cell detail (white noise of the
    DEM, 0.3 m, and of NDVI) from a random stream per strip — memory bounded by the coarse grid, the
    same bytes for the same seed, no seams.
    """
    spec = spec.checked()
    shares = check_shares(spec.shares or DEFAULT_SHARES)
    out = Path(out)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    if spec.size > lean_above:
        return _write_lean(out, spec, shares, lean_above, strip_rows)
    rng = np.random.default_rng(spec.seed)
    n, cell = spec.size, spec.resolution
    from affine import Affine

    transform = Affine(cell, 0.0, X0, 0.0, -cell, Y_BOTTOM + n * cell)
    dem = relief(n, rng, amplitude=relief_amplitude(n * cell))
    slope = slope_degrees(dem, cell)
    lulc = allocate_classes(dem, slope, shares, rng)
    soil = fractal(n, rng, hurst=0.7, base_sigma=max(60 * n / 1000.0, 2.0))
    _tif(out / "dem.tif", dem, transform)
    _tif(out / "lulc.tif", lulc, transform, nodata=-1)
    _tif(out / "ndvi.tif", _ndvi(lulc, rng, n), transform)
    _tif(out / "soil_erodibility.tif", (0.020 + 0.025 * (1 - soil)).astype("float32"), transform)
    yy = np.mgrid[0:n, 0:n][0] / float(n)  # 0 north … 1 south
    for year in spec.years:
        yrng = np.random.default_rng([spec.seed, year])
        for name, arr in _climate(dem, lulc, yy, yrng, n).items():
            _tif(out / f"{name}_{year}.tif", arr, transform)
    return _write_regions_tables(out, spec, lulc, transform, rng)


def _write_regions_tables(out: Path, spec: SynthSpec, lulc: np.ndarray, transform: object,
                          rng: np.random.Generator) -> Path:
    """Counties, tables, statistics (from ``lulc`` on ``transform``) and the config."""
    counties = _counties(spec.size, spec.resolution, spec.counties, rng)
    (out / "counties.geojson").write_text(_geojson(counties), encoding="utf-8")
    _copy_tables(out / "tables")
    (out / "tables" / "statistics.csv").write_text(_statistics(counties, lulc, transform, spec.years, rng),
                                                   encoding="utf-8")
    config = out / "config.toml"
    config.write_text(_config(spec), encoding="utf-8")
    return config


# ----------------------------------------------------------------------------- large grids
def _axis(fine: np.ndarray, f: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower coarse index and weight of fine cells ``fine`` (cell centres) on a coarse axis of ``m`` cells ``f`` times larger."""
    x = np.clip((fine + 0.5) / f - 0.5, 0.0, m - 1.0)
    i0 = np.minimum(np.floor(x).astype(np.intp), m - 2)
    return i0, x - i0


def refine_rows(coarse: np.ndarray, r0: int, r1: int, n: int, f: int) -> np.ndarray:
    """Rows ``r0:r1`` of the n-wide fine grid, bilinear from ``coarse`` (cell centres aligned at the top left)."""
    m = coarse.shape[0]
    ri, rw = _axis(np.arange(r0, r1), f, m)
    ci, cw = _axis(np.arange(n), f, m)
    c = coarse.astype("float64")
    rows = c[ri] * (1.0 - rw)[:, None] + c[ri + 1] * rw[:, None]
    return np.asarray(rows[:, ci] * (1.0 - cw) + rows[:, ci + 1] * cw)


def nearest_rows(coarse: np.ndarray, r0: int, r1: int, n: int, f: int) -> np.ndarray:
    """Rows ``r0:r1`` of the n-wide fine grid, each cell taking the coarse cell it lies in."""
    return np.asarray(coarse[np.arange(r0, r1) // f][:, np.arange(n) // f])


def _write_lean(out: Path, spec: SynthSpec, shares: dict[str, float], lean_above: int, strip_rows: int) -> Path:
    """The dataset of a large grid: coarse fields, refined and written strip by strip (see :func:`write_synth`)."""
    import rasterio
    from affine import Affine
    from rasterio.windows import Window

    n, cell = spec.size, spec.resolution
    f = -(-n // lean_above)
    m = -(-n // f)
    rng = np.random.default_rng(spec.seed)
    dem_c = relief(m, rng, amplitude=relief_amplitude(n * cell))
    lulc_c = allocate_classes(dem_c, slope_degrees(dem_c, cell * f), shares, rng)
    soil_c = fractal(m, rng, hurst=0.7, base_sigma=max(60 * m / 1000.0, 2.0))
    ndvi_noise_c = fractal(m, rng, hurst=0.5, base_sigma=max(10 * m / 1000.0, 1.5))
    yy_c = np.mgrid[0:m, 0:m][0] / float(m)
    climate = {year: _climate(dem_c, lulc_c, yy_c, np.random.default_rng([spec.seed, year]), m) for year in spec.years}
    transform = Affine(cell, 0.0, X0, 0.0, -cell, Y_BOTTOM + n * cell)
    fields: dict[str, tuple[np.ndarray, str]] = {"dem": (dem_c, "bilinear"), "lulc": (lulc_c, "nearest"),
                                                 "ndvi": (ndvi_noise_c, "ndvi"), "soil_erodibility": (soil_c, "soil")}
    for year, layers in climate.items():
        fields.update({f"{name}_{year}": (arr, "bilinear") for name, arr in layers.items()})
    profile = {"driver": "GTiff", "height": n, "width": n, "count": 1, "crs": f"EPSG:{EPSG}", "transform": transform,
               "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate", "BIGTIFF": "IF_SAFER"}
    files = {name: rasterio.open(out / f"{name}.tif", "w", **profile, dtype="int16" if name == "lulc" else "float32",
                                 nodata=-1 if name == "lulc" else -9999.0) for name in fields}
    try:
        for s_i, r0 in enumerate(range(0, n, strip_rows)):
            r1 = min(r0 + strip_rows, n)
            srng = np.random.default_rng([spec.seed, 1_000_003, s_i])  # per strip: the same bytes whatever is read first
            lulc = nearest_rows(lulc_c, r0, r1, n, f)
            for name, (coarse, how) in fields.items():
                files[name].write(_strip(name, how, coarse, lulc, r0, r1, n, f, srng), 1,
                                  window=Window(0, r0, n, r1 - r0))
    finally:
        for ds in files.values():
            ds.close()
    coarse_transform = Affine(cell * f, 0.0, X0, 0.0, -cell * f, Y_BOTTOM + n * cell)
    return _write_regions_tables(out, spec, lulc_c, coarse_transform, rng)


def _strip(name: str, how: str, coarse: np.ndarray, lulc: np.ndarray, r0: int, r1: int, n: int, f: int,
           srng: np.random.Generator) -> np.ndarray:
    """One strip of one layer of the lean path."""
    if how == "nearest":
        return lulc.astype("int16")
    smooth = refine_rows(coarse, r0, r1, n, f)
    if name == "dem":
        return np.asarray((smooth + srng.normal(0.0, 0.3, smooth.shape)).astype("float32"))
    if how == "ndvi":
        base = np.zeros(lulc.shape, dtype="float64")
        for cls, code in CLASS_CODES.items():
            base[lulc == code] = NDVI_BY_CLASS[cls]
        noise = 0.10 * (smooth - 0.5) + srng.normal(0.0, 0.01, smooth.shape)
        return np.asarray(np.clip(base + noise, -0.2, 0.95).astype("float32"))
    if how == "soil":
        return np.asarray((0.020 + 0.025 * (1 - smooth)).astype("float32"))
    return np.asarray(smooth.astype("float32"))


def _tif(path: Path, arr: np.ndarray, transform: object, nodata: float = -9999.0) -> None:
    import rasterio

    with rasterio.open(path, "w", driver="GTiff", height=arr.shape[0], width=arr.shape[1], count=1, dtype=arr.dtype,
                       crs=f"EPSG:{EPSG}", transform=transform, nodata=nodata, tiled=True, blockxsize=256,
                       blockysize=256, compress="deflate") as dst:
        dst.write(arr, 1)


def _ndvi(lulc: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.zeros(lulc.shape, dtype="float64")
    for name, code in CLASS_CODES.items():
        base[lulc == code] = NDVI_BY_CLASS[name]
    noise = fractal(n, rng, hurst=0.5, base_sigma=max(10 * n / 1000.0, 1.5))
    return np.asarray(np.clip(base + 0.10 * (noise - 0.5), -0.2, 0.95).astype("float32"))


def _climate(dem: np.ndarray, lulc: np.ndarray, yy: np.ndarray, rng: np.random.Generator,
             n: int) -> dict[str, np.ndarray]:
    """Precipitation, PET, AET [mm/a], temperature [°C], rain erosivity of one year."""
    sm = fractal(n, rng, hurst=0.9, base_sigma=max(200 * n / 1000.0, 2.0))
    wet = float(rng.normal(1.0, 0.08))  # the year's wetness
    precip = wet * (1450 + 0.30 * dem + 120 * (sm - 0.5) + 150 * yy)
    temp = 19.5 - 0.0065 * dem + 2.0 * yy + float(rng.normal(0.0, 0.3))
    pet = 1060 - 0.11 * dem + 30 * (sm - 0.5) + 8.0 * (temp - 18.0)
    phi = pet / precip
    aet = precip * (1 + phi - (1 + phi**2.6) ** (1 / 2.6))  # Fu (1981), ω = 2.6
    aet = np.where(lulc == CLASS_CODES["water"], np.minimum(pet, precip), aet)
    erosivity = 4500 + 2.2 * (precip - 1450) + 400 * (sm - 0.5)
    f32 = lambda a: np.asarray(a, dtype="float32")  # noqa: E731
    return {"precip": f32(precip), "pet": f32(pet), "aet": f32(aet), "air_temperature": f32(temp),
            "rain_erosivity": f32(np.maximum(erosivity, 500.0))}


# ----------------------------------------------------------------------------- regions and tables
@dataclass(frozen=True)
class _County:
    code: str
    name: str
    city: str
    city_name: str
    ring: list[tuple[float, float]]


def _counties(n: int, cell: float, k: int, rng: np.random.Generator) -> list[_County]:
    """``k`` Voronoi counties tiling the grid (jittered-lattice seeds), grouped into cities of up to 4."""
    import shapely

    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    w = n * cell
    box = shapely.box(X0, Y_BOTTOM, X0 + w, Y_BOTTOM + w)
    pts = [((c + 0.5 + rng.uniform(-0.3, 0.3)) * w / cols + X0, (r + 0.5 + rng.uniform(-0.3, 0.3)) * w / rows + Y_BOTTOM)
           for r in range(rows) for c in range(cols)][:k]
    cells = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=box)
    polys = [shapely.intersection(g, box) for g in shapely.get_parts(cells)]
    order = [next(i for i, g in enumerate(polys) if g.contains(shapely.Point(p))) for p in pts]
    n_cities = max(1, int(np.ceil(k / 4)))
    out = []
    for i, gi in enumerate(order):
        city = i * n_cities // k
        j = i - min(t for t in range(k) if t * n_cities // k == city)
        poly = shapely.normalize(polys[gi])
        ring = [(round(x, 3), round(y, 3)) for x, y in poly.exterior.coords]
        out.append(_County(f"99{city + 1:02d}{j + 1:02d}", f"合成县{i + 1} Synthetic county {i + 1}",
                           f"99{city + 1:02d}00", f"合成市{city + 1} Synthetic city {city + 1}", ring))
    return out


def _geojson(counties: list[_County]) -> str:
    feats = [{"type": "Feature", "properties": {
        "province_adcode": "990000", "province_name": "合成省 Synthetic province", "city_adcode": c.city,
        "city_name": c.city_name, "district_adcode": c.code, "district_name": c.name},
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in c.ring]]}} for c in counties]
    doc = {"type": "FeatureCollection", "name": "counties",
           "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{EPSG}"}}, "features": feats}
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def _copy_tables(folder: Path) -> None:
    import qingshan

    src = Path(qingshan.__file__).parent / "data" / "tables"
    for name in TABLES:
        shutil.copyfile(src / name, folder / name)


def _county_cells(counties: list[_County], lulc: np.ndarray, transform: object) -> list[dict[str, float]]:
    """Per county: area [km²] and cropland and water area [hm²] (cell centres in the polygon)."""
    import shapely
    from rasterio.features import rasterize

    shapes = [(shapely.Polygon(c.ring), i + 1) for i, c in enumerate(counties)]
    zone = rasterize(shapes, out_shape=lulc.shape, transform=transform, fill=0, dtype="int32")
    cell_hm2 = abs(transform.a * transform.e) / 1e4  # type: ignore[attr-defined]
    out = []
    for i in range(len(counties)):
        inside = zone == i + 1
        out.append({"km2": inside.sum() * cell_hm2 / 100.0,
                    "crop_hm2": float((inside & (lulc == CLASS_CODES["cropland"])).sum() * cell_hm2),
                    "water_hm2": float((inside & (lulc == CLASS_CODES["water"])).sum() * cell_hm2)})
    return out


_EMISSIONS_T_PER_KM2 = {"cod": 5.0, "nh3n": 0.6, "tp": 0.08, "so2": 2.0, "nox": 2.5, "dust": 1.5}


def _statistics(counties: list[_County], lulc: np.ndarray, transform: object, years: tuple[int, ...],
                rng: np.random.Generator) -> str:
    """Plausible county statistics (SYNTHETIC): rice, emissions, tourism revenue, GDP, population, a reservoir."""
    src = "SYNTHETIC (qingshan synth): not data about any real place"
    cells = _county_cells(counties, lulc, transform)
    lines = ["region_code,year,item,value,unit,source"]
    for year in years:
        for c, a in zip(counties, cells, strict=True):
            f = float(rng.uniform(0.8, 1.2))
            people = a["km2"] * 300 * f  # persons
            rows = [("rice", a["crop_hm2"] * 6.5 * f, "t"), ("tourism_revenue", a["km2"] * 0.02 * f, "亿元"),
                    ("population", people / 1e4, "万人"), ("gdp", people * 6e4 / 1e8, "亿元")]
            rows += [(f"emissions.{k}", a["km2"] * v * f, "t") for k, v in _EMISSIONS_T_PER_KM2.items()]
            lines += [f"{c.code},{year},{item},{value:.6g},{unit},{src}" for item, value, unit in rows]
        wettest = max(range(len(counties)), key=lambda i: cells[i]["water_hm2"])
        storage = max(cells[wettest]["water_hm2"] * 50.0, 10.0)  # 万m3: about 5 m of flood storage over the water
        lines.append(f"{counties[wettest].code},{year},reservoir_flood_storage,{storage:.6g},万m3,{src}")
    return "\n".join(lines) + "\n"


def _config(spec: SynthSpec) -> str:
    years = ", ".join(str(y) for y in spec.years)
    return f"""# Synthetic inputs (qingshan synth --size {spec.size} --resolution {spec.resolution:g} --seed {spec.seed}):
# not data about any real place. Regions 99xxxx are fictitious.
exclude = [
  {{id = "forestry_products", reason = "synthetic data: the shipped price table has no forestry prices 合成数据"}},
  {{id = "livestock_products", reason = "synthetic data: the shipped price table has no livestock prices 合成数据"}},
  {{id = "fishery_products", reason = "synthetic data: the shipped price table has no fishery prices 合成数据"}},
]

[run]
name = "Synthetic {spec.size}x{spec.size} seed {spec.seed} 合成数据"
years = [{years}]
profile = "jiangxi-db36-2021"
base_year = {spec.years[0]}
output = "out"

[regions]
file = "counties.geojson"
levels = ["province", "city", "county"]
code_fields = ["province_adcode", "city_adcode", "district_adcode"]
name_fields = ["province_name", "city_name", "district_name"]

[grid]
reference = "lulc"

[inputs]
lulc = "lulc.tif"
ndvi = "ndvi.tif"
dem = "dem.tif"
soil_erodibility = "soil_erodibility.tif"
precip = "precip_{{year}}.tif"
aet = "aet_{{year}}.tif"
rain_erosivity = "rain_erosivity_{{year}}.tif"

[tables]
parameters = ["tables/params_science.csv"]
landcover = "tables/landcover_modis_igbp.csv"
prices = "tables/prices_default.csv"
deflator = "tables/deflator_cpi_china.csv"
statistics = "tables/statistics.csv"
products = "tables/products_default.csv"

[prices]
year_policy = "deflate"
"""
