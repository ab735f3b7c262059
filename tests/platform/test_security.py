"""Security of the web service and the accounts (issue 8, build item 4).

Findings reproduced: a cross-origin form POST withdrew a published run (no CSRF protection beyond
SameSite=Lax); sessions survived a password change; a lockout per username let anyone lock any
account; login time revealed which usernames exist (215 ms vs 11 ms); ``12345678`` was an accepted
admin password; usernames with NUL, RTL overrides or full-width look-alikes were accepted; no CSP,
nosniff, frame or referrer headers; ``/docs`` loaded Swagger UI from a CDN.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from platform_support import PASSWORD
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from qingshan.api.app import create_app
from qingshan.api.routers.pages import STATIC_DIR
from qingshan.api.settings import Settings
from qingshan.core.errors import InputError
from qingshan.platform import accounts, jobs
from qingshan.platform import auth as auth_svc
from qingshan.platform.audit import Actor
from qingshan.platform.errors import ConflictError, TooManyAttemptsError
from qingshan.store import repo
from qingshan.store.platform_models import User, UserSession

Factory = sessionmaker[Session]
ORIGIN = "http://testserver"  # the host TestClient requests go to
EVIL = "http://evil.example"


def login_cookie(client: TestClient, username: str) -> None:
    """Log in as a browser does: the session is in the client's cookie jar."""
    r = client.post("/api/auth/login", json={"username": username, "password": PASSWORD}, headers={"Origin": ORIGIN})
    assert r.status_code == 200, r.text
    assert client.cookies.get(auth_svc.COOKIE_NAME)


@pytest.fixture
def published_run(factory: Factory) -> str:
    repo.start_run(factory, run_id="pub", name="t", profile="p", years=[2019], base_year=None, config={},
                   code_version="t")
    repo.finish_run_succeeded(factory, "pub", results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                              provenance={}, output_dir=None, content_hash="0" * 64)
    for action in ("approve", "publish"):
        jobs.set_publication(factory, Actor("admin", "admin"), "pub", action)
    return "pub"


# ----------------------------------------------------------------------------- CSRF
def test_cross_origin_form_post_cannot_withdraw_a_published_run(client: TestClient, factory: Factory,
                                                                 published_run: str) -> None:
    login_cookie(client, "accountant")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post(f"/api/runs/{published_run}/withdraw", content=b"x=1", headers={**form, "Origin": EVIL})
    assert r.status_code == 403
    body = r.json()
    assert body["error"] == "csrf_rejected" and "跨站" in body["message_zh"] and "Cross-site" in body["message_en"]
    assert jobs.publication_of(factory, published_run)["state"] == "published"  # type: ignore[index]
    # also refused: a forged Referer, an opaque origin (sandboxed frame), and no origin at all with the cookie
    for headers in ({"Referer": f"{EVIL}/page"}, {"Origin": "null"}, {}):
        assert client.post(f"/api/runs/{published_run}/withdraw", headers=headers).status_code == 403, headers
    assert jobs.publication_of(factory, published_run)["state"] == "published"  # type: ignore[index]
    # the workbench's own request (same origin) works
    r = client.post(f"/api/runs/{published_run}/withdraw", headers={"Origin": ORIGIN})
    assert r.status_code == 200 and r.json()["state"] == "approved"
    r = client.post(f"/api/runs/{published_run}/publish", headers={"Referer": f"{ORIGIN}/workbench/review"})
    assert r.status_code == 200


def test_bearer_requests_are_exempt_and_login_from_another_site_is_refused(
        client: TestClient, auth: Callable[[str], dict[str, str]], published_run: str) -> None:
    acc = auth("accountant")
    assert client.post(f"/api/runs/{published_run}/withdraw", headers={**acc, "Origin": EVIL}).status_code == 200
    r = client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD}, headers={"Origin": EVIL})
    assert r.status_code == 403 and auth_svc.COOKIE_NAME not in r.headers.get("set-cookie", "")


def test_trusted_origins_setting(store_url: str) -> None:
    proxy = "https://gep.example.gov.cn"
    with TestClient(create_app(Settings(store_url=store_url, trusted_origins=(proxy,)))) as c:
        login_cookie(c, "viewer")
        assert c.post("/api/auth/logout", headers={"Origin": proxy}).status_code == 204


# ----------------------------------------------------------------------------- headers
def _script_src(csp: str) -> str:
    return next(d for d in csp.split(";") if d.strip().startswith("script-src"))


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/runs", "/api/runs/nope", "/api/auth/me", "/workbench/",
                                  "/workbench/review", "/workbench/catalog", "/api/catalog", "/static/app.js", "/docs",
                                  "/redoc", "/openapi.json"])
