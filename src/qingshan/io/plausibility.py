"""Plausibility of input rasters: statistics that catch the common unit mistakes before anything is computed.

A value range alone lets precipitation in metres through (0.8–2.0 lies inside 0–12 000 mm) and
turns GEP silently wrong. Here each input raster is checked, on a sample of its cells, for

* **typical statistics**: the median and the 99th percentile must lie in the variable's typical
  ranges (``typical_median``, ``typical_p99`` of :data:`qingshan.core.variables.VARIABLES`, each with
  its justification). When they do not, the error says which known mistake would explain the
  values (:data:`MISTAKES`: precipitation/ET in m, temperature in K or 0.1 °C, NDVI × 10 000, DEM
  in km …) and how to convert;
* **integer class codes** for categorical variables (land cover): a float raster such as
  precipitation given as land cover is rejected;
* **coordinates inside the declared CRS's area of use** (pyproj ``CRS.area_of_use``, remembered by
  :mod:`qingshan.core.crs`; the extent turned into lon/lat by rasterio's GDAL; a geographic CRS must also
  have longitudes within −180…360 and latitudes within ±90): UTM metres labelled EPSG:4326 are rejected.

Statistics come from a sample (:func:`sample_values`): up to :data:`SAMPLE_CELLS` cells read as
whole blocks spread evenly over the raster, so the check costs the same for a 100 000² raster as
for the example. Errors are :class:`~qingshan.core.errors.InputError` in both languages naming the
file, the variable, the observed median and 99th percentile, what was expected and the fix.

Overrides (genuinely extreme regions): ``overrides`` maps a variable to ``"off"`` (no statistics
check) or to bounds ``{"median": [lo, hi], "p99": [lo, hi]}`` replacing the typical ranges, and
``"crs"`` to ``"off"`` (no area-of-use check). In a run config this is the ``[plausibility]``
section (docs/config.md). Every override in effect records a notice
(:func:`qingshan.core.notices.notice`, code ``plausibility_override``) with the observed statistics,
so the QC report shows it.

Example
-------
>>> from qingshan.io.plausibility import check_raster
>>> check_raster("approx_precip_2019.tif", "precip")          # doctest: +SKIP
SampleStats(n=15600, median=1640.88, p99=1952.12, non_integer=1.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from qingshan.core.crs import crs_facts
from qingshan.core.errors import InputError
from qingshan.core.limits import check_raster_size
from qingshan.core.notices import Notice, notice
from qingshan.core.variables import VARIABLES, Variable

__all__ = [
    "MISTAKES",
    "SAMPLE_CELLS",
    "Context",
    "Mistake",
    "SampleStats",
    "check_crs",
    "check_inputs",
    "check_raster",
    "check_values",
    "sample_values",
]

SAMPLE_CELLS = 1_000_000
"""Cells read at most per raster for its statistics (whole blocks spread over the raster)."""

AREA_MARGIN_DEG = 10.0
"""Degrees by which a CRS's area of use is widened before a raster's extent must touch it.

Data are often kept in a neighbouring UTM / Gauss-Krüger zone; what is rejected is an extent that
no reading of the CRS can place, e.g. 500 000 "degrees"."""

Context = Literal["config", "compute", "upload"]
"""Where the raster comes from: decides how the error says to override (config section, CLI option, none)."""


@dataclass(frozen=True)
class Mistake:
    """A known unit mistake: values × ``factor`` + ``offset`` give the canonical unit."""

    en: str
    zh: str
    factor: float = 1.0
    offset: float = 0.0
    raw_p99_min: float = -math.inf
    """The mistake is offered only when the raster's 99th percentile is at least this (in the wrong unit)."""

    def convert(self, x: float) -> float:
        """``x`` corrected into the canonical unit."""
        return x * self.factor + self.offset

    def calc(self) -> str:
        """The correction as a gdal_calc expression of ``A``."""
        if self.offset:
            return f"A{self.offset:+g}"
        return f"A*{self.factor:g}"


