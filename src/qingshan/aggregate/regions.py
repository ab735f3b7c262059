"""The administrative hierarchy (province → city → county → township) built from boundary files.

Codes follow GB/T 2260 (six digits: 360000 Jiangxi, 360100 Nanchang, 360102 Donghu District);
township codes (9 or 12 digits, 统计用区划代码) are accepted for a township level. Only the
lowest level needs polygons; every higher level is the exact sum of its children.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

from qingshan.core.errors import InputError, RegionError
from qingshan.core.notices import Notice, notice
from qingshan.core.tables import FORMULA_START

__all__ = ["EQUAL_AREA", "LEVELS", "LEVEL_ZH", "Region", "RegionSet"]

EQUAL_AREA = "+proj=aea +lat_1=25 +lat_2=47 +lat_0=0 +lon_0=105 +datum=WGS84 +units=m"
"""Albers equal-area projection for China (the one the exports use) for areas in km²."""

LEVELS = ("province", "city", "county", "township")
LEVEL_ZH = {"province": "省", "city": "市", "county": "县（区）", "township": "乡镇（街道）"}
_CODE = re.compile(r"^\d{6}(\d{3}(\d{3})?)?$")


@dataclass(frozen=True)
class Region:
    """One administrative unit."""

    code: str
    name: str
    level: str
    parent: str | None


@dataclass(frozen=True)
class RegionSet:
    """All regions of an accounting, with the polygons of the lowest level (the leaves)."""

    regions: dict[str, Region]
    leaves: gpd.GeoDataFrame  # columns: code, name, geometry (leaf level)
    source: str = "<memory>"

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        levels: Sequence[str],
        code_fields: Sequence[str],
        name_fields: Sequence[str],
        overlap_tolerance_km2: float = 0.01,
        gap_tolerance_km2: float = 0.01,
    ) -> RegionSet:
        """Build the hierarchy from one polygon file of the lowest level.

        ``levels`` runs from the top (``province``) down to the leaf level; ``code_fields`` and
        ``name_fields`` name, for each level, the attribute columns holding its code and name.
        Geometries are checked (see :func:`check_leaf_geometries`, :func:`check_overlaps_and_gaps`):
        empty ones are errors, invalid ones are repaired with a notice, overlaps between two leaves
        above ``overlap_tolerance_km2`` are errors and smaller ones notices; gaps (holes enclosed
        by the leaves) above ``gap_tolerance_km2`` are notices.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(
                f"Boundary file not found: {path}",
                f"找不到行政区划边界文件：{path}",
                file=path,
                fix="Check [regions] file in the config.",
                fix_zh="请检查配置文件 [regions] file 的路径。",
            )
        if not (len(levels) == len(code_fields) == len(name_fields)) or not levels:
            raise RegionError(
                "[regions] levels, code_fields and name_fields must have the same length",
                "[regions] 的 levels、code_fields 与 name_fields 长度必须一致",
                file=path,
                field="levels",
                fix="Give one code field and one name field per level, top level first.",
                fix_zh="请为每一级给出代码字段和名称字段（自上而下）。",
            )
        gdf = _read_boundaries(path)
        if gdf.crs is None:
            raise InputError(
                f"Boundary file {path.name} has no CRS",
                f"边界文件 {path.name} 没有坐标参考系",
                file=path,
                field="crs",
                fix="Save it with a CRS (GeoJSON is always EPSG:4326; for shapefiles ship the .prj).",
                fix_zh="请保存坐标系信息（shapefile 需附带 .prj 文件）。",
            )
        check_crs_extent(gdf, path)
        for f in (*code_fields, *name_fields):
            if f not in gdf.columns:
                raise RegionError(
                    f"Boundary file has no attribute '{f}'",
                    f"边界文件缺少属性字段 '{f}'",
                    file=path,
                    field=f,
                    fix=f"Available fields: {', '.join(c for c in gdf.columns if c != 'geometry')}.",
                    fix_zh=f"可用字段：{', '.join(c for c in gdf.columns if c != 'geometry')}。",
                )
        regions: dict[str, Region] = {}
        for i, row in gdf.iterrows():
            parent: str | None = None
            for level, cf, nf in zip(levels, code_fields, name_fields, strict=True):
                code = _clean_code(row[cf], path=path, field=cf, row=int(str(i)))
                name = _clean_name(row[nf], code=code, path=path, field=nf)
                region = Region(code, name, level, parent)
                known = regions.get(code)
                if known is None:
                    regions[code] = region
                elif level == levels[-1]:
                    raise RegionError(
                        f"Duplicate region code {code} ({name})",
                        f"行政区划代码 {code}（{name}）重复",
                        file=path,
                        field=cf,
                        fix="Each polygon of the lowest level needs its own code; merge multi-part units into one feature.",
                        fix_zh="最低一级每个多边形需有唯一代码；多部分区域请合并为一个要素。",
                    )
                elif known != region:
                    raise RegionError(
                        f"Region code {code} has inconsistent name/parent ({known.name}/{known.parent} vs {name}/{parent})",
                        f"行政区划代码 {code} 的名称或上级不一致",
                        file=path,
                        field=cf,
                        fix="Correct the codes so each code has one name and one parent.",
                        fix_zh="请修正代码，使每个代码只对应一个名称和一个上级。",
                    )
                parent = code
        leaves = gpd.GeoDataFrame(
            {
                "code": [_clean_code(c, path=path, field=code_fields[-1], row=0) for c in gdf[code_fields[-1]]],
                "name": [regions[_clean_code(c, path=path, field=code_fields[-1], row=0)].name
                         for c in gdf[code_fields[-1]]],
            },
            geometry=gdf.geometry.values,
            crs=gdf.crs,
        )
        leaves = check_leaf_geometries(leaves, path)
        check_overlaps_and_gaps(leaves, path, overlap_tolerance_km2=overlap_tolerance_km2,
                                gap_tolerance_km2=gap_tolerance_km2)
        return cls(regions=regions, leaves=leaves, source=str(path))

    def __iter__(self) -> Iterator[Region]:
        return iter(self.regions.values())

    def __len__(self) -> int:
        return len(self.regions)

    def __contains__(self, code: object) -> bool:
        return code in self.regions

    def get(self, code: str) -> Region:
        """The region with ``code``; unknown codes are errors."""
        try:
            return self.regions[code]
        except KeyError:
            raise RegionError(
                f"Unknown region code {code}",
                f"未知的行政区划代码 {code}",
                field="region_code",
                fix="Use a GB/T 2260 code of a region in the boundary file.",
                fix_zh="请使用边界文件中存在的 GB/T 2260 行政区划代码。",
            ) from None

    def ancestors(self, code: str) -> list[str]:
        """Codes of all ancestors of ``code``, nearest first."""
        out = []
        parent = self.get(code).parent
        while parent is not None:
            out.append(parent)
            parent = self.regions[parent].parent
        return out

    def children(self, code: str) -> list[str]:
        """Codes of the direct children of ``code``."""
        return [r.code for r in self.regions.values() if r.parent == code]

    @property
    def leaf_level(self) -> str:
        """Name of the lowest level (the one with polygons)."""
        return self.regions[str(self.leaves["code"].iloc[0])].level

    def codes_at(self, level: str) -> list[str]:
        """Codes of all regions at ``level``, sorted."""
        return sorted(r.code for r in self.regions.values() if r.level == level)

    def roots(self) -> list[str]:
        """Codes of the top-level regions."""
        return sorted(r.code for r in self.regions.values() if r.parent is None)

    def areas_km2(self) -> dict[str, float]:
        """Area [km²] of every region (leaves in :data:`EQUAL_AREA`; higher levels the sum of their leaves)."""
        leaf_area = self.leaves.to_crs(EQUAL_AREA).area.to_numpy() / 1e6
        out: dict[str, float] = {}
        for code, a in zip(self.leaves["code"].astype(str), leaf_area, strict=True):
            for c in (code, *self.ancestors(code)):
                out[c] = out.get(c, 0.0) + float(a)
        return out


