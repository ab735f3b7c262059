"""A response cache for the public reads of published runs (dashboard traffic).

A published run never changes (its results are immutable), so the answer to an anonymous ``GET``
of one of its read endpoints depends only on the URL: it is computed once, kept in memory and
served with an ``ETag`` (a conditional request gets ``304 Not Modified``). What is cached:

* ``GET /api/indicators``, ``/api/indicators/{id}``, ``/api/profiles``: the catalogue, fixed for a
  given code version;
* ``GET /api/runs``: the list of published runs, keyed by the set of published run ids;
* ``GET /api/runs/{id}/{summary,regions,results,ranking,gdp}``: only while run ``id`` is
  published.

Only anonymous requests (no ``Authorization`` header, no session cookie) are cached, so staff, who
may see unpublished runs, always reach the handlers; only ``200`` answers are kept. The set of
published runs is read from the store at most once per :attr:`ResponseCache.ttl` seconds per
process (default 1 s), and at once when this process changes a publication (``epoch``): a withdrawal
takes effect immediately in the process that made it and within ``ttl`` in every other worker
process. ``ttl = 0`` checks the store on every request (about five times slower under load).
Memory is bounded (least-recently-used entries are dropped beyond ``max_bytes``).

This is a plain ASGI middleware (no ``BaseHTTPMiddleware``), so a hit costs one dictionary
lookup and no thread hop. Concurrent misses of one URL wait for the first to fill the entry,
so a cold cache under load computes each answer once per process.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CachedResponse", "ResponseCache"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_CATALOGUE = re.compile(r"^/api/(indicators(/[^/]+)?|profiles)$")
_RUN_READ = re.compile(r"^/api/runs/(?P<run>[^/]+)/(summary|regions|results|ranking|gdp)$")
_RUN_LIST = "/api/runs"
_SESSION_COOKIE = b"qingshan_session"
_KEEP_HEADERS = {b"content-type", b"content-disposition", b"content-language"}


@dataclass(frozen=True)
class CachedResponse:
    """A complete ``200`` answer: its headers (without length/ETag) and body."""

    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes


class ResponseCache:
    """ASGI middleware caching anonymous reads of published runs (see module docstring).

    ``published``: a callable returning the ids of the published runs (read from the store).
    """

    def __init__(self, app: ASGIApp, *, published: Callable[[], set[str]], ttl: float = 1.0,
                 max_bytes: int = 64 * 1024 * 1024, epoch: Callable[[], int] = lambda: 0) -> None:
        self.app = app
        self.published = published
        self.epoch = epoch
        self._epoch = -1
        self.ttl = ttl
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, ...], CachedResponse] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._pub: tuple[float, frozenset[str]] = (-1e9, frozenset())
        self._inflight: dict[tuple[str, ...], asyncio.Event] = {}

    # ------------------------------------------------------------------ ASGI entry point
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self._key(scope) if scope["type"] == "http" else None
        if key is None:
            await self.app(scope, receive, send)
            return
        hit = self._get(key)
        if hit is None and key in self._inflight:  # another request is computing it: wait for that one
            await self._inflight[key].wait()
            hit = self._get(key)
        if hit is not None:
            await self._replay(hit, scope, send, state=b"hit")
            return
        event = self._inflight.setdefault(key, asyncio.Event())
        try:
            await self._fill(key, scope, receive, send)
        finally:
            event.set()
            self._inflight.pop(key, None)

    # ------------------------------------------------------------------ keys and validity
    def _key(self, scope: Scope) -> tuple[str, ...] | None:
        """Cache key of a cacheable request, or None."""
        if scope.get("method") not in ("GET", "HEAD") or _authenticated(scope):
            return None
        path: str = scope.get("path", "")
        query = _normal_query(scope.get("query_string", b""))
        if _CATALOGUE.match(path):
            return ("catalogue", path, query)
        if path == _RUN_LIST:
            return ("runs", path, query, ",".join(sorted(self._published())))
        m = _RUN_READ.match(path)
        if m and m.group("run") in self._published():
            return ("run", m.group("run"), path, query)
        return None

    def _published(self) -> frozenset[str]:
        now = time.monotonic()
        stamp, ids = self._pub
        epoch = self.epoch()
        if now - stamp > self.ttl or epoch != self._epoch:
            ids = frozenset(self.published())
            self._pub, self._epoch = (now, ids), epoch
            self._drop_unpublished(ids)
        return ids

    def _drop_unpublished(self, ids: frozenset[str]) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == "run" and k[1] not in ids]:
                self._size -= len(self._entries.pop(key).body)

    # ------------------------------------------------------------------ storage
    def _get(self, key: tuple[str, ...]) -> CachedResponse | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
            return hit

    def _put(self, key: tuple[str, ...], entry: CachedResponse) -> None:
        if len(entry.body) > self.max_bytes // 4:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= len(old.body)
            self._entries[key] = entry
            self._size += len(entry.body)
            while self._size > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._size -= len(dropped.body)

    def clear(self) -> None:
        """Forget every entry (tests, or after a code upgrade in-process)."""
        with self._lock:
            self._entries.clear()
            self._size = 0
            self._pub = (-1e9, frozenset())

    # ------------------------------------------------------------------ responses
    async def _replay(self, hit: CachedResponse, scope: Scope, send: Send, *, state: bytes) -> None:
        if _if_none_match(scope) == hit.etag:
            await send({"type": "http.response.start", "status": 304,
                        "headers": [(b"etag", hit.etag), *_cache_headers()]})
            await send({"type": "http.response.body", "body": b""})
            return
        body = b"" if scope.get("method") == "HEAD" else hit.body
        headers = [*hit.headers, (b"content-length", str(len(hit.body)).encode()), (b"etag", hit.etag),
                   *_cache_headers(), (b"x-qingshan-cache", state)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _fill(self, key: tuple[str, ...], scope: Scope, receive: Receive, send: Send) -> None:
        """Run the handler, buffer a 200 answer, store it and send it with its ETag."""
        start: Message = {}
        chunks: list[bytes] = []
        passthrough = False

        async def capture(message: Message) -> None:
            nonlocal passthrough, start
            if message["type"] == "http.response.start":
                if message["status"] != 200:
                    passthrough = True
                    await send(message)
                    return
                start = message
                return
            if passthrough:
                await send(message)
                return
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    body = b"".join(chunks)
                    headers = tuple((k.lower(), v) for k, v in start.get("headers", [])
                                    if k.lower() in _KEEP_HEADERS)
                    etag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
                    entry = CachedResponse(headers, body, etag)
                    self._put(key, entry)
                    await self._replay(entry, {**scope, "headers": []}, send, state=b"miss")

        await self.app(scope, receive, capture)


def _authenticated(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            return True
        if name == b"cookie" and _SESSION_COOKIE in value:
            return True
    return False


def _if_none_match(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", []):
        if name == b"if-none-match":
            return bytes(value).strip()
    return None


def _cache_headers() -> list[tuple[bytes, bytes]]:
    # Revalidate every time (a withdrawal must reach browsers), cheaply: a 304 has no body.
    return [(b"cache-control", b"public, no-cache"), (b"vary", b"cookie, authorization")]


def _normal_query(raw: bytes) -> str:
    """The query string with its parameters sorted, so ``?a=1&b=2`` and ``?b=2&a=1`` share an entry."""
    return "&".join(sorted(p for p in raw.decode("latin-1").split("&") if p))
