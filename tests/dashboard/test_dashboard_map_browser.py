"""The dashboard in a real headless Chromium over a real run of the Jiangxi example.

Debian's ``chromium`` driven by Playwright (never ``playwright install``); skipped when either is
missing. Runs once with MapLibre GL (WebGL through SwiftShader) and once with the SVG fallback
(``?renderer=svg``): open the map, drill province → city → county, switch language, draw a parcel
by clicking on the map and read its GEP. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi import FastAPI

from helpers_server import served

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader"]
COUNTY = "360124"  # 进贤县 in 南昌市 (360100), 江西省 (360000)


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    """uvicorn serving the example run, in a background thread."""
    with served(app) as url:
        yield url


def _click_lonlat(page: Any, lon: float, lat: float, *, double: bool = False) -> None:
    """Click the map where (lon, lat) is drawn (either renderer projects it for us)."""
    x, y = page.evaluate("([lon, lat]) => window.qingshanDashboard.project(lon, lat)", [lon, lat])
    box = page.locator("#map").bounding_box()
    assert 0 <= x <= box["width"] and 0 <= y <= box["height"], (x, y, box)
    if double:
        page.mouse.dblclick(box["x"] + x, box["y"] + y)
    else:
        page.mouse.click(box["x"] + x, box["y"] + y)


def _wait_drilled(page: Any, depth: int) -> None:
    page.wait_for_function(
        "d => window.qingshanDashboard.state.path.length === d && document.querySelector('#map').dataset.ready === 'true'",
        arg=depth)


@pytest.mark.parametrize("renderer", ["webgl", "svg"])
def test_visitor_drills_down_switches_language_and_values_a_parcel(renderer: str, base_url: str,
                                                                   example: SimpleNamespace) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    point = example.counties.loc[example.counties["code"] == COUNTY, "geometry"].iloc[0].representative_point()
    name = example.counties.loc[example.counties["code"] == COUNTY, "name"].iloc[0]
    outside: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1100}).new_page()
            page.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"),
                       lambda route: (outside.append(route.request.url), route.abort()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(f"{base_url}/?renderer={renderer}")
            page.wait_for_selector("#map[data-ready=true]")
            assert page.get_attribute("#map", "data-renderer") == renderer
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{renderer}-1-province.png"), full_page=True)

            _click_lonlat(page, point.x, point.y)  # the province → its cities
            _wait_drilled(page, 1)
            _click_lonlat(page, point.x, point.y)  # the city → its counties
            _wait_drilled(page, 2)
            sync_api.expect(page.locator("#panel-name")).to_have_text("南昌市")
            _click_lonlat(page, point.x, point.y)  # the county: its panel (no deeper level)
            sync_api.expect(page.locator("#panel-name")).to_have_text(name)
            assert re.fullmatch(r"[\d,]+(\.\d+)?", page.locator("#panel-gep").inner_text())
            assert page.locator("#indicator-table tbody tr").count() >= 5
            # the example has county GDP (shared from the city): the panel shows GEP/GDP
            sync_api.expect(page.locator("#panel-gdp-ratio")).to_have_text(re.compile(r"^[\d,]+\.\d{2}$"))
            assert page.locator("#chart-indicator svg").count() == 1  # ECharts drew the bar chart
            assert "format=xlsx" in (page.get_attribute("#xlsx", "href") or "")
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{renderer}-2-county.png"), full_page=True)

            page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
            sync_api.expect(page.locator("#panel h3").first).to_have_text("按类别")
            sync_api.expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

            page.click("#parcel-draw")
            d = 0.03  # degrees: a ≈ 6 km × 6.6 km square around a point of the county
            corners = [(point.x - d, point.y - d), (point.x + d, point.y - d), (point.x + d, point.y + d),
                       (point.x - d, point.y + d)]
            for lon, lat in corners[:-1]:
                _click_lonlat(page, lon, lat)
            if renderer == "webgl":
                _click_lonlat(page, *corners[-1], double=True)  # double-click closes the polygon
            else:
                _click_lonlat(page, *corners[-1])
                page.click("#parcel-finish")
            sync_api.expect(page.locator("#parcel-panel")).to_be_visible()
            gep = page.locator("#parcel-gep").inner_text()
            assert re.fullmatch(r"[\d,]+(\.\d+)?", gep), gep
            assert float(gep.replace(",", "")) > 0
            area = float(page.locator("#parcel-area").inner_text().replace(",", ""))
            assert 30 < area < 50  # 0.06° × 0.06° at 28.5° N ≈ 6.6 km × 5.9 km ≈ 39 km2
            sync_api.expect(page.locator("#parcel-note")).to_contain_text("近似")
            page.screenshot(path=str(ARTIFACTS / f"dashboard-{renderer}-3-parcel-zh.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    assert not outside, f"the page requested outside resources: {outside}"
