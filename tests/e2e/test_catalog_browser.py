"""An accountant browses the data catalogue 数据目录 in a real headless Chromium, opens an entry's version history,
assembles an accounting entry by entry (boundaries, rasters per year, tables and prices, profile, years,
exclusions), validates it and queues it. The job is only queued (the workflow test runs the worker). An
administrator then creates an API token on the same page; it reads the catalogue until it is revoked (401).
Screenshots: ``test-artifacts/catalog-*.png``."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from qingshan.engine.config import load_config
from qingshan.platform import accounts, catalog, jobs
from qingshan.platform.audit import Actor
from qingshan.platform.jobs import default_base_config
from qingshan.store.db import open_store

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"catalog-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def _status(url: str, token: str) -> int:
    """HTTP status of a GET with ``Authorization: Bearer <token>`` (the loopback server of the test)."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_accountant_browses_the_catalogue_and_queues_an_assembled_accounting(
        browser_kit: SimpleNamespace, base_url: str, store_url: str, password: str) -> None:
    factory = open_store(store_url)
    accounts.create_user(factory, "catalog-admin", password, "admin")
    catalog.register_base(factory, "example:jiangxi-2019", default_base_config(), actor=Actor(None, "system"),
                          licence=catalog.EXAMPLE_LICENCE)
    ids = {e["key"].removeprefix("base:example:jiangxi-2019:"): str(e["id"]) for e in catalog.list_entries(factory, None)}
    exclude = "\n".join(f"{e.id}: {e.reason}" for e in load_config(default_base_config()).exclude)
    sync_api, expect = browser_kit.sync_api, browser_kit.sync_api.expect
    errors: list[str] = []
    outside: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_kit.chromium, args=browser_kit.args, headless=True)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"),
                          lambda route: (outside.append(route.request.url), route.abort()))
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)

            page.goto(f"{base_url}/workbench/")
            page.get_by_test_id("username").fill("accountant")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/review")
            page.get_by_role("link", name="数据目录").click()
            page.wait_for_url("**/workbench/catalog")
            expect(page.get_by_test_id("cat-status")).to_contain_text("共 13 条")

            # browse: search and filter, then an entry's versions with their SHA-256
            page.get_by_test_id("cat-q").fill("precip")
            page.get_by_test_id("cat-year").fill("2019")
            page.get_by_test_id("cat-search").click()
            expect(page.get_by_test_id("cat-status")).to_contain_text("共 1 条")
            row = page.locator("#catalog tbody tr")
            expect(row).to_have_count(1)
            expect(row.get_by_test_id("entry-kind")).to_contain_text("precip")
            page.get_by_test_id(f"open-entry-{ids['raster:precip:2019']}").click()
            version = page.get_by_test_id("entry-versions").get_by_test_id("version-1")
            sha = hashlib.sha256(Path(load_config(default_base_config()).input_path("precip", 2019)).read_bytes())
            expect(version.get_by_test_id("version-sha256")).to_have_text(sha.hexdigest())
            expect(version.get_by_test_id("version-status")).to_have_attribute("data-status", "approved")
            expect(page.get_by_test_id("entry-meta")).to_contain_text("0.05 × 0.05 °")
            _shot(page, "01-browse")

            # assemble: every input chosen from the catalogue, nothing from a hidden base
            page.get_by_test_id("asm-name").fill("江西 2019 数据目录组装")
            page.get_by_test_id("asm-profile").select_option("jiangxi-db36-2021")
            page.get_by_test_id("asm-base-year").fill("2019")
            page.get_by_test_id("asm-boundaries").select_option(ids["boundaries"])
            for var, key in (("lulc", "raster:lulc"), ("ndvi", "raster:ndvi"), ("dem", "raster:dem"),
                             ("precip", "raster:precip:2019"), ("aet", "raster:aet:2019")):
                page.get_by_test_id(f"asm-raster-{var}-2019").select_option(ids[key])
            page.get_by_test_id("asm-parameters").select_option([ids["parameters:0"]])
            page.get_by_test_id("asm-prices").select_option([ids["prices"]])
            page.get_by_test_id("asm-statistics").select_option([ids["statistics"]])
            for slot in ("landcover", "landcover_meta", "deflator", "products"):
                page.get_by_test_id(f"asm-{slot}").select_option(ids[slot])
            page.get_by_test_id("asm-options").fill('{"water_purification_components": ["cod", "nh3n"]}')

            # without the exclusions the profile's indicators are not all accounted: the check says which
            page.get_by_test_id("asm-exclude").fill("no_such_indicator: test")
            page.get_by_test_id("asm-validate").click()
            expect(page.get_by_test_id("asm-status")).to_contain_text("no_such_indicator")
            expect(page.get_by_test_id("asm-status")).to_have_class("error")

            page.get_by_test_id("asm-exclude").fill(exclude)
            page.get_by_test_id("asm-validate").click()
            expect(page.get_by_test_id("asm-status")).to_have_class("ok")
            expect(page.get_by_test_id("asm-pinned").locator("li")).to_have_count(13)
            page.get_by_test_id("asm-queue").click()
            expect(page.get_by_test_id("asm-status")).to_contain_text("已排队")
            _shot(page, "02-queued")

            # the administrator creates an API token for another system, which works until it is revoked
            page.get_by_test_id("logout-button").click()
            page.wait_for_url("**/workbench/")
            page.get_by_test_id("username").fill("catalog-admin")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/admin")  # administrators land on their own page
            page.get_by_role("link", name="数据目录").click()  # tokens are issued on the catalogue page
            page.wait_for_url("**/workbench/catalog")
            page.get_by_test_id("tok-name").fill("provincial-hub")
            page.get_by_test_id("tok-regions").fill("360000")
            page.get_by_test_id("tok-scope-read-results").uncheck()
            page.get_by_test_id("tok-scope-read-data").check()  # datasets (boundaries …), not results
            page.get_by_test_id("tok-create").click()
            expect(page.get_by_test_id("tok-value")).to_contain_text("qst_")
            token = page.get_by_test_id("tok-value").inner_text()
            assert _status(f"{base_url}/api/catalog/{ids['boundaries']}", token) == 200
            page.locator("[data-testid^=revoke-token-]").click()
            expect(page.locator("[data-testid=token-state]")).to_have_attribute("data-active", "false")
            assert _status(f"{base_url}/api/catalog/{ids['boundaries']}", token) == 401
            _shot(page, "03-tokens")

            # a department's dataset registered in the web: a draft, invisible to others, not approvable by its uploader
            page.get_by_test_id("up-kind").select_option("prices")
            page.get_by_test_id("up-title-zh").fill("水资源价格 2019")
            page.get_by_test_id("up-title-en").fill("Water prices 2019")
            page.get_by_test_id("up-department").fill("水利局")
            page.get_by_test_id("up-file").set_input_files(files=[{
                "name": "water-prices.csv", "mimeType": "text/csv",
                "buffer": "price_key,price_year,region,value,unit,source\nwater_supply,2019,360000,2.1,元/m3,水利局\n".encode()}])
            page.get_by_test_id("up-submit").click()
            expect(page.get_by_test_id("up-status")).to_contain_text("已上传")
            draft = page.get_by_test_id("entry-versions").get_by_test_id("version-1")
            expect(draft.get_by_test_id("version-status")).to_have_attribute("data-status", "draft")
            new_id = re.search(r"#(\d+)", page.get_by_test_id("up-status").inner_text()).group(1)  # type: ignore[union-attr]
            assert _status(f"{base_url}/api/catalog/{new_id}", "") == 404  # the public does not see the draft
            draft.get_by_test_id("approve-version-1").click()
            expect(page.get_by_test_id("entry-status")).to_contain_text("双人复核")
            _shot(page, "04-upload")
        finally:
            browser.close()
    assert not errors, errors
    assert not outside, outside
    [job] = jobs.list_jobs(factory)
    assert (job["status"], job["params"]["base"], job["requested_by"]) == ("queued", "catalog", "accountant")
    pinned = job["params"]["assembly"]["pinned"]
    assert pinned["rasters"]["precip"]["2019"]["sha256"] == sha.hexdigest()
    assert job["params"]["name"] == "江西 2019 数据目录组装"
