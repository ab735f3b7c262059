"""The quality-control report (质量控制报告) of a run: ``provenance["qc"]``, with the run's visibility rules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import AnyRunDep
from qingshan.platform.errors import NotFoundError

__all__ = ["QCReportOut", "router"]

router = APIRouter(prefix="/api/runs", tags=["runs"])


class QCReportOut(BaseModel):
    """What a signer reads before approving a run (schema of ``qingshan.engine.qc``)."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    status: str = Field(description="ok | warnings")
    computed: list[str] = Field(description="indicators of the profile that were accounted 已核算")
    excluded: list[dict[str, Any]] = Field(description="indicators excluded by the config, with reasons 已排除 {id, reason}")
    not_computed: list[dict[str, Any]] = Field([], description="optional indicators without data 未核算（无数据）")
    unverified: list[dict[str, Any]] = Field(description="parameters and prices used whose certainty is R 未核实的参数与价格")
    notices: list[dict[str, Any]] = Field(description="notices of the run (plausibility warnings, repairs …) 提示")
    jumps: list[dict[str, Any]] = Field(description="year-on-year changes above the threshold 年际突变")
    class_shares: dict[str, Any] = Field(description="region → year → class → share of GEP [%] 类别占比")
    example: bool = Field(False, description="based on the embedded example's approximate data 基于内置示例数据")


@router.get("/{run_id}/qc", summary="Quality-control report of a run · 质量控制报告")
def get_qc(run: AnyRunDep) -> QCReportOut:
    """The run's QC report: computed, excluded and not-computed indicators, unverified parameters and prices,
    notices, year-on-year jumps, class shares and status. Visible to whoever may see the run."""
    report = (run.provenance or {}).get("qc")
    if not isinstance(report, dict):
        raise NotFoundError(
            f"Run '{run.id}' has no QC report (a run that did not succeed, or one recorded before QC reports)",
            f"核算记录 '{run.id}' 没有质量控制报告（未成功的核算或早期核算）",
            field="run_id",
            fix="Read the run with GET /api/runs/{run_id}; rerun it to get a QC report.",
            fix_zh="用 GET /api/runs/{run_id} 查看该核算；重新核算可生成质量控制报告。",
        )
    return QCReportOut.model_validate({**report, "run_id": run.id, "example": bool(run.provenance.get("example"))})
