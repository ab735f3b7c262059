"""Price uncertainty of a stored run (issue 10, item 2, first slice): Monte Carlo intervals and Sobol ranking.

The store is tests/use/conftest.py's: in 2019 county A values 1.2e8 m3 at 7 元/m3 and county B
5e7 m3 at 6 元/m3 (key ``reservoir_capacity_cost``), so GEP(P) = 8.4e8 + 3e8 = 11.4e8 元.
"""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.core.errors import ConfigError
from qingshan.use.uncertainty import Distribution, read_distributions, run_uncertainty, sobol

KEY = "reservoir_capacity_cost"
Z95 = 1.6448536269514722  # standard normal 95th percentile


def _dists(rows: list[tuple[str, str, float, float, float | None]]) -> list[Distribution]:
    return read_distributions([{"key": k, "kind": kind, "a": a, "b": b, "c": c, "source": "test"} for k, kind, a, b, c in rows])


NORMAL = [(f"{KEY}@2019@A", "normal", 7.0, 0.7, None), (f"{KEY}@2019@B", "normal", 6.0, 1.2, None)]


def test_fixed_seed_gives_identical_intervals_and_another_seed_does_not(use_store: SimpleNamespace) -> None:
    d = _dists(NORMAL)
    one = run_uncertainty(use_store.factory, use_store.run, d, draws=500, seed=42, sobol_n=64)
    two = run_uncertainty(use_store.factory, use_store.run, d, draws=500, seed=42, sobol_n=64)
    pd.testing.assert_frame_equal(one.intervals, two.intervals)
    pd.testing.assert_frame_equal(one.sensitivity, two.sensitivity)
    other = run_uncertainty(use_store.factory, use_store.run, d, draws=500, seed=43, sobol_n=64)
    assert not np.array_equal(one.intervals["p5"], other.intervals["p5"])


def test_zero_width_distributions_give_exactly_the_run(use_store: SimpleNamespace) -> None:
    d = _dists([(f"{KEY}@2019@A", "uniform", 7.0, 7.0, None), (f"{KEY}@2019@B", "normal", 6.0, 0.0, None)])
    res = run_uncertainty(use_store.factory, use_store.run, d, draws=200, seed=1, sobol_n=64)
    iv = res.intervals
    for col in ("mean", "p5", "p50", "p95"):
        np.testing.assert_array_equal(iv[col].to_numpy(), iv["value"].to_numpy())
    got = iv.set_index(["region_code", "indicator"])["value"]
    assert got[("P", "GEP")] == 11.4e8 and got[("A", "GEP")] == 8.4e8 and got[("B", "water_conservation")] == 3e8
    assert (res.sensitivity[["S1", "ST"]] == 0).all().all()


def test_linear_case_matches_the_analytic_interval(use_store: SimpleNamespace) -> None:
    res = run_uncertainty(use_store.factory, use_store.run, _dists(NORMAL), draws=20000, seed=7, sobol_n=1024)
    iv = res.intervals.set_index(["region_code", "indicator"])
    var_a, var_b = (1.2e8 * 0.7) ** 2, (5e7 * 1.2) ** 2
    sd = math.sqrt(var_a + var_b)
    g = iv.loc[("P", "GEP")]
    # Monte Carlo standard error of a 5 % quantile is ≈ 0.015 sd at 20 000 draws; allow 0.05 sd
    assert g["p5"] == pytest.approx(11.4e8 - Z95 * sd, abs=0.05 * sd)
    assert g["p95"] == pytest.approx(11.4e8 + Z95 * sd, abs=0.05 * sd)
    assert g["p50"] == pytest.approx(11.4e8, abs=0.05 * sd)
    a = iv.loc[("A", "water_conservation")]  # one county: its own price only
    assert a["p95"] - a["p5"] == pytest.approx(2 * Z95 * 1.2e8 * 0.7, rel=0.03)
    s = res.sensitivity.set_index("key")
    assert list(res.sensitivity["key"]) == [f"{KEY}@2019@A", f"{KEY}@2019@B"]
    assert s.loc[f"{KEY}@2019@A", "S1"] == pytest.approx(var_a / (var_a + var_b), abs=0.05)
    assert s.loc[f"{KEY}@2019@B", "ST"] == pytest.approx(var_b / (var_a + var_b), abs=0.05)


