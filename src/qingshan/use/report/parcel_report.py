"""The parcel valuation report (地块生态产品价值评估报告, VEP) for a bank or a project owner.

Built from a :class:`~qingshan.engine.parcel.ParcelValuation` of a stored run: the parcel on a map of
the counties it touches, its annual ecosystem-service flow by indicator and component (physical
quantity and value) and by ecosystem type, what "exact" and "apportioned" mean at the run's
resolution, and everything needed to reproduce it: run id, content hash, input hashes, the parcel's
own SHA-256 (of its normalised WKB) and the command that regenerates the report.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from qingshan.core.params import ECOSYSTEM_ZH
from qingshan.indicators import registry
from qingshan.use.report.document import Doc, Figure, Heading, KeyValues, Para, Table

__all__ = ["build_parcel_report", "parcel_sha256"]

WAN = 1e4  # 万元 per CNY


def parcel_sha256(parcel: BaseGeometry) -> str:
    """SHA-256 of the parcel's normalised WKB (vertex order and ring start do not matter)."""
    return hashlib.sha256(shapely.to_wkb(shapely.normalize(parcel), output_dimension=2)).hexdigest()


def _wan(v: float) -> str:
    return "—" if v != v else f"{v / WAN:,.2f}"


def _num(v: float) -> str:
    return "—" if v != v else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.4g}")


def _map(parcel: BaseGeometry, regions: pd.DataFrame, codes: list[str], lang: str) -> bytes:
    import geopandas as gpd
    from shapely.geometry import shape

    from qingshan.use.report.figures import _figure, _png

    rows = regions[regions["code"].isin(codes)].dropna(subset=["geometry"])
    gdf = gpd.GeoDataFrame({"name": rows["name"].to_numpy()}, geometry=[shape(json.loads(g)) for g in rows["geometry"]],
                           crs="EPSG:4326")
    fig, ax = _figure(6.0, 5.0)
    gdf.plot(ax=ax, color="#e8f5e9", edgecolor="#555", linewidth=0.6)
    for _, r in gdf.iterrows():
        p = r.geometry.representative_point()
        ax.annotate(str(r["name"]), (p.x, p.y), ha="center", fontsize=7, color="#333")
    gpd.GeoSeries([parcel], crs="EPSG:4326").plot(ax=ax, color="#e53935", alpha=0.6, edgecolor="#b71c1c", linewidth=1.0)
    ax.set_title("地块位置" if lang == "zh" else "Location of the parcel")
    ax.set_axis_off()
    return bytes(_png(fig))


