"""Revaluation of a stored run at new prices (``POST /api/runs/{run_id}/revalue``): a new run, no recomputation."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import SettingsDep, StoreDep, require_role
from qingshan.api.errors import NotFoundError, RunNotReadyError
from qingshan.api.schemas import RunOut
from qingshan.core.errors import InputError, MissingPriceError
from qingshan.platform.accounts import Principal
from qingshan.store import repo

__all__ = ["router"]

router = APIRouter(tags=["runs"])
Accountant = Annotated[Principal, require_role("accountant")]
RunId = Annotated[str, PathParam(description="Run id of the parent 原核算编号")]


class RevalueIn(BaseModel):
    """New tables as CSV text (the columns of the files `qingshan revalue` reads)."""

    model_config = ConfigDict(extra="forbid")

    prices_csv: str = Field(min_length=1, description="price table: price_key,value,unit,price_year,region,source 价格表")
    deflator_csv: str | None = Field(None, description="deflator: year,index,source (default: the parent's) 价格指数表")
    params_csv: str | None = Field(None, description="parameters: param_key,value,unit,source,certainty,note; a "
                                   "parameter that changes quantities is refused (422) 参数表")
    base_year: int | None = Field(None, ge=1900, le=2200, description="base year of comparable prices 可比价基年")
    name: str | None = Field(None, max_length=200, description="name of the new run 新核算名称")


class RevalueOut(BaseModel):
    """The new run, linked to its parent."""

    run: RunOut
    parent_run_id: str
    job_id: str = Field(description="the revaluation's job record (kind revalue) 任务记录")
    rows: int
    seconds: float


@router.post("/api/runs/{run_id}/revalue", summary="Revalue a run at new prices · 重新计价", status_code=201)
def revalue_run(run_id: RunId, body: RevalueIn, store: StoreDep, settings: SettingsDep, user: Accountant) -> RevalueOut:
    """A NEW run with the parent's quantities valued at the given prices (deflator, base year); nothing is
    recomputed and the parent is not changed. The workbook and GeoPackage of the new run are written on their
    first download. 404: no such run; 409: the run has not succeeded; 422: bad tables, a missing price, or a
    parameter that changes physical quantities (run an accounting instead)."""
    from qingshan.engine.revalue import revalue
    from qingshan.platform.revaluations import record_revaluation
    from qingshan.store.artifacts import find_data_dir

    parent = repo.get_run(store, run_id)
    if parent is None:
        raise NotFoundError(f"No run '{run_id}' in the results store", f"结果库中没有核算记录 '{run_id}'",
                            field="run_id", fix="List the runs with GET /api/runs.", fix_zh="用 GET /api/runs 查看核算记录。")
    if parent.status != "succeeded":
        raise RunNotReadyError(f"Run '{run_id}' is {parent.status}: only a succeeded run can be revalued",
                               f"核算记录 '{run_id}' 的状态为 {parent.status}：只有已成功的核算才能重新计价",
                               field="run_id", fix="Revalue a succeeded run.", fix_zh="请对已成功的核算重新计价。")
    with tempfile.TemporaryDirectory(prefix="qs-revalue-") as tmp:
        files = {name: _write(Path(tmp), f"{name}.csv", text) for name, text in
                 (("prices", body.prices_csv), ("deflator", body.deflator_csv), ("parameters", body.params_csv))}
        try:
            out = revalue(settings.store_url, run_id, prices=files["prices"] or Path(tmp) / "prices.csv",
                          deflator=files["deflator"], params=files["parameters"], base_year=body.base_year,
                          data_dir=find_data_dir(settings.store_url), name=body.name)
        except MissingPriceError as exc:  # the price table of the request lacks a row: 422, not "not found"
            raise InputError(exc.en, exc.zh, file=exc.file, field=exc.field, fix=exc.fix, fix_zh=exc.fix_zh) from None
    job = record_revaluation(store, user, parent_id=run_id, run_id=out.run_id,
                             params={"profile": parent.profile, "years": list(parent.years), "name": body.name,
                                     "base_year": out.provenance["base_year"]})
    child = repo.get_run(store, out.run_id)
    return RevalueOut(run=RunOut.model_validate(child), parent_run_id=run_id, job_id=job, rows=len(out.results),
                      seconds=float(out.provenance["seconds"]))


def _write(folder: Path, name: str, text: str | None) -> Path | None:
    if text is None:
        return None
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