def test_ishigami_sobol_indices_match_the_analytic_values() -> None:
    d = [Distribution(f"x{i}", "uniform", -math.pi, math.pi, source="Ishigami & Homma 1990") for i in (1, 2, 3)]

    def ishigami(x: np.ndarray) -> np.ndarray:
        return np.sin(x[:, 0]) + 7.0 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])

    t = sobol(d, ishigami, n=1024, seed=3).set_index("key")
    for key, s1, st in (("x1", 0.3139, 0.5576), ("x2", 0.4424, 0.4424), ("x3", 0.0, 0.2437)):
        assert t.loc[key, "S1"] == pytest.approx(s1, abs=0.05), key
        assert t.loc[key, "ST"] == pytest.approx(st, abs=0.05), key


def test_sobol_accepts_every_kind_including_a_mode_at_the_maximum() -> None:
    d = [Distribution("t", "triangular", 1.0, 3.0, 3.0, source="s"), Distribution("l", "lognormal", 2.0, 0.1, source="s"),
         Distribution("n", "normal", 0.0, 1.0, source="s"), Distribution("u", "uniform", 0.0, 0.0, source="s")]
    t = sobol(d, lambda x: 10.0 * x[:, 0] + 0.01 * x[:, 1] + 0.01 * x[:, 2] + x[:, 3], n=256, seed=0)
    assert list(t["key"][:1]) == ["t"] and t.set_index("key").loc["u", "ST"] == 0.0


@pytest.mark.parametrize(("row", "field", "words"), [
    ({"kind": "gaussian"}, "kind", ("unknown kind", "未知的分布类型")),
    ({"kind": "uniform", "a": 8, "b": 6}, "b", ("below minimum", "小于最小值")),
    ({"kind": "normal", "b": -1}, "b", ("must be ≥ 0", "必须 ≥ 0")),
    ({"kind": "lognormal", "a": 0}, "a", ("median must be > 0", "中位数必须 > 0")),
    ({"kind": "triangular", "c": ""}, "c", ("'c' is empty", "'c' 为空")),
    ({"kind": "triangular", "a": 5, "b": 9, "c": 8}, "b", ("a ≤ b ≤ c", "a ≤ b ≤ c")),
    ({"a": "seven"}, "a", ("not a number", "不是数字")),
    ({"source": ""}, "source", ("'source' is empty", "'source' 为空")),
])
def test_bad_distribution_rows_are_bilingual_errors_naming_row_and_field(row: dict[str, object], field: str,
                                                                          words: tuple[str, str]) -> None:
    good = {"key": "k0", "kind": "normal", "a": 7, "b": 0.5, "c": "", "source": "s"}
    bad = {**good, "key": "k1", **row}
    with pytest.raises(ConfigError) as e:
        read_distributions([good, bad])
    assert e.value.field == field
    assert "row 2" in e.value.en and "第 2 行" in e.value.zh
    assert words[0] in e.value.en and words[1] in e.value.zh
    assert e.value.fix and e.value.fix_zh


