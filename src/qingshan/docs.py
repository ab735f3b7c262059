"""Indicator documentation generated from the specs (never hand-written, so it cannot drift)."""

from __future__ import annotations

from pathlib import Path

from qingshan.core.spec import CATEGORY_ZH, IndicatorSpec
from qingshan.core.variables import VARIABLES

__all__ = ["indicator_markdown", "write_indicator_pages"]


def indicator_markdown(spec: IndicatorSpec) -> str:
    """One indicator's page: definition, components and valuation, methods with inputs and parameters."""
    out = [
        f"# {spec.name_zh} {spec.name_en} (`{spec.id}`)",
        "",
        f"Class 类别: {CATEGORY_ZH[spec.category]} ({spec.category.value}) · certainty: `{spec.certainty.value}`",
        "",
        spec.description_en,
        "",
        spec.description_zh,
        "",
        f"Source 来源: {spec.source} {spec.clause}".rstrip(),
    ]
    if spec.aliases_zh:
        out += ["", f"Also called 别名: {', '.join(spec.aliases_zh)}"]
    if spec.notes:
        out += ["", f"Notes: {spec.notes}"]
    out += ["", "## Components and valuation 组分与定价", "", "| id | 名称 | name | unit | valuation | price key | price unit | formula |", "|---|---|---|---|---|---|---|---|"]
    for c in spec.components:
        out.append(f"| `{c.id}` | {c.name_zh} | {c.name_en} | {c.unit} | {c.valuation} | `{c.price_key or '-'}` | {c.price_unit or '-'} | {c.valuation_formula} |")
    for m in spec.methods:
        default = " (default)" if m.id == spec.default_method else ""
        out += ["", f"## Method `{m.id}`{default} — {m.kind}", "", f"Formula 公式: `{m.formula}`", "",
                f"Source: {m.source}; clause: {m.clause or '-'}; certainty: `{m.certainty.value}`"]
        if m.notes:
            out += ["", m.notes]
        if m.inputs or m.optional_inputs:
            out += ["", "| input | 名称 | unit | required | description |", "|---|---|---|---|---|"]
            for name in (*m.inputs, *m.optional_inputs):
                v = VARIABLES.get(name)
                req = "yes" if name in m.inputs else "optional"
                if v is None:
                    out.append(f"| `{name}` | table | - | {req} | see docs/formats.md |")
                else:
                    out.append(f"| `{name}` | {v.name_zh} | {v.units} | {req} | {v.description} |")
        if m.statistics_items:
            out += ["", f"Statistics items read 读取的统计项目: {', '.join(f'`{i}`' for i in m.statistics_items)}"]
        if m.params:
            out += ["", "| parameter | unit | per land-cover class | description |", "|---|---|---|---|"]
            for p in m.params:
                out.append(f"| `{p.key}` | {p.unit} | {'yes' if p.per_class else 'no'} | {p.description} |")
        if m.options:
            out += ["", "| option | meaning (default) |", "|---|---|"]
            out += [f"| `{k}` | {v.replace('|', '/')} |" for k, v in m.options.items()]
        if m.kind == "raster":
            inputs = " ".join(f"--input {n}=PATH" for n in m.inputs)
            out += ["", f"On your own rasters 单项计算: `qingshan compute {spec.id} --method {m.id} {inputs} -o OUT.tif`"]
            if m.intermediates:
                out.append(f"(also writes {', '.join(m.intermediates)} for checking)")
    return "\n".join(out) + "\n"


def write_indicator_pages(folder: str | Path) -> list[Path]:
    """Write ``docs/indicators/<id>.md`` for every indicator, plus an index."""
    from qingshan.indicators import registry

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    index = ["# Indicator catalogue 指标目录", "", "Generated from the registry by `python -m qingshan.docs`.", "",
             "| id | 指标 | indicator | class | methods |", "|---|---|---|---|---|"]
    for spec in registry():
        path = folder / f"{spec.id}.md"
        path.write_text(indicator_markdown(spec), encoding="utf-8")
        files.append(path)
        index.append(f"| [`{spec.id}`]({spec.id}.md) | {spec.name_zh} | {spec.name_en} | {spec.category.value} | {', '.join(m.id for m in spec.methods)} |")
    idx = folder / "README.md"
    idx.write_text("\n".join(index) + "\n", encoding="utf-8")
    return [idx, *files]


if __name__ == "__main__":
    for f in write_indicator_pages(Path("docs/indicators")):
        print(f)  # noqa: T201
