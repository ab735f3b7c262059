"""The uses of a run in the dashboard, in a real headless Chromium (Debian's chromium, Playwright):
change map and growth ranking, the ranking following the drill-down, the parcel's breakdown and its
PDF report, the GEP report link, the eco-compensation page, and a 390 px phone without horizontal
overflow. Screenshots go to ``test-artifacts/``.

The example run has one year, so a second run is stored beside it (a copy of the example's store):
its 2019 rows are the example's, its 2018 rows the example's county rows divided by a known growth
factor per county (and rolled up), so every growth on the screen is known in advance.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from helpers_server import served as serving

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader"]
COUNTY = "360124"  # 进贤县 in 南昌市 (360100)
CITY = "360100"


def _growth(i: int) -> float:
    """Known growth 2018 → 2019 of the i-th county (fraction): −10 % … +20 %, all distinct per step."""
    return round(-0.10 + 0.03 * (i % 11), 2)


def _two_year_run(url: str, run_a: str) -> tuple[str, dict[str, float]]:
    """Store run B (2018 and 2019) next to ``run_a``; return its id and each county's growth [%]."""
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(url)
    a = repo.get_run(factory, run_a)
    assert a is not None
    rows = repo.read_results(factory, run_a)
    regions = repo.read_regions(factory, run_a, with_geometry=True)
    parents = set(regions["parent"].dropna())
    leaves = sorted(set(regions["code"]) - parents)
    growth = {code: _growth(i) for i, code in enumerate(leaves)}
    parent = dict(zip(regions["code"], regions["parent"], strict=True))
    leaf = rows[rows["region_code"].isin(leaves)].copy()
    factor = 1.0 / (1.0 + leaf["region_code"].map(growth))
    for col in ("quantity", "value", "value_comparable"):
        leaf[col] = leaf[col] * factor
    leaf["year"] = 2018
    frames, level = [leaf], leaf
    keys = [c for c in repo.RESULT_COLUMNS if c not in ("region_code", "quantity", "value", "value_comparable")]
    while True:  # roll the county rows up the hierarchy, as the engine does
        up = level.assign(region_code=level["region_code"].map(parent)).dropna(subset=["region_code"])
        if up.empty:
            break
        level = (up.groupby(["region_code", *keys], dropna=False, as_index=False)
                 [["quantity", "value", "value_comparable"]].sum(min_count=1))
        frames.append(level)
    both = pd.concat([*frames, rows], ignore_index=True)[repo.RESULT_COLUMNS]
    run_b = str(uuid.uuid4())
    repo.start_run(factory, run_id=run_b, name="江西 2018–2019 (test copy)", profile=a.profile, years=[2018, 2019],
                   base_year=a.base_year, config=a.config, code_version="test")
    repo.finish_run_succeeded(factory, run_b, results=both, regions=regions.to_dict("records"),
                              provenance=a.provenance, output_dir=a.output_dir, content_hash="1" * 64)
    try:
        from qingshan.platform import jobs
        from qingshan.platform.audit import Actor
    except ImportError:
        pass
    else:
        for action in ("approve", "publish"):
            jobs.set_publication(factory, Actor("dashboard-uses-tests", "accountant"), run_b, action, acknowledge_qc=True)
    return run_b, {c: 100.0 * g for c, g in growth.items()}


