"""HTTP-level protections of the web service: CSRF check, security headers, local API docs.

CSRF
    A browser sends the session cookie with any request to this host, also one a hostile page
    triggers (a cross-origin form POST). Every unsafe request (POST, PUT, PATCH, DELETE) that is
    not authenticated by an ``Authorization: Bearer`` header (which a hostile page cannot set
    without CORS, and this service allows no CORS) must therefore come from the served host: its
    ``Origin`` (or, without it, its ``Referer``) must name the request's own ``Host`` or one of
    ``Settings.trusted_origins``. A request carrying the session cookie and neither header, or a
    cross-origin one, is refused with 403 (bilingual). Browsers send ``Origin`` on every POST.

Headers (every response)
    ``Content-Security-Policy`` — scripts only from this host plus the inline scripts of our own
    pages by SHA-256 hash (no ``'unsafe-inline'`` for scripts); styles allow ``'unsafe-inline'``
    because ECharts tooltips and ReDoc write style attributes (styles cannot run code); MapLibre's
    workers need ``worker-src blob:``; ``frame-ancestors 'none'``. Also
    ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy:
    same-origin``, ``Cross-Origin-Opener-Policy: same-origin``. ``qingshan serve`` runs uvicorn
    without its ``server`` banner.

Docs
    ``/docs`` (Swagger UI) and ``/redoc`` load their scripts from ``/static/vendor/`` (built from
    npm by ``web/build.mjs``), never from a CDN.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qingshan.api.vendor import VENDOR_DIR, VendorMissingError
from qingshan.platform.auth import COOKIE_NAME
from qingshan.platform.errors import PermissionDeniedError

__all__ = ["DOCS_FILES", "CsrfError", "SecurityMiddleware", "add_local_docs", "content_security_policy",
           "inline_script_hashes"]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DOCS_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "swagger-ui-favicon-32x32.png", "redoc.standalone.js")
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S | re.I)


class CsrfError(PermissionDeniedError):
    """An unsafe cookie-authenticated request that does not come from the served host (HTTP 403)."""

    code = "csrf_rejected"


def inline_script_hashes(html_texts: Iterable[str]) -> list[str]:
    """CSP source expressions ``'sha256-…'`` of the inline ``<script>`` blocks of ``html_texts``."""
    out: list[str] = []
    for text in html_texts:
        for body in _INLINE_SCRIPT.findall(text):
            digest = base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode()
            if f"'sha256-{digest}'" not in out:
                out.append(f"'sha256-{digest}'")
    return out


def page_script_hashes(static_dir: Path) -> list[str]:
    """Hashes of the inline scripts of every HTML page under ``static_dir`` (read once at start-up)."""
    return inline_script_hashes(p.read_text(encoding="utf-8") for p in sorted(static_dir.rglob("*.html")))


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The CSP header value: this host only; inline scripts only by hash."""
    scripts = " ".join(["'self'", *script_hashes])
    return "; ".join([
        "default-src 'self'",
        f"script-src {scripts}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "child-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def _has_session_cookie(cookie_header: str) -> bool:
    return any(part.strip().startswith(f"{COOKIE_NAME}=") for part in cookie_header.split(";"))


def _origin_of(headers: dict[str, str]) -> str | None:
    origin = headers.get("origin")
    if origin and origin != "null":
        return origin
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return f"{parts.scheme}://{parts.netloc}" if parts.netloc else None
    return "null" if origin == "null" else None


LOGIN_PATH = "/api/auth/login"  # uses no session's authority: checked only when it names an origin


def csrf_violation(method: str, path: str, headers: dict[str, str], trusted: Iterable[str]) -> str | None:
    """Why an unsafe request must be refused (``None``: allowed). Bearer-authenticated requests
    and requests without the session cookie and without an origin (scripts, curl) are allowed."""
    if method not in UNSAFE_METHODS or headers.get("authorization", "").lower().startswith("bearer "):
        return None
    origin = _origin_of(headers)
    if origin is None:
        cookie = _has_session_cookie(headers.get("cookie", ""))
        return "no Origin or Referer header" if cookie and path != LOGIN_PATH else None
    host = headers.get("host", "").lower()
    netloc = urlsplit(origin).netloc.lower()
    if (host and netloc == host) or origin.rstrip("/").lower() in {t.rstrip("/").lower() for t in trusted}:
        return None
    return f"origin {origin!r} is not this host"


class SecurityMiddleware:
    """ASGI middleware: CSRF check of unsafe requests and security headers on every response."""

    def __init__(self, app: ASGIApp, *, csp: str, trusted_origins: Iterable[str] = (), hsts: bool = False) -> None:
        self.app = app
        self.trusted = tuple(trusted_origins)
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:  # served over TLS (secure cookies): browsers keep to https for a year
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        why = csrf_violation(scope["method"], scope["path"], _headers(scope), self.trusted)
        if why is not None:
            await self._refuse(why, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    async def _refuse(why: str, send: Send) -> None:
        err = CsrfError(
            f"Cross-site request refused ({why}): changes need a request from this site's own pages",
            f"已拒绝跨站请求（{why}）：修改操作必须来自本站页面",
            field="origin",
            fix="Use the workbench pages of this host, or send the token as 'Authorization: Bearer <token>'.",
            fix_zh="请在本站工作台页面操作，或以 “Authorization: Bearer <令牌>” 方式调用接口。",
        )
        body = json.dumps(err.to_dict(), ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _require_docs_files() -> None:
    missing = [n for n in DOCS_FILES if not (VENDOR_DIR / n).is_file()]
    if missing:
        raise VendorMissingError(
            f"The API documentation assets are missing: {', '.join(missing)}",
            f"接口文档页面的资源文件缺失：{', '.join(missing)}",
            file=VENDOR_DIR, field="static/vendor",
            fix="Build them from the npm registry: `cd web && npm ci && npm run build` (or `make install`).",
            fix_zh="请从 npm 仓库构建：`cd web && npm ci && npm run build`（或运行 `make install`）。",
        )


def _with_csp(response: HTMLResponse, extra_scripts: list[str]) -> HTMLResponse:
    html = bytes(response.body).decode("utf-8")
    response.headers["content-security-policy"] = content_security_policy(
        [*extra_scripts, *inline_script_hashes([html])])
    return response


def add_local_docs(app: FastAPI, script_hashes: list[str]) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` with the assets in ``static/vendor/``."""
    openapi_url = str(app.openapi_url)
    title = app.title
    oauth_url = "/docs/oauth2-redirect"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        _require_docs_files()
        params: dict[str, Any] = {"validatorUrl": None}
        return _with_csp(get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{title} · API", oauth2_redirect_url=oauth_url,
            swagger_js_url="/static/vendor/swagger-ui-bundle.js", swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-ui-favicon-32x32.png", swagger_ui_parameters=params,
        ), script_hashes)

    @app.get(oauth_url, include_in_schema=False)
    def swagger_ui_redirect() -> HTMLResponse:
        return _with_csp(get_swagger_ui_oauth2_redirect_html(), script_hashes)

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        _require_docs_files()
        return _with_csp(get_redoc_html(
            openapi_url=openapi_url, title=f"{title} · ReDoc", redoc_js_url="/static/vendor/redoc.standalone.js",
            redoc_favicon_url="/static/vendor/swagger-ui-favicon-32x32.png", with_google_fonts=False,
        ), script_hashes)
