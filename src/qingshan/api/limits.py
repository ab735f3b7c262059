"""Request limits at the edge: body size (413 before the body is read) and JSON nesting depth (422).

A pure ASGI middleware, so it runs before any route parses anything:

* ``Content-Length`` above the limit → 413 at once, nothing read;
* a body streamed without a length is counted as it arrives and cut off at the limit (413);
* a JSON body (``application/json`` or ``+json``) may be at most ``json_bytes`` and nest at most
  ``json_depth`` levels (checked on the raw bytes, before ``json.loads``; a deeply nested body used
  to end in a RecursionError and a 500).

The limits are :attr:`qingshan.api.settings.Settings.limits` (:class:`qingshan.core.limits.Limits`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.exceptions import HTTPException

from qingshan.core.errors import QingshanError
from qingshan.core.limits import LimitExceededError, Limits, check_bytes, check_json_depth

__all__ = ["BodyTooLargeError", "LimitsMiddleware", "add_limits"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(HTTPException):
    """Raised inside ``receive`` when a streamed body passes the limit (an HTTPException, so that a
    route's body parsing passes it on instead of turning it into a 400)."""

    def __init__(self, error: QingshanError) -> None:
        super().__init__(413, error.en)
        self.error = error


def _header(scope: Scope, name: bytes) -> str:
    for k, v in scope.get("headers") or ():
        if k.lower() == name:
            return str(v.decode("latin-1"))
    return ""


def _is_json(ctype: str) -> bool:
    base = ctype.split(";", 1)[0].strip().lower()
    return base == "application/json" or base.endswith("+json")


async def _send_error(send: Send, error: QingshanError, status: int) -> None:
    body = json.dumps(error.to_dict(), ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _status(error: QingshanError) -> int:
    return 413 if isinstance(error, LimitExceededError) else 422


class LimitsMiddleware:
    """Bound every HTTP request body (see the module docstring)."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        ctype = _header(scope, b"content-type")
        is_json = _is_json(ctype)
        limit = self.limits.json_bytes if is_json else self.limits.request_bytes
        name = "json_bytes" if is_json else "request_bytes"
        try:
            length = int(_header(scope, b"content-length") or -1)
        except ValueError:
            length = -1
        try:
            check_bytes(length, limit, name=name, fix=_FIX[is_json][0], fix_zh=_FIX[is_json][1])
            if is_json:
                receive = await self._buffer_json(receive, limit, name)
            else:
                receive = self._counting(receive, limit, name)
        except QingshanError as exc:
            await _send_error(send, exc, _status(exc))
            return
        except BodyTooLargeError as exc:
            await _send_error(send, exc.error, 413)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except BodyTooLargeError as exc:
            if started:
                raise
            await _send_error(send, exc.error, 413)

    async def _buffer_json(self, receive: Receive, limit: int, name: str) -> Receive:
        """Read a JSON body whole (at most ``limit`` bytes), check its depth, and replay it."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return _replay([message], receive)
            chunk = message.get("body", b"")
            size += len(chunk)
            check_bytes(size, limit, name=name, fix=_FIX[True][0], fix_zh=_FIX[True][1])
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        check_json_depth(body, self.limits)
        return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)

    def _counting(self, receive: Receive, limit: int, name: str) -> Receive:
        size = 0

        async def counted() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                try:
                    check_bytes(size, limit, name=name, fix=_FIX[False][0], fix_zh=_FIX[False][1])
                except LimitExceededError as exc:
                    raise BodyTooLargeError(exc) from None
            return message

        return counted


def _replay(messages: list[Message], then: Receive) -> Receive:
    """``messages`` first, then the original ``receive`` (which waits for the disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


_FIX = {
    True: ("Send a smaller document: simplify the geometry or split it into several requests.",
           "请提交较小的文档：简化几何图形或拆分为多次请求。"),
    False: ("Split the upload into smaller files (e.g. one per city), or clip and compress the raster.",
            "请拆分为较小的文件（如每个市一个），或将栅格裁剪并压缩后上传。"),
}


def add_limits(app: Any, limits: Limits) -> None:
    """Install :class:`LimitsMiddleware` on a FastAPI/Starlette app."""
    app.add_middleware(LimitsMiddleware, limits=limits)
