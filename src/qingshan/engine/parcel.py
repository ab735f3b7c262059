"""Parcel valuation (地块价值评估, VEP): the GEP of a user polygon, read from a finished run.

A parcel is any polygon inside the run's regions. Its value is computed in three steps:

1. **Split** the parcel by the leaf regions (counties) it overlaps; every piece is valued with its
   own county's numbers.
2. **Raster indicators are exact.** The run exported each raster component as a COG of per-cell
   annual quantities (``rasters/<indicator>.<component>.<year>.tif``). A piece's quantity is the
   coverage-weighted sum over the cells it touches (exactextract, the same weights the run used
   for its counties), split by the ecosystem type of each cell (land cover of the run).
3. **Prices are the run's.** A component's price in a county is that county's
   ``value / quantity`` (and ``value_comparable / quantity``) in the run's results, i.e. exactly
   the price the run applied there (prices depend on component, year and region, not on the
   cell). Where the county has no quantity of the component, the price of the top region is used.

**Table indicators are apportioned (an approximation).** Provisioning and cultural indicators come
from county statistics, with no location inside the county. A piece receives the county's quantity
× (the piece's area of the component's ecosystem type ÷ the county's area of that type), or × the
piece's share of the county's area when the ecosystem type is not a land-cover class or is absent
from the county's land cover. Their rows carry ``basis = "apportioned"`` and are totalled apart from
the exact raster rows (``basis = "raster"``).
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from exactextract import exact_extract
from pyproj import Geod
from rasterio.windows import Window
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from qingshan.aggregate.regions import LEVELS
from qingshan.core.errors import InputError, UnknownIndicatorError
from qingshan.core.grid import Grid
from qingshan.core.params import ECOSYSTEMS, LandcoverTable
from qingshan.indicators import registry
from qingshan.io.rasters import grid_of, read_aligned

__all__ = [
    "DEFAULT_MAX_AREA_KM2",
    "MAX_UPLOAD_BYTES",
    "METHOD_NOTE_EN",
    "METHOD_NOTE_ZH",
    "ParcelValuation",
    "clean_parcel",
    "parcel_from_file",
    "parcel_from_geojson",
    "value_parcel",
]

# Largest parcel valued on request [km2]. A service guard, not a science parameter: larger than
# any county of the embedded Jiangxi example (鄱阳县 ≈ 4 200 km2), small enough that one request
# reads at most a few hundred thousand cells of a 30 m grid's COG windows per component.
DEFAULT_MAX_AREA_KM2 = 10_000.0
# Largest upload read [bytes] (a zipped county boundary is ≈ 1 MB).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
WGS84 = "EPSG:4326"
_GEOD = Geod(ellps="WGS84")

METHOD_NOTE_EN = (
    "Raster indicators (regulating services) are exact: coverage-weighted sums of the run's "
    "per-cell annual quantities over the parcel, valued at the price the run applied in the county "
    "of each part of the parcel (county value ÷ county quantity). Indicators from statistics tables "
    "(provisioning, cultural) have no location inside a county: they are apportioned by the "
    "parcel's share of the county's area of the product's ecosystem type — an approximation, "
    "totalled separately."
)
METHOD_NOTE_ZH = (
    "栅格指标（调节服务）为精确值：按覆盖比例对本次核算逐像元年实物量在地块内求和，并按地块各部分所在"
    "县的核算价格（县价值量 ÷ 县实物量）估值。来自统计报表的指标（物质产品、文化服务）在县内没有空间位置，"
    "按地块占该县对应生态系统类型面积的比例分摊——属近似值，单独合计。"
)


@dataclass(frozen=True)
class ParcelValuation:
    """The value of one parcel for one year of a run.

    ``rows`` has one row per region piece × indicator × component × ecosystem with ``quantity``
    [``unit``], ``value`` and ``value_comparable`` [CNY] and ``basis`` (``raster``/``apportioned``).
    """

    year: int
    area_km2: float
    area_outside_km2: float
    pieces: pd.DataFrame  # code, name, area_km2
    rows: pd.DataFrame
    notes: list[tuple[str, str]] = field(default_factory=list)  # (en, zh)

    def total(self, column: str = "value", basis: str | None = None) -> float:
        """Sum of ``column`` over the rows (of one ``basis`` when given) [CNY]."""
        rows = self.rows if basis is None else self.rows[self.rows["basis"] == basis]
        return float(rows[column].sum(min_count=1)) if len(rows) else 0.0


# ----------------------------------------------------------------------------- reading parcels
def _bad_parcel(en: str, zh: str, *, field: str = "parcel", file: str | None = None) -> InputError:
    return InputError(
        en, zh, file=file, field=field,
        fix="Give one or more polygons in lon/lat (EPSG:4326) GeoJSON, or upload a GeoJSON, GeoPackage "
            "or zipped Shapefile with polygons in any declared CRS.",
        fix_zh="请提供经纬度（EPSG:4326）GeoJSON 多边形，或上传含多边形且声明了坐标系的 GeoJSON、GeoPackage "
               "或 Shapefile 压缩包。",
    )


def parcel_from_geojson(obj: Any) -> BaseGeometry:
    """The polygon(s) of a GeoJSON geometry, Feature or FeatureCollection (EPSG:4326, RFC 7946).

    Returns the valid polygonal union (see :func:`clean_parcel`); raises :class:`InputError`.
    """
    if not isinstance(obj, Mapping) or not isinstance(obj.get("type"), str):
        raise _bad_parcel("The parcel is not a GeoJSON object (no 'type' member)",
                          "地块不是 GeoJSON 对象（缺少 'type' 字段）")
    kind = obj["type"]
    if kind == "FeatureCollection":
        feats = obj.get("features")
        if not isinstance(feats, list):
            raise _bad_parcel("FeatureCollection without a 'features' list", "FeatureCollection 缺少 'features' 列表",
                              field="features")
        geoms = [_feature_geometry(f) for f in feats]
    elif kind == "Feature":
        geoms = [_feature_geometry(obj)]
    else:
        geoms = [_shape(obj)]
    return clean_parcel([g for g in geoms if g is not None])


def _feature_geometry(feature: Any) -> BaseGeometry | None:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise _bad_parcel("A member of 'features' is not a GeoJSON Feature", "'features' 中有成员不是 GeoJSON Feature",
                          field="features")
    geom = feature.get("geometry")
    return None if geom is None else _shape(geom)


def _shape(geom: Any) -> BaseGeometry:
    try:
        return shape(geom)
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, shapely.errors.ShapelyError) as exc:
        raise _bad_parcel(f"Unreadable GeoJSON geometry: {exc}", "无法解析 GeoJSON 几何对象",
                          field="geometry") from exc


def parcel_from_file(data: bytes, filename: str = "") -> BaseGeometry:
    """The polygon(s) of an uploaded GeoJSON, GeoPackage or zipped Shapefile, in EPSG:4326.

    The format is recognised from the content (zip / SQLite header / text), not the name. Layers
    with a declared CRS are reprojected; a layer without CRS is taken as lon/lat when its
    coordinates fit, and refused otherwise.
    """
    if not data:
        raise _bad_parcel("The uploaded file is empty", "上传的文件为空", field="file", file=filename or None)
    if len(data) > MAX_UPLOAD_BYTES:
        raise _bad_parcel(f"The uploaded file is larger than {MAX_UPLOAD_BYTES // 2**20} MB",
                          f"上传的文件超过 {MAX_UPLOAD_BYTES // 2**20} MB", field="file", file=filename or None)
    suffix = ".zip" if data[:4] == b"PK\x03\x04" else ".gpkg" if data[:16] == b"SQLite format 3\x00" else ".geojson"
    with tempfile.TemporaryDirectory(prefix="qingshan-parcel-") as tmp:
        path = Path(tmp) / f"parcel{suffix}"
        path.write_bytes(data)
        gdf = _read_layer(path, filename)
    return clean_parcel(list(_to_wgs84(gdf, filename).geometry))


def _read_layer(path: Path, filename: str) -> gpd.GeoDataFrame:
    import pyogrio

    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as z:
                if not any(n.lower().endswith((".shp", ".geojson", ".json", ".gpkg")) for n in z.namelist()):
                    raise _bad_parcel("The zip archive holds no .shp (or GeoJSON/GPKG) file",
                                      "压缩包中没有 .shp（或 GeoJSON/GPKG）文件", field="file", file=filename or None)
        layers = pyogrio.list_layers(path)
        polygonal = [str(name) for name, kind in layers if kind is None or "POLYGON" in str(kind).upper()]
        layer = polygonal[0] if polygonal else (str(layers[0][0]) if len(layers) else None)
        return gpd.read_file(path, layer=layer)
    except InputError:
        raise
    except Exception as exc:  # pyogrio/GDAL raise many types for unreadable files
        raise _bad_parcel(f"Cannot read the uploaded file as GeoJSON, GeoPackage or zipped Shapefile: {exc}",
                          "无法将上传的文件读取为 GeoJSON、GeoPackage 或 Shapefile 压缩包", field="file",
                          file=filename or None) from exc


def _to_wgs84(gdf: gpd.GeoDataFrame, filename: str) -> gpd.GeoDataFrame:
    gdf = gdf[gdf.geometry.notna()]
    if gdf.crs is not None:
        return gdf.to_crs(WGS84)
    if len(gdf) and not _fits_lonlat(gdf.total_bounds):
        raise InputError(
            "The uploaded layer has no CRS and its coordinates are not longitude/latitude",
            "上传的图层没有坐标系，且坐标不是经纬度", file=filename or None, field="crs",
            fix="Add the .prj file to the zip (or save the layer with its CRS).",
            fix_zh="请在压缩包中加入 .prj 文件（或保存图层时写入坐标系）。",
        )
    return gdf.set_crs(WGS84)


def _fits_lonlat(bounds: Iterable[float]) -> bool:
    x0, y0, x1, y1 = bounds
    return bool(-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90)


def clean_parcel(geoms: list[BaseGeometry]) -> BaseGeometry:
    """Valid polygonal union of ``geoms`` (lon/lat): repairs with ``make_valid``, drops lines/points.

    Raises :class:`InputError` when nothing polygonal with an area is left or coordinates are not
    longitude/latitude.
    """
    if not geoms or all(g.is_empty for g in geoms):
        raise _bad_parcel("The parcel is empty: no geometry was given", "地块为空：没有几何对象")
    if not all(np.isfinite(shapely.get_coordinates(g)).all() for g in geoms):
        raise _bad_parcel("The parcel has non-finite coordinates (NaN or infinity)", "地块坐标含有非有限值（NaN 或无穷大）",
                          field="coordinates")
    if not all(_fits_lonlat(g.bounds) for g in geoms if not g.is_empty):
        raise _bad_parcel("Parcel coordinates are not longitude/latitude (EPSG:4326)",
                          "地块坐标不是经纬度（EPSG:4326）", field="coordinates")
    polys = [p for g in geoms for p in _polygons(shapely.make_valid(g))]
    if not polys and any("Polygon" in g.geom_type for g in geoms):
        raise _bad_parcel("The parcel has no area", "地块面积为零", field="geometry")
    if not polys:
        kinds = sorted({g.geom_type for g in geoms})
        raise _bad_parcel(f"The parcel is not a polygon (got {', '.join(kinds)})",
                          f"地块不是多边形（收到 {', '.join(kinds)}）", field="geometry")
    parcel = shapely.union_all(polys)
    if parcel.is_empty or parcel.area <= 0:
        raise _bad_parcel("The parcel has no area", "地块面积为零", field="geometry")
    return parcel


def _polygons(g: BaseGeometry) -> list[BaseGeometry]:
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return [] if g.is_empty else [g]
    if hasattr(g, "geoms"):
        return [p for part in g.geoms for p in _polygons(part)]
    return []


def geodesic_km2(geom: BaseGeometry) -> float:
    """Area of a lon/lat geometry on the WGS84 ellipsoid [km2]."""
    return abs(_GEOD.geometry_area_perimeter(geom)[0]) / 1e6


# ----------------------------------------------------------------------------- valuing a parcel
def value_parcel(
    parcel: BaseGeometry,
    *,
    output_dir: str | Path | None,
    config: Mapping[str, Any],
    methods: Mapping[str, str],
    regions: pd.DataFrame,
    results: pd.DataFrame,
    year: int,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    caps: Iterable[Mapping[str, Any]] = (),
) -> ParcelValuation:
    """Value ``parcel`` (lon/lat polygon) with the exports and results of one run (module docstring).

    Parameters
    ----------
    parcel : valid polygon(s) in EPSG:4326 (from :func:`parcel_from_geojson` / :func:`parcel_from_file`).
    output_dir : the run's artifact folder (``rasters/``, ``regions.gpkg``, ``inputs/``), from
        :func:`qingshan.store.artifacts.artifact_dir`.
    config : the run's configuration (``RunConfig`` as JSON), for the land-cover input and table.
    methods : indicator id → method id of the run (its provenance).
    regions : the run's regions (code, name, level, parent[, geometry as GeoJSON text]).
    results : the run's result rows for ``year`` (all regions).
    year : an accounting year of the run.
    max_area_km2 : largest parcel accepted [km2].
    caps : the run's emission-cap report (provenance ``emission_caps``): capped components (air and
        water purification) are per-cell *capacities* in the rasters; a parcel takes the cap factor
        ``min(1, E/C)`` of the region that reported the emissions, as the run did.
    """
    area = geodesic_km2(parcel)
    if area > max_area_km2:
        raise InputError(
            f"The parcel is {area:,.0f} km2, larger than the {max_area_km2:,.0f} km2 allowed",
            f"地块面积 {area:,.0f} km²，超过允许的 {max_area_km2:,.0f} km²", field="parcel",
            fix="Value a smaller parcel, or read the results of whole regions on the map.",
            fix_zh="请评估较小的地块，或在地图上查看整个行政区的核算结果。",
        )
    out_dir = _output_dir(output_dir)
    leaves, notes = _leaf_polygons(out_dir, regions)
    pieces = _pieces(parcel, leaves)
    inside = float(pieces["area_km2"].sum())
    rasters = _raster_paths(out_dir, year)
    _check_rasters(rasters, methods, results, year, out_dir)
    grid = grid_of(next(iter(rasters.values()))) if rasters else None
    if grid is None:
        raster_rows = pd.DataFrame(columns=_ROW_COLUMNS)
        eco_area = _polygon_areas(pieces, leaves)
    else:
        eco, eco_note = _ecosystem_index(config, grid, year, out_dir)
        notes += eco_note
        weights = _coverage(pieces, leaves, grid)
        raster_rows = _apply_caps(_raster_quantities(rasters, weights, pieces, eco, results), caps, regions, year)
        eco_area = _ecosystem_areas(weights, pieces, grid, eco)
    table_rows = _apportioned(results, pieces, eco_area, set(rasters))
    rows = pd.concat([r for r in (raster_rows, table_rows) if len(r)], ignore_index=True) \
        if len(raster_rows) or len(table_rows) else pd.DataFrame(columns=_ROW_COLUMNS)
    rows = _with_values(rows, results, regions)
    if area - inside > 1e-6 * max(area, 1.0):
        notes.append((f"{area - inside:,.2f} km2 of the parcel lie outside the run's regions and are not valued.",
                      f"地块有 {area - inside:,.2f} km² 位于核算区域之外，未计价。"))
    return ParcelValuation(year=year, area_km2=area, area_outside_km2=max(area - inside, 0.0),
                           pieces=pieces.drop(columns="geometry").reset_index(drop=True), rows=rows, notes=notes)


_ROW_COLUMNS = ["region_code", "indicator", "category", "component", "ecosystem", "quantity", "unit", "basis"]


def _output_dir(output_dir: str | Path | None) -> Path:
    if output_dir is None or not Path(output_dir).is_dir():
        raise InputError(
            f"The run's export folder is missing ({output_dir}): parcels need its rasters",
            f"本次核算的导出目录不存在（{output_dir}），地块评估需要其中的栅格", file=output_dir, field="run_id",
            fix="Rerun the accounting (its output folder holds rasters/ and regions.gpkg), or restore the folder.",
            fix_zh="请重新运行核算（输出目录含 rasters/ 和 regions.gpkg），或恢复该目录。",
        )
    return Path(output_dir)


def _leaf_polygons(out_dir: Path, regions: pd.DataFrame) -> tuple[gpd.GeoDataFrame, list[tuple[str, str]]]:
    """Leaf regions (code, name, geometry in lon/lat): exact from regions.gpkg, else the store's."""
    names = dict(zip(regions["code"], regions["name"], strict=True))
    gpkg = out_dir / "regions.gpkg"
    if gpkg.is_file():
        import pyogrio

        present = [str(n) for n, _ in pyogrio.list_layers(gpkg)]
        leaf = [lv for lv in LEVELS if lv in present][-1:]
        if leaf:
            gdf = gpd.read_file(gpkg, layer=leaf[0], columns=["code"]).to_crs(WGS84)
            gdf["code"] = gdf["code"].astype(str)
            gdf["name"] = gdf["code"].map(names).fillna(gdf["code"])
            return gdf[["code", "name", "geometry"]], []
    parents = set(regions["parent"].dropna())
    rows = regions[~regions["code"].isin(parents)]
    if "geometry" not in rows or rows["geometry"].isna().all():
        raise InputError(
            "The run has no region polygons (regions.gpkg missing and none in the store)",
            "本次核算没有行政区多边形（缺少 regions.gpkg，结果库中也没有）", file=gpkg, field="run_id",
            fix="Rerun the accounting to write regions.gpkg.", fix_zh="请重新运行核算以生成 regions.gpkg。",
        )
    rows = rows[rows["geometry"].notna()]
    geoms = [shape(json.loads(g)) for g in rows["geometry"]]
    gdf = gpd.GeoDataFrame({"code": rows["code"].astype(str), "name": rows["name"]}, geometry=geoms, crs=WGS84)
    return gdf.reset_index(drop=True), [("Region boundaries are the simplified ones of the results store "
                                        "(regions.gpkg is missing).",
                                        "行政区边界采用结果库中的简化边界（缺少 regions.gpkg）。")]


