"""Quality-control report (质量控制) of a run, and the rules on which indicators a run may leave out.

Every run gets one report, built by :func:`build_report` from what the run knows and stored as
``provenance["qc"]``:

``computed``      the profile's indicators that were accounted;
``excluded``      indicators left out on purpose — only by ``exclude = [{id, reason}]`` in the config;
``not_computed``  optional indicators of the profile without data ("not computed: no data");
``unverified``    every parameter and price used whose certainty is ``R`` (recalled, unverified);
``notices``       every notice collected during the run (:mod:`qingshan.core.notices`);
``jumps``         year-on-year changes of an indicator's value in a region above a threshold
                  (option ``qc_jump_threshold_pct``, default 30 %), within the run and against the
                  store's earlier succeeded run of the same profile and regions for the previous year;
``class_shares``  each class's share of GEP per year for the top-level region(s);
``status``        ``"ok"`` or ``"warnings"`` (anything above that a signer must look at).

A required indicator of the profile without data is an error (:func:`check_coverage`) naming
what it needs and how to exclude it explicitly; nothing is dropped silently.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from qingshan.aggregate.regions import LEVEL_ZH
from qingshan.core.errors import ConfigError, InputError
from qingshan.core.notices import Notice, notice
from qingshan.core.params import file_sha256
from qingshan.core.spec import CATEGORY_ZH, Category, IndicatorSpec, MethodSpec

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from qingshan.aggregate.regions import RegionSet
    from qingshan.engine.config import RunConfig
    from qingshan.engine.run import Plan, Tables
    from qingshan.indicators.registry import Profile

__all__ = [
    "DEFAULT_JUMP_THRESHOLD_PCT",
    "build_report",
    "check_coverage",
    "example_files",
    "exclusions",
    "needs",
    "report_markdown",
    "report_rows",
]

DEFAULT_JUMP_THRESHOLD_PCT = 30.0
"""Year-on-year change [%] of an indicator's value in a region above which the QC report lists it."""
MAX_JUMPS = 200
"""At most this many jumps are listed (largest first); ``jumps_total`` gives the count."""
VERIFIED = {"V", "V-code", "D", "practice", "user"}
"""Certainty tags that are not "unverified" (``user``: a value the run config set)."""

_STATISTICS_ITEMS: dict[str, str] = {
    "qingshan.quantities.provisioning:products_from_statistics":
        "statistics rows of the products whose indicator is {id} in the products table, and their prices product_price.<item>",
    "qingshan.quantities.provisioning:output_value_from_statistics":
        "statistics item output_value.<sector> (总产值) or value_added.<sector> (增加值)",
    "qingshan.quantities.statistics:water_supply_from_statistics":
        "statistics items water_use.domestic|industry|agriculture|ecological|raw_water [m3]",
    "qingshan.quantities.statistics:energy_from_statistics": "statistics item hydropower_generation [kWh]",
    "qingshan.quantities.statistics:visits_from_statistics": "statistics item ecotourism_visits [visit]",
    "qingshan.quantities.statistics:reported_values": "statistics item non_use_value [CNY]",
    "qingshan.quantities.statistics:flood_from_registers":
        "statistics items reservoir_flood_storage or reservoir_total_storage [m3], lake_area [km2], marsh_area [m2], "
        "vegetation_flood_storage [m3]",
    "qingshan.quantities.coastal:coastline_from_statistics": "statistics item coastline_protected [km]",
    "qingshan.quantities.cultural:recreation_zonal_travel_cost":
        "statistics items tcm.<zone>.visits|travel_time|wage|cost",
    "qingshan.quantities.cultural:recreation_spending":
        "statistics items ecotourism_visits [visit] and tourism_spending_per_visit [CNY/visit], or tourism_revenue [CNY]",
    "qingshan.quantities.cultural:landscape_hedonic":
        "statistics items landscape.beneficiary_area [m2] and landscape.premium [CNY/m2]",
    "qingshan.quantities.carbon:carbon_biomass_change": "statistics items of biomass-carbon stocks of year − 1 and year",
}
"""Table method → the statistics items it reads (for the missing-data error)."""

_UNDECLARED_PARAMS = {
    "flood_regulation": ("reservoir_flood_share", "lake_model_a", "lake_model_b", "lake_exchange_times",
                         "marsh_detention_depth"),
}
"""Scalar parameters some methods read without declaring them as ParamRef."""


