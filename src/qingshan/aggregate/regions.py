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

from qingshan.core.errors import InputError, RegionError

__all__ = ["LEVELS", "LEVEL_ZH", "Region", "RegionSet"]

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
    ) -> RegionSet:
        """Build the hierarchy from one polygon file of the lowest level.

        ``levels`` runs from the top (``province``) down to the leaf level; ``code_fields`` and
        ``name_fields`` name, for each level, the attribute columns holding its code and name.
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
        gdf = gpd.read_file(path)
        if gdf.crs is None:
            raise InputError(
                f"Boundary file {path.name} has no CRS",
                f"边界文件 {path.name} 没有坐标参考系",
                file=path,
                field="crs",
                fix="Save it with a CRS (GeoJSON is always EPSG:4326; for shapefiles ship the .prj).",
                fix_zh="请保存坐标系信息（shapefile 需附带 .prj 文件）。",
            )
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
                name = str(row[nf]).strip()
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
                "name": [str(n) for n in gdf[name_fields[-1]]],
            },
            geometry=gdf.geometry.values,
            crs=gdf.crs,
        )
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
