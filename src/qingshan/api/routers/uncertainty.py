"""Uncertainty of a run over HTTP: compute (POST, bounded) or read (GET) a stored analysis — thin over qingshan.use.uncertainty.

The analysis is its own record in ``<data dir>/uncertainty/<run id>/<analysis id>/``; the sealed run
is never touched. POST needs an accountant (each request may run thousands of evaluations).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import RunDep, SettingsDep, StoreDep, require_role
from qingshan.platform.accounts import Principal
from qingshan.platform.errors import NotFoundError

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["uncertainty"])
Accountant = Annotated[Principal, require_role("accountant")]

API_MAX_DRAWS = 20_000
API_MAX_RECOMPUTE_DRAWS = 50
API_MAX_RECOMPUTE_EVALUATIONS = 200
"""Most engine recomputations one request may cost (draws + Morris r·(k+1) + tornado 2k)."""


class DistributionIn(BaseModel):
    """One uncertain input (see docs/uncertainty.md): a price key or ``param:KEY``."""

    model_config = ConfigDict(extra="forbid")
    key: str = Field(min_length=1, max_length=200)
    kind: Literal["normal", "lognormal", "uniform", "triangular"]
    a: float
    b: float
    c: float | None = None
    source: str = Field(min_length=1, max_length=500)
    unit: str | None = None


class UncertaintyIn(BaseModel):
    """Request of an analysis; draws are bounded (parameters recomputed on the engine: at most 50)."""

    model_config = ConfigDict(extra="forbid")
    distributions: list[DistributionIn] = Field(default_factory=list, max_length=200)
    param_tables: bool = Field(False, description="also use the dist_* columns of the run's parameter tables")
    draws: int = Field(1000, ge=1, le=API_MAX_DRAWS)
    seed: int = Field(0, ge=0, le=2**63 - 1)
    year: int | None = None
    method: Literal["sobol", "morris"] | None = None
    sobol_n: int = Field(256, ge=8, le=4096)
    morris_r: int = Field(10, ge=2, le=50)
    percentiles: list[float] = Field(default_factory=list, max_length=10)


def _data_dir(settings: Any) -> Any:
    from qingshan.store.artifacts import find_data_dir

    return find_data_dir(settings.store_url)


@router.post("/{run_id}/uncertainty", summary="Compute an uncertainty analysis · 计算不确定性分析")
def compute_uncertainty(user: Accountant, view: RunDep, store: StoreDep, settings: SettingsDep,
                        body: UncertaintyIn) -> dict[str, Any]:
    """Monte Carlo intervals of every total and the sensitivity ranking of GEP and each indicator; stored
    as the run's analysis (the same request returns the same analysis id) 区间估计与敏感性排序."""
    from qingshan.core.errors import ConfigError
    from qingshan.use.uncertainty import read_distributions, run_uncertainty
    from qingshan.use.uncertainty_store import save_analysis

    dists = read_distributions([d.model_dump() for d in body.distributions]) if body.distributions else []
    probe = [d for d in dists if d.key.startswith("param:")]
    if probe or body.param_tables:
        k = _recompute_inputs(view, dists, body.param_tables)
        evaluations = body.draws + body.morris_r * (k + 1) + 2 * k if k else 0
        if evaluations > API_MAX_RECOMPUTE_EVALUATIONS or (k and body.draws > API_MAX_RECOMPUTE_DRAWS):
            raise ConfigError(
                f"Recomputing parameters {evaluations} times is more than the API allows (draws ≤ {API_MAX_RECOMPUTE_DRAWS}, "
                f"draws + morris_r·(k+1) + 2k ≤ {API_MAX_RECOMPUTE_EVALUATIONS})",
                f"需要重新计算参数 {evaluations} 次，超过接口上限（抽样 ≤ {API_MAX_RECOMPUTE_DRAWS}，总计算次数 ≤ "
                f"{API_MAX_RECOMPUTE_EVALUATIONS}）", field="draws",
                fix="Use fewer draws or trajectories, or the CLI (qingshan uncertainty --scheduler ADDRESS).",
                fix_zh="请减少抽样次数或轨迹数，或用命令行（qingshan uncertainty --scheduler 地址）做大规模分析。")
    res = run_uncertainty(store, view.run.id, dists, draws=body.draws, seed=body.seed, year=body.year,
                          sobol_n=body.sobol_n, method=body.method, morris_r=body.morris_r,
                          param_tables=body.param_tables, percentiles=(5.0, 50.0, 95.0, *body.percentiles))
    data_dir = _data_dir(settings)
    if data_dir is not None:
        save_analysis(res, data_dir)
    return {**res.to_json(), "stored": data_dir is not None}


def _recompute_inputs(view: Any, dists: list[Any], param_tables: bool) -> int:
    """How many inputs (in total, when some parameter needs recomputing) the analysis will have; 0 if none is recomputed."""
    from qingshan.use.uncertainty import classify, table_distributions

    prov = view.run.provenance or {}
    every = [*(table_distributions(view.run) if param_tables else []), *dists]
    kinds = [classify(d, prov.get("methods", {}), prov.get("parameters", {})) for d in every]
    return len(every) if "recompute" in kinds else 0


@router.get("/{run_id}/uncertainty", summary="A stored uncertainty analysis · 已保存的不确定性分析")
def get_uncertainty(view: RunDep, settings: SettingsDep,
                    analysis: Annotated[str | None, Query(max_length=64, description="Analysis id (default: the newest) 分析编号")] = None
                    ) -> dict[str, Any]:
    """The newest (or the named) stored analysis of the run: intervals, sensitivity, tornado, inputs."""
    from qingshan.core.errors import InputError
    from qingshan.use.uncertainty_store import load_analysis

    try:
        return load_analysis(_data_dir(settings), view.run.id, analysis).to_json()
    except InputError as exc:
        raise NotFoundError(exc.en, exc.zh, field="analysis", fix=exc.fix, fix_zh=exc.fix_zh) from None