_M_TO_MM = Mistake("metres instead of millimetres", "单位为米而非毫米", factor=1000.0)
_TENTH_MM = Mistake("0.1 mm units", "单位为 0.1 毫米", factor=0.1)
MISTAKES: dict[str, tuple[Mistake, ...]] = {
    "precip": (_M_TO_MM, _TENTH_MM),
    "storm_precip": (_M_TO_MM, _TENTH_MM),
    "aet": (_M_TO_MM, _TENTH_MM),
    "pet": (_M_TO_MM, _TENTH_MM),
    "water_evaporation": (_M_TO_MM, _TENTH_MM),
    "air_temperature": (Mistake("kelvin instead of °C", "单位为开尔文而非摄氏度", offset=-273.15),
                        Mistake("0.1 °C units", "单位为 0.1 °C", factor=0.1)),
    "ndvi": (Mistake("NDVI scaled by 10 000 (MODIS integers)", "NDVI 放大了 10 000 倍（MODIS 整数存储）", factor=1e-4,
                     raw_p99_min=1000.0),  # any vegetated region has NDVI ≥ 0.1 in 1 % of its cells; 0…255 bytes do not
             Mistake("percent instead of a ratio", "以百分数而非比值存储", factor=0.01)),
    "fvc": (Mistake("percent instead of a fraction", "以百分数而非比例存储", factor=0.01),),
    "dem": (Mistake("kilometres instead of metres", "单位为千米而非米", factor=1000.0),),
}
"""Known unit mistakes per variable, tried to explain implausible statistics."""


@dataclass(frozen=True)
class SampleStats:
    """Statistics of a raster's sampled finite cells (canonical unit assumed)."""

    n: int
    median: float
    p99: float
    non_integer: float  # share of sampled cells that are not whole numbers
    zero: float = 0.0  # share of sampled cells exactly 0

    @classmethod
    def of(cls, values: np.ndarray) -> SampleStats:
        """Statistics of the finite values of ``values``."""
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]  # a copy, partitioned in place below (``values`` is left as it was)
        if v.size == 0:
            return cls(0, math.nan, math.nan, 0.0)
        non_integer = np.count_nonzero(v != np.round(v)) / v.size  # = np.mean of the booleans, to the bit
        zero = float(np.count_nonzero(v == 0) / v.size)
        med, p99 = np.percentile(v, [50, 99], overwrite_input=True)
        return cls(int(v.size), float(med), float(p99), non_integer, zero)


