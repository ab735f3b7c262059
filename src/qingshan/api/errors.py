"""Domain errors → HTTP status codes, decided once at the edge (one table, one handler).

Library code raises :class:`~qingshan.core.errors.QingshanError` subclasses and never imports
FastAPI; the body of every error response is the bilingual :meth:`QingshanError.to_dict`.
"""

from __future__ import annotations

import errno

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from qingshan.api.limits import BodyTooLargeError
from qingshan.api.vendor import VendorMissingError
from qingshan.core.errors import (
    ArtifactIntegrityError,
    ConfigError,
    InputError,
    QingshanError,
    RegionError,
    StorageError,
    UnitsError,
    UnknownIndicatorError,
)
from qingshan.core.limits import LimitExceededError, clip
from qingshan.core.redact import redact_mapping
from qingshan.platform.errors import (
    AuthenticationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    StateError,
    TooManyAttemptsError,
    TooManyOpenUploadsError,
)

__all__ = ["STATUS_CODES", "NotFoundError", "RunNotReadyError", "add_exception_handlers", "status_of"]


class RunNotReadyError(QingshanError):
    """The run exists but has not succeeded (still running, or failed): it has no results."""

    code = "run_not_ready"


# Checked in order: the first class the error is an instance of gives the status.
STATUS_CODES: tuple[tuple[type[Exception], int], ...] = (
    (TooManyAttemptsError, 429),
    (TooManyOpenUploadsError, 429),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (ConflictError, 409),
    (ArtifactIntegrityError, 409),
    (StateError, 409),
    (UnknownIndicatorError, 404),
    (RegionError, 404),
    (NotFoundError, 404),
    (RunNotReadyError, 409),
    (LookupError, 404),
    (LimitExceededError, 413),
    (ConfigError, 422),
    (InputError, 422),
    (UnitsError, 422),
    (VendorMissingError, 503),
    (StorageError, 507),  # the server's disk is full: not the request's fault
)


def status_of(exc: QingshanError) -> int:
    """HTTP status of a domain error (400 for any error the table does not list)."""
    return next((status for cls, status in STATUS_CODES if isinstance(exc, cls)), 400)


async def _qingshan_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QingshanError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": 'Bearer realm="qingshan"'} if status == 401 else None
    return JSONResponse(safe_body(exc), status_code=status, headers=headers)


def safe_body(exc: QingshanError) -> dict[str, object]:
    """The bilingual body of ``exc`` without server filesystem paths (a file is named by its name only)."""
    return redact_mapping(exc.to_dict())


async def _body_too_large(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLargeError)
    return JSONResponse(safe_body(exc.error), status_code=413, headers={"Connection": "close"})


def _clipped(errors: list[dict[str, object]]) -> list[dict[str, object]]:
    """Validation errors with the offending input shortened (a huge field is not echoed back)."""
    return [{**e, "input": clip(e["input"], 200)} if isinstance(e.get("input"), str | bytes) else e for e in errors]


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    body = {
        "error": "validation_error",
        "message_en": "Invalid request parameters.",
        "message_zh": "请求参数无效。",
        "file": None,
        "field": ", ".join(".".join(map(str, e.get("loc", ()))) for e in exc.errors()) or None,
        "fix": "See the parameter list in /docs.",
        "fix_zh": "请查看 /docs 中的参数说明。",
        "detail": _clipped(jsonable_encoder(exc.errors())),
    }
    return JSONResponse(body, status_code=422)


_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})
"""Operating-system errors that mean the server cannot write (disk full, quota, file size limit, read-only)."""


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError, or a database error wrapping SQLite's or PostgreSQL's) says the disk is full."""
    if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
        return True
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError
    text = f"{exc} {orig}".lower()
    return getattr(orig, "pgcode", None) == "53100" or "disk is full" in text or "no space left" in text


def _store_full() -> StorageError:
    return StorageError(
        "The server could not save this: its disk is full",
        "服务器无法保存：磁盘已满",
        field="storage",
        fix="Nothing was saved; tell the platform's administrator (free disk space), then send it again.",
        fix_zh="未保存任何内容；请通知平台管理员清理磁盘空间后重新提交。",
    )


_BUSY_PGCODES = frozenset({"55P03", "40P01", "40001", "57014"})
"""PostgreSQL: lock not available, deadlock, serialization failure, statement timeout (a lock waited too long)."""


def _store_busy(exc: BaseException) -> bool:
    """Whether a database error says the store was busy (another writer held it): SQLite's "database is locked"
    after its busy timeout, PostgreSQL's lock and serialization failures."""
    orig = getattr(exc, "orig", None)
    text = f"{exc} {orig}".lower()
    return getattr(orig, "pgcode", None) in _BUSY_PGCODES or "database is locked" in text or "database table is locked" in text


