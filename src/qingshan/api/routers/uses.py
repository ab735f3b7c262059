"""Uses of a run (推动结果应用): change analysis, eco-compensation, the GEP report — thin over qingshan.use."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import PrincipalDep, RunDep, SettingsDep, StoreDep, get_any_run, plain
from qingshan.api.download import attachment

__all__ = ["router"]

router = APIRouter(prefix="/api/runs", tags=["uses"])

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in r.items()} for r in df.to_dict("records")]


class ChangeOut(BaseModel):
    """Change of value between two sides, and its LMDI decomposition (CNY; growth in %)."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    from_side: str = Field(description="run/year of the earlier side")
    to_side: str = Field(description="run/year of the later side")
    changes: list[dict[str, Any]] = Field(description="per region × indicator (and class:<category>, GEP): value_0, "
                                                      "value_1, value_change, value_growth_pct, comparable_*")
    effects: list[dict[str, Any]] = Field(description="per region × indicator: change, quantity_effect, price_effect")


@router.get("/{run_id}/change", summary="Change between years or runs · 变化分析")
def run_change(
    view: RunDep,
    store: StoreDep,
    principal: PrincipalDep,
    from_year: Annotated[int | None, Query(alias="from", description="Earlier year 起始年份")] = None,
    to_year: Annotated[int | None, Query(alias="to", description="Later year 终止年份")] = None,
    against: Annotated[str | None, Query(description="Earlier run id 对比的核算编号")] = None,
    region: Annotated[str | None, Query(description="Only this region 区划代码")] = None,
) -> ChangeOut:
    """Growth at current and comparable prices and the decomposition of the value change into quantity
    and price effects (LMDI; effects add up to the change exactly) 当年价与可比价增长及因素分解."""
    from qingshan.use.change import change_table, decompose
    from qingshan.use.runs import change_sides

    if against is not None:  # the earlier run must be visible to the caller too (404 otherwise)
        get_any_run(against, store, principal)
    a, b, regions = change_sides(store, view.run.id, from_year=from_year, to_year=to_year, against=against)
    if region is not None:
        view.region(region)
    t = change_table(a, b, names=dict(zip(regions["code"], regions["name"], strict=True)))
    e = decompose(a, b, regions[["code", "parent", "level"]])
    if region is not None:
        t, e = t[t["region_code"] == region], e[e["region_code"] == region]
    return ChangeOut(run_id=view.run.id, from_side=a.label, to_side=b.label, changes=_records(t), effects=_records(e))


class CompensationIn(BaseModel):
    """A fund and a rule (see qingshan.use.compensation)."""

    model_config = ConfigDict(extra="forbid")
    fund_yuan: float = Field(gt=0, le=1e13, description="Fund to split, yuan 资金总额（元）")
    rule: dict[str, Any] = Field(description="Rule: {rule, level, measure, min_share, max_share, factors, source}")
    year: int | None = Field(None, description="Year of the run (default: its last)")
    from_year: int | None = Field(None, description="Earlier year (rule gep_growth)")
    factors: list[dict[str, Any]] | None = Field(None, max_length=10_000,
                                                 description="Factor rows: region_code and one number per factor (rule factors)")


class CompensationOut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str
    rule: str
    fund_fen: int
    rows: list[dict[str, Any]]


@router.post("/{run_id}/compensation", summary="Split an eco-compensation fund · 生态补偿分配")
def run_compensation(view: RunDep, body: CompensationIn) -> CompensationOut:
    """Shares of the fund by the rule, in whole fen adding up to the fund exactly (largest remainder);
    every row explains its score and share 按规则分配补偿资金，精确到分且合计等于资金总额."""
    from qingshan.use.compensation import allocate, load_rule, scores_for_rule
    from qingshan.use.runs import load_run

    rule = load_rule(body.rule)
    run, cube, regions = load_run(view.store, view.run.id)
    year = view.year(body.year)
    factors = pd.DataFrame(body.factors) if body.factors else None
    scores = scores_for_rule(rule, cube, regions, year=year, from_year=body.from_year, factors=factors)
    out = allocate(body.fund_yuan, scores, rule, names=dict(zip(regions["code"], regions["name"], strict=True)))
    return CompensationOut(run_id=run.id, rule=rule.kind, fund_fen=int(out["amount_fen"].sum()), rows=_records(out))


@router.get("/{run_id}/report", summary="GEP accounting report · 核算报告 (PDF/DOCX)",
            response_class=Response, responses={200: {"content": {"application/pdf": {}, DOCX: {}}}})
def run_report(
    view: RunDep,
    region: Annotated[str | None, Query(description="Region code 区划代码 (default: the top region)")] = None,
    year: Annotated[int | None, Query(description="Year 年份")] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="Language 语言")] = "zh",
    format: Annotated[Literal["pdf", "docx"], Query(description="pdf or docx")] = "pdf",
) -> Response:
    """The accounting report of a region and year, generated from the stored run (chapters in the
    standards' order, tables, maps, QC and provenance) 由核算记录生成的核算报告."""
    from qingshan.use.report.gep_report import write_gep_report

    if region is not None:
        view.region(region)
    y = view.year(year)
    with tempfile.TemporaryDirectory(prefix="qs-report-") as tmp:
        path = write_gep_report(view.store, view.run.id, Path(tmp) / f"report.{format}", region=region, year=y, lang=lang)
        content = path.read_bytes()
    name = f"qingshan-gep-report-{view.run.id[:8]}-{region or 'top'}-{y}-{lang}.{format}"
    return Response(content, media_type="application/pdf" if format == "pdf" else DOCX,
                    headers={"Content-Disposition": attachment(name)})


