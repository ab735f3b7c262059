"""The whole platform workflow in a real headless Chromium, over a fresh store and a real worker process.

A department submitter downloads the products form from the workbench, uploads it with one bad cell
and reads the bilingual per-cell error, uploads the fixed form and submits it; a reviewer approves it;
the accountant starts an accounting from the approved data, a separate ``qingshan worker --once``
process executes it while the page shows its progress; the accountant cannot approve their own run
(four-eyes), a second accountant approves and publishes it; an anonymous visitor then opens the public dashboard, finds the run, drills into a county and
switches language. Every step leaves a screenshot ``test-artifacts/e2e-*.png``.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import pytest
from openpyxl import load_workbook

from qingshan.engine.config import load_config
from qingshan.platform.jobs import default_base_config

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

COUNTY = "360124"  # 进贤县 in 南昌市 (360100), 江西省 (360000): the visitor drills down to it
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Two rows of rice statistics for districts of Nanchang; the second one's value (row 4, column E) is the bad cell.
GOOD_ROWS = [["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"],
             ["360111", "青山湖区", 2019, "rice", 3.5, "万t", "county survey"]]
BAD_ROWS = [GOOD_ROWS[0], [*GOOD_ROWS[1][:4], "lots", *GOOD_ROWS[1][5:]]]
JOB_ORDER = ["queued", "running", "succeeded"]


class Shots:
    """Numbered screenshots ``test-artifacts/e2e-NN-<name>.png``."""

    def __init__(self, page: Any) -> None:
        self.page, self.n = page, 0
        ARTIFACTS.mkdir(exist_ok=True)
        for old in ARTIFACTS.glob("e2e-*.png"):
            old.unlink()

    def __call__(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(ARTIFACTS / f"e2e-{self.n:02d}-{name}.png"), full_page=True)


def fill_form(template: bytes, rows: list[list[Any]]) -> bytes:
    """The downloaded template with ``rows`` written from row 3 of the data sheet (columns A–G)."""
    wb = load_workbook(io.BytesIO(template))
    ws = wb["data"]
    for i, row in enumerate(rows, start=3):
        for j, v in enumerate(row, start=1):
            ws.cell(row=i, column=j, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def log_in(w: SimpleNamespace, username: str, landing: str) -> None:
    """Log in through the workbench form and wait for the role's landing page."""
    page = w.page
    page.goto(f"{w.base_url}/workbench/")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(w.password)
    page.get_by_test_id("login-button").click()
    page.wait_for_url(f"**/workbench/{landing}")
    page.wait_for_selector(f"[data-testid=who]:has-text('{username}')")


def log_out(page: Any) -> None:
    """Log out through the header button; the session is gone afterwards."""
    page.get_by_test_id("logout-button").click()
    page.wait_for_url("**/workbench/")
    assert page.evaluate("fetch('/api/auth/me').then((r) => r.status)") == 401


def upload(w: SimpleNamespace, body: bytes, expected_version: int) -> None:
    """Choose the XLSX in the file input, upload it and wait for its check result."""
    page = w.page
    page.get_by_test_id("file-input").set_input_files(
        files=[{"name": "products-2019.xlsx", "mimeType": XLSX, "buffer": body}])
    page.get_by_test_id("upload-button").click()
    w.expect(page.get_by_test_id("upload-status")).to_contain_text(f"第 {expected_version} 版")


def click_lonlat(page: Any, lon: float, lat: float) -> None:
    """Click the dashboard map where (lon, lat) is drawn (either renderer projects it)."""
    x, y = page.evaluate("([lon, lat]) => window.qingshanDashboard.project(lon, lat)", [lon, lat])
    box = page.locator("#map").bounding_box()
    assert 0 <= x <= box["width"] and 0 <= y <= box["height"], (x, y, box)
    page.mouse.click(box["x"] + x, box["y"] + y)


def wait_drilled(page: Any, depth: int) -> None:
    page.wait_for_function(
        "d => window.qingshanDashboard.state.path.length === d && document.querySelector('#map').dataset.ready === 'true'",
        arg=depth)


def county_point() -> tuple[float, float, str]:
    """A point inside the county (lon, lat in degrees) and its name, from the example boundaries."""
    regions = load_config(default_base_config()).regions
    gdf = gpd.read_file(regions.file).to_crs("EPSG:4326")
    row = gdf[gdf["district_adcode"].astype(str) == COUNTY].iloc[0]
    p = row.geometry.representative_point()
    return p.x, p.y, str(row["district_name"])


