"""Reading stored runs for the uses: a run's cube and regions, and the two sides of a comparison."""

from __future__ import annotations

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.store import repo
from qingshan.store.models import Run
from qingshan.use.change import ChangeSide

__all__ = ["change_sides", "load_run"]


def load_run(factory: sessionmaker[Session], run_id: str) -> tuple[Run, pd.DataFrame, pd.DataFrame]:
    """A succeeded run, its result rows and its regions (code, name, level, parent, area_km2, geometry)."""
    run = repo.get_run(factory, run_id)
    if run is None or run.status != "succeeded":
        state = "not in the store" if run is None else f"{run.status}, without results"
        raise InputError(
            f"Run '{run_id}' is {state}",
            f"核算记录 '{run_id}' {'不存在' if run is None else '没有结果（状态 ' + run.status + '）'}",
            field="run",
            fix="List the succeeded runs with `qingshan runs` (or GET /api/runs).",
            fix_zh="用 `qingshan runs`（或 GET /api/runs）查看已完成的核算。",
        )
    return run, repo.read_results(factory, run_id), repo.read_regions(factory, run_id, with_geometry=True)


def _year(run: Run, year: int | None, what: str) -> int:
    years = sorted(run.years)
    if year is None:
        return years[0] if what == "from" else years[-1]
    if year not in years:
        raise InputError(
            f"Run '{run.id}' has no year {year}", f"核算记录 '{run.id}' 没有 {year} 年的结果", field=what,
            fix=f"Years of this run: {', '.join(map(str, years))}.", fix_zh=f"本次核算的年份：{', '.join(map(str, years))}。",
        )
    return year


def change_sides(factory: sessionmaker[Session], run_id: str, *, from_year: int | None, to_year: int | None,
                 against: str | None = None) -> tuple[ChangeSide, ChangeSide, pd.DataFrame]:
    """``from`` and ``to`` sides: two years of one run, or (``against``) a year of another run → a
    year of this one. Returns the sides and the later run's regions."""
    run, cube, regions = load_run(factory, run_id)
    if against is None:
        y0, y1 = _year(run, from_year, "from"), _year(run, to_year, "to")
        if y0 == y1:
            raise InputError(f"Compare two different years (got {y0} twice)", f"请比较两个不同的年份（两次均为 {y0}）",
                             field="from", fix="Give --from and --to, or --against another run.",
                             fix_zh="请给出 --from 与 --to，或用 --against 指定另一次核算。")
        a = ChangeSide(cube, y0, run.id, run.base_year)
    else:
        other, ocube, _ = load_run(factory, against)
        a = ChangeSide(ocube, _year(other, from_year, "from"), other.id, other.base_year)
    return a, ChangeSide(cube, _year(run, to_year, "to"), run.id, run.base_year), regions
