"""Verification of stored runs (``qingshan runs --verify``): every sealed file as sealed, and the result rows the
API serves equal to the run's sealed ``results.csv``.

The API serves a run's numbers (summary, results, ranking, reports) from the ``results`` rows of the store, and its
files from the sealed folder. A row changed in the database after the run was sealed — by hand, by a faulty
migration or tool — was served without a sign (found: every value of a published run doubled by one ``UPDATE``
doubled its summary, while its sealed ``results.csv`` still downloaded unchanged). This check compares the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from qingshan.core.errors import ArtifactIntegrityError, QingshanError

__all__ = ["Problem", "check_before_publication", "check_sealed", "verify_run"]

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]
NUMBERS = ["quantity", "price", "value", "value_comparable"]
TEXT = ["category", "unit", "price_unit"]


@dataclass(frozen=True)
class Problem:
    """One thing of a run that is not as sealed."""

    run_id: str
    en: str
    zh: str


def verify_run(factory: Any, run: Any, data_dir: Path | None) -> list[Problem]:
    """What of ``run`` (a succeeded run with a manifest) differs from what was sealed; empty when nothing."""
    from qingshan.store import artifacts, repo

    if run.status != "succeeded" or not getattr(run, "artifacts_dir", None):
        return []
    problems: list[Problem] = []
    try:
        folder = artifacts.artifact_dir(run, data_dir)
    except QingshanError as exc:
        return [Problem(run.id, exc.en, exc.zh)]
    for entry in run.artifacts or []:
        try:
            artifacts.check_artifact(run.id, folder, entry["name"], entry)
        except QingshanError as exc:
            problems.append(Problem(run.id, exc.en, exc.zh))
    if any(p.en.find("'results.csv'") >= 0 for p in problems) or not (folder / "results.csv").is_file():
        return problems  # no sealed table to compare the rows with
    sealed = pd.read_csv(folder / "results.csv", dtype={"region_code": str, "level": str}, encoding="utf-8-sig",
                         keep_default_na=False, na_values=[""])
    stored = repo.read_results(factory, run.id)
    problems += _compare(run.id, sealed, stored)
    return problems


def check_before_publication(factory: Any, run_id: str, data_dir: Path | None) -> None:
    """Refuse (:class:`ArtifactIntegrityError`, HTTP 409) to publish a run whose sealed files or stored result rows are
    not as sealed (:func:`verify_run`): what is published is what was computed. Found: a result row changed in the
    store before publication was published as it stood. Run once the publication is allowed (``prepare``)."""
    from qingshan.store import repo

    run = repo.get_run(factory, run_id)
    if run is not None:
        check_sealed(factory, run, data_dir, "is not published", "未发布")


def check_sealed(factory: Any, run: Any, data_dir: Path | None, refused: str, refused_zh: str) -> None:
    """:class:`ArtifactIntegrityError` (``"Run '…' <refused>: <first problem>"``) unless :func:`verify_run` finds
    nothing: for publication, and before a scenario copies a base run's rasters and rows into a new sealed run."""
    problems = verify_run(factory, run, data_dir)
    if problems:
        more, more_zh = (f" (and {len(problems) - 1} more)", f"（另有 {len(problems) - 1} 处）") if len(problems) > 1 \
            else ("", "")
        raise ArtifactIntegrityError(
            f"Run '{run.id}' {refused}: {problems[0].en}{more}",
            f"核算记录 '{run.id}' {refused_zh}：{problems[0].zh}{more_zh}",
            field="run_id",
            fix="Find the cause with `qingshan runs --verify`; restore the run from a backup (`qingshan restore`) or "
                "rerun the accounting, then publish.",
            fix_zh="请用 `qingshan runs --verify` 查明原因；从备份恢复（`qingshan restore`）或重新核算后再发布。",
        )


def _key(row: Any) -> tuple[Any, ...]:
    return tuple("" if _missing(row[k]) else str(row[k]) for k in KEYS)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def _same(a: Any, b: Any, number: bool) -> bool:
    if _missing(a) or _missing(b):
        return _missing(a) and _missing(b)
    return float(a) == float(b) if number else str(a) == str(b)


def _compare(run_id: str, sealed: pd.DataFrame, stored: pd.DataFrame) -> list[Problem]:
    if len(sealed) != len(stored):
        return [Problem(run_id, f"The store holds {len(stored)} result rows, the sealed results.csv {len(sealed)}",
                        f"结果库中有 {len(stored)} 行结果，封存的 results.csv 中有 {len(sealed)} 行")]
    want = {_key(r): r for r in sealed.to_dict("records")}
    out = []
    for row in stored.to_dict("records"):
        ref = want.get(_key(row))
        if ref is None:
            out.append(Problem(run_id, f"A result row of the store is not in the sealed results.csv: {_key(row)}",
                               f"结果库中的一行结果不在封存的 results.csv 中：{_key(row)}"))
            continue
        bad = [c for c in NUMBERS if not _same(row[c], ref[c], True)]
        bad += [c for c in TEXT if not _same(row[c], ref[c], False)]
        if bad:
            out.append(Problem(run_id, f"Result row {_key(row)} differs from the sealed results.csv in {', '.join(bad)}: "
                               f"{', '.join(f'{c} {row[c]!r} ≠ {ref[c]!r}' for c in bad)}",
                               f"结果行 {_key(row)} 的 {', '.join(bad)} 与封存的 results.csv 不同"))
        if len(out) >= 20:
            break
    return out
