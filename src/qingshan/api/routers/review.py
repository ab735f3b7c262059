"""The reviewer's view of a submission version: rows with previous-version and last-year values,
plausibility flags and per-row comments; a preview image of a raster (thin layer over
:mod:`qingshan.platform.review_view`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import SettingsDep, StoreDep, platform_regions, require_role
from qingshan.platform import review_view as svc
from qingshan.platform.accounts import Principal

__all__ = ["router"]

router = APIRouter(prefix="/api/submissions", tags=["submissions"])

Reviewer = Annotated[Principal, require_role("reviewer", "accountant")]
Reader = Annotated[Principal, require_role("submitter", "reviewer", "accountant")]
MAX_ID = 2**31 - 1
SubmissionId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Submission id 填报编号")]
Version = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Version number 版本号")]


class CommentIn(BaseModel):
    """A comment on one row (region_code + item) or, with both empty, on the whole version 审核意见."""

    model_config = ConfigDict(extra="forbid")

    comment: str = Field(min_length=1, max_length=svc.MAX_COMMENT)
    region_code: str = Field(default="", max_length=12)
    item: str = Field(default="", max_length=80)


class CommentOut(BaseModel):
    id: int
    region_code: str
    item: str
    comment: str
    author: str
    at: datetime


class Flag(BaseModel):
    code: str
    severity: str
    en: str
    zh: str


class RowOut(BaseModel):
    region_code: str | None
    item: str | None
    value: float | None
    unit: str | None
    source: str | None = None
    year: int | None = None
    previous: float | None
    change_previous_pct: float | None
    status_previous: str | None
    last_year: float | None
    last_year_unit: str | None
    change_last_year_pct: float | None
    flags: list[Flag]
    comments: list[CommentOut]


class ReviewOut(BaseModel):
    submission_id: int
    group: str
    year: int
    variable: str | None
    version: int
    status: str
    sha256: str
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str | None
    n_errors: int
    previous_version: int | None
    rows: list[RowOut]
    removed_since_previous: list[dict[str, Any]]
    prices: list[dict[str, Any]]
    raster: dict[str, Any] | None
    comments: list[CommentOut]
    review_levels: dict[str, Any] | None = None
    counts: dict[str, int]


@router.get("/{submission_id}/versions/{version}/review", summary="Review view · 审核视图")
async def review(store: StoreDep, settings: SettingsDep, user: Reader, submission_id: SubmissionId,
                 version: Version) -> ReviewOut:
    """Rows with the previous version's and last year's values, plausibility flags and comments."""
    regions = await run_in_threadpool(platform_regions, settings)
    return ReviewOut.model_validate(await run_in_threadpool(
        svc.review_view, store, user, submission_id, version, regions=regions))


@router.post("/{submission_id}/versions/{version}/comments", summary="Comment on a row · 逐行审核意见",
             status_code=201)
def comment(store: StoreDep, user: Reviewer, submission_id: SubmissionId, version: Version,
            body: CommentIn) -> CommentOut:
    """Append a comment on one row of a submitted version (or on the version as a whole)."""
    return CommentOut.model_validate(svc.add_comment(store, user, submission_id, version, comment=body.comment,
                                                     region_code=body.region_code, item=body.item))


@router.get("/{submission_id}/versions/{version}/preview.png", summary="Raster preview · 栅格预览",
            response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def preview(store: StoreDep, user: Reader, submission_id: SubmissionId, version: Version) -> Response:
    """A PNG of the uploaded raster (decimated to 512 px), for the review page."""
    png = await run_in_threadpool(svc.raster_preview_png, store, user, submission_id, version)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})
