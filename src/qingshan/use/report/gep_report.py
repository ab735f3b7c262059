"""The GEP accounting report (生态产品总值核算报告) of one region and year of a stored run.

Chapters follow the order of the accounting standards (GB/T 46869—2025 and the national guideline
发改基础〔2022〕481号 list the report's content as: regional overview; scope, indicators and methods;
data sources; physical quantities; pricing; values; quality control; results; comparison), then the
run's provenance. Every number comes from the stored run and the report names it (run id, content
hash), so the report can be regenerated and checked at any time.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.params import ECOSYSTEM_ZH
from qingshan.core.spec import CATEGORY_ZH, Category
from qingshan.indicators import registry
from qingshan.use.report.document import (
    Doc,
    Figure,
    Heading,
    KeyValues,
    Para,
    Table,
    to_docx,
    to_pdf,
)
from qingshan.use.runs import load_run

__all__ = ["build_gep_report", "write_gep_report"]

YI = 1e8
CATEGORY_EN = {Category.PROVISIONING: "Provisioning services", Category.REGULATING: "Regulating services",
               Category.CULTURAL: "Cultural services"}
LEVEL = {"province": ("省", "province"), "city": ("市", "city"), "county": ("县（市、区）", "county"),
         "township": ("乡镇", "township")}

T: dict[str, tuple[str, str]] = {
    "title": ("{name}{year}年生态产品总值（GEP）核算报告", "Gross Ecosystem Product (GEP) accounting report: {name}, {year}"),
    "subtitle": ("核算编号 {run} · 方法配置 {profile} · 价值量单位：亿元（当年价；可比价以 {base} 年为基期）",
                 "Run {run} · method profile {profile} · values in 亿元 (1e8 CNY), current prices; comparable prices at {base} prices"),
    "ch1": ("一、区域概况", "1. Overview of the region"), "ch2": ("二、核算范围、指标与方法", "2. Scope, indicators and methods"),
    "ch3": ("三、数据来源", "3. Data sources"), "ch4": ("四、实物量核算", "4. Physical quantities"),
    "ch5": ("五、定价", "5. Pricing"), "ch6": ("六、价值量核算", "6. Values"),
    "ch7": ("七、质量控制", "7. Quality control"), "ch8": ("八、核算结果汇总", "8. Summary of results"),
    "ch9": ("九、年际比较", "9. Comparison with earlier years"), "annex": ("附录：核算溯源", "Annex: provenance of the run"),
    "gep": ("生态产品总值", "GEP"), "indicator": ("指标", "Indicator"), "class": ("类别", "Class"),
    "component": ("组分", "Component"), "quantity": ("实物量", "Quantity"), "unit": ("单位", "Unit"),
    "value": ("价值量（亿元）", "Value (亿元)"), "comparable": ("可比价值量（亿元）", "Comparable value (亿元)"),
    "share": ("占比", "Share"), "method": ("方法", "Method"), "certainty": ("可信度", "Certainty"),
    "region": ("地区", "Region"), "code": ("代码", "Code"), "area": ("面积（km²）", "Area (km²)"),
    "per_km2": ("单位面积 GEP（万元/km²）", "GEP per km² (万元)"), "ecosystem": ("生态系统类型", "Ecosystem type"),
    "price": ("价格", "Price"), "price_year": ("价格年份", "Price year"), "source": ("来源", "Source"),
    "note": ("说明", "Note"), "file": ("文件", "File"), "sha": ("SHA-256（前 16 位）", "SHA-256 (first 16)"),
    "param": ("参数", "Parameter"),
}


def _t(key: str, lang: str, **kw: Any) -> str:
    zh, en = T[key]
    return (zh if lang == "zh" else en).format(**kw)


def _yi(v: float | None) -> str:
    return "—" if v is None or v != v else f"{v / YI:,.2f}"


def _num(v: float | None) -> str:
    if v is None or v != v:
        return "—"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.4g}"


def _pct(part: float, total: float) -> str:
    return f"{100 * part / total:.2f} %" if total else "—"


def build_gep_report(factory: sessionmaker[Session], run_id: str, *, region: str | None = None,
                     year: int | None = None, lang: str = "zh", figures: bool = True, uncertainty: Any = None) -> Doc:
    """The report of ``region`` (default: the top region) and ``year`` (default: the last) as a :class:`Doc`;
    with ``uncertainty`` (a :class:`qingshan.use.uncertainty.RunUncertainty` of this run and year) a section
    of intervals and the sensitivity ranking (tornado chart) follows the summary."""
    run, cube, regions = load_run(factory, run_id)
    if lang not in ("zh", "en"):
        raise InputError(f"Unknown report language '{lang}'", f"未知的报告语言 '{lang}'", field="lang",
                         fix="Use zh or en.", fix_zh="请使用 zh 或 en。")
    y = year if year is not None else max(run.years)
    if y not in run.years:
        raise InputError(f"Run '{run_id}' has no year {y}", f"核算记录 '{run_id}' 没有 {y} 年的结果", field="year",
                         fix=f"Years of this run: {', '.join(map(str, run.years))}.",
                         fix_zh=f"本次核算的年份：{', '.join(map(str, run.years))}。")
    code = region or str(regions.loc[~regions["parent"].isin(regions["code"]), "code"].iloc[0])
    if code not in set(regions["code"]):
        raise InputError(f"Run '{run_id}' has no region '{code}'", f"核算记录 '{run_id}' 中没有行政区 '{code}'",
                         field="region", fix="Use a region code of the run (GET /api/runs/{id}/regions).",
                         fix_zh="请使用本次核算中的区划代码。")
    _check_uncertainty(uncertainty, run.id, y)
    reg = regions.set_index("code")
    name = str(reg.loc[code, "name"])
    rows = cube[(cube["region_code"] == code) & (cube["year"] == y)]
    prov: dict[str, Any] = dict(run.provenance or {})
    base = run.base_year or min(run.years)
    doc = Doc(title=_t("title", lang, name=name, year=y),
              subtitle=_t("subtitle", lang, run=run.id, profile=run.profile, base=base), lang=lang,
              footer=f"Qingshan 青山 · run {run.id[:8]} · {str(run.content_hash or '')[:12]}")
    children = regions[regions["parent"] == code]
    steps: list[Callable[[], None]] = [
        lambda: _overview(doc, lang, code, name, reg, children, rows),
        lambda: _scope(doc, lang, run.profile, prov, rows),
        lambda: _sources(doc, lang, prov),
        lambda: _quantities(doc, lang, rows),
        lambda: _pricing(doc, lang, prov, y),
        lambda: _values(doc, lang, rows),
        lambda: _quality(doc, lang, prov),
        lambda: _summary(doc, lang, rows, cube, children, y, figures),
        lambda: _uncertainty(doc, lang, uncertainty, run.id, code, y, figures),
        lambda: _comparison(doc, lang, cube, run, code, y),
        lambda: _annex(doc, lang, run, prov),
    ]
    for step in steps:
        step()
    return doc


def _overview(doc: Doc, lang: str, code: str, name: str, reg: pd.DataFrame, children: pd.DataFrame,
              rows: pd.DataFrame) -> None:
    lvl = LEVEL.get(str(reg.loc[code, "level"]), (str(reg.loc[code, "level"]),) * 2)
    total = rows["value"].sum(skipna=True)
    area = reg.loc[code, "area_km2"]
    doc.add(Heading(_t("ch1", lang)), KeyValues([
        (_t("region", lang), f"{name}（{code}）" if lang == "zh" else f"{name} ({code})"),
        ("级别" if lang == "zh" else "Level", lvl[0] if lang == "zh" else lvl[1]),
        (_t("area", lang), _num(float(area)) if area == area and area is not None else "—"),
        ("下级行政区" if lang == "zh" else "Sub-regions",
         f"{len(children)}：" + "、".join(children["name"].astype(str).head(30)) if len(children) else "—"),
        (_t("gep", lang) + ("（亿元）" if lang == "zh" else " (亿元)"), _yi(total)),
    ]))


def _scope(doc: Doc, lang: str, profile: str, prov: dict[str, Any], rows: pd.DataFrame) -> None:
    reg = registry()
    methods: dict[str, str] = dict(prov.get("methods", {}))
    ids = list(methods) or list(dict.fromkeys(rows["indicator"]))
    table = []
    for i in ids:
        s = reg.get(i)
        m = s.method(methods.get(i))
        comps = "；".join(f"{c.name_zh if lang == 'zh' else c.name_en} [{c.unit}]" for c in s.components)
        table.append([s.name_zh if lang == "zh" else s.name_en, CATEGORY_ZH[s.category] if lang == "zh" else s.category.value,
                      f"{m.id}: {m.formula}", comps, m.certainty.value])
    status = dict(prov.get("profile", {})).get("status", "")
    doc.add(Heading(_t("ch2", lang)),
            Para((f"方法配置 {profile}。{status}" if lang == "zh" else f"Method profile {profile}. {status}").strip()),
            Table([_t("indicator", lang), _t("class", lang), _t("method", lang), _t("component", lang), _t("certainty", lang)],
                  table),
            Para("可信度：V 已核实于文献；V-code 见于公开代码；D 推导；R 回忆所得、未核实，正式使用前须替换或确认。" if lang == "zh" else
                 "Certainty: V verified in a source; V-code seen in public code; D derived; R recalled, unverified — "
                 "replace or confirm before official use.", note=True))


def _sources(doc: Doc, lang: str, prov: dict[str, Any]) -> None:
    files = [[Path(str(p)).name, str(h)[:16]] for p, h in sorted(dict(prov.get("input_hashes", {})).items())]
    params = [[k, _num(v.get("value")) if isinstance(v.get("value"), float | int) else str(v.get("value")), str(v.get("unit", "")),
               str(v.get("certainty", "")), str(v.get("source", ""))] for k, v in sorted(dict(prov.get("parameters", {})).items())]
    doc.add(Heading(_t("ch3", lang)),
            Table([_t("file", lang), _t("sha", lang)], files, caption="输入文件" if lang == "zh" else "Input files"),
            Table([_t("param", lang), "值" if lang == "zh" else "Value", _t("unit", lang), _t("certainty", lang), _t("source", lang)],
                  params, caption="参数" if lang == "zh" else "Parameters", numeric=frozenset({1})))


def _quantities(doc: Doc, lang: str, rows: pd.DataFrame) -> None:
    reg = registry()
    g = rows.groupby(["indicator", "component", "unit"], as_index=False, sort=False)["quantity"].sum()
    table = []
    for r in g.itertuples():
        s = reg.get(str(r.indicator))
        comp = next((c for c in s.components if c.id == r.component), None)
        cname = (comp.name_zh if lang == "zh" else comp.name_en) if comp else str(r.component)
        table.append([s.name_zh if lang == "zh" else s.name_en, cname, _num(float(r.quantity)), str(r.unit)])
    doc.add(Heading(_t("ch4", lang)),
            Table([_t("indicator", lang), _t("component", lang), _t("quantity", lang), _t("unit", lang)], table,
                  numeric=frozenset({2})))


def _pricing(doc: Doc, lang: str, prov: dict[str, Any], year: int) -> None:
    prices = [p for p in prov.get("prices", []) if int(p.get("year", year)) == year]
    table = [[str(p["price_key"]), _num(float(p["value"])), str(p["unit"]), str(p.get("price_year", "")), str(p.get("region", "")),
              str(p.get("note", "")), str(p.get("source", ""))] for p in prices]
    defl = prov.get("deflator")
    doc.add(Heading(_t("ch5", lang)),
            Table([_t("price", lang), "值" if lang == "zh" else "Value", _t("unit", lang), _t("price_year", lang),
                   _t("region", lang), _t("note", lang), _t("source", lang)], table, numeric=frozenset({1})),
            Para((f"价格指数：{defl}" if lang == "zh" else f"Deflator: {defl}") if defl else
                 ("未使用价格指数。" if lang == "zh" else "No deflator used."), note=True))


def _values(doc: Doc, lang: str, rows: pd.DataFrame) -> None:
    reg = registry()
    total = rows["value"].sum(skipna=True)
    table = []
    for cat in Category:
        sub = rows[rows["category"] == cat.value]
        for ind, grp in sub.groupby("indicator", sort=False):
            s = reg.get(str(ind))
            v = grp["value"].sum(skipna=True)
            table.append([CATEGORY_ZH[cat] if lang == "zh" else CATEGORY_EN[cat], s.name_zh if lang == "zh" else s.name_en,
                          _yi(v), _yi(grp["value_comparable"].sum(skipna=True)), _pct(v, total)])
        cv = sub["value"].sum(skipna=True)
        table.append([(CATEGORY_ZH[cat] + "小计") if lang == "zh" else f"{CATEGORY_EN[cat]} subtotal", "", _yi(cv),
                      _yi(sub["value_comparable"].sum(skipna=True)), _pct(cv, total)])
    table.append([_t("gep", lang), "", _yi(total), _yi(rows["value_comparable"].sum(skipna=True)), "100.00 %"])
    doc.add(Heading(_t("ch6", lang)),
            Table([_t("class", lang), _t("indicator", lang), _t("value", lang), _t("comparable", lang), _t("share", lang)],
                  table, numeric=frozenset({2, 3, 4})))


def _quality(doc: Doc, lang: str, prov: dict[str, Any]) -> None:
    doc.add(Heading(_t("ch7", lang)))
    qc = prov.get("qc")
    if not isinstance(qc, dict):
        doc.add(Para("本次核算未生成质量控制报告（早于该功能的核算）。" if lang == "zh" else
                     "This run has no quality-control report (it predates the feature)."))
        return
    items: list[tuple[str, str]] = [
        ("状态" if lang == "zh" else "Status", str(qc.get("status", ""))),
        ("已核算指标" if lang == "zh" else "Indicators computed", "、".join(map(str, qc.get("computed", [])))),
        ("排除的指标" if lang == "zh" else "Indicators excluded",
         "；".join(f"{e.get('id')}: {e.get('reason')}" for e in qc.get("excluded", [])) or "—"),
    ]
    doc.add(KeyValues(items))
    unverified = qc.get("unverified", [])
    if unverified:
        doc.add(Table([_t("param", lang), "值" if lang == "zh" else "Value", _t("unit", lang), _t("source", lang)],
                      [[str(u.get("key")), str(u.get("value")), str(u.get("unit", "")), str(u.get("source", ""))] for u in unverified],
                      caption="使用的未核实（R）参数与价格" if lang == "zh" else "Unverified (R) parameters and prices used"))
    notices = qc.get("notices", [])
    if notices:
        doc.add(Table(["代码" if lang == "zh" else "Code", _t("note", lang)],
                      [[str(n.get("code")), str(n.get("zh") if lang == "zh" else n.get("en"))] for n in notices],
                      caption="提示与警告" if lang == "zh" else "Notices and warnings"))
    jumps = qc.get("jumps", [])
    if jumps:
        doc.add(Table([_t("indicator", lang), _t("region", lang), "年份" if lang == "zh" else "Years", "变化" if lang == "zh" else "Change"],
                      [[str(j.get("indicator")), str(j.get("region")), f"{j.get('from_year')}→{j.get('to_year')}",
                        f"{float(j.get('change_pct', 0)):+.1f} %"] for j in jumps],
                      caption="年际突变" if lang == "zh" else "Year-on-year jumps"))


def _summary(doc: Doc, lang: str, rows: pd.DataFrame, cube: pd.DataFrame, children: pd.DataFrame, year: int,
             figures: bool) -> None:
    from qingshan.use.report.figures import bar_chart, choropleth

    reg = registry()
    total = rows["value"].sum(skipna=True)
    doc.add(Heading(_t("ch8", lang)))
    by_cat = [[CATEGORY_ZH[c] if lang == "zh" else CATEGORY_EN[c], _yi(rows.loc[rows["category"] == c.value, "value"].sum()),
               _pct(rows.loc[rows["category"] == c.value, "value"].sum(), total)] for c in Category]
    doc.add(Table([_t("class", lang), _t("value", lang), _t("share", lang)], by_cat, numeric=frozenset({1, 2}),
                  caption="按类别" if lang == "zh" else "By class"))
    eco = rows.groupby("ecosystem")["value"].sum().sort_values(ascending=False)
    doc.add(Table([_t("ecosystem", lang), _t("value", lang), _t("share", lang)],
                  [[ECOSYSTEM_ZH.get(str(k), str(k)) if lang == "zh" else str(k), _yi(v), _pct(v, total)] for k, v in eco.items()],
                  numeric=frozenset({1, 2}), caption="按生态系统类型" if lang == "zh" else "By ecosystem type"))
    by_ind = rows.groupby("indicator")["value"].sum().sort_values(ascending=False)
    if figures and len(by_ind):
        names = [reg.get(str(i)).name_zh if lang == "zh" else reg.get(str(i)).name_en for i in by_ind.index]
        doc.add(Figure(bar_chart(names, list(by_ind.to_numpy() / YI), title=_t("value", lang), unit="亿元"),
                       caption=("图 1 各指标价值量" if lang == "zh" else "Figure 1. Value by indicator")))
    if len(children):
        sub = cube[(cube["year"] == year) & cube["region_code"].isin(children["code"])]
        gep = sub.groupby("region_code")["value"].sum()
        area = children.set_index("code")["area_km2"]
        table = [[str(c.name), str(c.code), _yi(gep.get(c.code)), _pct(float(gep.get(c.code, 0.0)), float(gep.sum())),
                  _num(float(gep.get(c.code, 0.0)) / 1e4 / float(area[c.code])) if area.get(c.code) else "—"]
                 for c in children.sort_values("code").itertuples()]
        doc.add(Table([_t("region", lang), _t("code", lang), _t("value", lang), _t("share", lang), _t("per_km2", lang)], table,
                      numeric=frozenset({2, 3, 4}), caption="按下级行政区" if lang == "zh" else "By sub-region"))
        if figures:
            doc.add(Figure(choropleth(children, gep / YI, title=f"{_t('gep', lang)} {year}", unit="亿元"),
                           caption=("图 2 下级行政区生态产品总值" if lang == "zh" else "Figure 2. GEP by sub-region")))
            if len(by_ind):
                top = str(by_ind.index[0])
                vals = sub[sub["indicator"] == top].groupby("region_code")["value"].sum() / YI
                label = reg.get(top).name_zh if lang == "zh" else reg.get(top).name_en
                doc.add(Figure(choropleth(children, vals, title=f"{label} {year}", unit="亿元"),
                               caption=(f"图 3 {label}价值量" if lang == "zh" else f"Figure 3. {label}")))


def _check_uncertainty(res: Any, run_id: str, year: int) -> None:
    if res is not None and (str(res.meta.get("run_id")) != run_id or int(res.year) != year):
        raise InputError(
            f"The uncertainty result is of run {res.meta.get('run_id')} year {res.year}, not of run {run_id} year {year}",
            f"不确定性分析结果属于核算 {res.meta.get('run_id')} 的 {res.year} 年，而非核算 {run_id} 的 {year} 年",
            field="uncertainty", fix="Give the result.json of an analysis of this run and year (--uncertainty FILE).",
            fix_zh="请给出本次核算、本年份的不确定性分析结果 result.json。")


def _uncertainty(doc: Doc, lang: str, res: Any, run_id: str, code: str, year: int, figures: bool) -> None:
    """不确定性分析: 5–95 % intervals of the region's GEP and indicators, the inputs, the tornado chart."""
    if res is None:
        return
    from qingshan.use.report.figures import tornado_chart

    zh = lang == "zh"
    reg = registry()
    iv = res.intervals[res.intervals["region_code"] == code].copy()
    iv["order"] = iv["indicator"] != "GEP"
    iv = iv.sort_values(["order", "value"], ascending=[True, False])

    def label(i: str) -> str:
        return _t("gep", lang) if i == "GEP" else (reg.get(i).name_zh if zh else reg.get(i).name_en)

    doc.add(Heading("八之二、不确定性分析" if zh else "8a. Uncertainty"))
    m = res.meta
    doc.add(Para(f"蒙特卡罗抽样 {m.get('draws')} 次（随机种子 {m.get('seed')}）；敏感性方法 {m.get('method')}；分析编号 {m.get('id')}。"
                 "区间为各合计值的 5 %–95 % 分位数（亿元）。" if zh else
                 f"Monte Carlo with {m.get('draws')} draws (seed {m.get('seed')}); sensitivity by {m.get('method')}; "
                 f"analysis {m.get('id')}. Intervals are the 5–95 % percentiles of each total (亿元)."))
    doc.add(Table([_t("indicator", lang), _t("value", lang), "均值" if zh else "Mean", "5 %", "95 %"],
                  [[label(str(r.indicator)), _yi(r.value), _yi(r.mean), _yi(r.p5), _yi(r.p95)] for r in iv.itertuples()],
                  numeric=frozenset({1, 2, 3, 4}), caption="价值量区间" if zh else "Intervals of the values"))
    doc.add(Table(["输入" if zh else "Input", "分布" if zh else "Distribution", "处理方式" if zh else "Handling", _t("source", lang)],
                  [[str(r.key), f"{r.kind}({r.a:g}, {r.b:g}{'' if r.c is None or r.c != r.c else f', {r.c:g}'})", str(r.handling),
                    str(r.source)] for r in res.inputs.itertuples()], caption="不确定输入" if zh else "Uncertain inputs"))
    sw = res.swing[res.swing["output"] == "GEP"] if not res.swing.empty else res.swing
    if figures and len(sw) and code == res.region:
        doc.add(Figure(tornado_chart(list(sw["key"]), list(sw["low"] / YI), list(sw["high"] / YI),
                                     float(sw["base"].iloc[0]) / YI, title=f"{_t('gep', lang)} {year}", unit="亿元"),
                       caption=("图 4 龙卷风图：各输入取 5 % 与 95 % 分位数时的生态产品总值" if zh
                                else "Figure 4. Tornado chart: GEP with each input at its 5 % and 95 % quantile")))


