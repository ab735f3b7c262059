"""Resumable uploads of large rasters from the web (分片上传): announce, send chunks, complete.

1. :func:`start` announces the file: name, size, SHA-256 of the whole file (optional: a browser
   outside a secure context has no Web Crypto; the version still records the SHA-256 of the bytes
   assembled), the raster variable and year. The size is checked against ``upload_bytes`` before any byte is sent; the answer says the
   chunk size and how many chunks to send.
2. :func:`put_chunk` stores chunk *i* (any order). Sending a chunk again with the same bytes is a
   no-op (a retry after a lost answer); with different bytes it is refused (409) — a chunk never
   changes once stored. :func:`status` lists the chunks received, so a browser that lost its
   connection (or was closed) resumes with the missing ones only.
3. :func:`complete` assembles the chunks, checks size and SHA-256 against the announcement, and
   hands the bytes to :func:`qingshan.platform.submissions.upload_raster` — the same validation as
   an upload in one request or the CLI (CRS, grid, plausibility) — which records a new draft version.
   Completion is claimed by one conditional update (``open → completing``): of two concurrent
   completions one wins, the other gets 409, and one version is recorded. A failed check (hash
   mismatch, missing chunks) leaves the session open for a fix; a raster refused by validation is
   still recorded as a draft version with its errors, as for a single-request upload.

Chunks live in the store (``upload_chunks``) until completion deletes them; nothing is written to
the file system, so a killed server loses no received chunk and leaves no partial file. An account
has at most :data:`MAX_OPEN` open uploads (429 beyond), and its open uploads older than 24 h are
abandoned (chunks deleted) when it starts another, so unfinished uploads cannot fill the store.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.limits import Limits, check_bytes, current_limits
from qingshan.platform.accounts import Principal, require_form
from qingshan.platform.audit import record
from qingshan.platform.errors import (
    ConflictError,
    NotFoundError,
    StateError,
    TooManyOpenUploadsError,
)
from qingshan.platform.forms import get_group
from qingshan.store.db import one_writer_at_a_time
from qingshan.store.platform_models import UploadChunk, UploadSession

__all__ = ["CHUNK_BYTES", "complete", "put_chunk", "start", "status"]

CHUNK_BYTES = 4 * 1024 * 1024  # 4 MiB: well under the request limit, few round trips for 200 MiB
MAX_OPEN = 4  # open (unfinished) uploads per account: bounds what one account can park in the store
STALE = timedelta(hours=24)  # an open upload untouched this long is abandoned: its chunks are dropped
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _n_chunks(size: int, chunk: int) -> int:
    return max(1, -(-size // chunk))


def _session(s: Session, principal: Principal, upload_id: str) -> UploadSession:
    up = s.get(UploadSession, upload_id)
    if up is None or up.created_by != principal.username:
        raise NotFoundError(f"No upload {upload_id}", f"没有编号为 {upload_id} 的上传", field="upload_id",
                            fix="Start the upload again with POST /api/uploads.", fix_zh="请用 POST /api/uploads 重新开始上传。")
    return up


def _view(s: Session, up: UploadSession) -> dict[str, Any]:
    got = sorted(s.scalars(select(UploadChunk.index).where(UploadChunk.session_id == up.id)))
    n = _n_chunks(up.size, up.chunk_size)
    return {"id": up.id, "filename": up.filename, "size": up.size, "sha256": up.sha256, "chunk_size": up.chunk_size,
            "chunks": n, "received": got, "missing": [i for i in range(n) if i not in set(got)],
            "status": up.status, "submission_id": up.submission_id, **up.params}


def start(factory: sessionmaker[Session], principal: Principal, *, filename: str, size: int, sha256: str | None,
          variable: str, year: int, limits: Limits | None = None, chunk_size: int | None = None) -> dict[str, Any]:
    """Announce a raster upload; checks the role, the variable, the size limit and the hash's form."""
    limits = limits or current_limits()
    require_form(principal, "rasters")
    group = get_group("rasters")
    if variable not in group.variables:
        raise InputError(f"Unknown raster variable '{variable}'", f"未知的栅格变量“{variable}”", field="variable",
                         fix=f"Use one of: {', '.join(group.variables)}.",
                         fix_zh=f"可用变量：{', '.join(group.variables)}。")
    if size <= 0:
        raise InputError(f"The file '{filename}' is empty", f"文件“{filename}”为空", file=filename, field="size",
                         fix="Choose the raster and upload it again.", fix_zh="请重新选择栅格文件上传。")
    check_bytes(size, limits.upload_bytes, name="upload_bytes", file=filename, what=f"The file '{filename}'",
                what_zh=f"文件“{filename}”", fix="Clip the raster to the accounting area or compress it (deflate).",
                fix_zh="请将栅格裁剪到核算范围或压缩（deflate）后上传。")
    digest = "" if sha256 is None else str(sha256).strip().lower()
    if sha256 is not None and not _HEX64.match(digest):
        raise InputError("sha256 must be 64 hexadecimal characters", "sha256 应为 64 位十六进制字符", field="sha256",
                         fix="Send the SHA-256 of the whole file (e.g. `sha256sum FILE`).",
                         fix_zh="请提供整个文件的 SHA-256（如 `sha256sum 文件名`）。")
    with factory.begin() as s:
        _drop_stale(s, principal)
        n_open = s.scalar(select(func.count()).select_from(UploadSession).where(
            UploadSession.created_by == principal.username, UploadSession.status == "open")) or 0
        if n_open >= MAX_OPEN:
            raise TooManyOpenUploadsError(
                f"{n_open} uploads of '{principal.username}' are still open (at most {MAX_OPEN})",
                f"用户“{principal.username}”有 {n_open} 个上传尚未完成（最多 {MAX_OPEN} 个）", field="upload",
                fix="Complete the open uploads (GET /api/uploads/{id} lists their missing chunks) or wait 24 h "
                    "until they are dropped.",
                fix_zh="请先完成未完成的上传（GET /api/uploads/{id} 可查看缺少的分片），或等待 24 小时后自动清除。")
        up = UploadSession(id=str(uuid.uuid4()), kind="raster", filename=filename[:255], size=int(size), sha256=digest,
                           chunk_size=int(chunk_size or CHUNK_BYTES), params={"variable": variable, "year": int(year)},
                           status="open", created_by=principal.username, created_at=datetime.now(UTC))
        s.add(up)
        s.flush()
        record(s, principal.actor, "upload.start", "upload", up.id,
               {"filename": up.filename, "size": up.size, "sha256": digest, "variable": variable, "year": int(year)})
        return _view(s, up)


