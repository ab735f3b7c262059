"""The reporting system in a real headless Chromium: the accountant issues a reporting task, sees who has
not reported and sends a reminder (催报); the department's submitter sees the reminder on the page."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from qingshan.store.db import open_store
from qingshan.store.platform_models import ReportingReminder

pytestmark = pytest.mark.browser


def _log_in(page: Any, base_url: str, username: str, password: str, landing: str) -> None:
    page.goto(f"{base_url}/workbench/")
    page.get_by_test_id("username").fill(username)
    page.get_by_test_id("password").fill(password)
    page.get_by_test_id("login-button").click()
    page.wait_for_url(f"**/workbench/{landing}")


def test_issue_task_follow_progress_and_remind(browser_kit: SimpleNamespace, base_url: str, store_url: str,
                                               password: str) -> None:
    sync_api = browser_kit.sync_api
    expect = sync_api.expect
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

            # the accountant issues the task from the workbench's link
            _log_in(page, base_url, "accountant", password, "review")
            page.get_by_test_id("reporting-link").click()
            page.wait_for_url("**/workbench/reporting")
            page.get_by_test_id("form-no").fill("赣生核1表")
            page.get_by_test_id("group").select_option("products")
            page.get_by_test_id("deadline").fill("2020-03-31")
            page.get_by_test_id("title-zh").fill("2019 年生态产品产量")
            page.get_by_test_id("units").fill("360102, 360111 360200")
            page.get_by_test_id("create-task").click()
            expect(page.get_by_test_id("create-status")).to_contain_text("已下发任务")
            table = page.get_by_test_id("units-table")
            expect(table.locator("[data-testid=unit-360102] [data-testid=unit-status]")).to_have_text("未报")
            expect(table.locator("[data-testid=unit-360102] [data-testid=unit-overdue]")).to_have_text("是")
            expect(page.locator("[data-testid^=task-] [data-testid=task-reported]").first).to_have_text("0 / 3")

            # 催报 one unit: recorded and counted on the page
            page.get_by_test_id("remind-message").fill("请尽快填报")
            page.get_by_test_id("remind-360102").click()
            expect(page.get_by_test_id("progress-status")).to_contain_text("已催报 1 个单位")
            expect(table.locator("[data-testid=unit-360102] [data-testid=unit-reminders]")).to_have_text("1")
            page.get_by_test_id("logout-button").click()
            page.wait_for_url("**/workbench/")

            # the department's submitter sees the reminder addressed to Nanchang's unit
            _log_in(page, base_url, "dept-agri", password, "submit")
            page.get_by_test_id("reporting-link").click()
            page.wait_for_url("**/workbench/reporting")
            panel = page.get_by_test_id("reminders-panel")
            expect(panel).to_be_visible()
            expect(panel.get_by_test_id("reminder-unit")).to_have_text("360102")
            expect(panel.get_by_test_id("reminder-status")).to_have_text("未报")
            expect(page.get_by_test_id("create-panel")).to_be_hidden()
        finally:
            browser.close()
    assert not errors, errors
    assert not outside, outside
    with open_store(store_url)() as s:
        rows = list(s.scalars(select(ReportingReminder)))
    assert [(r.region_code, r.sent_by, r.message) for r in rows] == [("360102", "accountant", "请尽快填报")]