def _comparison(doc: Doc, lang: str, cube: pd.DataFrame, run: Any, code: str, year: int) -> None:
    from qingshan.use.change import ChangeSide, change_table

    earlier = sorted(y for y in run.years if y < year)
    doc.add(Heading(_t("ch9", lang)))
    if not earlier:
        doc.add(Para("本次核算只有一个年份；与其他年份的比较见 `qingshan change`。" if lang == "zh" else
                     "This run accounts one year only; compare runs with `qingshan change --against`."))
        return
    y0 = earlier[-1]
    t = change_table(ChangeSide(cube, y0, run.id, run.base_year), ChangeSide(cube, year, run.id, run.base_year))
    t = t[t["region_code"] == code]
    reg = registry()

    def label(i: str) -> str:
        if i == "GEP":
            return _t("gep", lang)
        if i.startswith("class:"):
            c = Category(i.removeprefix("class:"))
            return CATEGORY_ZH[c] if lang == "zh" else CATEGORY_EN[c]
        s = reg.get(i)
        return s.name_zh if lang == "zh" else s.name_en

    def g(v: float) -> str:
        return "—" if v != v else f"{v:+.2f} %"

    rows = [[label(str(r.indicator)), _yi(r.value_0), _yi(r.value_1), g(r.value_growth_pct), g(r.comparable_growth_pct)]
            for r in t.itertuples()]
    doc.add(Table([_t("indicator", lang), f"{y0}", f"{year}", "增长（当年价）" if lang == "zh" else "Growth (current)",
                   "增长（可比价）" if lang == "zh" else "Growth (comparable)"], rows, numeric=frozenset({1, 2, 3, 4})))


