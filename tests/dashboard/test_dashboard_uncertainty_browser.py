"""The uncertainty view of the dashboard in headless Chromium: with a stored analysis of the example run,
the panel shows the GEP interval, 5–95 % error bars on the indicator chart and a tornado chart whose bars
are the analysis' swing table (issue 10, item 2). Without an analysis the block stays hidden."""

from __future__ import annotations

import re
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from helpers_server import served as serving

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader"]
DISTS = [
    {"key": "electricity_price", "kind": "triangular", "a": 0.55, "b": 0.6622, "c": 0.75, "source": "test"},
    {"key": "carbon_price", "kind": "lognormal", "a": 474.78, "b": 0.3, "c": None, "source": "test"},
    {"key": "param:nep_npp_ratio", "kind": "uniform", "a": 0.4, "b": 0.6, "c": None, "source": "test"},
]


@pytest.fixture(scope="module")
def served(example: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A copy of the example's store with one stored uncertainty analysis, served by uvicorn on loopback."""
    from qingshan.api.app import create_app
    from qingshan.api.settings import Settings
    from qingshan.store.db import open_store
    from qingshan.use.uncertainty import read_distributions, run_uncertainty
    from qingshan.use.uncertainty_store import save_analysis

    src = Path(example.store_url.removeprefix("sqlite:///"))
    tmp = tmp_path_factory.mktemp("uncertainty_store")
    with sqlite3.connect(src) as a, sqlite3.connect(tmp / "store.sqlite") as b:
        a.backup(b)
    shutil.copytree(src.parent / "qingshan-data", tmp / "qingshan-data")
    url = f"sqlite:///{tmp / 'store.sqlite'}"
    res = run_uncertainty(open_store(url), example.run_id, read_distributions(DISTS), draws=300, seed=2, sobol_n=64)
    save_analysis(res, tmp / "qingshan-data")
    with serving(create_app(Settings(store_url=url))) as base_url:
        yield SimpleNamespace(base_url=base_url, result=res)


def test_tornado_chart_and_error_bars_render_the_stored_analysis(served: SimpleNamespace) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    res = served.result
    gep_swing = res.swing[res.swing["output"] == "GEP"]
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1400}).new_page()
            page.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"),
                       lambda route: (problems.append("outside: " + route.request.url), route.abort()))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{served.base_url}/?renderer=svg")
            page.wait_for_selector("#uncertainty-block:not([hidden])")
            option: dict[str, Any] = page.evaluate(
                "() => { const o = echarts.getInstanceByDom(document.getElementById('chart-tornado')).getOption();"
                " return {names: o.yAxis[0].data, low: o.series[0].data, high: o.series[1].data}; }")
            assert option["names"] == list(gep_swing["key"])
            assert option["low"] == pytest.approx(list((gep_swing["low"] - gep_swing["base"]) / 1e8), rel=1e-9)
            assert option["high"] == pytest.approx(list((gep_swing["high"] - gep_swing["base"]) / 1e8), rel=1e-9)
            assert page.locator("#chart-tornado svg path").count() >= 2 * len(gep_swing)  # the bars are drawn
            bars = page.evaluate(
                "() => { const o = echarts.getInstanceByDom(document.getElementById('chart-indicator')).getOption();"
                " return o.series.filter(s => s.type === 'custom').map(s => s.data.length); }")
            assert bars and bars[0] >= 2  # error bars on the indicators that carry an interval
            g = res.intervals.set_index(["region_code", "indicator"]).loc[(res.region, "GEP")]
            text = page.inner_text("#uncertainty-gep")
            assert f"{g['p5'] / 1e8:,.2f}" in text and f"{g['p95'] / 1e8:,.2f}" in text
            page.screenshot(path=str(ARTIFACTS / "dashboard-uncertainty.png"), full_page=True)
            page.click("#lang")  # Chinese: the block follows the language, the bars stay
            page.wait_for_function("() => document.getElementById('uncertainty-heading').textContent.startsWith('不确定性')")
            assert "GEP 5–95 % 区间" in page.inner_text("#uncertainty-gep")
            legend = page.evaluate("() => echarts.getInstanceByDom(document.getElementById('chart-tornado'))"
                                   ".getOption().series.map(s => s.name)")
            assert legend == ["输入取 5 % 分位", "输入取 95 % 分位"]
        finally:
            browser.close()
    assert not problems, problems
