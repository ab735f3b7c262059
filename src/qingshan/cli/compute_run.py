"""``qingshan compute`` without typer, click or rich: the command's work, and a quick path for a well-formed
command line.

:func:`run_compute` does what the command does (parse the ``KEY=VALUE`` pairs, compute, write, print the totals);
:mod:`qingshan.cli.compute` declares the typer command that calls it. :func:`main_quick` is what
:func:`qingshan.cli.main` runs for ``qingshan compute …``: it reads the command line itself when every token is
one it knows (:data:`OPTIONS`, the same as the typer command's, which ``tests/engine/test_startup.py`` checks),
and runs :func:`run_compute`; anything else — ``--help``, a missing ``-o``, an unknown or repeated option, ``--``,
an empty value — returns ``None`` and the typer app handles it, so help and usage errors are typer's. Typer,
click's parser and rich cost about 0.15 s of CPU at start-up, more than a 64² water yield's arithmetic.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Literal

from qingshan.cli.output import print_error
from qingshan.core.errors import InputError, QingshanError

__all__ = ["OPTIONS", "main_quick", "parse_compute_args", "parse_pairs", "parse_value", "run_compute"]

OPTIONS: dict[str, tuple[str, str]] = {
    # flag → (parameter of run_compute, "one" | "many"); the typer command in cli/compute.py declares the same
    "-o": ("output", "one"), "--output": ("output", "one"),
    "-i": ("input_", "many"), "--input": ("input_", "many"),
    "--param": ("param", "many"),
    "--option": ("option", "many"),
    "--landcover": ("landcover", "one"),
    "--params": ("params", "one"),
    "--method": ("method", "one"),
    "--plausibility": ("plausibility", "many"),
    "--layer": ("layer", "many"),
    "--dtype": ("dtype", "one"),
}
"""The options of ``qingshan compute``."""

_PATHS = ("output", "landcover", "params")


def parse_value(text: str) -> object:
    """An option value: a TOML literal (``1.1``, ``true``, ``["forest", "shrub"]``) or a bare string."""
    import tomllib

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


def run_compute(indicator_id: str, output: Path, input_: list[str], param: list[str], option: list[str],
                landcover: Path | None, params: Path | None, method: str | None, plausibility: list[str],
                layer: list[str], dtype: str) -> None:
    """Compute one indicator per pixel from the rasters named on the command line, write COG(s), print totals."""
    from qingshan.engine.compute import compute_indicator
    from qingshan.io.cog import cog_settings, using_cog_settings
    from qingshan.io.rasters import sharing_whole_reads

    inputs = parse_pairs(input_, "Input", "输入")
    overrides = {k: _float(k, v) for k, v in parse_pairs(param, "Param", "参数").items()}
    options = {k: parse_value(v) for k, v in parse_pairs(option, "Option", "选项").items()}
    checks = _plausibility_offs(parse_pairs(plausibility, "Plausibility", "合理性检查"))
    with using_cog_settings(replace(cog_settings(), dtype=_dtype(dtype))), sharing_whole_reads():
        res = compute_indicator(indicator_id, {k: Path(v) for k, v in inputs.items()}, params=params,
                                landcover=landcover, method=method, options=options, overrides=overrides,
                                output=output, plausibility=checks, keep_layers=False,  # blocks → COGs
                                write_layers=layer or None)
    lines = [f"{res.indicator} ({res.method}) on {res.grid.height}×{res.grid.width} cells 像元"]
    lines += [f"  total 合计 {comp}: {total:.6g} {unit}" for comp, (total, unit) in res.totals.items()]
    lines += [f"  wrote 输出 {f}" for f in res.files]
    print("\n".join(lines))  # noqa: T201


def parse_compute_args(args: list[str]) -> dict[str, object] | None:
    """The keyword arguments of :func:`run_compute` for ``qingshan compute ARGS``, as typer would pass them;
    ``None`` when ``args`` holds anything but the indicator id and known options each given a non-empty value
    (``--flag VALUE``, ``--flag=VALUE``, ``-o VALUE``, ``-oVALUE``; one-value options once), or lacks ``-o``."""
    found: dict[str, object] = {name: [] for name, how in OPTIONS.values() if how == "many"}
    positional: list[str] = []
    i = 0
    while i < len(args):
        tok = args[i]
        i += 1
        if not tok.startswith("-") or tok == "-":
            positional.append(tok)
            continue
        if tok.startswith("--"):
            flag, eq, value = tok.partition("=")
            has_value = bool(eq)
        else:
            flag, value = tok[:2], tok[2:]
            has_value = bool(value)
        if flag not in OPTIONS:
            return None
        if not has_value:
            if i >= len(args):
                return None
            value = args[i]
            i += 1
        if not value or value.startswith("-"):
            return None
        name, how = OPTIONS[flag]
        if how == "many":
            found[name].append(value)  # type: ignore[attr-defined]
        elif name in found:
            return None
        else:
            found[name] = value
    if len(positional) != 1 or "output" not in found:
        return None
    out: dict[str, object] = {"indicator_id": positional[0], "landcover": None, "params": None, "method": None,
                              "dtype": "float64", **found}
    for name in _PATHS:
        if out[name] is not None:
            out[name] = Path(str(out[name]))
    return out


def main_quick(args: list[str]) -> int | None:
    """Run ``qingshan compute ARGS`` without typer when :func:`parse_compute_args` reads ``args``: the exit status
    (0; 2 after a Qingshan error, printed in both languages; 1 on Ctrl-C or a closed output pipe, as click), else
    ``None``."""
    kwargs = parse_compute_args(args)
    if kwargs is None:
        return None
    try:
        run_compute(**kwargs)  # type: ignore[arg-type]
    except QingshanError as exc:
        print_error(exc)
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        return 1
    except BrokenPipeError:  # e.g. `qingshan compute … | head -1`: quiet, status 1, as click
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0