def test_security_headers_on_every_response(client: TestClient, path: str) -> None:
    r = client.get(path)
    h = r.headers
    csp = h["content-security-policy"]
    assert "'unsafe-inline'" not in _script_src(csp) and "'unsafe-eval'" not in _script_src(csp)
    assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp and "object-src 'none'" in csp
    assert "worker-src 'self' blob:" in csp  # MapLibre's workers
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"] == "same-origin"
    assert "server" not in h


def test_hsts_only_behind_tls(client: TestClient, store_url: str) -> None:
    assert "strict-transport-security" not in client.get("/healthz").headers
    with TestClient(create_app(Settings(store_url=store_url, secure_cookies=True))) as c:
        assert c.get("/healthz").headers["strict-transport-security"].startswith("max-age=")


def test_inline_scripts_of_our_pages_are_allowed_by_hash_and_there_are_no_inline_handlers(client: TestClient) -> None:
    from qingshan.api.security import inline_script_hashes

    pages = sorted(STATIC_DIR.rglob("*.html"))
    assert pages
    csp = client.get("/").headers["content-security-policy"]
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for h in inline_script_hashes([text]):
            assert h in _script_src(csp), page
        # an inline event handler (onclick="…") would be blocked by the CSP
        assert not re.search(r"<[^>]+\son[a-z]+\s*=", text), page


def test_serve_runs_uvicorn_without_the_server_banner(monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    import uvicorn

    from qingshan.cli.serve import serve

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw))
    serve(host="127.0.0.1", port=8765, store=store_url)
    assert seen["server_header"] is False


# ----------------------------------------------------------------------------- local API docs
@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_use_local_assets_only(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    html = r.text
    assert "cdn" not in html.lower() and "googleapis" not in html
    assert not re.findall(r"(?:src|href)\s*=\s*[\"']?(?:https?:)?//", html)  # no external host
    assets = re.findall(r"(?:src|href)\s*=\s*[\"'](/static/[^\"']+)", html)
    assert assets
    for url in assets:
        assert client.get(url).status_code == 200, url
    assert "'unsafe-inline'" not in _script_src(r.headers["content-security-policy"])


# ----------------------------------------------------------------------------- sessions
def test_password_change_and_logout_end_sessions(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                 factory: Factory) -> None:
    viewer, second = auth("viewer"), auth("viewer")
    assert client.get("/api/auth/me", headers=viewer).status_code == 200
    uid = client.get("/api/auth/me", headers=viewer).json()["id"]
    r = client.patch(f"/api/users/{uid}", headers=auth("admin"), json={"password": "a new long passphrase"})
    assert r.status_code == 200
    assert client.get("/api/auth/me", headers=viewer).status_code == 401
    assert client.get("/api/auth/me", headers=second).status_code == 401
    with factory() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(UserSession).where(UserSession.user_id == uid)) == 0
    # logout ends the session on the server, not only the cookie
    _, token = auth_login(factory, "reviewer")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/auth/logout", headers=bearer).status_code == 204
    assert client.get("/api/auth/me", headers=bearer).status_code == 401


def auth_login(factory: Factory, username: str, **kw: Any) -> tuple[accounts.Principal, str]:
    return auth_svc.login(factory, username, PASSWORD, **kw)


def _shift_session(factory: Factory, token: str, **delta: timedelta) -> None:
    import hashlib

    digest = hashlib.sha256(token.encode()).hexdigest()
    with factory.begin() as s:
        row = s.get(UserSession, digest)
        assert row is not None
        for col, d in delta.items():
            setattr(row, col, getattr(row, col) - d)


def test_idle_and_absolute_expiry(factory: Factory) -> None:
    policy = auth_svc.SessionPolicy(idle_minutes=30, absolute_hours=8)
    p, token = auth_login(factory, "viewer", policy=policy)
    with factory() as s:
        row = s.scalars(sa.select(UserSession)).one()
        assert timedelta(minutes=29) < row.expires_at - row.created_at <= timedelta(minutes=30)
    # used after 20 idle minutes: still alive, and the idle deadline moves forward
    _shift_session(factory, token, created_at=timedelta(minutes=20), expires_at=timedelta(minutes=20))
    assert auth_svc.resolve_session(factory, token, policy) == p
    # idle for longer than 30 minutes: gone
    _shift_session(factory, token, expires_at=timedelta(minutes=31))
    assert auth_svc.resolve_session(factory, token, policy) is None
    # in use all the time, but older than the absolute lifetime: gone
    _, token = auth_login(factory, "viewer", policy=policy)
    _shift_session(factory, token, created_at=timedelta(hours=8, minutes=1))
    assert auth_svc.resolve_session(factory, token, policy) is None


