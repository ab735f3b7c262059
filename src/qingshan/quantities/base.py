"""Unit-checked helpers shared by quantity functions."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from qingshan.core.errors import InputError
from qingshan.core.grid import Grid
from qingshan.core.units import conversion_factor

__all__ = ["RasterInputs", "per_cell", "require"]

RasterInputs = Mapping[str, np.ndarray]


def per_cell(density: np.ndarray, density_unit: str, grid: Grid, out_unit: str) -> np.ndarray:
    """Turn a density into a per-cell total: ``density [density_unit] × cell area [m2] → out_unit``.

    The unit algebra is checked: ``per_cell(q_mm, "mm", grid, "m3")`` multiplies by
    ``cell_area × 0.001``; ``per_cell(x, "t/hm2", grid, "m3")`` raises :class:`UnitsError`.
    """
    factor = conversion_factor(f"({density_unit})*m**2", out_unit)
    return density * grid.cell_area() * factor


def require(inputs: RasterInputs, name: str, method: str) -> np.ndarray:
    """Fetch a raster input or raise naming the method and the missing input."""
    try:
        return inputs[name]
    except KeyError:
        raise InputError(
            f"Method '{method}' needs the raster input '{name}'",
            f"方法 '{method}' 需要栅格输入 '{name}'",
            field=name,
            fix=f"Add '{name} = \"PATH.tif\"' to the [inputs] section of the config.",
            fix_zh=f"请在配置文件 [inputs] 中添加 '{name} = \"路径.tif\"'。",
        ) from None
