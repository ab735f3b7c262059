"""Submissions of forms and rasters, and their review: upload → submit → approve/reject (→ locked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from qingshan.api.deps import SettingsDep, StoreDep, known_regions, require_role
from qingshan.api.download import attachment
from qingshan.api.platform_schemas import ReviewIn, SubmissionOut
from qingshan.platform import submissions as svc
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/submissions", tags=["submissions"])

Submitter = Annotated[Principal, require_role("submitter")]
Reviewer = Annotated[Principal, require_role("reviewer", "accountant")]
Reader = Annotated[Principal, require_role("submitter", "reviewer", "accountant")]
MAX_ID = 2**31 - 1  # range of the Integer columns (SQLite and PostgreSQL)
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Submission id 填报编号")]
Version = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Version number 版本号")]


@router.get("", summary="List submissions · 填报列表")
def list_submissions(
    store: StoreDep,
    user: Reader,
    status: Annotated[str | None, Query(description="draft, submitted, approved, rejected 状态")] = None,
    group: Annotated[str | None, Query(description="Form group 报表组")] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="Year 年份")] = None,
) -> list[SubmissionOut]:
    """Submissions by status of their latest version (a submitter sees their own)."""
    return [SubmissionOut.model_validate(d) for d in svc.list_submissions(store, user, status=status, group=group,
                                                                           year=year)]


@router.post("", summary="Upload a filled form · 上传报表", status_code=201)
async def upload_form(
    store: StoreDep,
    settings: SettingsDep,
    user: Submitter,
    group: Annotated[str, Form(description="Form group, e.g. products 报表组")],
    year: Annotated[int, Form(ge=1949, le=2100, description="Reporting year 报告年份")],
    file: Annotated[UploadFile, File(description="The filled XLSX form 填好的报表")],
) -> SubmissionOut:
    """Validate every cell and keep the file as a new draft version; the errors are in the response.
    Files over the limits (size, decompressed size, rows) get 413. Parsed off the event loop."""
    content = await _read(file, settings.limits.form_bytes, "form_bytes")
    d = await run_in_threadpool(svc.upload_form, store, user, group, year, file.filename or "form.xlsx", content,
                                known_regions=known_regions(settings), limits=settings.limits)
    return SubmissionOut.model_validate(d)


async def _read(file: UploadFile, limit: int, name: str) -> bytes:
    """The upload's bytes, refused (413) when it is larger than ``limit`` before it is read."""
    from qingshan.core.limits import check_bytes

    if file.size is not None:
        check_bytes(file.size, limit, name=name, file=file.filename, what="The uploaded file", what_zh="上传的文件")
    return await file.read()


@router.post("/rasters", summary="Upload a raster · 上传栅格", status_code=201)
async def upload_raster(
    store: StoreDep,
    settings: SettingsDep,
    user: Submitter,
    variable: Annotated[str, Form(description="Canonical variable, e.g. precip 变量")],
    year: Annotated[int, Form(ge=1949, le=2100, description="Year 年份")],
    file: Annotated[UploadFile, File(description="GeoTIFF")],
) -> SubmissionOut:
    """Check CRS and value range (qingshan.io.rasters) and keep the raster as a new draft version."""
    content = await _read(file, settings.limits.upload_bytes, "upload_bytes")
    return SubmissionOut.model_validate(await run_in_threadpool(
        svc.upload_raster, store, user, variable, year, file.filename or "raster.tif", content,
        limits=settings.limits))


@router.get("/{submission_id}", summary="One submission · 填报详情")
def get_submission(submission_id: SubmissionId, store: StoreDep, user: Reader) -> SubmissionOut:
    """A submission with every version, its errors and parsed rows."""
    return SubmissionOut.model_validate(svc.get_submission(store, user, submission_id))


@router.get(
    "/{submission_id}/versions/{version}/file",
    summary="Download an uploaded version · 下载上传文件",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file as uploaded"}},
)
def download(submission_id: SubmissionId, version: Version, store: StoreDep, user: Reader) -> Response:
    """The file exactly as uploaded (its SHA-256 is in the version)."""
    name, ctype, content = svc.read_upload(store, user, submission_id, version)
    return Response(content, media_type=ctype, headers={"Content-Disposition": attachment(name)})


@router.post("/{submission_id}/versions/{version}/submit", summary="Submit for review · 提交审核")
def submit(submission_id: SubmissionId, version: Version, store: StoreDep, user: Submitter) -> SubmissionOut:
    """Send a draft without errors to the reviewers."""
    return SubmissionOut.model_validate(svc.submit(store, user, submission_id, version))


@router.post("/{submission_id}/versions/{version}/approve", summary="Approve (lock) · 审核通过")
def approve(submission_id: SubmissionId, version: Version, store: StoreDep, user: Reviewer,
            body: ReviewIn | None = None) -> SubmissionOut:
    """Approve a submitted version; it is locked from now on."""
    return SubmissionOut.model_validate(svc.review(store, user, submission_id, version, approve=True,
                                                   comment=body.comment if body else None))


@router.post("/{submission_id}/versions/{version}/reject", summary="Reject · 退回")
def reject(submission_id: SubmissionId, version: Version, store: StoreDep, user: Reviewer,
           body: ReviewIn | None = None) -> SubmissionOut:
    """Send a submitted version back with a comment; the submitter uploads a new version."""
    return SubmissionOut.model_validate(svc.review(store, user, submission_id, version, approve=False,
                                                   comment=body.comment if body else None))