def test_session_lifetimes_come_from_the_settings(store_url: str, factory: Factory) -> None:
    with TestClient(create_app(Settings(store_url=store_url, session_idle_minutes=5, session_absolute_hours=2))) as c:
        r = c.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert "Max-Age=7200" in r.headers["set-cookie"]
        token = r.json()["token"]
        _shift_session(factory, token, expires_at=timedelta(minutes=6))
        assert c.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    env = Settings.from_env({"QINGSHAN_SESSION_IDLE_MINUTES": "15", "QINGSHAN_SESSION_HOURS": "4",
                             "QINGSHAN_TRUSTED_ORIGINS": "https://a.example/, https://b.example"})
    assert (env.session_idle_minutes, env.session_absolute_hours) == (15, 4)
    assert env.trusted_origins == ("https://a.example", "https://b.example")


# ----------------------------------------------------------------------------- passwords
@pytest.mark.parametrize("password", ["12345678", "short pw", "1234567890", "qwertyuiop", "Password123",
                                      "woaini1314", "ＱＷＥＲＴＹＵＩＯＰ", "dept-parks"])
def test_password_policy(client: TestClient, auth: Callable[[str], dict[str, str]], password: str) -> None:
    r = client.post("/api/users", headers=auth("admin"),
                    json={"username": "dept-parks", "password": password, "role": "viewer"})
    assert r.status_code == 422, r.text
    assert r.json()["field"] == "password" and r.json()["message_zh"]


def test_good_password_is_accepted_and_the_list_is_shipped() -> None:
    common = accounts.common_passwords()
    assert len(common) > 400 and "12345678" in common and "woaini1314" in common
    accounts.check_password("a long unusual passphrase")


def test_cli_users_add_refuses_a_common_password(store_url: str, factory: Factory) -> None:
    from qingshan.cli import app

    result = CliRunner().invoke(app, ["users", "add", "dept-cli", "--role", "admin", "--store", store_url,
                                      "--password-stdin"], input="12345678\n")
    assert result.exit_code != 0
    text = result.output + str(result.exception or "")
    assert "10" in text and ("密码" in text or "password" in text.lower())
    with factory() as s:
        assert s.scalar(sa.select(User).where(User.username == "dept-cli")) is None


# ----------------------------------------------------------------------------- login throttling and timing
def _client_from(store_url: str, ip: str) -> TestClient:
    return TestClient(create_app(Settings(store_url=store_url)), client=(ip, 50000))


def test_failed_logins_cannot_lock_the_owner_out(store_url: str) -> None:
    with _client_from(store_url, "203.0.113.9") as attacker, _client_from(store_url, "198.51.100.7") as owner:
        for _ in range(auth_svc.MAX_FAILED_LOGINS):
            assert attacker.post("/api/auth/login", json={"username": "viewer", "password": "guess guess"}
                                 ).status_code == 401
        r = attacker.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
        assert r.status_code == 429 and r.json()["message_zh"]
        # the owner, from another address, logs in with the right password
        assert owner.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD}).status_code == 200


def test_per_ip_limit_across_accounts(factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth_svc, "MAX_FAILED_LOGINS_PER_IP", 6)
    for i in range(6):  # six different (mostly unknown) accounts from one address
        with pytest.raises(auth_svc.AuthenticationError):
            auth_svc.login(factory, f"guess{i}", "wrong password", ip="192.0.2.1")
    with pytest.raises(TooManyAttemptsError):
        auth_svc.login(factory, "reviewer", PASSWORD, ip="192.0.2.1")
    assert auth_svc.login(factory, "reviewer", PASSWORD, ip="192.0.2.2")[0].username == "reviewer"


