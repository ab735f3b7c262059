"""Helpers for the soil / carbon / climate tests: a small grid, land-cover table and parameters."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources

import numpy as np
import pandas as pd
from affine import Affine

from qingshan.core.grid import Grid
from qingshan.core.params import LandcoverTable, Parameter, ParameterTable, ParamSet

# code, name_zh, name_en, ecosystem, usle_p, transpiration_share ("" = not applicable)
LANDCOVER_ROWS = (
    (1, "森林", "forest", "forest", "1", "0.7"),
    (2, "灌丛", "shrub", "shrub", "1", "0.6"),
    (3, "草地", "grassland", "grassland", "1", "0.5"),
    (4, "湿地", "wetland", "wetland", "1", ""),
    (5, "农田", "cropland", "cropland", "0.4", ""),
    (6, "城镇", "urban", "urban", "1", ""),
)
FOREST, SHRUB, GRASS, WETLAND, CROPLAND, URBAN = 1, 2, 3, 4, 5, 6


def landcover_table() -> LandcoverTable:
    """An in-memory land-cover table with ``usle_p`` and ``transpiration_share`` columns."""
    df = pd.DataFrame(
        LANDCOVER_ROWS,
        columns=["code", "name_zh", "name_en", "ecosystem", "usle_p", "transpiration_share"],
    ).astype(str)
    df.index = pd.Index([int(c) for c in df["code"]], name="code")
    return LandcoverTable(
        table=df,
        units={"usle_p": "1", "transpiration_share": "1"},
        sources={"usle_p": "test", "transpiration_share": "test"},
    )


def shipped_scalars() -> ParameterTable:
    """The package's ``params_science.csv``."""
    path = resources.files("qingshan") / "data" / "tables" / "params_science.csv"
    return ParameterTable.from_csv(str(path))


def science_params(
    overrides: Mapping[str, float] | None = None,
    options: Mapping[str, object] | None = None,
    extra: Mapping[str, tuple[float, str]] | None = None,
) -> ParamSet:
    """ParamSet from the shipped table with value overrides, extra parameters and options."""
    table = shipped_scalars().with_overrides(dict(overrides or {}))
    if extra:
        params = dict(table.params)
        for key, (value, unit) in extra.items():
            params[key] = Parameter(key, value, unit, "test")
        table = ParameterTable(params=params)
    return ParamSet(scalars=table, landcover=landcover_table(), options=dict(options or {}))


def utm_grid(shape: tuple[int, int], cell_m: float = 100.0) -> Grid:
    """A UTM 50N grid (Jiangxi) of square cells; 100 m cells are exactly 1 hm2."""
    return Grid.from_crs("EPSG:32650", Affine(cell_m, 0, 500000.0, 0, -cell_m, 3100000.0), *shape)


def tilted_plane(shape: tuple[int, int], drop_per_row: float) -> np.ndarray:
    """Elevation [m] falling by ``drop_per_row`` from each row to the next (flow goes down the rows)."""
    rows = np.arange(shape[0], dtype=float)[::-1] * drop_per_row
    return np.repeat(rows[:, None], shape[1], axis=1) + 100.0


def full(shape: tuple[int, int], value: float) -> np.ndarray:
    """A float64 raster filled with ``value``."""
    return np.full(shape, float(value))
