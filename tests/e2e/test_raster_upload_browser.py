"""Web upload of a raster in chunks with progress, resumed after a broken connection, validated like the
CLI, submitted, and previewed by the reviewer — in a real headless Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import rasterio
from affine import Affine

from qingshan.platform import accounts, chunked_upload
from qingshan.store.db import open_store

pytestmark = pytest.mark.browser
CHUNK = 2000


def _precip(path: Path) -> Path:
    values = np.linspace(1300.0, 2000.0, 3600).reshape(60, 60)
    with rasterio.open(path, "w", driver="GTiff", height=60, width=60, count=1, dtype="float32", crs="EPSG:4326",
                       transform=Affine(0.05, 0, 115.0, 0, -0.05, 29.0), nodata=-9999.0) as ds:
        ds.write(values.astype(np.float32), 1)
    return path


def test_chunked_resumable_raster_upload(browser_kit: SimpleNamespace, base_url: str, store_url: str, password: str,
                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunked_upload, "CHUNK_BYTES", CHUNK)  # the server runs in this process
    accounts.create_user(open_store(store_url), "dept-met", password, "submitter", regions=["360000"],
                         forms=["rasters"])
    tif = _precip(tmp_path / "precip-2019.tif")
    n_chunks = -(-tif.stat().st_size // CHUNK)
    assert n_chunks >= 4
    sync_api = browser_kit.sync_api
    expect = sync_api.expect
    errors: list[str] = []
    puts: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_kit.chromium, args=browser_kit.args, headless=True)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(20_000)
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: puts.append(r.url) if r.method == "PUT" else None)
            page.goto(f"{base_url}/workbench/")
            page.get_by_test_id("username").fill("dept-met")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/submit")
            expect(page.get_by_test_id("raster-section")).to_be_visible()
            page.get_by_test_id("raster-variable").select_option("precip")
            page.get_by_test_id("raster-file").set_input_files(str(tif))

            # the connection breaks on chunk 2: the upload stops with an error after its retries
            page.route(re.compile(r".*/chunks/2$"), lambda route: route.abort())
            page.get_by_test_id("raster-button").click()
            expect(page.get_by_test_id("raster-status")).to_have_class("error")
            sent_before = len(puts)
            page.unroute(re.compile(r".*/chunks/2$"))

            # clicking again resumes: only the chunks the server does not have are sent
            puts.clear()
            page.get_by_test_id("raster-button").click()
            expect(page.get_by_test_id("raster-status")).to_contain_text("校验通过")
            expect(page.get_by_test_id("raster-pct")).to_have_text("100%")
            assert 1 <= len(puts) < n_chunks and all("/chunks/" in u for u in puts), (puts, sent_before)
            page.get_by_test_id("raster-submit").click()
            expect(page.get_by_test_id("raster-status")).to_contain_text("已提交")
            row = page.locator("#my-submissions tbody tr").first
            expect(row.get_by_test_id("submission-status")).to_have_attribute("data-status", "submitted")

            # the reviewer opens it and sees the preview and the facts
            page.get_by_test_id("logout-button").click()
            page.wait_for_url("**/workbench/")
            page.get_by_test_id("username").fill("reviewer")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/review")
            page.locator("[data-testid^=view-]").first.click()
            expect(page.get_by_test_id("raster-facts")).to_contain_text("precip · 60×60 · min 1,300")
            page.wait_for_function("() => document.querySelector('[data-testid=raster-preview]').naturalWidth > 0")
        finally:
            browser.close()
    assert not errors, errors