def _clean_code(value: object, *, path: Path, field: str, row: int) -> str:
    text = str(value).strip()
    if text.endswith(".0"):
        text = text[:-2]
    if not _CODE.match(text):
        raise RegionError(
            f"'{text}' in field '{field}' is not a GB/T 2260 region code",
            f"字段 '{field}' 中的 '{text}' 不是有效的 GB/T 2260 行政区划代码",
            file=path,
            field=field,
            fix="Codes have 6 digits (county and above) or 9/12 digits (township).",
            fix_zh="县级及以上代码为 6 位数字，乡镇级为 9 位或 12 位。",
        )
    return text


def _clean_name(value: object, *, code: str, path: Path, field: str) -> str:
    """A region's name: present, not empty, and not read as a formula by a spreadsheet program.

    A missing name used to become the text ``None`` or ``nan`` in every table, and a name such as
    ``=HYPERLINK(...)`` ran as a formula when ``results.csv`` was opened in Excel.
    """
    missing = value is None or (isinstance(value, float) and value != value)
    text = "" if missing else str(value).strip()
    if not text:
        raise RegionError(
            f"Region {code} has no name in field '{field}'",
            f"行政区 {code} 在字段 '{field}' 中没有名称",
            file=path,
            field=field,
            fix=f"Fill in the name of region {code} in field '{field}' (every region needs one for the tables).",
            fix_zh=f"请在字段 '{field}' 中填写行政区 {code} 的名称（各表格需要名称）。",
        )
    if text.startswith(FORMULA_START):
        raise RegionError(
            f"Name {text!r} of region {code} in field '{field}' begins with {text[:1]!r}: "
            "spreadsheet programs run such a cell as a formula when results.csv is opened",
            f"行政区 {code} 在字段 '{field}' 中的名称 {text!r} 以 '{text[:1]}' 开头："
            "电子表格软件打开 results.csv 时会将其当作公式执行",
            file=path,
            field=field,
            fix=f"Rename region {code} in field '{field}' so that its name begins with a letter or a character.",
            fix_zh=f"请修改字段 '{field}' 中行政区 {code} 的名称，使其以文字开头。",
        )
    return text