RETRY_AFTER_S = 5
"""Seconds a client is told to wait (``Retry-After``) when the store was busy."""


def _busy_body() -> dict[str, object]:
    return {
        "error": "store_busy",
        "message_en": "The platform's database was busy with another change and this request timed out; nothing of it was saved",
        "message_zh": "平台数据库正忙于其他修改，本次请求已超时，未保存任何内容",
        "file": None,
        "field": "storage",
        "fix": f"Send the same request again in {RETRY_AFTER_S} seconds.",
        "fix_zh": f"请在 {RETRY_AFTER_S} 秒后重新发送同一请求。",
    }


async def _os_error(_request: Request, exc: Exception) -> JSONResponse:
    """A full disk while handling a request: 507 with the bilingual error; a store busy with another writer
    (SQLite locked past its timeout, PostgreSQL lock or serialization failures): 503 with ``Retry-After`` (found:
    every write answered 500 while another connection held SQLite's write lock). Any other error: a 500."""
    if _disk_full(exc):
        return JSONResponse(safe_body(_store_full()), status_code=507)
    if _store_busy(exc):
        return JSONResponse(_busy_body(), status_code=503, headers={"Retry-After": str(RETRY_AFTER_S)})
    raise exc


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """A uniqueness rule of the store broke by a request racing another on the same object (two uploads of the same
    version number, two entries with one key): the loser gets a bilingual 409 — its transaction was rolled back, so
    nothing of it was saved — instead of a 500 (found by sending such requests at the same moment)."""
    body = {
        "error": "conflict",
        "message_en": "Another request changed the same record at the same moment; nothing of this one was saved",
        "message_zh": "另一请求同时修改了同一条记录，本次请求未保存任何内容",
        "file": None,
        "field": None,
        "fix": "Reload the object to see its current state, then send the request again if it is still needed.",
        "fix_zh": "请刷新查看其当前状态；如仍需要，请重新发送请求。",
    }
    return JSONResponse(body, status_code=409)


_HTTP_ZH = {400: "请求无效", 401: "未登录或登录已失效", 403: "无权访问", 404: "未找到", 405: "不支持该请求方法",
            406: "无法提供所请求的格式", 413: "请求内容过大", 415: "不支持的内容类型", 429: "请求过于频繁"}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's and FastAPI's own HTTP errors (an unknown path, a body that cannot be parsed: "There was an error
    parsing the body") in the bilingual body every other error has, with the same status and headers."""
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "Request refused"
    parse = "pars" in detail.lower() or "multipart" in detail.lower()
    body = {
        "error": "http_error",
        "message_en": detail,
        "message_zh": "请求正文无法解析" if parse else _HTTP_ZH.get(exc.status_code, "请求被拒绝"),
        "file": None,
        "field": "body" if parse else None,
        "fix": "Send a well-formed body (UTF-8 JSON, or multipart/form-data as /docs shows)." if parse
        else "See /docs for the available requests.",
        "fix_zh": "请发送格式正确的请求正文（UTF-8 编码的 JSON，或 /docs 所示的 multipart/form-data）。" if parse
        else "请查看 /docs 中可用的请求。",
    }
    return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))


def add_exception_handlers(app: FastAPI) -> None:
    """Install the bilingual handlers for domain errors and request validation errors."""
    app.add_exception_handler(QingshanError, _qingshan_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(BodyTooLargeError, _body_too_large)
    app.add_exception_handler(OSError, _os_error)  # a StorageError is a QingshanError: handled above
    app.add_exception_handler(OperationalError, _os_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