def start_worker(store_url: str, out: Path) -> subprocess.Popen[bytes]:
    """``qingshan worker --once`` as a separate process, as deployed (not in the request thread);
    its output goes to ``out/worker.log``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "worker.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "qingshan.cli.platform", "worker", "--store", store_url, "--once",
             "--output", str(out), "--poll", "0.1"],
            stdout=log, stderr=subprocess.STDOUT)


def watch_job(w: SimpleNamespace, job: Any, worker: subprocess.Popen[bytes]) -> list[tuple[str, str]]:
    """Read the job's (status, percent) off the page until the worker exits (≤ 120 s); the page
    refreshes itself every second while the job is active. A screenshot of the first 'running' seen."""
    seen: list[tuple[str, str]] = []
    for _ in range(480):
        if worker.poll() is not None:
            break
        state = (job.get_by_test_id("job-status").get_attribute("data-status") or "",
                 job.get_by_test_id("job-percent").inner_text())
        if state[0] == "running" and all(s != "running" for s, _ in seen):
            w.shot("accountant-running")
        if not seen or seen[-1] != state:
            seen.append(state)
        w.page.wait_for_timeout(250)
    return seen


def submitter_steps(w: SimpleNamespace) -> None:
    """Download the template, upload with one bad cell, read the error in both languages, fix, submit."""
    page, expect, shot = w.page, w.expect, w.shot
    log_in(w, "dept-agri", "submit")
    expect(page.get_by_test_id("group-select")).to_have_value("products")
    shot("submitter-start")
    with page.expect_download() as dl:
        page.get_by_test_id("download-template").click()
    template = Path(dl.value.path()).read_bytes()
    assert dl.value.suggested_filename == "qingshan-form-products-2019.xlsx"
    lists = load_workbook(io.BytesIO(template))["lists"]
    offered = {str(c): n for c, n in lists.iter_rows(min_row=2, min_col=3, max_col=4, values_only=True) if c}
    assert offered["360102"] == "东湖区" and all(c.startswith("3601") for c in offered)  # scoped to Nanchang

    upload(w, fill_form(template, BAD_ROWS), 1)
    errors = page.get_by_test_id("cell-error")
    expect(errors).to_have_count(1)
    expect(errors.locator("td").nth(1)).to_have_text("4")  # row 4
    expect(errors.locator("td").nth(2)).to_have_text("E")  # column E (value)
    expect(errors.get_by_test_id("cell-error-message")).to_contain_text("第 4 行 E 列")
    expect(page.get_by_test_id("upload-status")).to_contain_text("1 处错误")
    expect(page.get_by_test_id("submit-button")).to_be_disabled()
    shot("submitter-error-zh")
    page.get_by_test_id("lang-toggle").click()
    expect(errors.get_by_test_id("cell-error-message")).to_contain_text("row 4, column E")
    expect(page.locator("#errors-title")).to_have_text("2. Check results")
    shot("submitter-error-en")
    page.get_by_test_id("lang-toggle").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")

    upload(w, fill_form(template, GOOD_ROWS), 2)
    expect(page.get_by_test_id("upload-status")).to_contain_text("校验通过")
    expect(page.get_by_test_id("cell-error")).to_have_count(0)
    page.get_by_test_id("submit-button").click()
    expect(page.get_by_test_id("submit-status")).to_have_text("已提交，等待审核。")
    mine = page.locator("#my-submissions tbody tr")
    expect(mine).to_have_count(1)  # version 2 of the same submission, not a second one
    expect(mine.get_by_test_id("submission-status")).to_have_attribute("data-status", "submitted")
    expect(mine.get_by_test_id("submission-status")).to_have_text("已提交")
    shot("submitter-submitted")
    log_out(page)


def reviewer_steps(w: SimpleNamespace) -> None:
    """The reviewer approves the submitted version; the accounting section is not theirs."""
    page, expect, shot = w.page, w.expect, w.shot
    log_in(w, "reviewer", "review")
    expect(page.locator("#accounting")).to_be_hidden()
    row = page.locator("#submissions tbody tr")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("submission-status")).to_have_attribute("data-status", "submitted")
    expect(row.locator("td").nth(1)).to_have_text("产品与价格")  # the group's name, not its id
    page.get_by_test_id("review-comment").fill("核对无误")
    shot("reviewer-pending")
    row.get_by_role("button", name="通过").click()
    expect(row.get_by_test_id("submission-status")).to_have_attribute("data-status", "approved")
    expect(page.get_by_test_id("review-status")).to_have_text("已处理。")
    assert row.get_by_role("button").count() == 0  # approved is locked: no more review actions
    shot("reviewer-approved")
    log_out(page)


def accountant_steps(w: SimpleNamespace, store_url: str, out: Path) -> str:
    """Start an accounting, let a worker process run it while the page polls, approve and publish."""
    page, expect, shot = w.page, w.expect, w.shot
    log_in(w, "accountant", "review")
    approved = page.locator("#submissions tbody tr").get_by_test_id("submission-status")
    expect(approved).to_have_attribute("data-status", "approved")
    page.get_by_test_id("profile-input").select_option("jiangxi-db36-2021")
    page.get_by_test_id("years-input").fill("2019")
    page.get_by_test_id("base-input").select_option("example:jiangxi-2019")  # explicit, never a hidden default
    page.get_by_test_id("start-run").click()
    expect(page.get_by_test_id("run-status")).to_contain_text("已排队")
    job = page.locator("#jobs tbody tr")
    expect(job).to_have_count(1)
    expect(job.get_by_test_id("job-status")).to_have_attribute("data-status", "queued")
    shot("accountant-queued")

    worker = start_worker(store_url, out)
    try:
        seen = watch_job(w, job, worker)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait(timeout=10)
    assert worker.returncode == 0, (out / "worker.log").read_text()
    # what the page showed while the worker ran only ever moved forward: queued → running → succeeded
    ranks = [JOB_ORDER.index(status) for status, _ in seen]
    percents = [int(pct.rstrip("%")) for _, pct in seen]
    assert ranks == sorted(ranks) and percents == sorted(percents), seen
    expect(job.get_by_test_id("job-status")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    assert job.get_by_test_id("job-progress").evaluate("e => e.value") == 1
    expect(job.get_by_test_id("job-percent")).to_have_text("100%")
    expect(job.get_by_test_id("job-status")).to_have_text("已完成")
    expect(job.locator("td").nth(4)).to_have_text("done")
    expect(job.get_by_test_id("job-base")).to_contain_text("example:jiangxi-2019")
    expect(job.get_by_test_id("example-badge")).to_have_text("示例数据")
    expect(job.get_by_test_id("publication-state")).to_have_attribute("data-status", "draft")
    shot("accountant-succeeded")

    run_short = job.get_by_test_id("job-run").inner_text()
    # approval: the QC report first; the buttons work only once "I have read the QC report" is ticked
    panel = page.get_by_test_id("qc-panel")
    job.get_by_role("button", name="质量控制报告…").click()
    expect(panel).to_be_visible()
    expect(panel.get_by_test_id("qc-excluded")).to_contain_text("fishery_products")
    expect(panel.get_by_test_id("qc-unverified").locator("li").first).to_contain_text("[R]")
    approve = panel.get_by_role("button", name="审核通过")
    expect(approve).to_be_disabled()
    shot("accountant-qc-report")
    # four-eyes: the accountant who started the run cannot approve it, QC report read or not
    page.get_by_test_id("qc-ack").check()
    approve.click()
    expect(page.get_by_test_id("run-status")).to_contain_text("双人复核")
    expect(job.get_by_test_id("publication-state")).to_have_attribute("data-status", "draft")
    shot("accountant-four-eyes")
    run_id = page.evaluate("fetch('/api/jobs').then((r) => r.json()).then((j) => j[0].run_id)")
    assert run_id.startswith(run_short)
    log_out(page)
    return str(run_id)


def second_accountant_steps(w: SimpleNamespace) -> None:
    """A second accountant reads the QC report, approves and publishes the run (four-eyes)."""
    page, expect, shot = w.page, w.expect, w.shot
    log_in(w, "accountant-2", "review")
    job = page.locator("#jobs tbody tr")
    expect(job).to_have_count(1)
    expect(job.get_by_test_id("publication-state")).to_have_attribute("data-status", "draft")
    panel = page.get_by_test_id("qc-panel")
    job.get_by_role("button", name="质量控制报告…").click()
    # what the approver reads first: GEP by class, and the change from the last published run (none yet)
    expect(panel.get_by_test_id("preview-total")).to_contain_text(re.compile(r"江西省 2019 年 GEP [\d,.]+ 亿元"))
    expect(panel.get_by_test_id("preview-total")).to_contain_text("调节服务")
    expect(panel.get_by_test_id("preview-change")).to_have_text("尚无已发布的核算可比较。")
    approve = panel.get_by_role("button", name="审核通过")
    expect(approve).to_be_disabled()
    with page.expect_request(lambda r: r.url.endswith("/approve")) as sent:
        page.get_by_test_id("qc-ack").check()
        approve.click()
    assert json.loads(sent.value.post_data or "{}") == {"acknowledge_qc": True}
    expect(job.get_by_test_id("publication-state")).to_have_attribute("data-status", "approved")
    job.get_by_role("button", name="质量控制报告…").click()
    publish = panel.get_by_role("button", name="发布")
    expect(publish).to_be_disabled()
    page.get_by_test_id("qc-ack").check()
    publish.click()
    expect(job.get_by_test_id("publication-state")).to_have_attribute("data-status", "published")
    shot("accountant-published")
    log_out(page)


def visitor_steps(w: SimpleNamespace, run_id: str) -> None:
    """The public dashboard lists the new run, draws its map, drills into a county, switches language."""
    page, expect, shot = w.page, w.expect, w.shot
    lon, lat, name = county_point()
    page.goto(f"{w.base_url}/")
    page.wait_for_selector("#map[data-ready=true]")
    expect(page.get_by_test_id("run")).to_have_value(run_id)
    assert page.locator("#run option").count() == 1  # only published runs are public
    expect(page.locator("#run option")).to_contain_text("示例数据 example data")  # based on the embedded example
    shot("visitor-map")
    click_lonlat(page, lon, lat)  # the province → its cities
    wait_drilled(page, 1)
    click_lonlat(page, lon, lat)  # the city → its counties
    wait_drilled(page, 2)
    expect(page.locator("#panel-name")).to_have_text("南昌市")
    click_lonlat(page, lon, lat)  # the county: its panel
    expect(page.locator("#panel-name")).to_have_text(name)
    assert re.fullmatch(r"[\d,]+(\.\d+)?", page.locator("#panel-gep").inner_text())
    assert page.locator("#indicator-table tbody tr").count() >= 5
    shot("visitor-county-en")
    page.get_by_role("button", name=re.compile("Switch to Chinese")).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#panel h3").first).to_have_text("按类别")
    expect(page.locator("#panel-name")).to_have_text(name)
    shot("visitor-county-zh")


def docs_steps(w: SimpleNamespace) -> None:
    """/docs (Swagger UI) and /redoc render with local assets only (outside requests are aborted)."""
    page, expect, shot = w.page, w.expect, w.shot
    page.goto(f"{w.base_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Qingshan", timeout=30_000)
    shot("docs-swagger")
    page.goto(f"{w.base_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("Qingshan", timeout=30_000)
    shot("docs-redoc")


def public_rice(base_url: str, run_id: str) -> list[dict[str, Any]]:
    """Rows of the published run for 东湖区 rice, read anonymously through the API."""
    url = f"{base_url}/api/runs/{run_id}/results?region=360102&indicator=agricultural_products"
    with urllib.request.urlopen(url, timeout=10) as r:  # the loopback server of this test
        rows = json.load(r)["rows"]
    return [x for x in rows if x["component"] == "rice"]


def test_submit_fix_review_run_publish_and_visit(browser_kit: SimpleNamespace, base_url: str, store_url: str,
                                                 password: str, tmp_path: Path) -> None:
    sync_api = browser_kit.sync_api
    outside: list[str] = []
    page_errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_kit.chromium, args=browser_kit.args, headless=True)
        try:
            context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900},
                                          accept_downloads=True)
            context.set_default_timeout(15_000)
            context.route(re.compile(r"^(?!http://127\.0\.0\.1:).*"),
                          lambda route: (outside.append(route.request.url), route.abort()))
            page = context.new_page()
            page.on("pageerror", lambda e: page_errors.append(str(e)))
            page.on("console", lambda m: page_errors.append(m.text) if "Content Security Policy" in m.text else None)
            w = SimpleNamespace(page=page, expect=sync_api.expect, base_url=base_url, password=password,
                                shot=Shots(page))
            submitter_steps(w)
            reviewer_steps(w)
            run_id = accountant_steps(w, store_url, tmp_path / "jobs")
            second_accountant_steps(w)
            visitor_steps(w, run_id)
            docs_steps(w)
        finally:
            browser.close()
    assert not page_errors, page_errors
    assert not outside, f"the pages requested outside resources: {outside}"
    # the approved upload fed the run: 东湖区 0.9 万t of rice = 9000 t
    rice = public_rice(base_url, run_id)
    assert len(rice) == 1 and rice[0]["quantity"] == pytest.approx(9000.0)