def _read_boundaries(path: Path) -> gpd.GeoDataFrame:
    """Read a boundary file; unreadable files and files without features are input errors."""
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # GDAL/pyogrio errors have no common base class
        raise InputError(
            f"Cannot read boundary file {path.name}: {exc}",
            f"无法读取行政区划边界文件 {path.name}",
            file=path,
            fix="Give a polygon file GDAL can read (GeoJSON, GeoPackage, or a shapefile with its .shx/.dbf/.prj).",
            fix_zh="请提供 GDAL 可读取的面要素文件（GeoJSON、GeoPackage，或带 .shx/.dbf/.prj 的 shapefile）。",
        ) from exc
    if len(gdf) == 0:
        raise InputError(
            f"Boundary file {path.name} has no features",
            f"行政区划边界文件 {path.name} 中没有要素",
            file=path,
            fix="Export the polygons of the lowest administrative level into the file.",
            fix_zh="请将最低一级行政区的面要素导出到该文件。",
        )
    return gdf


def check_crs_extent(gdf: gpd.GeoDataFrame, path: Path, margin_deg: float = 2.0) -> None:
    """The coordinates must lie where the declared CRS is used (e.g. no UTM metres labelled EPSG:4326).

    Geographic coordinates must be within ±180°/±90°; the extent (in longitude/latitude) must touch the
    CRS's area of use, widened by ``margin_deg``.
    """
    crs = gdf.crs
    valid = gdf.geometry[[g is not None and not g.is_empty for g in gdf.geometry]]  # notna() warns on empties
    if valid.empty:
        return
    minx, miny, maxx, maxy = valid.total_bounds
    aou = crs.area_of_use
    lonlat = valid.total_bounds if crs.is_geographic else valid.to_crs("EPSG:4326").total_bounds
    wrong = crs.is_geographic and (minx < -180.5 or maxx > 360.5 or miny < -90.5 or maxy > 90.5)
    if not wrong and aou is not None:
        w, s, e, n = lonlat
        wrong = not np.all(np.isfinite(lonlat)) or (
            e < aou.west - margin_deg or w > aou.east + margin_deg or n < aou.south - margin_deg or s > aou.north + margin_deg
        )
    if wrong:
        where = f"{aou.name} ({aou.west}…{aou.east}°E, {aou.south}…{aou.north}°N)" if aou is not None else "its valid range"
        raise InputError(
            f"Coordinates of {path.name} (x {minx:.6g}…{maxx:.6g}, y {miny:.6g}…{maxy:.6g}) lie outside the area of use of "
            f"its declared CRS {crs.to_string()}: {where}",
            f"边界文件 {path.name} 的坐标（x {minx:.6g}…{maxx:.6g}，y {miny:.6g}…{maxy:.6g}）超出其声明坐标系 "
            f"{crs.to_string()} 的适用范围",
            file=path, field="crs",
            fix="Declare the CRS the coordinates are really in (e.g. projected metres are not EPSG:4326; GeoJSON must be "
            "longitude/latitude), or reproject the file.",
            fix_zh="请声明坐标实际所用的坐标系（投影坐标（米）不是 EPSG:4326；GeoJSON 须为经纬度），或对文件重新投影。",
        )