# ----------------------------------------------------------------------------- exclusions and coverage
def exclusions(config: RunConfig, profile: Profile) -> dict[str, str]:
    """Indicator id → reason of the config's ``exclude`` entries; each must name an indicator of the profile.

    Also checks the QC option ``qc_jump_threshold_pct`` early (before anything is computed or recorded).
    """
    from qingshan.indicators import registry

    reg = registry()
    out: dict[str, str] = {}
    ids = profile.indicator_ids
    _threshold(config, {**profile.options, **config.options}.get("qc_jump_threshold_pct", DEFAULT_JUMP_THRESHOLD_PCT))
    for i, ex in enumerate(config.exclude):
        try:
            ind = reg.get(ex.id).id
        except Exception:
            ind = ex.id
        if ind not in ids:
            raise ConfigError(
                f"exclude[{i}]: '{ex.id}' is not an indicator of profile '{profile.id}'",
                f"exclude[{i}]：'{ex.id}' 不是方法配置 '{profile.id}' 的指标",
                file=config.source_path,
                field=f"exclude[{i}].id",
                fix=f"Indicators of the profile: {', '.join(ids)}.",
                fix_zh=f"该方法配置的指标：{', '.join(ids)}。",
            )
        out[ind] = ex.reason.strip()
    if len(out) == len(ids):
        raise ConfigError(
            f"Every indicator of profile '{profile.id}' is excluded: nothing to account",
            f"方法配置 '{profile.id}' 的全部指标都被排除，无可核算内容",
            file=config.source_path,
            field="exclude",
            fix="Remove some entries of exclude.",
            fix_zh="请删除部分 exclude 条目。",
        )
    return out


def needs(spec: IndicatorSpec, method: MethodSpec) -> str:
    """What a method needs, in words (inputs, tables, statistics items)."""
    if method.kind == "raster":
        return f"raster inputs {', '.join(method.inputs)}"
    tables = [t for t in method.inputs if t != "statistics"]
    items = _STATISTICS_ITEMS.get(method.function, f"the statistics items of method '{method.id}' ({method.formula})")
    items = items.replace("{id}", spec.id)
    return items + (f"; tables {', '.join(tables)}" if tables else "")


def check_coverage(config: RunConfig, p: Plan, leaf_rows: pd.DataFrame, regions: RegionSet | None = None) -> dict[str, list[int]]:
    """Check that every table indicator of the plan produced rows in every year.

    A required indicator without rows in a year raises an :class:`InputError` naming every such
    indicator, what it needs and how to exclude it explicitly. Returns the optional indicators
    without data: id → years. An indicator with rows covering only some leaf regions gets an
    ``info`` notice (the others count 0).
    """
    optional = {e.indicator for e in p.profile.entries if e.optional}
    years = [int(y) for y in config.run.years]
    missing_required: list[tuple[IndicatorSpec, MethodSpec, list[int]]] = []
    missing_optional: dict[str, list[int]] = {}
    for spec, method in p.items:
        if method.kind != "table":
            continue  # a raster method ran on the configured inputs: zero is a result, not missing data
        rows = leaf_rows[leaf_rows["indicator"] == spec.id]
        lacking = [y for y in years if not (rows["year"] == y).any()]
        if regions is not None:
            for y in sorted(set(years) - set(lacking)):
                _coverage_notice(spec, y, set(rows.loc[rows["year"] == y, "region_code"].astype(str)), regions)
        if not lacking:
            continue
        if spec.id in optional:
            missing_optional[spec.id] = lacking
        else:
            missing_required.append((spec, method, lacking))
    if missing_required:
        _raise_missing(config, missing_required)
    if len(missing_optional) == len(p.items):
        raise InputError(
            f"No indicator of profile '{p.profile.id}' has data: {', '.join(missing_optional)}",
            f"方法配置 '{p.profile.id}' 的指标均无数据：{', '.join(missing_optional)}",
            file=config.tables.statistics or config.source_path,
            field="statistics",
            fix="; ".join(f"{s.id} needs {needs(s, m)}" for s, m in p.items),
            fix_zh="请补充上述指标所需的数据。",
        )
    return missing_optional


