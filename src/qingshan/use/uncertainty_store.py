"""An uncertainty analysis as its own record and workbook (runs stay immutable: nothing is written into a sealed run).

``<data dir>/uncertainty/<run id>/<analysis id>/`` holds ``result.json`` (:meth:`RunUncertainty.to_json`)
and ``uncertainty.xlsx`` (sheets: intervals, sensitivity, tornado, inputs, about); the folder is
written in a temporary sibling and renamed, so a reader never sees half an analysis. The analysis id
is a content hash of the run, the inputs and the settings (:func:`qingshan.use.uncertainty.analysis_id`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pandas as pd

from qingshan.core.errors import InputError
from qingshan.use.uncertainty import RunUncertainty

__all__ = ["ROOT", "load_analysis", "read_result", "save_analysis", "write_workbook"]

ROOT = "uncertainty"
YI = 1e8


def write_workbook(res: RunUncertainty, path: str | Path) -> Path:
    """The analysis as an XLSX workbook (totals in 亿元 beside 元)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iv = res.intervals.copy()
    for col in [c for c in iv.columns if c == "value" or c == "mean" or c.startswith("p")]:
        iv[f"{col}_亿元"] = iv[col] / YI
    about = pd.DataFrame([{"item 项目": k, "value 值": json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict) else v}
                          for k, v in res.meta.items()])
    with pd.ExcelWriter(path, engine="openpyxl") as xw:
        iv.to_excel(xw, sheet_name="intervals 区间", index=False)
        res.sensitivity_all.to_excel(xw, sheet_name="sensitivity 敏感性", index=False)
        res.swing.to_excel(xw, sheet_name="tornado 龙卷风图", index=False)
        res.inputs.to_excel(xw, sheet_name="inputs 输入分布", index=False)
        about.to_excel(xw, sheet_name="about 说明", index=False)
    return path


def _folder(data_dir: Path, run_id: str) -> Path:
    return Path(data_dir) / ROOT / run_id


def save_analysis(res: RunUncertainty, data_dir: str | Path) -> Path:
    """Store the analysis (idempotent: the same request keeps the same folder); returns its folder."""
    parent = _folder(Path(data_dir), str(res.meta["run_id"]))
    final = parent / str(res.meta["id"])
    if (final / "result.json").is_file():
        return final
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        (tmp / "result.json").write_text(json.dumps(res.to_json(), ensure_ascii=False), encoding="utf-8")
        write_workbook(res, tmp / "uncertainty.xlsx")
        os.replace(tmp, final)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (final / "result.json").is_file():
            raise
    return final


def load_analysis(data_dir: str | Path | None, run_id: str, analysis: str | None = None) -> RunUncertainty:
    """A stored analysis of ``run_id`` (the newest when ``analysis`` is None)."""
    folder = _folder(Path(data_dir), run_id) if data_dir else None
    found: list[Path] = []
    if folder is not None and folder.is_dir():
        found = [p for p in folder.iterdir() if (p / "result.json").is_file() and (analysis is None or p.name == analysis)]
    if not found:
        raise InputError(
            f"No stored uncertainty analysis{' ' + analysis if analysis else ''} of run '{run_id}'",
            f"核算记录 '{run_id}' 没有已保存的不确定性分析{analysis or ''}", field="analysis",
            fix="Compute one: `qingshan uncertainty RUN --distributions FILE` or POST /api/runs/{id}/uncertainty.",
            fix_zh="请先计算：`qingshan uncertainty RUN --distributions FILE` 或 POST /api/runs/{id}/uncertainty。")
    newest = max(found, key=lambda p: (p / "result.json").stat().st_mtime)
    return read_result(newest / "result.json")


def read_result(path: str | Path) -> RunUncertainty:
    """An analysis from its ``result.json`` (e.g. ``qingshan report --uncertainty FILE``)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return RunUncertainty.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"Cannot read the uncertainty result {path}: {exc}", f"无法读取不确定性分析结果 {path}",
                         file=path, fix="Give the result.json written by `qingshan uncertainty` (-o DIR or the data dir).",
                         fix_zh="请给出 `qingshan uncertainty` 写出的 result.json。") from None