def _label(code: str, name: str) -> str:
    return f"{code} ({name})"


def check_leaf_geometries(leaves: gpd.GeoDataFrame, path: Path) -> gpd.GeoDataFrame:
    """Leaves with invalid polygons repaired (``shapely.make_valid``, with a notice naming the region).

    Null, empty or non-polygonal geometries, and invalid ones whose repair leaves no area, are
    :class:`RegionError` naming the region.
    """
    geoms = list(leaves.geometry.values)
    for k, (code, name) in enumerate(zip(leaves["code"], leaves["name"], strict=True)):
        g = geoms[k]
        if g is None or g.is_empty:
            raise RegionError(
                f"Region {_label(code, name)} has an empty or missing geometry",
                f"行政区 {_label(code, name)} 的边界几何为空",
                file=path, field="geometry",
                fix="Give the region its polygon, or remove the feature (and its statistics rows).",
                fix_zh="请补充该行政区的面边界，或删除该要素（及其统计数据行）。",
            )
        if g.geom_type not in ("Polygon", "MultiPolygon"):
            raise RegionError(
                f"Region {_label(code, name)} is a {g.geom_type}, not a polygon",
                f"行政区 {_label(code, name)} 的几何类型为 {g.geom_type}，不是面",
                file=path, field="geometry",
                fix="Boundary files hold polygons (areas) of the regions.",
                fix_zh="边界文件应为行政区的面要素。",
            )
        if not g.is_valid:
            geoms[k] = _repair(g, code, name, path)
    return leaves.set_geometry(gpd.GeoSeries(geoms, index=leaves.index, crs=leaves.crs))


def _repair(g: shapely.Geometry, code: str, name: str, path: Path) -> shapely.Geometry:
    reason = shapely.is_valid_reason(g)
    try:
        fixed = shapely.make_valid(g)
        polys = [p for p in shapely.get_parts(fixed) if p.geom_type in ("Polygon", "MultiPolygon") and p.area > 0]
        repaired = shapely.union_all(polys) if polys else None
    except shapely.errors.GEOSException:
        repaired = None
    if repaired is None or repaired.is_empty or not repaired.is_valid:
        raise RegionError(
            f"Region {_label(code, name)} has an invalid geometry ({reason}) that cannot be repaired",
            f"行政区 {_label(code, name)} 的边界几何无效（{reason}），且无法自动修复",
            file=path, field="geometry",
            fix="Repair the polygon in a GIS (e.g. QGIS 'Fix geometries') and save the file again.",
            fix_zh="请在 GIS 软件中修复该面（如 QGIS 的“修复几何”工具）后重新保存。",
        )
    notice(Notice(
        "boundary_repaired",
        f"Boundary of region {_label(code, name)} was invalid ({reason}) and was repaired with make_valid",
        f"行政区 {_label(code, name)} 的边界几何无效（{reason}），已用 make_valid 自动修复",
        file=str(path), field="geometry", region=code,
    ))
    return repaired