def test_duplicate_key_and_bad_csv_name_the_file(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("key,kind,a,b,c,source\nk,normal,1,0.1,,s\nk,normal,1,0.1,,s\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        read_distributions(p)
    assert e.value.field == "key" and "twice" in e.value.en and "重复" in e.value.zh and e.value.file == p
    p.write_text("key,kind,a\nk,normal,1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        read_distributions(p)
    assert e.value.field == "b" and "缺少列" in e.value.zh


def test_a_key_the_run_does_not_use_is_refused(use_store: SimpleNamespace) -> None:
    with pytest.raises(ConfigError) as e:
        run_uncertainty(use_store.factory, use_store.run, _dists([("reservoir_capacity_cots", "normal", 7, 1, None)]),
                        draws=10, seed=0)
    assert e.value.field == "key" and "reservoir_capacity_cots" in e.value.en and "没有任何价值量" in e.value.zh


def test_one_distribution_for_a_key_valued_at_two_prices_is_refused(use_store: SimpleNamespace) -> None:
    # A is valued at 7 and B at 6 元/m3 in 2019: one absolute distribution would shift B by 7/6
    with pytest.raises(ConfigError) as e:
        run_uncertainty(use_store.factory, use_store.run, _dists([(KEY, "normal", 7, 1, None)]), draws=10, seed=0)
    assert "6, 7" in e.value.en and "@REGION" in e.value.fix and "多个取值" in e.value.zh


def test_a_distribution_in_another_unit_is_refused(use_store: SimpleNamespace) -> None:
    d = read_distributions([{"key": f"{KEY}@2019@A", "kind": "normal", "a": 7, "b": 1, "c": "", "source": "s",
                             "unit": "元/t"}])
    with pytest.raises(ConfigError) as e:
        run_uncertainty(use_store.factory, use_store.run, d, draws=10, seed=0)
    assert e.value.field == "unit" and "元/m3" in e.value.en


def test_cli_prints_the_gep_interval_and_the_top_keys(use_store: SimpleNamespace, tmp_path: Path) -> None:
    dist = tmp_path / "dist.csv"
    dist.write_text("key,kind,a,b,c,source\n"
                    f"{KEY}@2019@A,triangular,5,7,9,test\n{KEY}@2019@B,uniform,5.9,6.1,,test\n", encoding="utf-8")
    out = tmp_path / "iv.csv"
    args = ["uncertainty", use_store.run, "--draws", "2000", "--seed", "5", "--distributions", str(dist),
            "--store", str(use_store.url), "-o", str(out)]
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "run 核算 11.40" in r.output and "5–95 %" in r.output
    lines = [ln for ln in r.output.splitlines() if KEY in ln]
    assert f"{KEY}@2019@A" in lines[0]  # the wide triangular price ranks first
    iv = pd.read_csv(out)
    g = iv[(iv["region_code"] == "P") & (iv["indicator"] == "GEP")].iloc[0]
    assert g["p5"] < 11.4e8 < g["p95"]
    bad = CliRunner().invoke(app, [*args[:7], str(tmp_path / "missing.csv"), "--store", str(use_store.url)])
    assert bad.exit_code == 2 and "无法读取分布表" in bad.output


def test_bad_draws_and_year_are_bilingual_errors(use_store: SimpleNamespace, tmp_path: Path) -> None:
    dist = tmp_path / "dist.csv"
    dist.write_text(f"key,kind,a,b,c,source\n{KEY}@2019@A,normal,7,1,,test\n", encoding="utf-8")
    base = ["uncertainty", use_store.run, "--distributions", str(dist), "--store", str(use_store.url)]
    r = CliRunner().invoke(app, [*base, "--draws", "0"])
    assert r.exit_code == 2 and "--draws must be between 1 and" in r.output and "抽样次数" in r.output
    r = CliRunner().invoke(app, [*base, "--year", "2015"])
    assert r.exit_code == 2 and "no year 2015" in r.output and "没有 2015 年" in r.output
    r = CliRunner().invoke(app, [*base, "--seed", "-1"])
    assert r.exit_code == 2 and "--seed must be ≥ 0" in r.output and "随机种子" in r.output


def test_cli_writes_the_workbook_and_stores_the_analysis_beside_the_sealed_runs(use_store: SimpleNamespace,
                                                                               tmp_path: Path) -> None:
    import openpyxl

    from qingshan.store.artifacts import find_data_dir
    from qingshan.use.uncertainty_store import load_analysis, read_result

    dist = tmp_path / "dist.csv"
    dist.write_text(f"key,kind,a,b,c,source\n{KEY}@2019@A,normal,7,0.7,,test\n{KEY}@2019@B,normal,6,1.2,,test\n",
                    encoding="utf-8")
    out = tmp_path / "u.xlsx"
    args = ["uncertainty", use_store.run, "--draws", "500", "--seed", "2", "--sobol-n", "64", "--percentile", "2.5",
            "--distributions", str(dist), "--store", str(use_store.url), "-o", str(out)]
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, args)
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out, read_only=True)
    assert wb.sheetnames == ["intervals 区间", "sensitivity 敏感性", "tornado 龙卷风图", "inputs 输入分布", "about 说明"]
    header = [c.value for c in next(wb["intervals 区间"].iter_rows(max_row=1))]
    assert {"p2.5", "p5", "p95", "p95_亿元"} <= set(header)
    data_dir = find_data_dir(str(use_store.url))
    assert data_dir is not None
    stored = load_analysis(data_dir, use_store.run)
    again = read_result(next((data_dir / "uncertainty" / use_store.run).glob("*/result.json")))
    pd.testing.assert_frame_equal(stored.intervals, again.intervals)
    g = stored.intervals.set_index(["region_code", "indicator"]).loc[("P", "GEP")]
    assert g["p2.5"] < g["p5"] < 11.4e8 < g["p95"]
    assert set(stored.sensitivity_all["output"]) == {"GEP", "water_conservation"}
    assert not (data_dir / "runs" / use_store.run).exists() or not any(
        p.name.startswith("uncertainty") for p in (data_dir / "runs" / use_store.run).rglob("*"))


def test_report_gets_an_uncertainty_section_with_the_tornado_chart(use_store: SimpleNamespace, tmp_path: Path) -> None:
    import json

    from docx import Document

    from qingshan.use.report.document import Figure, Heading, Para, Table, to_docx
    from qingshan.use.report.gep_report import build_gep_report

    res = run_uncertainty(use_store.factory, use_store.run, _dists(NORMAL), draws=400, seed=3, sobol_n=64)
    doc = build_gep_report(use_store.factory, use_store.run, uncertainty=res, figures=False)
    i = next(k for k, b in enumerate(doc.blocks) if isinstance(b, Heading) and b.text == "八之二、不确定性分析")
    section = doc.blocks[i:i + 4]
    assert isinstance(section[1], Para) and f"分析编号 {res.meta['id']}" in section[1].text
    g = res.intervals.set_index(["region_code", "indicator"]).loc[("P", "GEP")]
    assert isinstance(section[2], Table) and section[2].rows[0][3:] == [f"{g['p5'] / 1e8:,.2f}", f"{g['p95'] / 1e8:,.2f}"]
    out = to_docx(doc, tmp_path / "r.docx")
    assert "八之二、不确定性分析" in "\n".join(p.text for p in Document(str(out)).paragraphs)
    from qingshan.use.report.gep_report import _uncertainty

    with_fig = type(doc)(title="t", subtitle="s", lang="zh", footer="f")
    _uncertainty(with_fig, "zh", res, use_store.run, "P", 2019, True)
    fig = next(b for b in with_fig.blocks if isinstance(b, Figure))
    assert fig.png.startswith(b"\x89PNG") and "龙卷风图" in fig.caption
    # the CLI refuses a result of another run or year before rendering anything
    other = run_uncertainty(use_store.factory, use_store.run, _dists([(f"{KEY}@2018@A", "normal", 6.0, 0.5, None)]),
                            draws=50, seed=3, sobol_n=16, year=2018)
    result = tmp_path / "result.json"
    result.write_text(json.dumps(other.to_json(), ensure_ascii=False), encoding="utf-8")
    r = CliRunner().invoke(app, ["report", use_store.run, "-o", str(tmp_path / "x.docx"), "--uncertainty", str(result),
                                 "--store", str(use_store.url)])
    assert r.exit_code == 2 and "not of run" in r.output and "而非核算" in r.output


def test_morris_of_a_linear_function_gives_its_exact_elementary_effects() -> None:
    from qingshan.use.uncertainty import MORRIS_RANGE, morris

    # y = 3·x1 + x2 with x1 ~ U(0, 2), x2 ~ U(0, 1): an elementary effect is the change of y across the input's
    # 2.5–97.5 % quantile range (the design's unit), 3 × 1.9 and 1 × 0.95, whatever the trajectory
    d = [Distribution("x1", "uniform", 0.0, 2.0, source="s"), Distribution("x2", "uniform", 0.0, 1.0, source="s"),
         Distribution("x3", "uniform", 5.0, 5.0, source="s")]
    t = morris(d, lambda x: 3.0 * x[:, 0] + x[:, 1] + x[:, 2], r=6, seed=1).set_index("key")
    assert MORRIS_RANGE == (0.025, 0.975)
    assert t.loc["x1", "mu_star"] == pytest.approx(5.7, rel=1e-9) and t.loc["x2", "mu_star"] == pytest.approx(0.95, rel=1e-9)
    assert t.loc["x1", "sigma"] == pytest.approx(0.0, abs=1e-9) and t.loc["x3", "mu_star"] == 0.0


def test_sobol_of_several_outputs_ranks_each_output_separately() -> None:
    d = [Distribution("a", "uniform", 0.0, 1.0, source="s"), Distribution("b", "normal", 0.0, 1.0, source="s")]
    t = sobol(d, lambda x: np.column_stack([x[:, 0], x[:, 1] + 0.1 * x[:, 0]]), n=512, seed=2, outputs=["first", "second"])
    first = t[t["output"] == "first"].set_index("key")
    second = t[t["output"] == "second"].set_index("key")
    assert first.loc["a", "S1"] == pytest.approx(1.0, abs=0.03) and first.loc["b", "ST"] == pytest.approx(0.0, abs=0.01)
    # var(b + 0.1 a) = 1 + 0.01/12: S1(b) = 1/(1 + 0.01/12)
    assert second.loc["b", "S1"] == pytest.approx(1 / (1 + 0.01 / 12), abs=0.03)
    assert second.index[0] == "b"


@pytest.mark.parametrize("scheduler", ["not-an-address", "tcp://127.0.0.1:9"])
def test_a_scheduler_that_is_not_one_is_a_bilingual_error(use_store: SimpleNamespace, tmp_path: Path,
                                                          scheduler: str) -> None:
    """Found: ``--scheduler`` opened a bare ``distributed.Client`` (none of `account`'s checks): a string that is
    not an address ended in a traceback (exit 1) and no worker's code was compared with this one's."""
    dist = tmp_path / "dist.csv"
    dist.write_text(f"key,kind,a,b,c,source\n{KEY}@2019@A,normal,7,1,,test\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["uncertainty", use_store.run, "--distributions", str(dist), "--draws", "10",
                                 "--scheduler", scheduler, "--store", str(use_store.url)])
    assert r.exit_code == 2, r.output
    assert "dask.distributed" in r.output and "调度器" in r.output and "Traceback" not in r.output


def test_local_scheduler_names_run_in_this_process(use_store: SimpleNamespace, tmp_path: Path) -> None:
    dist = tmp_path / "dist.csv"
    dist.write_text(f"key,kind,a,b,c,source\n{KEY}@2019@A,normal,7,1,,test\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["uncertainty", use_store.run, "--distributions", str(dist), "--draws", "10",
                                 "--scheduler", "Threads", "--store", str(use_store.url)])
    assert r.exit_code == 0, r.output