def _drop_stale(s: Session, principal: Principal) -> None:
    """Abandon the account's open uploads created more than :data:`STALE` ago: chunks deleted, status
    ``abandoned`` (the session row stays, so a late chunk gets a clear 409, not a 404)."""
    cutoff = datetime.now(UTC) - STALE
    stale = list(s.scalars(select(UploadSession.id).where(UploadSession.created_by == principal.username,
                                                          UploadSession.status == "open",
                                                          UploadSession.created_at < cutoff)))
    if stale:
        s.execute(delete(UploadChunk).where(UploadChunk.session_id.in_(stale)))
        s.execute(update(UploadSession).where(UploadSession.id.in_(stale)).values(status="abandoned"))
        record(s, principal.actor, "upload.abandon", "upload", None, {"uploads": stale})


def status(factory: sessionmaker[Session], principal: Principal, upload_id: str) -> dict[str, Any]:
    """The session with the chunks received and missing (to resume)."""
    with factory() as s:
        return _view(s, _session(s, principal, upload_id))


def put_chunk(factory: sessionmaker[Session], principal: Principal, upload_id: str, index: int,
              content: bytes) -> dict[str, Any]:
    """Store chunk ``index``; every chunk but the last has exactly ``chunk_size`` bytes."""
    with factory.begin() as s:
        one_writer_at_a_time(s, "upload_chunks")  # read-then-insert: no other request in between
        up = _session(s, principal, upload_id)
        if up.status != "open":
            raise StateError(f"Upload {upload_id} is {up.status}", f"上传 {upload_id} 的状态为 {up.status}",
                             field="upload_id", fix="Start a new upload.", fix_zh="请重新开始上传。")
        n = _n_chunks(up.size, up.chunk_size)
        if not 0 <= index < n:
            raise InputError(f"Chunk {index} is outside 0–{n - 1}", f"分片 {index} 超出 0–{n - 1}", field="index",
                             fix=f"This upload has {n} chunks of {up.chunk_size} bytes.",
                             fix_zh=f"本次上传共 {n} 个分片，每片 {up.chunk_size} 字节。")
        expected = up.chunk_size if index < n - 1 else up.size - up.chunk_size * (n - 1)
        if len(content) != expected:
            raise InputError(f"Chunk {index} has {len(content)} bytes, expected {expected}",
                             f"分片 {index} 为 {len(content)} 字节，应为 {expected} 字节", field="chunk",
                             fix="Send bytes [index × chunk_size, (index + 1) × chunk_size) of the file.",
                             fix_zh="请发送文件中第 index × chunk_size 到 (index + 1) × chunk_size 字节。")
        digest = hashlib.sha256(content).hexdigest()
        old = s.get(UploadChunk, (up.id, index))
        if old is not None and old.sha256 != digest:
            raise ConflictError(f"Chunk {index} was already received with other bytes",
                                f"分片 {index} 已以不同内容上传过", field="chunk",
                                fix="A chunk never changes: start a new upload if the file changed.",
                                fix_zh="分片一经接收不可更改；如文件已变更，请重新开始上传。")
        if old is None:
            s.add(UploadChunk(session_id=up.id, index=index, sha256=digest, content=content))
            s.flush()
        return _view(s, up)