def build_parcel_report(valuation: Any, parcel: BaseGeometry, *, run: Any, regions: pd.DataFrame, lang: str = "zh",
                        resolution_m: float | None = None, command: str = "") -> Doc:
    """The report of one parcel valuation (``valuation``: a ParcelValuation of ``run``)."""
    from qingshan.engine.parcel import METHOD_NOTE_EN, METHOD_NOTE_ZH

    zh = lang == "zh"
    prov: dict[str, Any] = dict(run.provenance or {})
    reg = registry()
    rows: pd.DataFrame = valuation.rows
    total, exact = valuation.total("value"), valuation.total("value", basis="raster")
    doc = Doc(title="地块生态产品价值评估报告" if zh else "Parcel ecosystem product value (VEP) report",
              subtitle=(f"核算编号 {run.id} · {valuation.year} 年 · 价值量单位：万元（当年价）" if zh else
                        f"Run {run.id} · year {valuation.year} · values in 万元 (1e4 CNY), current prices"),
              lang=lang, footer=f"Qingshan 青山 · parcel {parcel_sha256(parcel)[:12]} · run {run.id[:8]}")
    pieces = valuation.pieces
    doc.add(Heading("一、评估结论" if zh else "1. Result"), KeyValues([
        ("年生态产品价值（万元/年）" if zh else "Annual value (万元 per year)", _wan(total)),
        ("其中：栅格指标（精确）" if zh else "of which raster indicators (exact)", _wan(exact)),
        ("其中：统计指标（按面积分摊）" if zh else "of which statistics indicators (apportioned)",
         _wan(valuation.total("value", basis="apportioned"))),
        ("可比价（万元/年）" if zh else "At comparable prices (万元 per year)", _wan(valuation.total("value_comparable"))),
        ("地块面积（km²）" if zh else "Parcel area (km²)", f"{valuation.area_km2:,.4f}"),
        ("核算区域外面积（km²）" if zh else "Area outside the accounted regions (km²)", f"{valuation.area_outside_km2:,.4f}"),
        ("所在县（市、区）" if zh else "Counties", "、".join(f"{r.name}（{r.area_km2:,.3f} km²）" for r in pieces.itertuples())),
    ]))
    doc.add(Figure(_map(parcel, regions, list(pieces["code"]), lang), caption="图 1 地块位置" if zh else "Figure 1. The parcel",
                   width_cm=10.5))
    g = rows.groupby(["indicator", "component", "unit", "basis"], as_index=False, sort=False)[["quantity", "value"]].sum(min_count=1)
    table = []
    for r in g.itertuples():
        s = reg.get(str(r.indicator))
        comp = next((c for c in s.components if c.id == r.component), None)
        table.append([s.name_zh if zh else s.name_en, (comp.name_zh if zh else comp.name_en) if comp else str(r.component),
                      _num(float(r.quantity)), str(r.unit), _wan(float(r.value)),
                      ("精确" if r.basis == "raster" else "分摊") if zh else ("exact" if r.basis == "raster" else "apportioned")])
    doc.add(Heading("二、年生态服务流量" if zh else "2. Annual flow of ecosystem services"),
            Table(["指标" if zh else "Indicator", "组分" if zh else "Component", "实物量" if zh else "Quantity",
                   "单位" if zh else "Unit", "价值量（万元）" if zh else "Value (万元)", "依据" if zh else "Basis"], table,
                  numeric=frozenset({2, 4})))
    eco = rows.groupby("ecosystem")["value"].sum(min_count=1).sort_values(ascending=False)
    doc.add(Table(["生态系统类型" if zh else "Ecosystem type", "价值量（万元）" if zh else "Value (万元)"],
                  [[ECOSYSTEM_ZH.get(str(k), str(k)) if zh else str(k), _wan(float(v))] for k, v in eco.items()],
                  numeric=frozenset({1}), caption="按生态系统类型" if zh else "By ecosystem type"))
    res = f"{resolution_m:,.0f} m" if resolution_m else ("见核算输入" if zh else "see the run's inputs")
    doc.add(Heading("三、方法与精度" if zh else "3. Method and precision"),
            Para(METHOD_NOTE_ZH if zh else METHOD_NOTE_EN),
            Para(f"栅格分辨率 {res}：地块边界穿过的像元按覆盖比例计入（exactextract），小于一个像元的地块其精确值即该像元值乘覆盖比例。"
                  if zh else f"Grid resolution {res}: cells crossed by the parcel's boundary count by their covered fraction "
                  "(exactextract); for a parcel smaller than a cell the exact value is that cell's value times the fraction."),
            *[Para(zh_note if zh else en_note, note=True) for en_note, zh_note in valuation.notes])
    files = [[Path(str(p)).name, str(h)[:16]] for p, h in sorted(dict(prov.get("input_hashes", {})).items())]
    doc.add(Heading("四、可复现信息" if zh else "4. Reproducibility"), KeyValues([
        ("核算编号" if zh else "Run id", str(run.id)),
        ("内容哈希" if zh else "Content hash", str(run.content_hash or "")),
        ("方法配置" if zh else "Method profile", str(run.profile)),
        ("价格基年" if zh else "Price base year", str(run.base_year or "")),
        ("地块 SHA-256" if zh else "Parcel SHA-256", parcel_sha256(parcel)),
        ("重新生成" if zh else "Regenerate with", command or "qingshan parcel RUN PARCEL.geojson --report OUT.pdf"),
    ]), Table(["输入文件" if zh else "Input file", "SHA-256（前 16 位）" if zh else "SHA-256 (first 16)"], files))
    return doc


def parcel_geojson(parcel: BaseGeometry) -> str:
    """The parcel as GeoJSON text (for the report's annex and downloads)."""
    buf = io.StringIO()
    json.dump(shapely.geometry.mapping(parcel), buf)
    return buf.getvalue()