# ----------------------------------------------------------------------------- sampling
def sample_values(ds: rasterio.DatasetReader) -> np.ndarray:
    """Up to :data:`SAMPLE_CELLS` cells of band 1 as float64, nodata → NaN.

    A raster of at most that many cells is read whole; a larger one as whole blocks (tiles or
    strips) spread evenly over it, so values are the file's own (no overview averaging, which
    would make class codes fractional). If the blocks hold almost no valid cell (a raster mostly
    of sea), a decimated read (nearest, GDAL uses overviews when present) is used instead.
    """
    h, w = ds.height, ds.width
    if h * w <= SAMPLE_CELLS:
        return _nodata_to_nan(ds.read(1), ds.nodata)
    bh, bw = ds.block_shapes[0]
    bh, bw = max(1, min(bh, h)), max(1, min(bw, w))
    rows, cols = math.ceil(h / bh), math.ceil(w / bw)
    n = max(1, min(rows * cols, SAMPLE_CELLS // (bh * bw)))
    parts = []
    for k in np.linspace(0, rows * cols - 1, n).round().astype(np.int64):
        r, c = divmod(int(k), cols)
        win = Window(c * bw, r * bh, min(bw, w - c * bw), min(bh, h - r * bh))
        parts.append(_nodata_to_nan(ds.read(1, window=win), ds.nodata).ravel())
    values = np.concatenate(parts)
    if np.count_nonzero(np.isfinite(values)) >= 1000:
        return values
    scale = math.sqrt(SAMPLE_CELLS / (h * w))
    out = ds.read(1, out_shape=(max(1, int(h * scale)), max(1, int(w * scale))), resampling=Resampling.nearest)
    return _nodata_to_nan(out, ds.nodata)


def _nodata_to_nan(arr: np.ndarray, nodata: float | None) -> np.ndarray:
    out = arr.astype(np.float64)
    if nodata is not None:
        out[out == nodata] = np.nan
    return out


# ----------------------------------------------------------------------------- overrides
def _override(overrides: Mapping[str, Any] | None, key: str) -> Any:
    return None if not overrides else overrides.get(key)


def _bound(override: Any, which: str) -> tuple[float, float] | None:
    """``median`` / ``p99`` bounds of an override (mapping or object), or ``None``."""
    v = override.get(which) if isinstance(override, Mapping) else getattr(override, which, None)
    return None if v is None else (float(v[0]), float(v[1]))


_HOW = {
    "config": ("set [plausibility] {var} = \"off\"{bounds} in the run config; the override is shown in the QC "
               "report (docs/config.md)",
               "在配置文件 [plausibility] 中设置 {var} = \"off\"{bounds_zh}，该设置会列入质量控制报告（见 docs/config.md）"),
    "compute": ("add --plausibility {var}=off to the command", "请在命令中加上 --plausibility {var}=off"),
    "upload": ("tell the accountant: the run config's [plausibility] section can accept it, the upload cannot",
               "请联系核算人员：可在核算配置 [plausibility] 中放行，上传页面不能放行"),
}


def _how(context: Context, var: str, *, bounds: bool = False) -> tuple[str, str]:
    """How to override the check of ``var`` from where the raster came (``bounds``: bounds can be given)."""
    en, zh = _HOW[context]
    b_en = f" (or bounds, e.g. {var} = {{ median = [LO, HI] }})" if bounds else ""
    b_zh = f"（或给出范围，如 {var} = {{ median = [下限, 上限] }}）" if bounds else ""
    return en.format(var=var, bounds=b_en), zh.format(var=var, bounds_zh=b_zh)


# ----------------------------------------------------------------------------- checks
def _inside(x: float, rng: tuple[float, float] | None) -> bool:
    return rng is None or rng[0] <= x <= rng[1]


def _explain(var: Variable, stats: SampleStats, med: tuple[float, float] | None,
             p99: tuple[float, float] | None) -> list[Mistake]:
    """The known mistakes whose correction brings both statistics into range."""
    return [m for m in MISTAKES.get(var.name, ())
            if stats.p99 >= m.raw_p99_min and _inside(m.convert(stats.median), med) and _inside(m.convert(stats.p99), p99)]


def _rng(r: tuple[float, float] | None) -> str:
    return "any" if r is None else f"[{r[0]:g}, {r[1]:g}]"


def check_values(stats: SampleStats, variable: str, file: str | Path, *, overrides: Mapping[str, Any] | None = None,
                 context: Context = "config") -> None:
    """Raise :class:`InputError` when ``stats`` of ``variable`` are implausible (see module docstring).

    Records a notice instead when ``overrides`` turn the check off or replace its bounds.
    """
    var = VARIABLES[variable]
    name = Path(str(file)).name
    if stats.n == 0:
        return  # no valid cell: read_aligned / the engine's coverage check names it
    ov = _override(overrides, variable)
    if ov == "off":
        _notice_override(var, file, stats, "off")
        return
    if var.categorical:
        _check_integer(var, file, stats, context)
        return
    if var.max_zero_share is not None and stats.zero > var.max_zero_share:
        _undeclared_zero(var, file, stats, context)
    med, p99 = var.typical_median, var.typical_p99
    if ov is not None:
        med, p99 = _bound(ov, "median") or med, _bound(ov, "p99") or p99
        _notice_override(var, file, stats, f"median {_rng(med)}, 99th percentile {_rng(p99)}")
    if _inside(stats.median, med) and _inside(stats.p99, p99):
        return
    guess = _explain(var, stats, med, p99)
    why_en = "; ".join(f"the values look like {m.en} (corrected: median {m.convert(stats.median):.4g} {var.units})"
                       for m in guess)
    why_zh = "；".join(f"数值像是{m.zh}（换算后中位数 {m.convert(stats.median):.4g} {var.units}）" for m in guess)
    how_en, how_zh = _how(context, variable, bounds=True)
    conv_en = (f"Convert it to {var.units}, e.g. gdal_calc.py -A {name} --calc=\"{guess[0].calc()}\" --outfile FIXED.tif"
               if guess else f"Check the units (expected {var.units}), the nodata value and the file given")
    conv_zh = (f"请换算为 {var.units}，例如 gdal_calc.py -A {name} --calc=\"{guess[0].calc()}\" --outfile FIXED.tif"
               if guess else f"请检查单位（应为 {var.units}）、无数据值以及所给文件是否正确")
    raise InputError(
        f"Raster {name} ('{variable}', {var.description}) is implausible: median {stats.median:.4g}, 99th "
        f"percentile {stats.p99:.4g} over {stats.n} sampled cells; expected a median in {_rng(med)} and a 99th "
        f"percentile in {_rng(p99)} {var.units}" + (f"; {why_en}" if why_en else ""),
        f"栅格 {name}（'{variable}'，{var.name_zh}）数值不合理：抽样 {stats.n} 个像元的中位数为 {stats.median:.4g}，"
        f"第 99 百分位数为 {stats.p99:.4g}；合理范围为中位数 {_rng(med)}、第 99 百分位数 {_rng(p99)} {var.units}"
        + (f"；{why_zh}" if why_zh else ""),
        file=file,
        field=variable,
        fix=f"{conv_en}. If the values are genuinely right for your region, {how_en}.",
        fix_zh=f"{conv_zh}。若数值对该地区确属正确，{how_zh}。",
        extra={"median": stats.median, "p99": stats.p99, "expected_median": med, "expected_p99": p99},
    )


def _undeclared_zero(var: Variable, file: str | Path, stats: SampleStats, context: Context) -> None:
    name = Path(str(file)).name
    how_en, how_zh = _how(context, var.name)
    raise InputError(
        f"Raster {name} ('{var.name}', {var.description}) has {100 * stats.zero:.3g} % of {stats.n} sampled cells "
        f"exactly 0 {var.units} (at most {100 * (var.max_zero_share or 0):g} % is plausible): 0 looks like a nodata "
        "value the file does not declare, and those cells would count as 0",
        f"栅格 {name}（'{var.name}'，{var.name_zh}）抽样 {stats.n} 个像元中 {100 * stats.zero:.3g}% 恰为 0 {var.units}"
        f"（合理比例至多 {100 * (var.max_zero_share or 0):g}%）：0 像是未声明的无数据值，这些像元将按 0 计算",
        file=file,
        field=var.name,
        fix=f"Declare the nodata value, e.g. gdal_edit.py -a_nodata 0 {name}, or fill the gaps. If the zeros are "
            f"genuinely right, {how_en}.",
        fix_zh=f"请声明无数据值，例如 gdal_edit.py -a_nodata 0 {name}，或补齐缺测像元。若 0 值确属正确，{how_zh}。",
        extra={"zero_share": stats.zero, "median": stats.median, "p99": stats.p99},
    )


def _check_integer(var: Variable, file: str | Path, stats: SampleStats, context: Context) -> None:
    if stats.non_integer == 0:
        return
    name = Path(str(file)).name
    how_en, how_zh = _how(context, var.name)
    raise InputError(
        f"Raster {name} ('{var.name}', {var.description}) is not integer-valued: {100 * stats.non_integer:.3g} % of "
        f"{stats.n} sampled cells have fractions (median {stats.median:.4g}, 99th percentile {stats.p99:.4g}); "
        "expected whole class codes — this looks like a continuous variable (e.g. precipitation) or a resampled map",
        f"栅格 {name}（'{var.name}'，{var.name_zh}）不是整数：抽样 {stats.n} 个像元中 {100 * stats.non_integer:.3g}% 含小数"
        f"（中位数 {stats.median:.4g}，第 99 百分位数 {stats.p99:.4g}）；应为整数类别代码，该文件像是连续变量（如降水量）或经插值的地图",
        file=file,
        field=var.name,
        fix="Give the land-cover classification itself (integer class codes such as MODIS IGBP 1-17), resampled with "
            f"nearest neighbour only. If the file is right, {how_en}.",
        fix_zh=f"请提供土地覆被分类图本身（整数类别代码，如 MODIS IGBP 1–17），重采样只能用最邻近法。若文件确属正确，{how_zh}。",
        extra={"median": stats.median, "p99": stats.p99, "non_integer": stats.non_integer},
    )


def _notice_override(var: Variable, file: str | Path, stats: SampleStats, how: str) -> None:
    name = Path(str(file)).name
    what = "off" if how == "off" else f"replaced by the config's bounds ({how})"
    what_zh = "已关闭" if how == "off" else f"已改用配置给出的范围（{how}）"
    notice(Notice(
        code="plausibility_override",
        en=f"Plausibility check of '{var.name}' ({name}) {what}: median {stats.median:.4g}, 99th percentile "
           f"{stats.p99:.4g} {var.units} (typical median {_rng(var.typical_median)}, 99th percentile "
           f"{_rng(var.typical_p99)})",
        zh=f"'{var.name}'（{var.name_zh}，{name}）的合理性检查{what_zh}：中位数 {stats.median:.4g}，第 99 百分位数 "
           f"{stats.p99:.4g} {var.units}（常见中位数 {_rng(var.typical_median)}）",
        file=str(file),
        field=var.name,
    ))


def check_crs(crs_wkt: str, bounds: tuple[float, float, float, float], file: str | Path, *,
              cell: float = 0.0, overrides: Mapping[str, Any] | None = None, context: Context = "config") -> None:
    """Raise :class:`InputError` when ``bounds`` (left, bottom, right, top, in CRS units) cannot lie in the CRS.

    Geographic CRS: longitudes within −180…360 and latitudes within ±90 (one ``cell`` of slack).
    Every CRS with a known area of use: the extent, in lon/lat, must touch the area widened by
    :data:`AREA_MARGIN_DEG`. ``overrides["crs"] == "off"`` skips the check (with a notice).
    """
    crs = crs_facts(crs_wkt)  # pyproj's answers, remembered on disk
    name = Path(str(file)).name
    left, bottom, right, top = bounds
    if _override(overrides, "crs") == "off":
        notice(Notice(code="plausibility_override", en=f"CRS area-of-use check of {name} is off",
                      zh=f"{name} 的坐标范围检查已关闭", file=str(file), field="crs"))
        return
    aou = crs.area_of_use
    lonlat: tuple[float, float, float, float] | None
    if crs.is_geographic:
        tol = abs(cell) + 1e-9
        ok = -180 - tol <= left and right <= 360 + tol and -90 - tol <= bottom and top <= 90 + tol
        lonlat = bounds if ok else None
    else:
        try:  # GDAL's PROJ (as pyproj's Transformer.transform_bounds: 21 points a side, x = longitude)
            lonlat = transform_bounds(crs_wkt, "EPSG:4326", left, bottom, right, top, densify_pts=21)
        except Exception:  # any projection failure: the coordinates cannot be placed
            lonlat = None
        if lonlat is not None and not all(math.isfinite(v) for v in lonlat):
            lonlat = None
    if lonlat is not None and (aou is None or _touches(lonlat, aou)):
        return
    area = "" if aou is None else f"{aou.name} lon {aou.west:g}…{aou.east:g}, lat {aou.south:g}…{aou.north:g}"
    looks = (" — they look like projected metres (e.g. UTM), not degrees"
             if crs.is_geographic and max(abs(left), abs(right), abs(bottom), abs(top)) > 1000 else "")
    looks_zh = "——看起来是投影坐标（如 UTM 米），而不是经纬度" if looks else ""
    how_en, how_zh = _how(context, "crs")
    raise InputError(
        f"Raster {name} declares the CRS '{crs.name}' but its coordinates (x {left:.6g}…{right:.6g}, "
        f"y {bottom:.6g}…{top:.6g}) lie outside that CRS's area of use"
        + (f" ({area})" if area else " (longitude −180…360, latitude −90…90)") + looks,
        f"栅格 {name} 声明的坐标系为“{crs.name}”，但其坐标范围（x {left:.6g}…{right:.6g}，y {bottom:.6g}…{top:.6g}）"
        "超出该坐标系的适用范围" + looks_zh,
        file=file,
        field="crs",
        fix="Label the raster with the CRS its coordinates are really in (e.g. gdal_edit.py -a_srs EPSG:32650 FILE "
            f"for UTM zone 50N), or reproject it. If the CRS is right, {how_en}.",
        fix_zh="请为栅格标注其坐标真正所属的坐标系（如 UTM 50N：gdal_edit.py -a_srs EPSG:32650 文件），或重新投影。"
               f"若坐标系确属正确，{how_zh}。",
        extra={"bounds": list(bounds)},
    )


def _touches(lonlat: tuple[float, float, float, float], aou: Any) -> bool:
    """True when the lon/lat box meets the area of use widened by the margin (longitudes also shifted by 360)."""
    w, s, e, n = lonlat
    m = AREA_MARGIN_DEG
    if s > aou.north + m or n < aou.south - m:
        return False
    return any(w + k <= aou.east + m and e + k >= aou.west - m for k in (0.0, -360.0, 360.0))


def check_raster(path: str | Path, variable: str, overrides: Mapping[str, Any] | None = None, *,
                 context: Context = "config") -> SampleStats:
    """Check one raster file of ``variable`` (size limit from the header, CRS area of use, then statistics of a
    sample); return its statistics.

    The size limit comes first: sampling a raster whose header claims 10¹⁰ cells (a sparse file of a few KB)
    would decode it for a minute before the limit refused it. A missing file or CRS is left to
    :mod:`qingshan.io.rasters` (called next by every reader).
    """
    from qingshan.io.rasters import _open, _require_crs, offer_whole_read

    with _open(path) as ds:
        check_raster_size(ds.width, ds.height, ds.count, file=path)
        _require_crs(ds, path)
        check_crs(ds.crs.to_wkt(), tuple(ds.bounds), path, cell=max(abs(ds.transform.a), abs(ds.transform.e)),
                  overrides=overrides, context=context)
        values = sample_values(ds)
        stats = SampleStats.of(values)
        whole = values.shape == (ds.height, ds.width)
    check_values(stats, variable, path, overrides=overrides, context=context)
    if whole:  # read whole: the blocks may take it instead of reading the file again (inside sharing_whole_reads)
        offer_whole_read(path, values)
    return stats


def check_inputs(paths: Mapping[str, str | Path], overrides: Mapping[str, Any] | None = None, *,
                 context: Context = "config") -> dict[str, SampleStats]:
    """:func:`check_raster` on each ``variable → path`` (in name order); the statistics by variable."""
    return {name: check_raster(paths[name], name, overrides, context=context) for name in sorted(paths)}