def _coverage_notice(spec: IndicatorSpec, year: int, codes: set[str], regions: RegionSet) -> None:
    leaves = regions.codes_at(regions.leaf_level)
    covered = [c for c in leaves if c in codes or codes & set(regions.ancestors(c))]
    if len(covered) < len(leaves):
        n, total = len(covered), len(leaves)
        notice(Notice("qc.partial_coverage",
                      f"{spec.id} {year}: data for {n} of {total} {regions.leaf_level} regions only; the others count 0",
                      f"{spec.name_zh}（{spec.id}）{year} 年：仅 {n}/{total} 个{LEVEL_ZH.get(regions.leaf_level, regions.leaf_level)}"
                      "有数据，其余计为 0",
                      severity="info", indicator=spec.id, year=year))


def _raise_missing(config: RunConfig, missing: list[tuple[IndicatorSpec, MethodSpec, list[int]]]) -> None:
    en = "; ".join(f"{s.id} (method {m.id}, years {', '.join(map(str, ys))}) needs {needs(s, m)}" for s, m, ys in missing)
    zh = "；".join(f"{s.name_zh}（{s.id}，方法 {m.id}，{', '.join(map(str, ys))} 年）需要：{needs(s, m)}" for s, m, ys in missing)
    first = missing[0][0].id
    example = ", ".join(f'{{id = "{s.id}", reason = "…"}}' for s, _, _ in missing)
    raise InputError(
        f"Required indicator(s) of the profile have no data: {en}",
        f"方法配置要求的指标没有数据：{zh}",
        file=config.tables.statistics or config.source_path,
        field=f"indicator {first}",
        fix=f"Add the data, or exclude the indicator(s) explicitly with a reason: exclude = [{example}] "
            "at the top of the run config (it is shown in the QC report).",
        fix_zh=f"请补充数据，或在配置文件开头显式排除并说明原因：exclude = [{example}]（将列入质量控制报告）。",
    )


# ----------------------------------------------------------------------------- the report
def build_report(
    *,
    config: RunConfig,
    p: Plan,
    tables: Tables,
    results: pd.DataFrame,
    regions: RegionSet,
    prices_used: Sequence[Mapping[str, Any]],
    notices: Sequence[Notice],
    not_computed: Mapping[str, list[int]],
    hashes: Mapping[str, str],
    store: sessionmaker[Session] | None = None,
) -> dict[str, Any]:
    """The QC report of a run (schema in the module docstring); JSON-ready."""
    threshold = _threshold(config, tables.params.option("qc_jump_threshold_pct", DEFAULT_JUMP_THRESHOLD_PCT))
    all_notices = list(notices)
    example = example_files(hashes)
    if example:
        all_notices.append(Notice(
            "qc.example_data", f"The run uses data of the embedded example ({', '.join(example)}): approximate, not official",
            f"本次核算使用了内置示例数据（{', '.join(example)}）：为近似数据，不是正式结果"))
    years = {int(y) for y in config.run.years}
    computed = [s.id for s, _ in p.items if set(not_computed.get(s.id, ())) != years]  # data in some year at least
    jumps = year_jumps(results, regions, threshold)
    if store is not None:
        jumps += previous_run_jumps(results, regions, store, profile=p.profile.id, threshold=threshold)
    jumps.sort(key=lambda j: -abs(j["change_pct"]))
    report: dict[str, Any] = {
        "profile": p.profile.id,
        "computed": computed,
        "excluded": [{"id": i, "reason": r} for i, r in p.excluded],
        "not_computed": [{"id": i, "reason": "no data", "years": ys} for i, ys in not_computed.items()],
        "unverified": unverified_used(p, tables, prices_used),
        "notices": [n.to_dict() for n in all_notices],
        "jump_threshold_pct": threshold,
        "jumps": jumps[:MAX_JUMPS],
        "jumps_total": len(jumps),
        "class_shares": class_shares(results, regions),
        "example_data": bool(example),
    }
    warn = (report["not_computed"] or report["unverified"] or report["jumps"] or report["example_data"]
            or any(n.severity == "warning" for n in all_notices))
    report["status"] = "warnings" if warn else "ok"
    return report


def _threshold(config: RunConfig, value: object) -> float:
    try:
        out = float(str(value))
    except ValueError:
        out = -1.0
    if not out > 0:
        raise ConfigError(
            f"Option qc_jump_threshold_pct must be a positive number of percent, got '{value}'",
            f"选项 qc_jump_threshold_pct 应为正的百分数，实际为 '{value}'",
            file=config.source_path, field="options.qc_jump_threshold_pct",
            fix=f"Set e.g. qc_jump_threshold_pct = {DEFAULT_JUMP_THRESHOLD_PCT:g} under [options].",
            fix_zh=f"例如在 [options] 中设置 qc_jump_threshold_pct = {DEFAULT_JUMP_THRESHOLD_PCT:g}。",
        )
    return out


