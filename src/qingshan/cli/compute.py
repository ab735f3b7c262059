"""``qingshan compute``: one indicator on your own rasters (a thin layer over
:func:`qingshan.engine.compute.compute_indicator`).

Registered in ``cli/__init__.py`` as::

    def _register_compute() -> None:
        from qingshan.cli.compute import compute

        app.command(name="compute", help="One indicator on your own rasters 单项指标逐像元计算.")(friendly(compute))
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from qingshan.core.errors import InputError

__all__ = ["compute", "parse_pairs", "parse_value"]

console = Console()


def parse_value(text: str) -> object:
    """An option value: a TOML literal (``1.1``, ``true``, ``["forest", "shrub"]``) or a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_pairs(pairs: list[str], what: str, what_zh: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` → dict; a pair without ``=`` is a bilingual error."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise InputError(
                f"{what} '{pair}' is not KEY=VALUE",
                f"{what_zh} '{pair}' 格式应为 KEY=VALUE",
                field=what.lower(),
                fix=f"Write it as KEY=VALUE, e.g. --{what.lower()} dem=dem.tif.",
                fix_zh="请写成 KEY=VALUE 的形式。",
            )
        out[key.strip()] = value.strip()
    return out


def _float(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(
            f"Parameter '{key}' value '{text}' is not a number",
            f"参数 '{key}' 的值 '{text}' 不是数值",
            field=key,
            fix="Give a number in the parameter table's unit, e.g. --param zhang_z=5.",
            fix_zh="请给出参数表单位下的数值，例如 --param zhang_z=5。",
        ) from None


def _dtype(text: str) -> Literal["float64", "float32"]:
    if text not in ("float64", "float32"):
        raise InputError(
            f"--dtype {text}: the cell type is float64 or float32",
            f"--dtype {text}：像元类型应为 float64 或 float32",
            field="dtype",
            fix="Write --dtype float32 for smaller, faster files (as InVEST), or leave it out for float64.",
            fix_zh="请写 --dtype float32（文件更小、写得更快，同 InVEST），或省略（float64）。",
        )
    return text  # type: ignore[return-value]


def _plausibility_offs(pairs: dict[str, str]) -> dict[str, object]:
    """``--plausibility NAME=off`` pairs → overrides; anything but ``off`` is a bilingual error."""
    for key, value in pairs.items():
        if value.lower() != "off":
            raise InputError(
                f"--plausibility {key}={value}: only 'off' can be given on the command line",
                f"--plausibility {key}={value}：命令行只能写 off",
                field="plausibility",
                fix=f"Write --plausibility {key}=off (bounds can be set in a run config's [plausibility] section).",
                fix_zh=f"请写成 --plausibility {key}=off（范围可在核算配置的 [plausibility] 中给出）。",
            )
    return dict.fromkeys(pairs, "off")


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
    from qingshan.engine.compute import compute_indicator
    from qingshan.io.cog import cog_settings, using_cog_settings

    inputs = parse_pairs(input_, "Input", "输入")
    overrides = {k: _float(k, v) for k, v in parse_pairs(param, "Param", "参数").items()}
    options = {k: parse_value(v) for k, v in parse_pairs(option, "Option", "选项").items()}
    checks = _plausibility_offs(parse_pairs(plausibility, "Plausibility", "合理性检查"))
    with using_cog_settings(replace(cog_settings(), dtype=_dtype(dtype))):
        res = compute_indicator(indicator_id, {k: Path(v) for k, v in inputs.items()}, params=params,
                                landcover=landcover, method=method, options=options, overrides=overrides,
                                output=output, plausibility=checks, keep_layers=False,  # blocks → COGs
                                write_layers=layer or None)
    console.print(f"{res.indicator} ({res.method}) on {res.grid.height}×{res.grid.width} cells 像元")
    for comp, (total, unit) in res.totals.items():
        console.print(f"  total 合计 {comp}: {total:.6g} {unit}", highlight=False, soft_wrap=True)
    for f in res.files:
        console.print(f"  wrote 输出 {f}", highlight=False, soft_wrap=True)