@pytest.fixture(scope="module")
def served(example: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A copy of the example's store with run B added, served by uvicorn on a free loopback port."""
    from qingshan.api.app import create_app
    from qingshan.api.settings import Settings

    src = Path(example.store_url.removeprefix("sqlite:///"))
    tmp = tmp_path_factory.mktemp("uses_store")
    with sqlite3.connect(src) as a, sqlite3.connect(tmp / "store.sqlite") as b:  # the WAL too
        a.backup(b)
    shutil.copytree(src.parent / "qingshan-data", tmp / "qingshan-data")  # the runs' sealed artifacts go with the store
    url = f"sqlite:///{tmp / 'store.sqlite'}"
    run_b, growth = _two_year_run(url, example.run_id)
    with serving(create_app(Settings(store_url=url))) as base_url:
        yield SimpleNamespace(base_url=base_url, run_a=example.run_id, run_b=run_b, growth=growth,
                              tmp=tmp)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def _page(browser: Any, *, width: int = 1280, height: int = 1000, locale: str = "en-US") -> tuple[Any, list[str]]:
    """A page that refuses any request off the loopback server and records page errors."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": height}, accept_downloads=True)
    page = context.new_page()
    problems: list[str] = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1:|blob:|data:).*"),
               lambda route: (problems.append("outside: " + route.request.url), route.abort()))
    page.on("pageerror", lambda e: problems.append(str(e)))
    return page, problems


def _ranking(page: Any) -> list[list[str]]:
    return [[c.strip() for c in r] for r in page.eval_on_selector_all(
        "#ranking-table tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))")]


def _pct(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").replace("+", ""))


def _click_region(page: Any, code: str) -> None:
    """Click a region of the SVG map by its code."""
    page.locator(f'#map path[data-code="{code}"]').dispatch_event("click")


def test_change_map_and_growth_ranking_follow_the_drill_down(served: SimpleNamespace, browser: Any) -> None:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    page, problems = _page(browser)
    page.goto(f"{served.base_url}/?renderer=svg")
    page.wait_for_selector("#map[data-ready=true]")
    page.select_option("#run", served.run_b)
    page.wait_for_function("id => window.qingshanDashboard.state.run.id === id && "
                           "document.querySelector('#map').dataset.ready === 'true'", arg=served.run_b)
    page.select_option("#view", "change")
    page.wait_for_function("() => window.qingshanDashboard.state.change && "
                           "document.querySelector('#map').dataset.ready === 'true' && "
                           "document.querySelectorAll('#ranking-table tbody tr').length > 0 && "
                           "document.querySelector('#ranking-table tbody tr').cells.length >= 5")  # growth columns
    assert page.input_value("#compare") == "year:2018"
    assert page.locator("#legend").inner_text().count("%") >= 2  # a diverging legend in growth %

    # top of the drill-down: every county of the run, ranked by growth, the known growths
    rows = _ranking(page)
    assert len(rows) == len(served.growth)
    growths = [_pct(r[4]) for r in rows]
    assert growths == sorted(growths, reverse=True)
    assert growths[0] == pytest.approx(max(served.growth.values()), abs=0.005)
    assert growths[-1] == pytest.approx(min(served.growth.values()), abs=0.005)
    assert [r[0] for r in rows[:3]] == ["1", "2", "3"]
    page.screenshot(path=str(ARTIFACTS / "dashboard-change-1-province.png"), full_page=True)

    # drill province → city: the ranking becomes the counties of that city, with their known growths
    regions = repo.read_regions(open_store(f"sqlite:///{served.tmp / 'store.sqlite'}"), served.run_b)
    province = regions.loc[regions["level"] == "province", "code"].iloc[0]
    _click_region(page, province)
    page.wait_for_function("() => window.qingshanDashboard.state.path.length === 1 && "
                           "document.querySelector('#map').dataset.ready === 'true'")
    _click_region(page, CITY)
    page.wait_for_function("() => window.qingshanDashboard.state.path.length === 2 && "
                           "document.querySelector('#map').dataset.ready === 'true'")
    page.wait_for_function("n => document.querySelectorAll('#ranking-table tbody tr').length === n",
                           arg=int((regions["parent"] == CITY).sum()))
    sync_api = pytest.importorskip("playwright.sync_api")
    sync_api.expect(page.locator("#rank-scope")).to_contain_text("南昌市")
    sync_api.expect(page.locator("#panel-change")).to_contain_text(re.compile(r"2018 .*→ 2019: [+-]?\d"))
    kids = set(regions.loc[regions["parent"] == CITY, "name"])
    rows = _ranking(page)
    assert {r[1] for r in rows} == kids
    by_name = dict(zip(regions["name"], regions["code"], strict=True))
    for r in rows:
        assert _pct(r[4]) == pytest.approx(served.growth[by_name[r[1]]], abs=0.005), r
    # the map's colours are the growths of the same counties
    tip = page.locator(f'#map path[data-code="{COUNTY}"] title').text_content() or ""
    assert re.search(r"[+-]?\d+(\.\d)?%", tip), tip
    page.screenshot(path=str(ARTIFACTS / "dashboard-change-2-city.png"), full_page=True)

    # against another run: the example run (2019) as the earlier side of run B's 2019 → no change
    page.select_option("#compare", f"run:{served.run_a}:2019")
    page.wait_for_function("k => window.qingshanDashboard.state.changeKey.indexOf(k) >= 0 && "
                           "document.querySelector('#map').dataset.ready === 'true'", arg="against=" + served.run_a)
    page.wait_for_function("() => Array.from(document.querySelectorAll('#ranking-table tbody tr'))"
                           ".every(r => /^\\+?0(\\.0+)?%$/.test(r.cells[4].textContent.trim()))")

    # the Chinese labels of the view, and the client-side CSV of the screen's table
    page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
    sync_api.expect(page.locator("#ranking-head th").nth(4)).to_contain_text("增长率")
    with page.expect_download() as dl:
        page.click("#change-csv")
    text = Path(dl.value.path()).read_text(encoding="utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][1] == "区域" and len(table) == len(rows) + 1
    page.screenshot(path=str(ARTIFACTS / "dashboard-change-3-against-zh.png"), full_page=True)

    # per km²: the counties of the city ranked by GEP per km² (from area_km2); per capita: GEP per person
    # from the population rows of the run's statistics
    page.select_option("#view", "per_km2")
    page.wait_for_function("() => document.querySelector('#ranking-head th:nth-child(4)').textContent.includes('万元')")
    dens = [float(r[3].replace(",", "")) for r in _ranking(page)]
    assert dens == sorted(dens, reverse=True) and dens[0] > 0
    page.select_option("#view", "per_capita")  # the example reports population (人) for every county
    page.wait_for_function("() => { const th = document.querySelector('#ranking-head th:nth-child(5)');"
                           " return th !== null && th.textContent.includes('元/人'); }", timeout=15_000)
    per = [float(r[4].replace(",", "")) for r in _ranking(page)]
    assert per == sorted(per, reverse=True) and per[-1] > 0
    assert not problems, problems


def test_parcel_breakdown_report_pdf_and_errors_next_to_the_tools(served: SimpleNamespace, browser: Any,
                                                                   example: SimpleNamespace, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page, problems = _page(browser)
    page.goto(f"{served.base_url}/?renderer=svg")
    page.wait_for_selector("#map[data-ready=true]")
    page.select_option("#run", served.run_a)
    page.wait_for_function("id => window.qingshanDashboard.state.run.id === id && "
                           "document.querySelector('#map').dataset.ready === 'true'", arg=served.run_a)
    # the GEP report of the region viewed
    sync_api.expect(page.locator("#report-pdf")).to_have_attribute("href", re.compile(f"/api/runs/{served.run_a}/report[?]"))
    href = page.get_attribute("#report-pdf", "href") or ""
    assert "format=pdf" in href and "lang=en" in href and "region=" in href

    # a bad upload: the error and its fix appear next to the parcel tools
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "Point", "coordinates": [116, 28]}', encoding="utf-8")
    page.set_input_files("#parcel-file", str(bad))
    err = page.locator("#parcel-error")
    sync_api.expect(err).to_be_visible()
    sync_api.expect(err).to_have_class(re.compile("is-error"))
    assert "Fix:" in err.inner_text()
    page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
    sync_api.expect(err).to_contain_text("解决办法")

    # a good parcel: physical quantities and ecosystems shown, the PDF report downloaded
    point = example.counties.loc[example.counties["code"] == COUNTY, "geometry"].iloc[0].representative_point()
    d = 0.03
    ring = [[point.x - d, point.y - d], [point.x + d, point.y - d], [point.x + d, point.y + d],
            [point.x - d, point.y + d], [point.x - d, point.y - d]]
    good = tmp_path / "parcel.geojson"
    good.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}),
                    encoding="utf-8")
    page.set_input_files("#parcel-file", str(good))
    sync_api.expect(page.locator("#parcel-panel")).to_be_visible()
    sync_api.expect(err).to_be_hidden()
    assert page.locator("#parcel-eco-table tbody tr").count() >= 2
    comps = page.locator("#parcel-comp-table tbody tr")
    assert comps.count() >= 3
    assert re.search(r"\d", comps.first.locator("td").nth(1).inner_text())
    units = set(page.eval_on_selector_all("#parcel-comp-table tbody tr td:nth-child(3)", "c => c.map(x => x.textContent)"))
    assert units & {"吨", "立方米", "吨 CO₂", "人次"}, units  # units in the chosen language (中文)
    with page.expect_download(timeout=120_000) as dl:
        page.click("#parcel-report")
    data = Path(dl.value.path()).read_bytes()
    assert data[:4] == b"%PDF", data[:40]
    assert dl.value.suggested_filename.endswith("-zh.pdf")
    sync_api.expect(page.locator("#parcel-report-error")).not_to_have_class(re.compile("is-error"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-parcel-report-zh.png"), full_page=True)
    assert not problems, problems


def _alloc_amounts(page: Any) -> list[str]:
    return [c.strip() for c in page.eval_on_selector_all("#alloc-table tbody tr td:nth-child(3)",
                                                         "c => c.map(x => x.textContent)")]


def _fen(text: str) -> int:
    yuan, fen = text.replace(",", "").split(".")
    return int(yuan) * 100 + int(fen)


def test_compensation_page_allocates_the_fund_to_the_fen(served: SimpleNamespace, browser: Any, example: SimpleNamespace,
                                                         tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    page, problems = _page(browser)
    page.goto(f"{served.base_url}/compensation")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#run", served.run_a)
    page.select_option("#rule", "gep_stock")
    page.fill("#fund", "1000000.07")
    page.fill("#min-share", "0.5")
    page.fill("#max-share", "3")
    page.click("#compute")
    sync_api.expect(page.locator("#check")).to_have_attribute("data-equal", "true")
    sync_api.expect(page.locator("#total")).to_have_text("1,000,000.07")
    amounts = _alloc_amounts(page)
    assert len(amounts) == len(example.counties)
    assert sum(_fen(a) for a in amounts) == 100_000_007
    shares = page.eval_on_selector_all("#alloc-table tbody tr td:nth-child(4)", "c => c.map(x => x.textContent)")
    assert all(0.5 - 1e-4 <= float(s.rstrip("%")) <= 3 + 1e-4 for s in shares), shares
    with page.expect_download() as dl:
        page.click("#export")
    table = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8-sig"))))
    assert table[0][2] == "Amount (yuan)"
    assert sum(_fen(r[2]) for r in table[1:-1]) == 100_000_007 and table[-1][2] == "1000000.07"
    page.screenshot(path=str(ARTIFACTS / "compensation-1-gep-stock.png"), full_page=True)

    # factor rule with a factor table parsed in the browser; weights as data
    codes = list(example.counties["code"])
    factors = tmp_path / "factors.csv"
    factors.write_text("region_code,water_quality,forest_cover\n" + "".join(
        f"{c},{(i % 5) + 1},{(i % 3) + 2}\n" for i, c in enumerate(codes)), encoding="utf-8")
    page.select_option("#rule", "factors")
    page.click("#compute")  # no table yet: the message says what to do
    sync_api.expect(page.locator("#message")).to_contain_text("Upload the factor table")
    page.set_input_files("#factor-file", str(factors))
    sync_api.expect(page.locator("#factor-info")).to_contain_text("water_quality")
    page.fill('[data-testid="weight-water_quality"]', "0.7")
    page.fill('[data-testid="weight-forest_cover"]', "0.3")
    page.fill("#fund", "2450000")
    page.fill("#min-share", "0")
    page.fill("#max-share", "100")
    page.click("#compute")
    sync_api.expect(page.locator("#total")).to_have_text("2,450,000.00")
    sync_api.expect(page.locator("#check")).to_have_attribute("data-equal", "true")
    assert sum(_fen(a) for a in _alloc_amounts(page)) == 245_000_000
    # a server-side refusal (level absent) is shown next to the form, in Chinese with the fix
    page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
    page.select_option("#level", "township")
    page.click("#compute")
    sync_api.expect(page.locator("#message")).to_contain_text("解决办法")
    page.screenshot(path=str(ARTIFACTS / "compensation-2-factors-zh.png"), full_page=True)
    assert not problems, problems


@pytest.mark.parametrize("path", ["/", "/compensation"])
def test_phone_width_has_no_horizontal_overflow(path: str, served: SimpleNamespace, browser: Any,
                                                example: SimpleNamespace, tmp_path: Path) -> None:
    page, problems = _page(browser, width=390, height=844, locale="zh-CN")
    page.goto(served.base_url + path)
    page.wait_for_selector("#map[data-ready=true]" if path == "/" else "body[data-ready=true]")
    if path == "/":
        page.select_option("#view", "change")
        page.wait_for_function("() => document.querySelector('#map').dataset.ready === 'true' && "
                               "document.querySelectorAll('#ranking-table tbody tr').length > 0")
        point = example.counties.loc[example.counties["code"] == COUNTY, "geometry"].iloc[0].representative_point()
        d = 0.02
        ring = [[point.x - d, point.y - d], [point.x + d, point.y - d], [point.x + d, point.y + d],
                [point.x - d, point.y - d]]
        parcel = tmp_path / "parcel.geojson"
        parcel.write_text(json.dumps({"type": "Polygon", "coordinates": [ring]}), encoding="utf-8")
        page.set_input_files("#parcel-file", str(parcel))  # the parcel card with its tables, too
        page.wait_for_selector("#parcel-panel:not([hidden])")
    else:
        page.click("#compute")
        page.wait_for_selector("#result:not([hidden])")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    name = "dashboard" if path == "/" else "compensation"
    page.screenshot(path=str(ARTIFACTS / f"phone-390-{name}.png"), full_page=True)
    assert not problems, problems