def _pieces(parcel: BaseGeometry, leaves: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The parcel cut by the leaf regions it overlaps: code, name, area_km2, geometry."""
    hit = leaves[leaves.intersects(parcel)]
    out = []
    for r in hit.itertuples():
        part = shapely.union_all(_polygons(shapely.intersection(r.geometry, parcel)) or [shapely.Polygon()])
        a = 0.0 if part.is_empty else geodesic_km2(part)
        if a > 0:
            out.append({"code": r.code, "name": r.name, "area_km2": a, "geometry": part})
    if not out:
        raise _bad_parcel("The parcel lies outside the regions of this run", "地块不在本次核算的区域范围内",
                          field="geometry")
    return gpd.GeoDataFrame(out, geometry="geometry", crs=WGS84).sort_values("code").reset_index(drop=True)


def _raster_paths(out_dir: Path, year: int) -> dict[tuple[str, str], Path]:
    """(indicator, component) → COG of per-cell annual quantities for ``year``."""
    found = {}
    for p in sorted((out_dir / "rasters").glob(f"*.{year}.tif")):
        parts = p.name[: -len(f".{year}.tif")].split(".", 1)
        if len(parts) == 2:
            found[(parts[0], parts[1])] = p
    return found


def _check_rasters(rasters: Mapping[tuple[str, str], Path], methods: Mapping[str, str], results: pd.DataFrame,
                   year: int, out_dir: Path) -> None:
    """Every component of a raster-method indicator in the results must have its COG."""
    reg = registry()
    for ind, method in methods.items():
        try:
            kind = reg.get(ind).method(method).kind
        except (UnknownIndicatorError, KeyError, ValueError):
            continue
        if kind != "raster":
            continue
        comps = set(results.loc[results["indicator"] == ind, "component"])
        missing = sorted(c for c in comps if (ind, c) not in rasters)
        if missing:
            path = out_dir / "rasters" / f"{ind}.{missing[0]}.{year}.tif"
            raise InputError(
                f"Missing raster of the run for {ind}/{', '.join(missing)} {year}: parcels cannot be valued",
                f"本次核算缺少 {ind}/{', '.join(missing)} {year} 年的栅格，无法评估地块", file=path, field="run_id",
                fix="Rerun the accounting: it writes one COG per raster component into rasters/.",
                fix_zh="请重新运行核算：核算会在 rasters/ 中为每个栅格组分写出一个 COG 文件。",
            )


def _ecosystem_index(config: Mapping[str, Any], grid: Grid, year: int,
                     out_dir: Path | None = None) -> tuple[np.ndarray | None, list[tuple[str, str]]]:
    """Per-cell index into ECOSYSTEMS from the run's land cover (None, with a note, if unavailable).

    The copy kept with the run's artifacts (``inputs/lulc.<year>.tif``, ``inputs/landcover.csv``) is
    used when present, so that moving or changing the original inputs changes nothing."""
    lulc = (config.get("inputs") or {}).get("lulc")
    table = (config.get("tables") or {}).get("landcover")
    kept = (out_dir / "inputs" / f"lulc.{year}.tif", out_dir / "inputs" / "landcover.csv") if out_dir else None
    if kept is not None and kept[0].is_file() and kept[1].is_file():
        lulc, table = str(kept[0]), str(kept[1])
    resample = bool((config.get("grid") or {}).get("resample", True))
    if not lulc or not table:
        return None, [("The run has no land cover: raster quantities are not split by ecosystem.",
                       "本次核算没有土地覆被数据：栅格实物量未按生态系统拆分。")]
    try:
        codes = read_aligned(str(lulc).replace("{year}", str(year)), "lulc", grid, allow_resample=resample)
        lc = LandcoverTable.from_csv(table)
        return lc.ecosystem_index(np.where(np.isfinite(codes), codes, -1).astype(np.int64)), []
    except InputError:
        return None, [("The run's land-cover input is no longer readable: raster quantities are not split by "
                       "ecosystem and table indicators are apportioned by area.",
                       "本次核算的土地覆被输入已无法读取：栅格实物量未按生态系统拆分，统计指标按面积分摊。")]


@dataclass(frozen=True)
class _Weights:
    """Cells and coverage fractions of each piece and of each piece's whole county."""

    piece: list[tuple[np.ndarray, np.ndarray]]
    county: list[tuple[np.ndarray, np.ndarray]]


def _coverage(pieces: gpd.GeoDataFrame, leaves: gpd.GeoDataFrame, grid: Grid) -> _Weights:
    counties = leaves.set_index("code").loc[pieces["code"]].reset_index()
    vec = gpd.GeoDataFrame({"k": range(2 * len(pieces))},
                           geometry=list(pieces.geometry) + list(counties.geometry), crs=WGS84).to_crs(grid.crs_wkt)
    with rasterio.io.MemoryFile() as mem:
        with mem.open(driver="GTiff", height=grid.height, width=grid.width, count=1, dtype="uint8",
                      crs=grid.crs_wkt, transform=grid.transform) as ds:
            ds.write(np.zeros((1, *grid.shape), dtype="uint8"))
        with mem.open() as ds:
            table = exact_extract(ds, vec, ["cell_id", "coverage"], output="pandas")
    cells = [(np.asarray(c, dtype=np.int64), np.asarray(w, dtype=np.float64))
             for c, w in zip(table["cell_id"], table["coverage"], strict=True)]
    return _Weights(piece=cells[: len(pieces)], county=cells[len(pieces):])


def _window(cells: Iterable[np.ndarray], width: int) -> Window:
    flat = np.concatenate([c for c in cells if len(c)] or [np.zeros(1, dtype=np.int64)])
    r, c = np.divmod(flat, width)
    return Window(int(c.min()), int(r.min()), int(c.max() - c.min() + 1), int(r.max() - r.min() + 1))


def _sums_by_ecosystem(values: np.ndarray, cells: np.ndarray, cover: np.ndarray,
                       eco: np.ndarray | None) -> dict[str, float]:
    """Coverage-weighted sums of ``values`` (one per cell of ``cells``, NaN = 0) by ecosystem name."""
    v = np.nan_to_num(values, nan=0.0) * cover
    if eco is None:
        return {"all": float(v.sum())}
    k = eco.reshape(-1)[cells]
    return {ECOSYSTEMS[i]: float(v[k == i].sum()) for i in np.unique(k[k >= 0])}


def _raster_quantities(rasters: Mapping[tuple[str, str], Path], w: _Weights, pieces: gpd.GeoDataFrame,
                       eco: np.ndarray | None, results: pd.DataFrame) -> pd.DataFrame:
    units = results.drop_duplicates(["indicator", "component"]).set_index(["indicator", "component"])["unit"]
    cats = results.drop_duplicates("indicator").set_index("indicator")["category"]
    out = []
    for (ind, comp), path in rasters.items():
        unit = str(units.get((ind, comp), _declared_unit(ind, comp)))
        with rasterio.open(path) as ds:
            win = _window((c for c, _ in w.piece), ds.width)
            block = ds.read(1, window=win, masked=True).filled(np.nan).astype(np.float64)
        for code, (cells, cover) in zip(pieces["code"], w.piece, strict=True):
            r, c = np.divmod(cells, ds.width)
            values = block[r - int(win.row_off), c - int(win.col_off)]
            for e, q in _sums_by_ecosystem(values, cells, cover, eco).items():
                if q != 0:
                    out.append({"region_code": code, "indicator": ind, "category": cats.get(ind, _category(ind)),
                                "component": comp, "ecosystem": e, "quantity": q, "unit": unit, "basis": "raster"})
    return pd.DataFrame(out, columns=_ROW_COLUMNS)


def _apply_caps(rows: pd.DataFrame, caps: Iterable[Mapping[str, Any]], regions: pd.DataFrame, year: int) -> pd.DataFrame:
    """Scale capped components by the cap factor of the region (or ancestor) that reported emissions."""
    factors = {(str(c["region_code"]), str(c["indicator"]), str(c["component"])): float(c["factor"])
               for c in caps if int(c.get("year", year)) == year}
    if not factors or rows.empty:
        return rows
    parent = dict(zip(regions["code"].astype(str), regions["parent"], strict=True))

    def factor(code: str, ind: str, comp: str) -> float:
        node: str | None = code
        while node is not None:
            if (node, ind, comp) in factors:
                return factors[(node, ind, comp)]
            p = parent.get(node)
            node = str(p) if isinstance(p, str) and p else None
        return 1.0

    out = rows.copy()
    out["quantity"] = [q * factor(str(r), str(i), str(c)) for q, r, i, c in
                       zip(out["quantity"], out["region_code"], out["indicator"], out["component"], strict=True)]
    return out


def _declared_unit(indicator: str, component: str) -> str:
    try:
        return registry().get(indicator).component(component).unit
    except (UnknownIndicatorError, KeyError, ValueError):
        return ""


def _category(indicator: str) -> str:
    try:
        return registry().get(indicator).category.value
    except UnknownIndicatorError:
        return ""


def _ecosystem_areas(w: _Weights, pieces: gpd.GeoDataFrame, grid: Grid, eco: np.ndarray | None) -> pd.DataFrame:
    """Area [m2] of each ecosystem type (and ``all``) in each piece and in its county, by code."""
    cell_area = grid.cell_area().reshape(-1)
    rows = []
    for code, (pc, pw), (cc, cw) in zip(pieces["code"], w.piece, w.county, strict=True):
        p = _sums_by_ecosystem(cell_area[pc], pc, pw, eco)
        c = _sums_by_ecosystem(cell_area[cc], cc, cw, eco)
        for e in set(p) | set(c) | {"all"}:
            rows.append({"region_code": code, "ecosystem": e,
                         "piece": sum(p.values()) if e == "all" else p.get(e, 0.0),
                         "county": sum(c.values()) if e == "all" else c.get(e, 0.0)})
    return pd.DataFrame(rows)


def _polygon_areas(pieces: gpd.GeoDataFrame, leaves: gpd.GeoDataFrame) -> pd.DataFrame:
    """Piece and county areas (ecosystem ``all`` only), when the run has no raster at all."""
    county = leaves.set_index("code").loc[pieces["code"]].geometry.map(geodesic_km2).to_numpy()
    return pd.DataFrame({"region_code": pieces["code"], "ecosystem": "all",
                         "piece": pieces["area_km2"].to_numpy(), "county": county})


def _apportioned(results: pd.DataFrame, pieces: gpd.GeoDataFrame, eco_area: pd.DataFrame,
                 raster_keys: set[tuple[str, str]]) -> pd.DataFrame:
    """County rows of table indicators × the piece's share of the county's ecosystem area."""
    rows = results[results["region_code"].isin(set(pieces["code"]))]
    keys = list(zip(rows["indicator"], rows["component"], strict=True))
    rows = rows[[k not in raster_keys for k in keys]]
    if rows.empty:
        return pd.DataFrame(columns=_ROW_COLUMNS)
    area = {(r.region_code, r.ecosystem): (r.piece, r.county) for r in eco_area.itertuples()}
    shares = []
    for r in rows.itertuples():
        piece, county = area.get((r.region_code, r.ecosystem), (0.0, 0.0))
        if not county > 0:  # not a land-cover class, or absent from the county: share of the whole area
            piece, county = area.get((r.region_code, "all"), (0.0, 0.0))
        shares.append(piece / county if county > 0 else 0.0)
    grouped = rows.assign(share=shares)
    out = grouped.assign(quantity=grouped["quantity"] * grouped["share"], basis="apportioned")
    return out[_ROW_COLUMNS].reset_index(drop=True)


def _with_values(rows: pd.DataFrame, results: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    """Add ``price`` (CNY per unit), ``value`` and ``value_comparable`` [CNY] at the run's prices."""
    if rows.empty:
        return rows.assign(price=pd.Series(dtype=float), value=pd.Series(dtype=float),
                           value_comparable=pd.Series(dtype=float))
    keys = ["indicator", "component"]
    county = results.groupby(["region_code", *keys])[["quantity", "value", "value_comparable"]].sum(min_count=1)
    roots = set(regions.loc[regions["parent"].isna() | ~regions["parent"].isin(regions["code"]), "code"])
    top = results[results["region_code"].isin(roots)].groupby(keys)[["quantity", "value", "value_comparable"]].sum(min_count=1)
    price, price_cmp = [], []
    for r in rows.itertuples():
        src = county.loc[(r.region_code, r.indicator, r.component)] \
            if (r.region_code, r.indicator, r.component) in county.index else None
        if src is None or not src["quantity"] > 0:
            src = top.loc[(r.indicator, r.component)] if (r.indicator, r.component) in top.index else None
        p, pc = _unit_prices(src)
        price.append(p)
        price_cmp.append(pc)
    out = rows.assign(price=price)
    out["value"] = out["quantity"] * out["price"]
    out["value_comparable"] = out["quantity"] * np.asarray(price_cmp, dtype=float)
    return out.reset_index(drop=True)


def _unit_prices(src: pd.Series | None) -> tuple[float, float]:
    """(value, comparable value) per unit of quantity of one results row [CNY per unit]; NaN if none."""
    if src is None or not src["quantity"] > 0:
        return np.nan, np.nan
    q = float(src["quantity"])
    return (float(src["value"]) / q if pd.notna(src["value"]) else np.nan,
            float(src["value_comparable"]) / q if pd.notna(src["value_comparable"]) else np.nan)