def check_overlaps_and_gaps(leaves: gpd.GeoDataFrame, path: Path, *, overlap_tolerance_km2: float,
                            gap_tolerance_km2: float) -> None:
    """Overlaps between two leaves above the tolerance are errors (double counting); smaller ones and
    gaps (holes enclosed by the leaves, e.g. a missing region or an enclave) above ``gap_tolerance_km2``
    are notices naming the regions and the area [km²]."""
    proj = leaves.to_crs(EQUAL_AREA)
    geoms = proj.geometry.values
    codes, names = list(leaves["code"]), list(leaves["name"])
    try:
        i, j = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        keep = i < j
        i, j = i[keep], j[keep]
        areas = shapely.area(shapely.intersection(geoms[i], geoms[j])) / 1e6 if len(i) else np.array([])
    except shapely.errors.GEOSException as exc:
        raise RegionError(
            f"The polygons of {path.name} cannot be intersected to check for overlaps ({exc})",
            f"边界文件 {path.name} 的面无法求交以检查重叠（{exc}）",
            file=path, field="geometry",
            fix="Repair the geometries in a GIS (e.g. QGIS 'Fix geometries', then 'Check validity') and save again.",
            fix_zh="请在 GIS 软件中修复几何（如 QGIS 的“修复几何”和“检查有效性”）后重新保存。",
        ) from exc
    order = np.argsort(-areas)
    big = [(codes[i[k]], names[i[k]], codes[j[k]], names[j[k]], float(areas[k])) for k in order if areas[k] > overlap_tolerance_km2]
    if big:
        a, an, b, bn, area = big[0]
        more = f" ({len(big) - 1} more overlapping pair(s))" if len(big) > 1 else ""
        raise RegionError(
            f"Regions {_label(a, an)} and {_label(b, bn)} overlap by {area:.3f} km²{more}; "
            f"overlapping areas would be counted twice",
            f"行政区 {_label(a, an)} 与 {_label(b, bn)} 的边界重叠 {area:.3f} km²，重叠部分会被重复计算",
            file=path, field="geometry",
            fix=f"Correct the shared boundary so leaf regions do not overlap (tolerance {overlap_tolerance_km2} km², "
            "[regions] overlap_tolerance_km2).",
            fix_zh=f"请修正两区的共同边界，使最低一级行政区互不重叠（容差 {overlap_tolerance_km2} km²，见 [regions] overlap_tolerance_km2）。",
        )
    for k in order:
        if areas[k] > 1e-9:
            a, an, b, bn = codes[i[k]], names[i[k]], codes[j[k]], names[j[k]]
            notice(Notice(
                "boundary_sliver",
                f"Regions {_label(a, an)} and {_label(b, bn)} overlap by a sliver of {areas[k]:.6f} km² (below the tolerance)",
                f"行政区 {_label(a, an)} 与 {_label(b, bn)} 有 {areas[k]:.6f} km² 的细小重叠（低于容差）",
                file=str(path), field="geometry", region=a,
            ))
    _gap_notices(geoms, codes, names, path, gap_tolerance_km2)


def _gap_notices(geoms: np.ndarray, codes: list[str], names: list[str], path: Path, tolerance_km2: float) -> None:
    try:
        union = shapely.union_all(geoms)
    except shapely.errors.GEOSException:
        return  # the overlap check above passed; a union GEOS cannot build only skips the gap notices
    holes = [shapely.Polygon(r) for p in shapely.get_parts(union) for r in p.interiors]
    if not holes:
        return
    tree = shapely.STRtree(geoms)
    for hole in holes:
        area = hole.area / 1e6
        if area <= tolerance_km2:
            continue
        near = sorted({codes[k] for k in tree.query(hole, predicate="intersects")})
        label = ", ".join(_label(c, names[codes.index(c)]) for c in near[:6])
        notice(Notice(
            "boundary_gap",
            f"A gap of {area:.3f} km² not covered by any region lies between {label}",
            f"行政区 {label} 之间有 {area:.3f} km² 未被任何行政区覆盖的空隙",
            file=str(path), field="geometry", region=near[0] if near else None,
        ))
