"""Review that sees the data, in a real headless Chromium: the reviewer opens a submission from the review
list, sees its rows against last year with the plausibility flags, comments on the suspicious row and
rejects it; the submitter then reads the comment on that row."""

from __future__ import annotations

import io
import re
from types import SimpleNamespace
from typing import Any

import pytest
from openpyxl import load_workbook

from qingshan.platform import auth, submissions
from qingshan.platform.forms import build_template, get_group
from qingshan.store.db import open_store

pytestmark = pytest.mark.browser


def _form(rows: list[list[Any]], year: int) -> bytes:
    wb = load_workbook(io.BytesIO(build_template(get_group("products"), year, [("360102", "东湖区")])))
    for i, row in enumerate(rows, start=3):
        for j, v in enumerate(row, start=1):
            wb["data"].cell(row=i, column=j, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _prepare(store_url: str, password: str) -> tuple[int, int]:
    """2018 approved; 2019 submitted with a +100 % row and a 10 000× row."""
    factory = open_store(store_url)
    dept, _ = auth.login(factory, "dept-agri", password)
    rev, _ = auth.login(factory, "reviewer", password)
    d = submissions.upload_form(factory, dept, "products", 2018, "p2018.xlsx", _form(
        [["360102", "东湖区", 2018, "rice", 1.0, "万t", "survey"], ["360121", "南昌县", 2018, "rice", 40.0, "万t", "survey"]], 2018))
    submissions.submit(factory, dept, d["id"], 1)
    submissions.review(factory, rev, d["id"], 1, approve=True)
    d = submissions.upload_form(factory, dept, "products", 2019, "p2019.xlsx", _form(
        [["360102", "东湖区", 2019, "rice", 2.0, "万t", "survey"], ["360121", "南昌县", 2019, "rice", 400000.0, "万t", "survey"]], 2019))
    submissions.submit(factory, dept, d["id"], 1)
    return d["id"], 1


def test_reviewer_sees_rows_flags_and_comments_per_row(browser_kit: SimpleNamespace, base_url: str, store_url: str,
                                                       password: str) -> None:
    sid, ver = _prepare(store_url, password)
    sync_api = browser_kit.sync_api
    expect = sync_api.expect
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_kit.chromium, args=browser_kit.args, headless=True)
        try:
            context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
            context.set_default_timeout(15_000)
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
            for user, landing in (("reviewer", "review"),):
                page.goto(f"{base_url}/workbench/")
                page.get_by_test_id("username").fill(user)
                page.get_by_test_id("password").fill(password)
                page.get_by_test_id("login-button").click()
                page.wait_for_url(f"**/workbench/{landing}")
            page.get_by_test_id(f"view-{sid}-{ver}").click()
            page.wait_for_url(re.compile(r".*/workbench/submission\?id=\d+&version=1$"))
            big = page.get_by_test_id("row-360121-rice")
            expect(big.get_by_test_id("flag-bounds")).to_have_attribute("data-severity", "error")
            expect(big.get_by_test_id("row-last-year")).to_have_text(re.compile(r"^40 万t$"))
            small = page.get_by_test_id("row-360102-rice")
            expect(small.get_by_test_id("row-change")).to_have_text("+100.0%")
            expect(small.get_by_test_id("flag-jump")).to_be_visible()
            expect(page.get_by_test_id("counts")).to_contain_text("2 行有提示")
            assert page.get_by_test_id("file-link").get_attribute("href") == f"/api/submissions/{sid}/versions/1/file"

            page.get_by_test_id("comment-input-360121").fill("单位应为 t")
            page.get_by_test_id("comment-add-360121").click()
            expect(big.get_by_test_id("row-comment")).to_have_text("reviewer: 单位应为 t")
            page.get_by_test_id("decision-comment").fill("南昌县数值请核实")
            page.get_by_test_id("reject").click()
            expect(page.get_by_test_id("version-status")).to_have_attribute("data-status", "rejected")
            expect(page.get_by_test_id("decide")).to_be_hidden()

            # the submitter opens the same page and reads the row's comment
            page.get_by_test_id("logout-button").click()
            page.wait_for_url("**/workbench/")
            page.get_by_test_id("username").fill("dept-agri")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/submit")
            page.goto(f"{base_url}/workbench/submission?id={sid}&version=1")
            expect(page.get_by_test_id("row-360121-rice").get_by_test_id("row-comment")).to_have_text("reviewer: 单位应为 t")
            expect(page.get_by_test_id("comment-input-360121")).to_have_count(0)
        finally:
            browser.close()
    assert not errors, errors