def complete(factory: sessionmaker[Session], principal: Principal, upload_id: str, *,
             limits: Limits | None = None) -> dict[str, Any]:
    """Assemble, verify and validate the raster; returns the submission (with its new draft version)."""
    from qingshan.platform.submissions import upload_raster

    with factory.begin() as s:
        up = _session(s, principal, upload_id)
        view = _view(s, up)
        if up.status == "open" and view["missing"]:
            shown = ", ".join(map(str, view["missing"][:10]))
            raise StateError(f"Chunks still missing: {shown}", f"尚缺分片：{shown}", field="chunks",
                             fix="Send the missing chunks (GET /api/uploads/{id} lists them), then complete.",
                             fix_zh="请补传缺少的分片（GET /api/uploads/{id} 可查看），再完成上传。")
        claimed = s.execute(update(UploadSession).where(UploadSession.id == up.id, UploadSession.status == "open")
                            .values(status="completing")).rowcount  # type: ignore[attr-defined]
        if claimed != 1:
            raise StateError(f"Upload {upload_id} is already {up.status}", f"上传 {upload_id} 已处于 {up.status} 状态",
                             field="upload_id", fix="Read the submission it created.", fix_zh="请查看其生成的填报记录。")
        params, filename, size, sha = dict(up.params), up.filename, up.size, up.sha256
    try:
        with factory() as s:
            content = b"".join(c.content for c in s.scalars(
                select(UploadChunk).where(UploadChunk.session_id == upload_id).order_by(UploadChunk.index)))
        if len(content) != size or (sha and hashlib.sha256(content).hexdigest() != sha):
            raise InputError(f"The assembled file is not the one announced (size {len(content)} of {size}, "
                             "SHA-256 differs)", f"拼接后的文件与声明不符（大小 {len(content)} / {size}，或 SHA-256 不同）",
                             file=filename, field="sha256",
                             fix="Check the announced SHA-256, or start a new upload.",
                             fix_zh="请核对声明的 SHA-256，或重新开始上传。")
        result = upload_raster(factory, principal, params["variable"], int(params["year"]), filename, content,
                               limits=limits)
    except Exception:
        with factory.begin() as s:  # back to open: the chunks are kept, the user can fix and retry
            s.execute(update(UploadSession).where(UploadSession.id == upload_id).values(status="open"))
        raise
    with factory.begin() as s:
        s.execute(update(UploadSession).where(UploadSession.id == upload_id)
                  .values(status="complete", submission_id=int(result["id"])))
        s.execute(delete(UploadChunk).where(UploadChunk.session_id == upload_id))
        record(s, principal.actor, "upload.complete", "upload", upload_id,
               {"submission": result["id"], "version": result["latest_version"], "sha256": sha})
    return result
