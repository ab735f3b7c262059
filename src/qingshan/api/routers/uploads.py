"""Resumable uploads of large rasters in chunks (分片上传), for the web page and scripts
(thin layer over :mod:`qingshan.platform.chunked_upload`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import SettingsDep, StoreDep, require_role
from qingshan.api.platform_schemas import SubmissionOut
from qingshan.core.limits import check_bytes
from qingshan.platform import chunked_upload as svc
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/uploads", tags=["submissions"])

Submitter = Annotated[Principal, require_role("submitter")]
UploadId = Annotated[str, PathParam(min_length=36, max_length=36, description="Upload id 上传编号")]
Index = Annotated[int, PathParam(ge=0, le=100_000, description="Chunk index from 0 分片序号")]


class UploadIn(BaseModel):
    """A raster to upload in chunks 分片上传声明."""

    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    size: int = Field(ge=1, le=2**40, description="Bytes of the whole file 文件字节数")
    sha256: str | None = Field(default=None, min_length=64, max_length=64,
                               description="SHA-256 of the whole file (hex); checked at completion when given")
    variable: str = Field(min_length=1, max_length=60, description="Raster variable, e.g. precip 变量")
    year: int = Field(ge=1949, le=2100)


class UploadOut(BaseModel):
    id: str
    filename: str
    size: int
    sha256: str
    chunk_size: int
    chunks: int
    received: list[int]
    missing: list[int]
    status: str
    submission_id: int | None
    variable: str
    year: int


@router.post("", summary="Start a chunked raster upload · 开始分片上传", status_code=201)
def start(store: StoreDep, settings: SettingsDep, user: Submitter, body: UploadIn) -> UploadOut:
    """Announce size and SHA-256; the answer gives the chunk size and count."""
    return UploadOut.model_validate(svc.start(store, user, limits=settings.limits, **body.model_dump()))


@router.get("/{upload_id}", summary="Chunks received · 上传进度")
def status(store: StoreDep, user: Submitter, upload_id: UploadId) -> UploadOut:
    """Received and missing chunks (to resume after a lost connection)."""
    return UploadOut.model_validate(svc.status(store, user, upload_id))


@router.put("/{upload_id}/chunks/{index}", summary="Send one chunk · 上传分片",
            openapi_extra={"requestBody": {"required": True,
                                           "content": {"application/octet-stream": {"schema": {"type": "string",
                                                                                              "format": "binary"}}}}})
async def put_chunk(request: Request, store: StoreDep, user: Submitter, upload_id: UploadId, index: Index) -> UploadOut:
    """The raw bytes of chunk ``index`` (``application/octet-stream``); a retry with the same bytes is a no-op."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        check_bytes(int(declared), svc.CHUNK_BYTES, name="chunk_bytes", what="The chunk", what_zh="分片")
    content = await request.body()
    check_bytes(len(content), svc.CHUNK_BYTES, name="chunk_bytes", what="The chunk", what_zh="分片")
    return UploadOut.model_validate(await run_in_threadpool(svc.put_chunk, store, user, upload_id, index, content))


@router.post("/{upload_id}/complete", summary="Complete and validate · 完成上传并校验")
async def complete(store: StoreDep, settings: SettingsDep, user: Submitter, upload_id: UploadId) -> SubmissionOut:
    """Assemble, check size and SHA-256, validate like any raster upload; a new draft version."""
    d = await run_in_threadpool(lambda: svc.complete(store, user, upload_id, limits=settings.limits))
    return SubmissionOut.model_validate(d)
