"""Administration in a real headless Chromium: the administrator lands on the admin page, creates a
department user, disables another, resets a password, and reads the audit log filtered to user changes."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from qingshan.platform import accounts
from qingshan.store.db import open_store

pytestmark = pytest.mark.browser


def test_admin_manages_users_and_reads_the_audit_log(browser_kit: SimpleNamespace, base_url: str, store_url: str,
                                                     password: str) -> None:
    accounts.create_user(open_store(store_url), "root", password, "admin")
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
            page.goto(f"{base_url}/workbench/")
            page.get_by_test_id("username").fill("root")
            page.get_by_test_id("password").fill(password)
            page.get_by_test_id("login-button").click()
            page.wait_for_url("**/workbench/admin")  # the administrator's own page, not the accountant's

            # create a department user
            page.get_by_test_id("u-name").fill("dept-forestry")
            page.get_by_test_id("u-display").fill("林业局")
            page.get_by_test_id("u-department").fill("forestry")
            page.get_by_test_id("u-role").select_option("submitter")
            page.get_by_test_id("u-regions").fill("360100")
            page.get_by_test_id("u-forms").fill("products")
            page.get_by_test_id("u-password").fill("a long forest password")
            page.get_by_test_id("create-user").click()
            expect(page.get_by_test_id("create-user-status")).to_contain_text("已新建用户 dept-forestry")
            row = page.get_by_test_id("user-dept-forestry")
            expect(row.get_by_test_id("user-active")).to_have_text("启用")
            expect(row.get_by_test_id("user-department")).to_have_value("forestry")

            # a weak reset is refused with the policy's message; a good one passes
            page.get_by_test_id("new-password").fill("12345678")
            row.get_by_test_id("reset-dept-forestry").click()
            expect(page.get_by_test_id("users-status")).to_have_class("error")
            page.get_by_test_id("new-password").fill("another long password")
            page.get_by_test_id("user-dept-forestry").get_by_test_id("reset-dept-forestry").click()
            expect(page.get_by_test_id("users-status")).to_contain_text("密码已重置")

            # disable the reviewer
            page.get_by_test_id("user-reviewer").get_by_test_id("disable-reviewer").click()
            expect(page.get_by_test_id("user-reviewer").get_by_test_id("user-active")).to_have_text("已停用")

            # the audit log, filtered to user changes
            page.get_by_test_id("f-action").fill("user.*")
            page.get_by_test_id("audit-search").click()
            actions = page.get_by_test_id("audit").get_by_test_id("audit-action")
            expect(actions.first).to_have_text(re.compile(r"^user\."))
            # the unfiltered list also starts with a user change: wait until the filtered one has replaced it
            expect(actions.filter(has_not_text=re.compile(r"^user\."))).to_have_count(0)
            texts = actions.all_inner_texts()
            assert set(texts) == {"user.create", "user.update"} and texts.count("user.update") == 2, texts
            href = page.get_by_test_id("audit-export").get_attribute("href") or ""
            assert "action=user.*" in href.replace("%2A", "*")
            csv_text = page.evaluate("(u) => fetch(u).then((r) => r.text())", href)
            assert "user.create" in csv_text and "submission" not in csv_text
        finally:
            browser.close()
    assert not errors, errors
    # the disabled account cannot log in any more
    from qingshan.platform.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        accounts.authenticate(open_store(store_url), "reviewer", password)
    forestry = next(u for u in accounts.list_users(open_store(store_url)) if u.username == "dept-forestry")
    assert forestry.department == "forestry"