@router.post("/{run_id}/parcel/report", summary="Parcel valuation report (PDF) · 地块价值评估报告",
             response_class=Response, responses={200: {"content": {"application/pdf": {}}}})
async def run_parcel_report(
    view: RunDep,
    request: Request,
    settings: SettingsDep,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
    lang: Annotated[Literal["zh", "en"], Query(description="Language 语言")] = "zh",
) -> Response:
    """The parcel's value as a PDF for a loan file: map, annual flow by indicator and component, method and
    precision, run id, content hash, input hashes and the parcel's SHA-256 (same body as POST .../parcel)."""
    from fastapi.concurrency import run_in_threadpool

    from qingshan.api.routers.parcels import _read_parcel
    from qingshan.store.artifacts import find_data_dir
    from qingshan.use.parcel import parcel_report

    y = view.year(year)
    parcel = await _read_parcel(request)

    def render() -> bytes:
        with tempfile.TemporaryDirectory(prefix="qs-parcel-") as tmp:
            path, _ = parcel_report(view.store, view.run.id, parcel, Path(tmp) / "parcel.pdf",
                                    data_dir=find_data_dir(settings.store_url), year=y, lang=lang,
                                    command=f"POST /api/runs/{view.run.id}/parcel/report?year={y}&lang={lang}")
            return path.read_bytes()

    content = await run_in_threadpool(render)
    name = f"qingshan-parcel-{view.run.id[:8]}-{y}-{lang}.pdf"
    return Response(content, media_type="application/pdf", headers={"Content-Disposition": attachment(name)})


POPULATION_ITEMS = ("population", "人口", "常住人口", "resident_population")
PERSONS_PER_UNIT = {"人": 1.0, "person": 1.0, "persons": 1.0, "people": 1.0, "万人": 1e4, "10^4 persons": 1e4}


class PopulationRow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    population: float = Field(description="persons 人")
    source: str


class PopulationOut(BaseModel):
    """Population of the run's regions (from its statistics table), for per-capita figures."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    year: int
    rows: list[PopulationRow] = Field(description="Regions with a population (a parent without its own row: sum of "
                                                  "its leaf regions when every one reports it); empty when absent")
    skipped: list[dict[str, str]] = Field(description="Rows not used, with the reason (e.g. unknown unit)")


@router.get("/{run_id}/population", summary="Population by region · 各地区人口（人均值用）")
def run_population(
    view: RunDep,
    settings: SettingsDep,
    year: Annotated[int | None, Query(description="Year (default: the last) 年份")] = None,
) -> PopulationOut:
    """Population [persons] from the statistics rows with item ``population`` (人口/常住人口) in 人 or 万人;
    rows in another unit are listed under ``skipped`` (never guessed) 统计表中的人口（人或万人）。"""
    from qingshan.api.routers.parcels import _leaf_descendants, _statistics_of

    y = view.year(year)
    own, skipped = _population_rows(_statistics_of(view, settings), y)  # the run's own copy of its table
    regions = view.regions()
    rows = dict(own)
    for code in regions["code"]:
        leaves = _leaf_descendants(regions, str(code))
        if code not in rows and leaves and all(c in own for c in leaves):
            rows[str(code)] = (sum(own[c][0] for c in leaves), "sum of leaf regions 下级合计")
    return PopulationOut(run_id=view.run.id, year=y, skipped=skipped,
                         rows=[PopulationRow(code=c, population=p, source=s) for c, (p, s) in sorted(rows.items())])


def _population_rows(path: object, year: int) -> tuple[dict[str, tuple[float, str]], list[dict[str, str]]]:
    """Region code → (persons, source) from a statistics CSV, and the rows skipped with why."""
    from qingshan.core.errors import QingshanError
    from qingshan.core.tables import read_csv_table

    if not path:
        return {}, []
    try:
        df = read_csv_table(str(path), ["region_code", "year", "item", "value", "unit"], what="statistics table",
                            what_zh="统计数据表")
    except QingshanError:
        return {}, []
    df = df[df["item"].astype(str).isin(POPULATION_ITEMS) & (pd.to_numeric(df["year"], errors="coerce") == year)]
    out: dict[str, tuple[float, str]] = {}
    skipped = []
    for r in df.itertuples():
        factor = PERSONS_PER_UNIT.get(str(r.unit).strip())
        value = pd.to_numeric(r.value, errors="coerce")
        if factor is None or pd.isna(value) or value <= 0:
            skipped.append({"region_code": str(r.region_code), "reason": f"unit '{r.unit}' or value '{r.value}' not usable "
                            "(give persons in 人 or 万人) 单位或数值不可用（请用 人 或 万人）"})
            continue
        out[str(r.region_code)] = (float(value) * factor, str(getattr(r, "source", "")))
    return out, skipped