def _annex(doc: Doc, lang: str, run: Any, prov: dict[str, Any]) -> None:
    doc.add(Heading(_t("annex", lang)), KeyValues([
        ("核算编号" if lang == "zh" else "Run id", str(run.id)),
        ("名称" if lang == "zh" else "Name", str(run.name)),
        ("内容哈希" if lang == "zh" else "Content hash", str(run.content_hash or "")),
        ("软件版本" if lang == "zh" else "Code version", str(prov.get("code_version") or run.code_version)),
        ("开始时间" if lang == "zh" else "Started", str(prov.get("started", run.created_at))),
        ("完成时间" if lang == "zh" else "Finished", str(run.finished_at)),
    ]), Para("同一核算编号与内容哈希对应同一组输入、参数、价格与软件版本；本报告可由 `qingshan report` 重新生成。" if lang == "zh" else
             "The run id and content hash identify the inputs, parameters, prices and code version; "
             "`qingshan report` regenerates this report.", note=True))


def write_gep_report(factory: sessionmaker[Session], run_id: str, output: Path, *, region: str | None = None,
                     year: int | None = None, lang: str = "zh", fmt: str | None = None, uncertainty: Any = None) -> Path:
    """Build the report and write it as DOCX or PDF (``fmt``, default from ``output``'s suffix);
    ``uncertainty``: an analysis of the run to add as a section."""
    kind = (fmt or output.suffix.lstrip(".")).lower()
    if kind not in ("docx", "pdf"):
        raise InputError(f"Unknown report format '{kind}'", f"未知的报告格式 '{kind}'", field="format",
                         fix="Use --format docx or pdf (or an output name ending in .docx/.pdf).",
                         fix_zh="请使用 --format docx 或 pdf。")
    doc = build_gep_report(factory, run_id, region=region, year=year, lang=lang, uncertainty=uncertainty)
    return to_docx(doc, output) if kind == "docx" else to_pdf(doc, output)