class _CountingHasher:
    """Wraps the Argon2 hasher and counts ``verify`` calls."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.verified = inner, 0

    def hash(self, password: str) -> str:
        return str(self.inner.hash(password))

    def verify(self, h: str, password: str) -> bool:
        self.verified += 1
        return bool(self.inner.verify(h, password))


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _CountingHasher:
    spy = _CountingHasher(accounts._hasher())
    monkeypatch.setattr(accounts, "_hasher", lambda: spy)
    return spy


@pytest.mark.parametrize(("username", "password"), [("nobody-here", "some password"), ("viewer", "wrong password"),
                                                    ("viewer", PASSWORD)])
def test_unknown_users_cost_one_argon2_verification_too(factory: Factory, counting: _CountingHasher,
                                                        username: str, password: str) -> None:
    with contextlib.suppress(accounts.AuthenticationError):
        accounts.authenticate(factory, username, password)
    assert counting.verified == 1


def test_disabled_user_costs_one_verification(factory: Factory, counting: _CountingHasher) -> None:
    uid = accounts.authenticate(factory, "viewer", PASSWORD).id
    accounts.update_user(factory, uid, actor=None, active=False)
    counting.verified = 0
    with pytest.raises(accounts.AuthenticationError):
        accounts.authenticate(factory, "viewer", PASSWORD)
    assert counting.verified == 1


# ----------------------------------------------------------------------------- usernames and scopes
@pytest.mark.parametrize("name", ["ad\x00min", "\u202eadmin", "ad\u200bmin", "adm\tin", "ad min", "\u2067x\u2069",
                                  "", "   ", "x" * 81])
def test_bad_usernames_are_refused(factory: Factory, name: str) -> None:
    with pytest.raises(InputError) as exc:
        accounts.create_user(factory, name, "a long unusual passphrase", "viewer")
    assert exc.value.field == "username" and exc.value.zh


@pytest.mark.parametrize("name", ['=HYPERLINK("http://x.invalid","a")', "+1", "-dept", "@SUM(A1)", "＝cmd"])
def test_usernames_read_as_formulas_are_refused(factory: Factory, client: TestClient,
                                                auth: Callable[[str], dict[str, str]], name: str) -> None:
    """The audit log's CSV export names the actor: a user called ``=HYPERLINK(...)`` ran as a formula when an
    administrator opened it in Excel or WPS (CSV injection). The full-width ``＝`` is ``=`` after NFKC."""
    with pytest.raises(InputError) as exc:
        accounts.create_user(factory, name, "a long unusual passphrase", "viewer")
    assert exc.value.field == "username" and "formula" in exc.value.en and "公式" in exc.value.zh
    r = client.post("/api/users", headers=auth("admin"),
                    json={"username": name, "password": "a long unusual passphrase", "role": "viewer"})
    assert r.status_code == 422 and r.json()["field"] == "username", r.text
    assert accounts.create_user(factory, "dept-" + name[1:4].strip("()\"'"), "a long unusual passphrase", "viewer")


def test_full_width_look_alikes_collide_with_the_existing_name(factory: Factory, client: TestClient,
                                                               auth: Callable[[str], dict[str, str]]) -> None:
    with pytest.raises(ConflictError):
        accounts.create_user(factory, "ａｄｍｉｎ", "a long unusual passphrase", "viewer")
    r = client.post("/api/users", headers=auth("admin"),
                    json={"username": "ｖｉｅｗｅｒ", "password": "a long unusual passphrase", "role": "viewer"})
    assert r.status_code == 409
    p = accounts.create_user(factory, "ｄｅｐｔ－ｗａｔｅｒ", "a long unusual passphrase", "viewer")
    assert p.username == "dept-water"
    assert accounts.authenticate(factory, "ｄｅｐｔ－ｗａｔｅｒ", "a long unusual passphrase").username == "dept-water"


@pytest.mark.parametrize(("role", "regions", "forms", "field"), [
    ("submitter", ["36"], ["products"], "regions"),
    ("submitter", ["3601000"], ["products"], "regions"),
    ("submitter", ["360100"], ["no-such-form"], "forms"),
    ("submitter", [], ["products"], "regions"),
    ("submitter", ["360100"], [], "forms"),
    ("viewer", ["abc"], [], "regions"),
])
def test_roles_regions_and_form_groups_are_validated(client: TestClient, auth: Callable[[str], dict[str, str]],
                                                      role: str, regions: list[str], forms: list[str],
                                                      field: str) -> None:
    r = client.post("/api/users", headers=auth("admin"), json={"username": "dept-x", "password": "a long passphrase",
                                                                "role": role, "regions": regions, "forms": forms})
    assert r.status_code == 422 and r.json()["field"] == field, r.text
    ok = client.post("/api/users", headers=auth("admin"),
                     json={"username": "dept-x", "password": "a long passphrase", "role": "submitter",
                           "regions": ["360100"], "forms": ["products", "rasters"]})
    assert ok.status_code == 201


def test_scope_is_validated_on_update(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    admin = auth("admin")
    uid = client.get("/api/users", headers=admin).json()
    sub = next(u for u in uid if u["username"] == "submitter")["id"]
    r = client.patch(f"/api/users/{sub}", headers=admin, json={"forms": ["nope"]})
    assert r.status_code == 422 and r.json()["field"] == "forms"

