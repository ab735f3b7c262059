"""``qingshan compute``: one indicator on your own rasters (a thin layer over
:func:`qingshan.engine.compute.compute_indicator`).

Registered in ``cli/_app.py`` as::

    def _register_compute() -> None:
        from qingshan.cli.compute import compute

        app.command(name="compute", help="One indicator on your own rasters 单项指标逐像元计算.")(friendly(compute))

The typer declaration (options, help) is here; the work is :func:`qingshan.cli.compute_run.run_compute`, which
:func:`qingshan.cli.main` also runs directly for a well-formed command line (without importing typer or rich).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qingshan.cli.compute_run import parse_pairs, parse_value, run_compute

__all__ = ["compute", "parse_pairs", "parse_value"]


def compute(
    indicator_id: Annotated[str, typer.Argument(help="Indicator id 指标 (see `qingshan indicators`)")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output COG OUT.tif (OUT.<component>.tif if several)")],
    input_: Annotated[list[str], typer.Option("--input", "-i", help="NAME=PATH raster input 栅格输入 (repeat)")] = [],  # noqa: B006
    param: Annotated[list[str], typer.Option("--param", help="KEY=VALUE scalar parameter override 参数覆盖 (repeat)")] = [],  # noqa: B006
    option: Annotated[list[str], typer.Option("--option", help="KEY=VALUE method option 方法选项, e.g. flow_algorithm=MFD")] = [],  # noqa: B006
    landcover: Annotated[Path | None, typer.Option("--landcover", help="Land-cover table CSV 土地覆被参数表")] = None,
    params: Annotated[Path | None, typer.Option("--params", help="Parameter table CSV 参数表")] = None,
    method: Annotated[str | None, typer.Option("--method", help="Method id 方法 (default: the indicator's)")] = None,
    plausibility: Annotated[list[str], typer.Option("--plausibility", help="NAME=off: accept an input whose statistics look "
                                                    "like a unit mistake (NAME or crs) 关闭合理性检查 (repeat)")] = [],  # noqa: B006
    layer: Annotated[list[str], typer.Option("--layer", help="Write only this layer (a component or intermediate, "
                                             "e.g. water_conservation) 只输出该图层 (repeat; default all)")] = [],  # noqa: B006
    dtype: Annotated[str, typer.Option("--dtype", help="Cell type of the written layers 输出像元类型: float64 "
                                       "(default) or float32 (as InVEST; totals still computed in float64)")] = "float64",
) -> None:
    """Compute one indicator per pixel from your rasters, write COG(s) and print the totals."""
    run_compute(indicator_id, output, input_, param, option, landcover, params, method, plausibility, layer, dtype)
