"""The dashboard in a real headless Chromium (Debian's ``chromium`` driven by Playwright).

Skipped when Playwright or the chromium binary is missing; never runs ``playwright install``.
Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qingshan.api.app import create_app
from qingshan.api.settings import Settings

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(store_url: str) -> Iterator[str]:
    """uvicorn serving ``create_app`` over the fixture store, in a background thread."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(store_url=store_url)), host="127.0.0.1",
                                           port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_dashboard_map_drill_down_and_language(base_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    ARTIFACTS.mkdir(exist_ok=True)
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 1000}).new_page()
            page.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"),
                       lambda route: (outside.append(route.request.url), route.abort()))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base_url + "/")
            page.wait_for_selector("#map[data-ready=true] path[data-code='360000']")
            page.screenshot(path=str(ARTIFACTS / "dashboard-1-province.png"), full_page=True)

            page.click("#map path[data-code='360000']")  # the province: drills down to its cities
            page.wait_for_selector("#map path[data-code='360200']")
            page.click("#map path[data-code='360200']")  # a city: panel + its counties
            page.wait_for_selector("#map path[data-code='360222']")
            sync_api.expect(page.locator("#panel-name")).to_have_text("景德镇市")
            gep = page.locator("#panel-gep").inner_text()
            assert re.fullmatch(r"[\d,]+(\.\d+)?", gep), gep
            assert page.locator("#indicator-table tbody tr").count() >= 4
            assert page.locator("#ranking-table tbody tr").count() == 5
            assert "format=csv" in (page.get_attribute("#csv", "href") or "")
            page.screenshot(path=str(ARTIFACTS / "dashboard-2-city.png"), full_page=True)

            page.select_option("#indicator", "water_conservation")  # value → physical quantity switch
            page.check("#measure-quantity")
            sync_api.expect(page.locator("#legend")).to_contain_text("m3")
            page.check("input[name=measure][value=value]")
            page.select_option("#indicator", "")

            sync_api.expect(page.locator("#panel h3").first).to_have_text("By class")
            page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
            sync_api.expect(page.locator("#panel h3").first).to_have_text("按类别")
            sync_api.expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
            page.screenshot(path=str(ARTIFACTS / "dashboard-3-zh.png"), full_page=True)
            assert not errors, errors
        finally:
            browser.close()
    assert not outside, f"the page requested outside resources: {outside}"