def unverified_used(p: Plan, tables: Tables, prices_used: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Parameters the plan's methods read and prices the run used whose certainty is not verified."""
    keys: set[str] = set()
    columns: set[str] = set()
    for spec, method in p.items:
        refs = [*method.params, *(r for c in spec.components for r in c.value_factors)]
        keys |= {r.key for r in refs if not r.per_class}
        columns |= {r.key for r in refs if r.per_class}
        keys |= set(_UNDECLARED_PARAMS.get(spec.id, ()))
    out: list[dict[str, Any]] = []
    params = tables.params.scalars.params
    for key in sorted(keys & set(params)):
        prm = params[key]
        if prm.certainty not in VERIFIED:
            out.append({"kind": "parameter", "key": key, "value": prm.value, "unit": prm.unit, "source": prm.source,
                        "certainty": prm.certainty})
    lc = tables.params.landcover
    for col in sorted(columns & set(lc.sources) if lc is not None else ()):
        assert lc is not None
        if "[R]" in lc.sources[col]:  # a land-cover coefficient column whose source says (partly) recalled
            out.append({"kind": "land-cover column", "key": col, "value": "(per class)", "unit": lc.units.get(col, ""),
                        "source": lc.sources[col], "certainty": "R"})
    seen: set[tuple[str, Any, Any]] = set()
    for pr in prices_used:
        tag = str(pr.get("certainty") or _source_tag(str(pr.get("source", ""))))
        ident = (str(pr["price_key"]), pr.get("price_year"), pr.get("region"))
        if tag == "R" and ident not in seen:
            seen.add(ident)
            out.append({"kind": "price", "key": pr["price_key"], "value": pr["value"], "unit": pr["unit"],
                        "source": pr["source"], "certainty": tag, "price_year": pr.get("price_year"),
                        "region": pr.get("region")})
    return out


def _source_tag(source: str) -> str | None:
    s = source.strip()
    if s.startswith("[") and "]" in s:
        return s[1:s.index("]")].strip()
    return None


def _indicator_values(results: pd.DataFrame) -> pd.DataFrame:
    """Value per region × year × indicator, plus ``GEP`` per region × year."""
    v = results.groupby(["region_code", "year", "indicator"], as_index=False)["value"].sum(min_count=1)
    gep = results.groupby(["region_code", "year"], as_index=False)["value"].sum(min_count=1).assign(indicator="GEP")
    return pd.concat([v, gep], ignore_index=True)


def _jumps_between(before: pd.DataFrame, after: pd.DataFrame, threshold: float, source: str) -> list[dict[str, Any]]:
    m = before.merge(after, on=["region_code", "indicator"], suffixes=("_a", "_b"))
    m = m[(m["value_a"] > 0) & m["value_b"].notna()]
    change = 100.0 * (m["value_b"] - m["value_a"]) / m["value_a"]
    m = m.assign(change_pct=change)[np.abs(change) > threshold]
    return [{"indicator": str(r.indicator), "region": str(r.region_code), "from_year": int(r.year_a),
             "to_year": int(r.year_b), "change_pct": round(float(r.change_pct), 1),
             "from_value": float(r.value_a), "to_value": float(r.value_b), "against": source}
            for r in m.itertuples(index=False)]


def year_jumps(results: pd.DataFrame, regions: RegionSet, threshold: float) -> list[dict[str, Any]]:
    """Changes of value above ``threshold`` % between consecutive years of the run, per indicator and region."""
    vals = _indicator_values(results)
    years = sorted(int(y) for y in vals["year"].unique())
    out: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(years):
        out += _jumps_between(vals[vals["year"] == a], vals[vals["year"] == b], threshold, "this run")
    return out


def previous_run_jumps(results: pd.DataFrame, regions: RegionSet, store: sessionmaker[Session], *, profile: str,
                       threshold: float) -> list[dict[str, Any]]:
    """Jumps from the latest earlier succeeded run of the same profile and regions that accounted the year before."""
    from qingshan.store import repo

    first = int(min(results["year"]))
    codes = {r.code for r in regions}
    for run in sorted(repo.list_runs(store, status="succeeded"), key=lambda r: str(r.finished_at or ""), reverse=True):
        if run.profile != profile or (first - 1) not in [int(y) for y in run.years]:
            continue
        if set(repo.read_regions(store, run.id)["code"].astype(str)) != codes:
            continue
        before = _indicator_values(repo.read_results(store, run.id, year=first - 1))
        after = _indicator_values(results[results["year"] == first])
        return _jumps_between(before, after, threshold, f"run {run.id}")
    return []


def class_shares(results: pd.DataFrame, regions: RegionSet) -> dict[str, dict[str, dict[str, float]]]:
    """Top-level region → year → class → share of GEP [%]."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for root in regions.roots():
        sub = results[results["region_code"] == root]
        per: dict[str, dict[str, float]] = {}
        for year, grp in sub.groupby("year"):
            total = float(grp["value"].sum(skipna=True))
            if total:
                per[str(int(year))] = {c.value: round(100.0 * float(grp.loc[grp["category"] == c.value, "value"].sum(skipna=True))
                                                      / total, 2) for c in Category}
        out[root] = per
    return out


# ----------------------------------------------------------------------------- the embedded example
@functools.lru_cache(maxsize=1)
def _example_hashes() -> dict[str, str]:
    from qingshan.examples import example_config

    folder = example_config().parent
    return {file_sha256(f): f.name for f in sorted(folder.iterdir()) if f.is_file() and f.suffix != ".md"}


def example_files(hashes: Mapping[str, str]) -> list[str]:
    """Names of the embedded example's files among a run's inputs (by content, wherever they were copied)."""
    known = _example_hashes()
    return sorted({known[h] for h in hashes.values() if h in known})


# ----------------------------------------------------------------------------- renderings
def report_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """The report as (section, item, detail) rows: the workbook sheet and the Markdown file read these."""
    rows: list[tuple[str, str, str]] = [("状态 Status", str(report.get("status", "")),
                                         "warnings: items below need a signer's attention" if report.get("status") == "warnings" else "")]
    rows += [("已核算 Computed", i, "") for i in report.get("computed", [])]
    rows += [("已排除 Excluded", e["id"], e["reason"]) for e in report.get("excluded", [])]
    rows += [("未核算 Not computed", e["id"], f"no data 无数据 ({', '.join(map(str, e.get('years', [])))})")
             for e in report.get("not_computed", [])]
    rows += [(f"未核实 Unverified {u.get('kind', 'parameter')}", str(u["key"]),
              f"{u['value']} {u['unit']} [{u['certainty']}] {u['source']}") for u in report.get("unverified", [])]
    rows += [(f"提示 Notice ({n.get('severity', 'warning')})", str(n.get("code", "")),
              " ".join(str(x) for x in (n.get("zh"), n.get("en"), n.get("file") or "", n.get("region") or "") if x))
             for n in report.get("notices", [])]
    thr = report.get("jump_threshold_pct", DEFAULT_JUMP_THRESHOLD_PCT)
    rows += [(f"年际变化 > {thr:g} % Jump", f"{j['indicator']} {j['region']}",
              f"{j['from_year']}→{j['to_year']}: {j['change_pct']:+.1f} % ({j.get('against', '')})")
             for j in report.get("jumps", [])]
    if report.get("jumps_total", 0) > len(report.get("jumps", [])):
        rows.append((f"年际变化 > {thr:g} % Jump", "…", f"{report['jumps_total']} in all; the largest are listed"))
    for region, per_year in report.get("class_shares", {}).items():
        for year, shares in per_year.items():
            rows.append(("类别占比 Class share", f"{region} {year}",
                         "; ".join(f"{CATEGORY_ZH[Category(c)]} {c} {v:.1f} %" for c, v in shares.items())))
    return rows


def report_markdown(report: Mapping[str, Any], title: str = "") -> str:
    """The report as Markdown (one table of sections and items)."""
    lines = [f"# 质量控制报告 Quality-control report{(' — ' + title) if title else ''}", "",
             "| section 部分 | item 项 | detail 说明 |", "|---|---|---|"]
    for sec, item, detail in report_rows(report):
        cells = [str(x).replace("|", "\\|").replace("\n", " ") for x in (sec, item, detail)]
        lines.append(f"| {cells[0]} | {cells[1]} | {cells[2]} |")
    return "\n".join(lines) + "\n"


def write_report_files(report: Mapping[str, Any], folder: Path, title: str = "") -> list[Path]:
    """``qc_report.json`` and ``qc_report.md`` in ``folder``."""
    import json

    js, md = folder / "qc_report.json", folder / "qc_report.md"
    js.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    md.write_text(report_markdown(report, title), encoding="utf-8")
    return [js, md]
