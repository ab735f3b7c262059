"""Maps and charts of a report as PNG (matplotlib, Agg backend, a CJK font for Chinese labels)."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from functools import cache
from typing import Any

import pandas as pd

from qingshan.use.report.document import cjk_font_file

__all__ = ["bar_chart", "choropleth"]


@cache
def _font_family() -> str:
    from matplotlib import font_manager

    path = str(cjk_font_file())
    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def _figure(width_in: float, height_in: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    plt.rcParams["font.family"] = [_font_family(), "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return plt.subplots(figsize=(width_in, height_in), dpi=150)


def _png(fig: Any) -> bytes:
    from matplotlib import pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def choropleth(regions: pd.DataFrame, values: pd.Series, *, title: str, unit: str, labels: bool = True) -> bytes:
    """Regions (``code``, ``name``, ``geometry`` as GeoJSON text) coloured by ``values`` (code → number)."""
    import geopandas as gpd
    from shapely.geometry import shape

    rows = regions.dropna(subset=["geometry"])
    gdf = gpd.GeoDataFrame({"code": rows["code"].to_numpy(), "name": rows["name"].to_numpy()},
                           geometry=[shape(json.loads(g)) for g in rows["geometry"]], crs="EPSG:4326")
    gdf["v"] = gdf["code"].map(values).astype(float)
    fig, ax = _figure(6.5, 5.5)
    gdf.plot(column="v", cmap="YlGn", linewidth=0.4, edgecolor="#555", legend=True, ax=ax,
             legend_kwds={"label": unit, "shrink": 0.7}, missing_kwds={"color": "#eeeeee"})
    if labels and len(gdf) <= 15:
        for _, r in gdf.iterrows():
            p = r.geometry.representative_point()
            ax.annotate(str(r["name"]), (p.x, p.y), ha="center", fontsize=7)
    ax.set_title(title)
    ax.set_axis_off()
    return _png(fig)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, title: str, unit: str) -> bytes:
    """Horizontal bars, largest on top."""
    fig, ax = _figure(6.5, 0.35 * max(3, len(labels)) + 1.0)
    order = sorted(range(len(values)), key=lambda i: values[i])
    ax.barh([labels[i] for i in order], [values[i] for i in order], color="#66bb6a")
    ax.set_xlabel(unit)
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _png(fig)


def tornado_chart(labels: Sequence[str], low: Sequence[float], high: Sequence[float], base: float, *, title: str,
                  unit: str) -> bytes:
    """Tornado chart: one bar per input from the output at its low to its high quantile, widest on top, around ``base``."""
    fig, ax = _figure(6.5, 0.35 * max(3, len(labels)) + 1.0)
    order = sorted(range(len(labels)), key=lambda i: abs(high[i] - low[i]))
    for k, i in enumerate(order):
        ax.barh(k, low[i] - base, left=base, color="#ef5350")
        ax.barh(k, high[i] - base, left=base, color="#42a5f5")
    ax.set_yticks(range(len(order)), [labels[i] for i in order])
    ax.axvline(base, color="#333333", linewidth=0.8)
    ax.set_xlabel(unit)
    ax.set_title(title)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _png(fig)
